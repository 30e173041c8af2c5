package checker_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/bank"
	"github.com/jplan/jplan/checker/longfork"
	"github.com/jplan/jplan/checker/queue"
	"github.com/jplan/jplan/checker/uniqueids"
	"github.com/jplan/jplan/history"
)

// TestWorkloadDocExamples: every minimal invalid history that
// docs/checkers-workloads.md shows (kept in each checker's testdata) is
// still in the doc, is still invalid, and gets the summary the doc quotes.
func TestWorkloadDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/checkers-workloads.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file    string
		checker checker.Checker
		summary string
	}{
		{"bank/testdata/invalid.jsonl", bank.Checker(bank.Options{}),
			"1 of 2 reads bad (1 wrong-total); first: wrong-total at index 3, process 1, total 19 of 20"},
		{"longfork/testdata/invalid.jsonl", longfork.Checker(longfork.Options{}),
			"1 pairs of reads fork; first: reads at index 5 and 7 of keys [0 1], one saw [0] but not [1], the other [1] but not [0]"},
		{"queue/testdata/queue-invalid.jsonl", queue.Checker(queue.Options{}),
			"1 of 2 dequeued elements could not have been in the queue (0 unexpected, 1 duplicated, 0 premature); first: duplicated 1 by process 1 at index 5"},
		{"queue/testdata/total-invalid.jsonl", queue.Total(queue.Options{}),
			"1 of 2 acknowledged enqueues lost: 2"},
		{"uniqueids/testdata/invalid.jsonl", uniqueids.Checker(uniqueids.Options{}),
			"1 of 2 acknowledged ids were handed out more than once: 5"},
	} {
		t.Run(c.checker.Name(), func(t *testing.T) {
			b, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(doc), "```json\n"+string(b)+"```") {
				t.Errorf("docs/checkers-workloads.md no longer shows %s", c.file)
			}
			h, err := history.ReadJSONL(strings.NewReader(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			res := checker.Run(context.Background(), c.checker, h, checker.Options{})
			if res.Valid != checker.False || res.Summary != c.summary {
				t.Errorf("judged %v: %q, want false: %q", res.Valid, res.Summary, c.summary)
			}
			if !strings.Contains(string(doc), "> "+c.summary) {
				t.Errorf("docs/checkers-workloads.md does not quote %q", c.summary)
			}
		})
	}
}

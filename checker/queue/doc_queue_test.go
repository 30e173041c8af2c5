package queue_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/queue"
	"github.com/jplan/jplan/history"
)

// TestDocQueueInvalid: the minimal invalid history in docs/checkers-workloads.md
// (kept in testdata) is invalid, with the summary the doc quotes.
func TestDocQueueInvalid(t *testing.T) {
	b, err := os.ReadFile("testdata/queue-invalid.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/checkers-workloads.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```json\n"+string(b)+"```") {
		t.Errorf("docs/checkers-workloads.md no longer shows testdata/queue-invalid.jsonl")
	}
	h, err := history.ReadJSONL(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	res := checker.Run(context.Background(), queue.Checker(queue.Options{}), h, checker.Options{})
	const summary = "1 of 2 dequeued elements could not have been in the queue (0 unexpected, 1 duplicated, 0 premature); first: duplicated 1 by process 1 at index 5"
	if res.Valid != checker.False || res.Summary != summary {
		t.Errorf("judged %v: %q, want false: %q", res.Valid, res.Summary, summary)
	}
	if !strings.Contains(string(doc), "> "+summary) {
		t.Errorf("docs/checkers-workloads.md does not quote %q", summary)
	}
}

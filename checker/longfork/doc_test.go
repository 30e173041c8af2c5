package longfork_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/longfork"
	"github.com/jplan/jplan/history"
)

// TestDocInvalid: the minimal invalid history in docs/checkers-workloads.md
// (kept in testdata) is invalid, with the summary the doc quotes.
func TestDocInvalid(t *testing.T) {
	b, err := os.ReadFile("testdata/invalid.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/checkers-workloads.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```json\n"+string(b)+"```") {
		t.Errorf("docs/checkers-workloads.md no longer shows testdata/invalid.jsonl")
	}
	h, err := history.ReadJSONL(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	res := checker.Run(context.Background(), longfork.Checker(longfork.Options{}), h, checker.Options{})
	const summary = "1 pairs of reads fork; first: reads at index 5 and 7 of keys [0 1], one saw [0] but not [1], the other [1] but not [0]"
	if res.Valid != checker.False || res.Summary != summary {
		t.Errorf("judged %v: %q, want false: %q", res.Valid, res.Summary, summary)
	}
	if !strings.Contains(string(doc), "> "+summary) {
		t.Errorf("docs/checkers-workloads.md does not quote %q", summary)
	}
}

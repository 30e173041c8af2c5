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

// TestDocTotalInvalid: the minimal invalid history in docs/checkers-workloads.md
// (kept in testdata) is invalid, with the summary the doc quotes.
func TestDocTotalInvalid(t *testing.T) {
	b, err := os.ReadFile("testdata/total-invalid.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/checkers-workloads.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```json\n"+string(b)+"```") {
		t.Errorf("docs/checkers-workloads.md no longer shows testdata/total-invalid.jsonl")
	}
	h, err := history.ReadJSONL(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	res := checker.Run(context.Background(), queue.Total(queue.Options{}), h, checker.Options{})
	const summary = "1 of 2 acknowledged enqueues lost: 2"
	if res.Valid != checker.False || res.Summary != summary {
		t.Errorf("judged %v: %q, want false: %q", res.Valid, res.Summary, summary)
	}
	if !strings.Contains(string(doc), "> "+summary) {
		t.Errorf("docs/checkers-workloads.md does not quote %q", summary)
	}
}

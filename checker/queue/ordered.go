package queue

import (
	"context"
	"fmt"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/internal/elem"
	"github.com/jplan/jplan/history"
)

// Checker returns the queue checker, Jepsen's checker/queue with an
// unordered-queue model. Jepsen folds the history, in order, through the
// model: every enqueue invocation adds its element, every ok dequeue must
// remove an element the model holds, and the first dequeue that cannot
// makes the history invalid. That is a single pass, not a search over
// orderings, so it is "every dequeued element was enqueued before the
// dequeue completed, and no element is dequeued more often than it was
// enqueued" — the simple rule, made order-aware because the fold is.
//
// Two choices differ from Jepsen, both toward soundness and more
// information: enqueues that failed add nothing (Jepsen's docstring says
// every non-failing enqueue is assumed to succeed; its code adds failed
// ones too), and every bad dequeue is reported, not only the first. An
// enqueue whose outcome is unknown counts as done from its invocation on:
// it may have taken effect at once.
//
// Lost elements are not this checker's business (see Total); elements
// left in the queue are counted in Details.Remaining.
func Checker(opts Options) checker.Checker { return orderedQueue{opts.withDefaults()} }

type orderedQueue struct{ o Options }

func (orderedQueue) Name() string { return "queue" }

// BadDequeue is a dequeued element the queue could not have held.
type BadDequeue struct {
	// Kind is "unexpected" (no enqueue of it that did not fail, anywhere
	// in the history), "duplicated" (dequeued more often than such
	// enqueues were attempted in the whole history), or "premature"
	// (its enqueue was only invoked after the dequeue completed).
	Kind    string `json:"kind"`
	Value   any    `json:"value"`
	F       string `json:"f"`
	Index   int64  `json:"index"`
	Time    int64  `json:"time"`
	Process int    `json:"process"`
}

// Details is Result.Details for queue.
type Details struct {
	// EnqueueCount counts enqueues that did not fail; DequeueCount the
	// elements dequeued (drain elements included).
	EnqueueCount int `json:"enqueue-count"`
	DequeueCount int `json:"dequeue-count"`
	// Remaining is how many enqueued elements no dequeue took.
	Remaining  int `json:"remaining"`
	ErrorCount int `json:"error-count"`
	// Counts of bad dequeues by kind.
	UnexpectedCount int `json:"unexpected-count"`
	DuplicatedCount int `json:"duplicated-count"`
	PrematureCount  int `json:"premature-count"`
	// Errors are the first bad dequeues in history order, at most
	// Options.MaxReported.
	Errors []BadDequeue `json:"errors,omitempty"`
}

func (c orderedQueue) Check(ctx context.Context, h []history.Op, _ checker.Options) checker.Result {
	events, _, err := scan(ctx, "queue", c.o, h)
	if err != nil {
		return checker.Result{Valid: checker.Unknown, Error: err.Error()}
	}
	// For each element: enqueued counts the enqueues that did not fail
	// over the whole history (to classify bad dequeues), held how many
	// copies the model queue holds now, taken the dequeues so far.
	type state struct{ enqueued, held, taken int }
	elems := make(map[elem.Key]*state, len(events)/2)
	get := func(k elem.Key) *state {
		s := elems[k]
		if s == nil {
			s = &state{}
			elems[k] = s
		}
		return s
	}
	for i := range events {
		if e := &events[i]; e.enqueue && e.outcome != history.Fail {
			get(e.key).enqueued++
		}
	}
	d := &Details{}
	for i := range events {
		e := &events[i]
		s := get(e.key)
		if e.enqueue {
			if e.outcome != history.Fail {
				s.held++
				d.EnqueueCount++
			}
			continue
		}
		d.DequeueCount++
		s.taken++
		if s.held > 0 {
			s.held--
			continue
		}
		bad := BadDequeue{Value: e.value, F: e.op.F, Index: e.op.Index, Time: e.op.Time, Process: e.op.Process}
		switch {
		case s.enqueued == 0:
			bad.Kind = "unexpected"
			d.UnexpectedCount++
		case s.taken > s.enqueued:
			bad.Kind = "duplicated"
			d.DuplicatedCount++
		default:
			bad.Kind = "premature"
			d.PrematureCount++
		}
		d.ErrorCount++
		if len(d.Errors) < c.o.MaxReported {
			d.Errors = append(d.Errors, bad)
		}
	}
	for _, s := range elems {
		d.Remaining += s.held
	}

	res := checker.Result{Valid: checker.True, Details: d}
	if d.ErrorCount == 0 {
		res.Summary = fmt.Sprintf("all %d dequeued elements were in the queue (%d enqueued, %d remaining)",
			d.DequeueCount, d.EnqueueCount, d.Remaining)
		return res
	}
	res.Valid = checker.False
	first := d.Errors[0]
	k, _ := elem.KeyOf(first.Value)
	res.Summary = fmt.Sprintf("%d of %d dequeued elements could not have been in the queue (%d unexpected, %d duplicated, %d premature); first: %s %s by process %d at index %d",
		d.ErrorCount, d.DequeueCount, d.UnexpectedCount, d.DuplicatedCount, d.PrematureCount,
		first.Kind, k, first.Process, first.Index)
	return res
}

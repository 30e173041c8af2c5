package queue

import (
	"context"
	"fmt"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/internal/elem"
	"github.com/jplan/jplan/history"
)

// Total returns the total-queue checker, Jepsen's checker/total-queue. It
// ignores order and compares multisets over the whole history:
//
//   - attempts: the elements of every enqueue invocation (even those that
//     failed, as in Jepsen);
//   - acknowledged: the elements of ok enqueues;
//   - dequeued: the elements of ok dequeues and ok drains;
//   - ok: dequeued elements that were attempted (multiset intersection);
//   - unexpected: dequeued elements never attempted;
//   - duplicated: dequeued more often than attempted, though attempted;
//   - lost: acknowledged more often than dequeued;
//   - recovered: ok elements beyond the acknowledged ones (their enqueues
//     were indeterminate, or failed).
//
// Valid iff nothing is lost or unexpected. Duplicates alone do not
// invalidate the history, as in Jepsen: an at-least-once queue passes.
// Where Jepsen throws on a drain whose outcome is unknown, jplan judges:
// unexpected elements still make the history invalid, but lost ones only
// make it unknown, since the crashed drain may have taken them.
func Total(opts Options) checker.Checker { return totalQueue{opts.withDefaults()} }

type totalQueue struct{ o Options }

func (totalQueue) Name() string { return "total-queue" }

// TotalDetails is Result.Details for total-queue. Counts count elements
// with multiplicity; the lists are sorted, repeat an element as often as it
// counts, and hold at most Options.MaxReported elements.
type TotalDetails struct {
	AttemptCount      int   `json:"attempt-count"`
	AcknowledgedCount int   `json:"acknowledged-count"`
	DequeuedCount     int   `json:"dequeued-count"`
	OKCount           int   `json:"ok-count"`
	UnexpectedCount   int   `json:"unexpected-count"`
	DuplicatedCount   int   `json:"duplicated-count"`
	LostCount         int   `json:"lost-count"`
	RecoveredCount    int   `json:"recovered-count"`
	Lost              []any `json:"lost,omitempty"`
	Unexpected        []any `json:"unexpected,omitempty"`
	Duplicated        []any `json:"duplicated,omitempty"`
	Recovered         []any `json:"recovered,omitempty"`
	// CrashedDrains counts drains whose outcome is unknown.
	CrashedDrains int `json:"crashed-drains,omitempty"`
}

func (c totalQueue) Check(ctx context.Context, h []history.Op, _ checker.Options) checker.Result {
	events, crashed, err := scan(ctx, "total-queue", c.o, h)
	if err != nil {
		return checker.Result{Valid: checker.Unknown, Error: err.Error()}
	}
	var attempts, acked, dequeued, okN int
	var unexpected, duplicated, lost, recovered bag
	for k, c := range tally(events) {
		attempts += c.attempts
		acked += c.acked
		dequeued += c.dequeued
		lost.add(k, c.value, c.acked-c.dequeued)
		if c.attempts == 0 {
			unexpected.add(k, c.value, c.dequeued)
			continue
		}
		ok := min(c.dequeued, c.attempts)
		okN += ok
		duplicated.add(k, c.value, c.dequeued-c.attempts)
		recovered.add(k, c.value, ok-c.acked)
	}

	d := &TotalDetails{AttemptCount: attempts, AcknowledgedCount: acked, DequeuedCount: dequeued,
		OKCount: okN, UnexpectedCount: unexpected.total, DuplicatedCount: duplicated.total,
		LostCount: lost.total, RecoveredCount: recovered.total, CrashedDrains: crashed}
	limit := c.o.MaxReported
	var lostKeys, unexpectedKeys, dupKeys []elem.Key
	d.Lost, lostKeys = lost.list(limit)
	d.Unexpected, unexpectedKeys = unexpected.list(limit)
	d.Duplicated, dupKeys = duplicated.list(limit)
	d.Recovered, _ = recovered.list(limit)

	res := checker.Result{Valid: checker.True, Details: d}
	var parts []string
	if unexpected.total > 0 {
		res.Valid = checker.False
		parts = append(parts, fmt.Sprintf("%d dequeued elements never enqueued: %s",
			unexpected.total, elem.List(unexpectedKeys, unexpected.total, 10)))
	}
	if lost.total > 0 {
		msg := fmt.Sprintf("%d of %d acknowledged enqueues lost: %s",
			lost.total, acked, elem.List(lostKeys, lost.total, 10))
		if crashed > 0 {
			msg += fmt.Sprintf(" (but %d drains crashed and may have taken them)", crashed)
			if res.Valid == checker.True {
				res.Valid = checker.Unknown
			}
		} else {
			res.Valid = checker.False
		}
		parts = append(parts, msg)
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("all %d acknowledged enqueues dequeued", acked))
		if recovered.total > 0 {
			parts = append(parts, fmt.Sprintf("%d indeterminate enqueues recovered", recovered.total))
		}
	}
	if duplicated.total > 0 {
		parts = append(parts, fmt.Sprintf("%d duplicate dequeues: %s", duplicated.total,
			elem.List(dupKeys, duplicated.total, 10)))
	}
	res.Summary = joinParts(parts)
	return res
}

// Package queue holds Jepsen's two queue checkers.
//
// "queue" (Jepsen's checker/queue) asks that every dequeue come from
// somewhere: walking the history in order, each ok dequeue must return an
// element that an earlier enqueue put in and that no earlier dequeue took
// out. "total-queue" (Jepsen's checker/total-queue) asks that what goes in
// comes out: every acknowledged enqueue is dequeued somewhere in the
// history, and nothing is dequeued that was never enqueued. It only makes
// sense when the test drains the queue at the end.
//
// Ops, with the default f names (Options renames them):
//
//	enqueue  invocation value: the element
//	dequeue  ok completion value: the element taken; nil: the queue was empty
//	drain    ok completion value: the list of elements taken, in order
//
// Elements are plain data compared by type and content (1 ≠ 1.0 ≠ "1").
package queue

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jplan/jplan/checker/internal/elem"
	"github.com/jplan/jplan/history"
)

// Options configure both checkers.
type Options struct {
	// EnqueueF, DequeueF and DrainF are the f names of enqueues,
	// dequeues and drains; "enqueue", "dequeue" and "drain" when empty.
	EnqueueF, DequeueF, DrainF string
	// MaxReported bounds each list in the details; 0 means 100.
	MaxReported int
}

func (o Options) withDefaults() Options {
	if o.EnqueueF == "" {
		o.EnqueueF = "enqueue"
	}
	if o.DequeueF == "" {
		o.DequeueF = "dequeue"
	}
	if o.DrainF == "" {
		o.DrainF = "drain"
	}
	if o.MaxReported <= 0 {
		o.MaxReported = 100
	}
	return o
}

// event is one element entering or leaving the queue, at a position in
// the client history.
type event struct {
	enqueue bool
	outcome history.Type // the enqueue's outcome (Info when it never completed)
	key     elem.Key
	value   any
	op      *history.Op // the invocation (enqueue) or completion (dequeue, drain)
}

// scan turns the history into queue events in history order: an enqueue
// at its invocation, a dequeue or each element of a drain at its ok
// completion. crashed counts drains whose outcome is unknown (info, or
// never completed): they may have taken elements nobody saw.
func scan(ctx context.Context, name string, o Options, h []history.Op) (events []event, crashed int, err error) {
	ops := history.ClientOps(h)
	pairs, err := history.Pairs(ops)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	// outcome of the pair each invocation opens, by position in ops.
	outcome := make([]history.Type, len(ops))
	for _, p := range pairs {
		if p.Invoke != nil && p.Invoke.F == o.EnqueueF {
			outcome[p.InvokePos] = p.Type()
		}
		if p.Invoke != nil && p.Invoke.F == o.DrainF && p.Type() == history.Info {
			crashed++
		}
	}
	events = make([]event, 0, len(ops)/2)
	for i := range ops {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, 0, fmt.Errorf("%s: %w", name, ctx.Err())
		}
		op := &ops[i]
		switch {
		case op.F == o.EnqueueF && op.Type == history.Invoke:
			k, err := elem.KeyOf(op.Value)
			if err != nil {
				return nil, 0, fmt.Errorf("%s: enqueue at index %d: %w", name, op.Index, err)
			}
			events = append(events, event{enqueue: true, outcome: outcome[i], key: k, value: op.Value, op: op})
		case op.F == o.DequeueF && op.Type == history.OK:
			if op.Value == nil {
				continue // the queue was empty
			}
			k, err := elem.KeyOf(op.Value)
			if err != nil {
				return nil, 0, fmt.Errorf("%s: dequeue at index %d: %w", name, op.Index, err)
			}
			events = append(events, event{key: k, value: op.Value, op: op})
		case op.F == o.DrainF && op.Type == history.OK:
			list, ok := op.Value.([]any)
			if !ok && op.Value != nil {
				return nil, 0, fmt.Errorf("%s: drain at index %d: value %v (%T) is not a list", name, op.Index, op.Value, op.Value)
			}
			for _, v := range list {
				k, err := elem.KeyOf(v)
				if err != nil {
					return nil, 0, fmt.Errorf("%s: drain at index %d: %w", name, op.Index, err)
				}
				events = append(events, event{key: k, value: v, op: op})
			}
		}
	}
	return events, crashed, nil
}

// counts is what became of one element over the whole history.
type counts struct {
	value                     any // as first recorded, for reports
	attempts, acked, dequeued int
}

// tally counts each element's attempts, acknowledgements and dequeues.
func tally(events []event) map[elem.Key]*counts {
	m := make(map[elem.Key]*counts, len(events)/2)
	for i := range events {
		e := &events[i]
		c := m[e.key]
		if c == nil {
			c = &counts{value: e.value}
			m[e.key] = c
		}
		switch {
		case !e.enqueue:
			c.dequeued++
		case e.outcome == history.OK:
			c.acked++
			c.attempts++
		default:
			c.attempts++
		}
	}
	return m
}

// bag is a multiset of elements being collected for a report.
type bag struct {
	keys  []elem.Key
	n     []int
	value map[elem.Key]any
	total int
}

func (b *bag) add(k elem.Key, v any, n int) {
	if n <= 0 {
		return
	}
	b.keys = append(b.keys, k)
	b.n = append(b.n, n)
	b.total += n
	if b.value == nil {
		b.value = map[elem.Key]any{}
	}
	b.value[k] = v
}

// list returns the elements in order, each repeated as often as it
// occurs, at most limit of them.
func (b *bag) list(limit int) ([]any, []elem.Key) {
	idx := make([]int, len(b.keys))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return elem.Less(b.keys[idx[i]], b.keys[idx[j]]) })
	var vals []any
	var ks []elem.Key
	for _, i := range idx {
		for range b.n[i] {
			if len(vals) == limit {
				return vals, ks
			}
			vals = append(vals, b.value[b.keys[i]])
			ks = append(ks, b.keys[i])
		}
	}
	return vals, ks
}

func joinParts(parts []string) string { return strings.Join(parts, "; ") }

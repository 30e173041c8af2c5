// Package uniqueids is Jepsen's unique-ids checker: a service that hands out
// identifiers must never hand out the same one twice. Each ok "generate"
// op's completion value is an identifier; the history is valid iff no
// identifier was acknowledged twice.
package uniqueids

import (
	"context"
	"fmt"
	"sort"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/internal/elem"
	"github.com/jplan/jplan/history"
)

// Options configure the checker.
type Options struct {
	// GenerateF is the f of generate ops; "generate" when empty.
	GenerateF string
	// MaxReported bounds Details.Duplicated; 0 means 48, as in Jepsen.
	MaxReported int
}

// Checker returns the unique-ids checker. Identifiers are any plain data
// (numbers, strings, lists such as [node counter]); they compare by type
// and content, so 1 and 1.0 are different identifiers.
func Checker(opts Options) checker.Checker {
	if opts.GenerateF == "" {
		opts.GenerateF = "generate"
	}
	if opts.MaxReported <= 0 {
		opts.MaxReported = 48
	}
	return uniqueIDs{opts}
}

type uniqueIDs struct{ o Options }

func (uniqueIDs) Name() string { return "unique-ids" }

// Duplicate is an identifier acknowledged more than once.
type Duplicate struct {
	Value any `json:"value"`
	Count int `json:"count"`
}

// Details is Result.Details.
type Details struct {
	// AttemptedCount is the number of generate invocations.
	AttemptedCount int `json:"attempted-count"`
	// AcknowledgedCount is the number of ok generates.
	AcknowledgedCount int `json:"acknowledged-count"`
	// DuplicatedCount is the number of distinct identifiers acknowledged
	// more than once.
	DuplicatedCount int `json:"duplicated-count"`
	// Duplicated lists the most repeated identifiers first (ties in
	// identifier order), at most Options.MaxReported of them.
	Duplicated []Duplicate `json:"duplicated,omitempty"`
	// Range is [lowest highest] of the acknowledged identifiers (numbers
	// order before strings, strings before lists); empty when none.
	Range []any `json:"range,omitempty"`
}

type seen struct {
	value any
	count int
}

func (c uniqueIDs) Check(ctx context.Context, h []history.Op, _ checker.Options) checker.Result {
	d := &Details{}
	ids := make(map[elem.Key]seen)
	var lo, hi elem.Key
	var loV, hiV any
	for i := range h {
		if i%4096 == 0 && ctx.Err() != nil {
			return checker.Result{Valid: checker.Unknown, Error: "unique-ids: " + ctx.Err().Error()}
		}
		op := &h[i]
		if op.F != c.o.GenerateF || op.IsNemesis() {
			continue
		}
		switch op.Type {
		case history.Invoke:
			d.AttemptedCount++
		case history.OK:
			k, err := elem.KeyOf(op.Value)
			if err != nil {
				return checker.Result{Valid: checker.Unknown,
					Error: fmt.Sprintf("unique-ids: generate at index %d: %v", op.Index, err)}
			}
			if d.AcknowledgedCount == 0 || elem.Less(k, lo) {
				lo, loV = k, op.Value
			}
			if d.AcknowledgedCount == 0 || elem.Less(hi, k) {
				hi, hiV = k, op.Value
			}
			d.AcknowledgedCount++
			s, ok := ids[k]
			if !ok {
				s.value = op.Value
			}
			s.count++
			ids[k] = s
		}
	}
	type dup struct {
		k elem.Key
		s seen
	}
	var dups []dup
	for k, s := range ids {
		if s.count > 1 {
			dups = append(dups, dup{k, s})
		}
	}
	sort.Slice(dups, func(i, j int) bool {
		if dups[i].s.count != dups[j].s.count {
			return dups[i].s.count > dups[j].s.count
		}
		return elem.Less(dups[i].k, dups[j].k)
	})
	d.DuplicatedCount = len(dups)
	keys := make([]elem.Key, 0, min(len(dups), c.o.MaxReported))
	for _, x := range dups[:min(len(dups), c.o.MaxReported)] {
		d.Duplicated = append(d.Duplicated, Duplicate{Value: x.s.value, Count: x.s.count})
		keys = append(keys, x.k)
	}
	if d.AcknowledgedCount > 0 {
		d.Range = []any{loV, hiV}
	}

	res := checker.Result{Valid: checker.True, Details: d}
	switch {
	case len(dups) > 0:
		res.Valid = checker.False
		res.Summary = fmt.Sprintf("%d of %d acknowledged ids were handed out more than once: %s",
			len(dups), d.AcknowledgedCount, elem.List(keys, len(dups), 10))
	case d.AcknowledgedCount == 0:
		res.Summary = fmt.Sprintf("no ok %s: nothing to check (%d attempted)", c.o.GenerateF, d.AttemptedCount)
	default:
		res.Summary = fmt.Sprintf("all %d acknowledged ids distinct (%d attempted), from %s to %s",
			d.AcknowledgedCount, d.AttemptedCount, lo, hi)
	}
	return res
}

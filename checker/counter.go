package checker

import (
	"context"
	"fmt"
	"math"

	"github.com/jplan/jplan/history"
)

// CounterOptions configure the counter checker.
type CounterOptions struct {
	// AddF and ReadF are the f names of adds and reads; "add" and "read"
	// when empty.
	AddF, ReadF string
	// MaxReported bounds the out-of-bounds reads listed; 0 means 100.
	MaxReported int
}

// Counter returns Jepsen's counter checker (jepsen.checker/counter). The
// counter starts at 0; an add's value (from its invocation) is a delta; an
// ok read's value (from its completion) is the counter. Every ok read must
// lie within bounds computed from history order:
//
//   - lower: the sum of the adds that completed ok before the read was
//     invoked;
//   - upper: the sum of the adds invoked before the read completed, except
//     those that failed (info adds and adds that never completed count).
//
// That is Jepsen's rule, which admits only non-negative deltas. A negative
// delta moves the bounds the other way: it lowers lower as soon as it is
// invoked before the read completes (unless it failed), and lowers upper
// only once it completed ok before the read was invoked. The history is
// valid iff every ok read is within its bounds. Values are int64 or
// float64; integer-only histories are checked exactly.
func Counter(opts CounterOptions) Checker {
	if opts.AddF == "" {
		opts.AddF = "add"
	}
	if opts.ReadF == "" {
		opts.ReadF = "read"
	}
	if opts.MaxReported <= 0 {
		opts.MaxReported = 100
	}
	return counterChecker{opts}
}

type counterChecker struct{ o CounterOptions }

func (counterChecker) Name() string { return "counter" }

// CounterRead is one ok read with its bounds. Lower, Value and Upper are
// int64, or float64 when a float took part.
type CounterRead struct {
	Process     int   `json:"process"`
	InvokeIndex int64 `json:"invoke-index"`
	Index       int64 `json:"index"`
	Lower       any   `json:"lower"`
	Value       any   `json:"value"`
	Upper       any   `json:"upper"`
}

// CounterDetails is Result.Details for the counter checker.
type CounterDetails struct {
	ReadCount  int `json:"read-count"`
	ErrorCount int `json:"error-count"`
	// Errors are the first out-of-bounds reads, in history order, at most
	// CounterOptions.MaxReported of them.
	Errors []CounterRead `json:"errors,omitempty"`
	// Final is the last ok read, if any.
	Final *CounterRead `json:"final,omitempty"`
}

// number is an int64 or a float64 history value.
type number struct {
	i       int64
	f       float64
	isFloat bool
}

func toNumber(v any) (number, error) {
	switch x := v.(type) {
	case int64:
		return number{i: x}, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return number{}, fmt.Errorf("value %v is not a finite number", x)
		}
		return number{f: x, isFloat: true}, nil
	}
	return number{}, fmt.Errorf("value %v (%T) is not a number", v, v)
}

func (n number) float() float64 {
	if n.isFloat {
		return n.f
	}
	return float64(n.i)
}

func (n number) negative() bool { return n.float() < 0 }

func (n number) value() any {
	if n.isFloat {
		return n.f
	}
	return n.i
}

// sum accumulates numbers: exactly while they are all integers, then as
// a float64.
type sum struct {
	i       int64
	f       float64
	isFloat bool
}

func (s *sum) add(n number) error {
	if n.isFloat {
		s.isFloat = true
		s.f += n.f
		return nil
	}
	r := s.i + n.i
	if (r > s.i) != (n.i > 0) {
		return fmt.Errorf("sum of adds overflows int64")
	}
	s.i = r
	return nil
}

// plus returns a+b as a number (floating when either holds a float).
func (a sum) plus(b sum) (number, error) {
	if a.isFloat || b.isFloat {
		return number{f: float64(a.i) + a.f + float64(b.i) + b.f, isFloat: true}, nil
	}
	r := a.i + b.i
	if (r > a.i) != (b.i > 0) {
		return number{}, fmt.Errorf("sum of adds overflows int64")
	}
	return number{i: r}, nil
}

// within reports lo <= v <= hi, exactly when all three are integers.
func within(lo, v, hi number) bool {
	if !lo.isFloat && !v.isFloat && !hi.isFloat {
		return lo.i <= v.i && v.i <= hi.i
	}
	return lo.float() <= v.float() && v.float() <= hi.float()
}

func (c counterChecker) Check(ctx context.Context, h []history.Op, _ Options) Result {
	ops := history.ClientOps(h)
	pairs, err := history.Pairs(ops)
	if err != nil {
		return Result{Valid: Unknown, Error: err.Error()}
	}
	// at maps a position in ops to the pair it belongs to.
	at := make([]int32, len(ops))
	for i, p := range pairs {
		if p.InvokePos >= 0 {
			at[p.InvokePos] = int32(i)
		}
		if p.CompletionPos >= 0 {
			at[p.CompletionPos] = int32(i)
		}
	}
	fail := func(op *history.Op, err error) Result {
		return Result{Valid: Unknown, Error: fmt.Sprintf("counter: %s at index %d: %v", op.F, op.Index, err)}
	}

	// okPos/okNeg: positive/negative deltas of adds completed ok so far.
	// invPos/invNeg: those of adds invoked so far that do not fail.
	var okPos, okNeg, invPos, invNeg sum
	// pending: for each process's ok read in flight, okPos and okNeg when
	// it was invoked.
	type snapshot struct{ okPos, okNeg sum }
	pending := map[int]snapshot{}
	d := &CounterDetails{}
	for pos := range ops {
		if pos%4096 == 0 && ctx.Err() != nil {
			return Result{Valid: Unknown, Error: "counter: " + ctx.Err().Error()}
		}
		op := &ops[pos]
		p := &pairs[at[pos]]
		if p.Invoke == nil {
			continue // a bare info op: never invoked, so no bounds move
		}
		invoking := pos == p.InvokePos
		switch op.F {
		case c.o.AddF:
			n, err := toNumber(p.Invoke.Value)
			if err != nil {
				return fail(p.Invoke, err)
			}
			switch {
			case p.Type() == history.Fail:
				// never happened
			case invoking && n.negative():
				err = invNeg.add(n)
			case invoking:
				err = invPos.add(n)
			case op.Type != history.OK:
				// an info completion: the add may still happen
			case n.negative():
				err = okNeg.add(n)
			default:
				err = okPos.add(n)
			}
			if err != nil {
				return fail(op, err)
			}
		case c.o.ReadF:
			if p.Type() != history.OK {
				continue
			}
			if invoking {
				pending[op.Process] = snapshot{okPos, okNeg}
				continue
			}
			snap := pending[op.Process]
			delete(pending, op.Process)
			v, err := toNumber(op.Value)
			if err != nil {
				return fail(op, err)
			}
			lo, err := snap.okPos.plus(invNeg)
			if err != nil {
				return fail(op, err)
			}
			hi, err := invPos.plus(snap.okNeg)
			if err != nil {
				return fail(op, err)
			}
			r := CounterRead{Process: op.Process, InvokeIndex: p.Invoke.Index, Index: op.Index,
				Lower: lo.value(), Value: v.value(), Upper: hi.value()}
			d.ReadCount++
			d.Final = &r
			if !within(lo, v, hi) {
				d.ErrorCount++
				if len(d.Errors) < c.o.MaxReported {
					d.Errors = append(d.Errors, r)
				}
			}
		}
	}

	res := Result{Valid: True, Details: d}
	switch {
	case d.ErrorCount > 0:
		res.Valid = False
		e := d.Errors[0]
		res.Summary = fmt.Sprintf("%d of %d reads out of bounds; first: process %d read %s at index %d, bounds [%s, %s]",
			d.ErrorCount, d.ReadCount, e.Process, formatNumberOrString(e.Value), e.Index,
			formatNumberOrString(e.Lower), formatNumberOrString(e.Upper))
	case d.ReadCount == 0:
		res.Summary = "no ok reads: nothing to check"
	default:
		res.Summary = fmt.Sprintf("all %d reads within bounds; final read %s in [%s, %s]", d.ReadCount,
			formatNumberOrString(d.Final.Value), formatNumberOrString(d.Final.Lower), formatNumberOrString(d.Final.Upper))
	}
	return res
}

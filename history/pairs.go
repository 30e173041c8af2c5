package history

import "fmt"

// Pair is an invocation and its completion. Exactly one of the two may be
// nil: Completion is nil for an invocation that never completed (the run
// ended or was killed first), Invoke is nil for a bare info op that no
// invocation precedes (Jepsen allows these, e.g. a nemesis logging an
// event). Pointers refer into the slice given to Pairs.
type Pair struct {
	Invoke     *Op
	Completion *Op
	// InvokePos and CompletionPos are the positions of Invoke and
	// Completion in that slice, or -1 when absent. Checkers use them as
	// a strict real-time order that does not depend on clocks or on
	// Index being dense.
	InvokePos, CompletionPos int
}

// Type is the pair's outcome: the completion's type, or Info when the
// invocation never completed (its outcome is unknown).
func (p Pair) Type() Type {
	if p.Completion == nil {
		return Info
	}
	return p.Completion.Type
}

// Process is the pair's process.
func (p Pair) Process() int {
	if p.Invoke != nil {
		return p.Invoke.Process
	}
	return p.Completion.Process
}

// F is the pair's function.
func (p Pair) F() string {
	if p.Invoke != nil {
		return p.Invoke.F
	}
	return p.Completion.F
}

// Value is the pair's value as Knossos' history completion defines it: an
// ok completion's value (a read learns its value only then), otherwise the
// invocation's (an info or fail op's completion may not echo it).
func (p Pair) Value() any {
	if p.Completion != nil && (p.Completion.Type == OK || p.Invoke == nil) {
		return p.Completion.Value
	}
	return p.Invoke.Value
}

// Start returns the op that opened the pair: the invocation, or the bare
// completion.
func (p Pair) Start() *Op {
	if p.Invoke != nil {
		return p.Invoke
	}
	return p.Completion
}

// PairError describes a history whose invocations and completions do not
// match up.
type PairError struct {
	Op  Op // the offending op
	Msg string
}

func (e *PairError) Error() string {
	return fmt.Sprintf("history: op %d (process %s, %s %s): %s",
		e.Op.Index, ProcessName(e.Op.Process), e.Op.Type, e.Op.F, e.Msg)
}

// ProcessName renders a process id as Jepsen does: a number, or "nemesis".
func ProcessName(p int) string {
	if p == NemesisProcess {
		return "nemesis"
	}
	return fmt.Sprint(p)
}

// Pairs matches every invocation with the next completion of the same
// process, in history order, and returns the pairs ordered by the position
// of their first op. It fails with a *PairError when a process invokes twice
// without completing, when an ok or fail completion has no invocation, or
// when a completion's f differs from its invocation's.
func Pairs(h []Op) ([]Pair, error) {
	out := make([]Pair, 0, len(h)/2+1)
	// open maps a process to the index in out of its pending pair.
	open := make(map[int]int)
	for i := range h {
		op := &h[i]
		pi, pending := open[op.Process]
		switch op.Type {
		case Invoke:
			if pending {
				prev := out[pi].Invoke
				return nil, &PairError{Op: *op, Msg: fmt.Sprintf(
					"invoked while op %d (%s) is still pending; a process must be single-threaded",
					prev.Index, prev.F)}
			}
			open[op.Process] = len(out)
			out = append(out, Pair{Invoke: op, InvokePos: i, CompletionPos: -1})
		default:
			if !pending {
				if op.Type == Info {
					out = append(out, Pair{Completion: op, InvokePos: -1, CompletionPos: i})
					continue
				}
				return nil, &PairError{Op: *op, Msg: "completion without a prior invocation"}
			}
			if inv := out[pi].Invoke; inv.F != op.F {
				return nil, &PairError{Op: *op, Msg: fmt.Sprintf(
					"completes op %d whose f is %q", inv.Index, inv.F)}
			}
			out[pi].Completion = op
			out[pi].CompletionPos = i
			delete(open, op.Process)
		}
	}
	return out, nil
}

// ClientOps returns the ops that do not belong to the nemesis.
func ClientOps(h []Op) []Op {
	out := make([]Op, 0, len(h))
	for _, op := range h {
		if op.Process != NemesisProcess {
			out = append(out, op)
		}
	}
	return out
}

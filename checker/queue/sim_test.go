package queue_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/queue"
	"github.com/jplan/jplan/history"
)

// simulate runs procs workers against an in-memory unordered queue. Each
// op takes effect at its completion (inside its interval); an info
// enqueue took effect or not at random, a failed one never did. The run
// ends with one drain of everything left. The history is valid for both
// checkers by construction.
func simulate(seed uint64, ops, procs int) []history.Op {
	rng := rand.New(rand.NewPCG(seed, 7))
	var h []history.Op
	var held []int64
	var now int64
	emit := func(op history.Op) {
		now += 1 + rng.Int64N(100)
		op.Index, op.Time = int64(len(h)), now
		h = append(h, op)
	}
	type pending struct {
		f string
		v any
	}
	busy := make([]*pending, procs)
	proc := make([]int, procs) // worker -> process id
	for w := range proc {
		proc[w] = w
	}
	next := int64(0)
	for len(h) < ops {
		w := rng.IntN(procs)
		p := busy[w]
		if p == nil {
			if rng.IntN(2) == 0 {
				busy[w] = &pending{"enqueue", next}
				emit(history.Op{Type: history.Invoke, Process: proc[w], F: "enqueue", Value: next})
				next++
			} else {
				busy[w] = &pending{"dequeue", nil}
				emit(history.Op{Type: history.Invoke, Process: proc[w], F: "dequeue"})
			}
			continue
		}
		busy[w] = nil
		if p.f == "enqueue" {
			switch r := rng.IntN(20); {
			case r == 0:
				emit(history.Op{Type: history.Fail, Process: proc[w], F: "enqueue", Value: p.v})
			case r == 1:
				if rng.IntN(2) == 0 {
					held = append(held, p.v.(int64))
				}
				emit(history.Op{Type: history.Info, Process: proc[w], F: "enqueue", Value: p.v})
				proc[w] += procs // a crashed process never comes back
			default:
				held = append(held, p.v.(int64))
				emit(history.Op{Type: history.OK, Process: proc[w], F: "enqueue", Value: p.v})
			}
			continue
		}
		var v any
		if len(held) > 0 {
			i := rng.IntN(len(held))
			v = held[i]
			held = slices.Delete(held, i, i+1)
		}
		emit(history.Op{Type: history.OK, Process: proc[w], F: "dequeue", Value: v})
	}
	// Complete what is in flight as info, so that nothing changes after
	// the drain.
	for w, p := range busy {
		if p != nil {
			emit(history.Op{Type: history.Info, Process: proc[w], F: p.f, Value: p.v})
		}
	}
	rest := make([]any, len(held))
	for i, v := range held {
		rest[i] = v
	}
	emit(history.Op{Type: history.Invoke, Process: 1 << 20, F: "drain"})
	emit(history.Op{Type: history.OK, Process: 1 << 20, F: "drain", Value: rest})
	return h
}

func TestSimulated(t *testing.T) {
	for seed := range uint64(20) {
		h := simulate(seed, 2000, 5)
		for _, c := range []checker.Checker{queue.Checker(queue.Options{}), queue.Total(queue.Options{})} {
			if res := run(c, h); res.Valid != checker.True {
				t.Fatalf("seed %d: %s judged a correct queue %v: %s", seed, c.Name(), res.Valid, res.Summary)
			}
		}
		drain := &h[len(h)-1]
		rest := drain.Value.([]any)
		if len(rest) == 0 {
			continue
		}
		// Drop an element from the drain: lost, though the queue
		// checker does not care.
		lossy := slices.Clone(h)
		lossy[len(h)-1].Value = rest[1:]
		if res := run(queue.Total(queue.Options{}), lossy); res.Valid != checker.False {
			t.Errorf("seed %d: a lost element judged %v: %s", seed, res.Valid, res.Summary)
		}
		if res := run(queue.Checker(queue.Options{}), lossy); res.Valid != checker.True {
			t.Errorf("seed %d: queue judged a lost element %v", seed, res.Valid)
		}
		// Drain an element twice: the queue checker sees a duplicate;
		// total-queue reports it without judging.
		dup := slices.Clone(h)
		dup[len(h)-1].Value = append(slices.Clone(rest), rest[0])
		res := run(queue.Checker(queue.Options{}), dup)
		if d := res.Details.(*queue.Details); res.Valid != checker.False || d.DuplicatedCount != 1 || d.ErrorCount != 1 {
			t.Errorf("seed %d: a duplicate judged %v: %s", seed, res.Valid, res.Summary)
		}
		res = run(queue.Total(queue.Options{}), dup)
		if d := res.Details.(*queue.TotalDetails); res.Valid != checker.True || d.DuplicatedCount != 1 {
			t.Errorf("seed %d: total-queue on a duplicate: %v %+v", seed, res.Valid, *d)
		}
	}
}

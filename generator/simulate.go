package generator

import (
	"container/heap"
	"fmt"
	"time"

	"github.com/jplan/jplan/history"
)

// SimConfig configures Simulate.
type SimConfig struct {
	// Concurrency is the number of client threads (default 1).
	Concurrency int
	Seed        uint64
	// Latency of each invocation; default 0 (ops complete at the instant
	// they are invoked, after every other op due at that instant).
	Latency func(inv history.Op) time.Duration
	// Complete turns an invocation into its completion; only Type, Value
	// and Error of the result are used. Default: ok, same value.
	Complete func(inv history.Op) history.Op
	// MaxOps stops the simulation after this many history entries
	// (default 1,000,000), so an infinite generator can be sampled.
	MaxOps int
	// MaxTime stops the simulation when the clock would pass it (default:
	// no limit).
	MaxTime time.Duration
	// Logf receives Log messages.
	Logf func(format string, args ...any)
}

type simEvent struct {
	at     int64
	seq    int64 // invocation order breaks ties, for determinism
	thread int
	inv    history.Op
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// Simulate interprets g against a simulated clock, with no goroutines and
// no sleeping: invocations complete after cfg.Latency, as cfg.Complete
// says. It returns the history, which is a pure function of g and cfg. Use
// it to test generators, or to preview a plan's schedule without a cluster.
func Simulate(g Generator, cfg SimConfig) ([]history.Op, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.MaxOps <= 0 {
		cfg.MaxOps = 1_000_000
	}
	d := NewDriver(g, cfg.Concurrency, cfg.Seed)
	d.Logf = cfg.Logf
	var (
		hist  []history.Op
		queue simQueue
		now   int64
		seq   int64
	)
	appendOp := func(op history.Op) {
		op.Index = int64(len(hist))
		op.Time = now
		hist = append(hist, op)
	}
	for len(hist) < cfg.MaxOps {
		// Completions due now go first: they are latency sensitive, and a
		// zero-latency op must complete before the thread is reused.
		if len(queue) > 0 && queue[0].at <= now {
			e := heap.Pop(&queue).(simEvent)
			c := e.inv
			if cfg.Complete != nil {
				r := cfg.Complete(e.inv)
				c.Type, c.Value, c.Error = r.Type, r.Value, r.Error
			} else {
				c.Type = history.OK
			}
			if c.Type == history.Invoke {
				return hist, fmt.Errorf("simulate: completion of %s has type invoke", c.F)
			}
			appendOp(c)
			if err := d.Complete(now, e.thread, hist[len(hist)-1]); err != nil {
				return hist, err
			}
			continue
		}
		step, err := d.Next(now)
		if err != nil {
			return hist, err
		}
		switch step.Kind {
		case StepDone:
			return hist, nil
		case StepInvoke:
			appendOp(step.Op)
			var lat int64
			if cfg.Latency != nil {
				lat = int64(cfg.Latency(step.Op))
			}
			seq++
			heap.Push(&queue, simEvent{at: now + lat, seq: seq, thread: step.Thread, inv: hist[len(hist)-1]})
			continue
		}
		// StepWait: jump to whichever comes first, a completion or Until.
		// A simulation does not poll: with simulated time nothing can
		// change between events.
		next := int64(-1)
		if len(queue) > 0 {
			next = queue[0].at
		}
		if step.Until > 0 && (next < 0 || step.Until < next) {
			next = step.Until
		}
		if next < 0 {
			return hist, fmt.Errorf("simulate: generator is pending with nothing in flight and no wake-up time (deadlock) at %v", time.Duration(now))
		}
		if cfg.MaxTime > 0 && next > int64(cfg.MaxTime) {
			return hist, nil
		}
		now = next
	}
	return hist, nil
}

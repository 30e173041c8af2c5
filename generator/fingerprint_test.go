package generator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jplan/jplan/history"
)

// scheduleFingerprint is the SHA-256 of the histories that
// TestScheduleFingerprint simulates. It pins, for a fixed seed, every op's
// value, process and time across every combinator: performance work on
// generators must leave it unchanged, since the same seed has to reproduce
// the same schedule. Change it only with a deliberate change of semantics
// (and say so in the commit).
const scheduleFingerprint = "00123d1ee5ced48074a31144f054b5267988dbe318e2da7c8da0c26488531b42"

func TestScheduleFingerprint(t *testing.T) {
	// Deterministic latencies and outcomes derived from the invocation, so
	// that info completions (new processes), failures and overlapping ops
	// all occur.
	hash := func(op history.Op, salt string) uint64 {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s|%d|%s|%d|%v", salt, op.Process, op.F, op.Time, op.Value)
		return h.Sum64()
	}
	latency := func(op history.Op) time.Duration { return time.Duration(hash(op, "lat")%5000) * time.Microsecond }
	complete := func(op history.Op) history.Op {
		switch hash(op, "type") % 10 {
		case 0:
			op.Type = history.Info
		case 1, 2:
			op.Type = history.Fail
		default:
			op.Type = history.OK
		}
		return op
	}
	cas := func(r *rand.Rand) (any, error) { return []any{int64(r.IntN(5)), int64(r.IntN(5))}, nil }
	rwc := func() Generator {
		return Mix(Repeat(Invocation("read", nil)), Repeat(Invocation("write", intVal(5))), Repeat(Invocation("cas", cas)))
	}
	gens := []struct {
		name string
		g    func() Generator
	}{
		{"runner-bench", func() Generator {
			return TimeLimit(time.Hour, ClientsAndNemesis(Limit(500, rwc()), Void()))
		}},
		{"mix-exhausting", func() Generator {
			return Mix(Constant("a", 1), Limit(7, Repeat(Invocation("b", intVal(100)))), Constant("c", nil),
				RepeatN(20, Invocation("d", intVal(9))), Limit(3, rwc()), Once(Invocation("f", intVal(3))))
		}},
		{"mix-wide", func() Generator {
			var gs []Generator
			for i := 0; i < 9; i++ {
				gs = append(gs, RepeatN(5+i, Invocation(fmt.Sprint("m", i), intVal(50))))
			}
			return Mix(gs...)
		}},
		{"nemesis-cycle", func() Generator {
			return TimeLimit(5*time.Second, ClientsAndNemesis(Stagger(10*time.Millisecond, rwc()),
				Cycle(Seq(Sleep(time.Second), Invocation("start", nil), Sleep(2*time.Second), Invocation("stop", nil), Log("x")))))
		}},
		{"phases", func() Generator {
			return Phases(
				TimeLimit(time.Second, Any(Clients(Stagger(5*time.Millisecond, rwc())), Nemesis(Seq(Sleep(500*time.Millisecond), Invocation("kill", nil))))),
				Clients(Limit(50, Delay(3*time.Millisecond, rwc()))),
				Clients(EachThread(Once(Invocation("final-read", nil)))),
			)
		}},
		{"any-staggered", func() Generator {
			return Limit(400, Any(Clients(Stagger(time.Millisecond, Repeat(Invocation("x", intVal(7))))),
				Clients(Stagger(time.Millisecond, Repeat(Invocation("y", intVal(7))))), Clients(rwc())))
		}},
		{"any-ties", func() Generator {
			return Clients(Limit(300, Any(Repeat(Invocation("p", intVal(3))), Repeat(Invocation("q", intVal(3))),
				Repeat(Invocation("r", intVal(3))), Repeat(Invocation("s", nil)), Repeat(Invocation("t", nil)))))
		}},
		{"reserve", func() Generator {
			return Clients(Limit(300, Reserve([]int{2, 3}, Repeat(Invocation("r1", intVal(10))), Stagger(time.Millisecond, rwc()), rwc())))
		}},
		{"until-ok-flip-flop", func() Generator {
			return Seq(Clients(UntilOK(Repeat(Invocation("u", intVal(10))))), Clients(UntilOK(Invocation("one", nil))),
				Clients(Limit(20, FlipFlop(rwc(), Repeat(Constant("ff", 2))))))
		}},
		{"cycle-fn", func() Generator {
			return Clients(Limit(200, Seq(CycleN(3, Seq(Constant("c1", 1), Invocation("c2", intVal(4)), Limit(4, rwc()))),
				Fn(func(ctx *Context) Generator { return Limit(1+ctx.Rand(3).IntN(4), rwc()) }))))
		}},
		{"each-thread", func() Generator {
			return Clients(Limit(200, EachThread(Stagger(2*time.Millisecond, rwc()))))
		}},
		{"cycle-phases", func() Generator {
			return Clients(Limit(200, Cycle(Phases(Limit(10, rwc()), Limit(5, Repeat(Invocation("z", intVal(2))))))))
		}},
	}
	sum := sha256.New()
	for _, c := range gens {
		for _, conc := range []int{1, 3, 10} {
			for seed := uint64(0); seed < 2; seed++ {
				for _, lat := range []bool{false, true} {
					cfg := SimConfig{Concurrency: conc, Seed: seed, MaxOps: 5000, MaxTime: 10 * time.Second}
					if lat {
						cfg.Latency, cfg.Complete = latency, complete
					}
					h, err := Simulate(c.g(), cfg)
					fmt.Fprintf(sum, "== %s conc=%d seed=%d lat=%v ops=%d err=%v\n", c.name, conc, seed, lat, len(h), err)
					writeOps(sum, h)
				}
			}
		}
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != scheduleFingerprint {
		t.Fatalf("schedules changed: fingerprint %s, want %s", got, scheduleFingerprint)
	}
}

func writeOps(w io.Writer, h []history.Op) {
	for _, op := range h {
		fmt.Fprintf(w, "%d %d %s %d %s %v %s\n", op.Index, op.Time, op.Type, op.Process, op.F, op.Value, op.Error)
	}
}

package checker

import (
	"math/rand/v2"

	"github.com/jplan/jplan/history"
)

// simConfig drives simulateRegister.
type simConfig struct {
	seed     uint64
	ops      int     // stop once the history has this many entries
	procs    int     // concurrent workers
	cas      bool    // include cas ops
	values   int     // writes draw from [0, values); 0 means unique values
	infoRate float64 // chance an op ends as info (and its process retires)
	stale    bool    // some reads return an already-overwritten value
	keys     int     // >0: values are [key value] tuples over this many keys
	nemesis  bool    // sprinkle nemesis start/stop ops
}

// simulateRegister runs workers against an in-memory register (or one per
// key), each op taking effect atomically at a random point between its
// invocation and completion, so the history is linearizable by
// construction unless stale reads are injected. With stale reads and
// unique values, a stale read returns a value that was overwritten by a
// write that completed before the read was invoked: a certain violation.
func simulateRegister(c simConfig) []history.Op {
	rng := rand.New(rand.NewPCG(c.seed, 42))
	type inflight struct {
		op       history.Op
		applied  bool
		result   any
		failed   bool
		key      int
		readFrom int // versions completed before invocation (stale mode)
	}
	type reg struct {
		value     any
		versions  []any // values in linearization order (unique-value mode)
		completed int   // number of versions whose writer has completed
		writerVer map[int64]int
	}
	nkeys := max(c.keys, 1)
	regs := make([]*reg, nkeys)
	for i := range regs {
		regs[i] = &reg{value: int64(0), versions: []any{int64(0)}, completed: 1, writerVer: map[int64]int{}}
	}
	workers := make([]int, c.procs) // worker -> current process id
	for i := range workers {
		workers[i] = i
	}
	busy := make([]*inflight, c.procs)
	var h []history.Op
	var now int64
	next := int64(1)
	emit := func(op history.Op) {
		now += 1 + rng.Int64N(1000)
		op.Index = int64(len(h))
		op.Time = now
		h = append(h, op)
	}
	wrap := func(key int, v any) any {
		if c.keys > 0 {
			return []any{int64(key), v}
		}
		return v
	}
	newValue := func() int64 {
		if c.values > 0 {
			return rng.Int64N(int64(c.values))
		}
		next++
		return next
	}
	nemesisOn := false
	for len(h) < c.ops {
		if c.nemesis && rng.IntN(200) == 0 {
			f := "start-partition"
			if nemesisOn {
				f = "stop-partition"
			}
			nemesisOn = !nemesisOn
			emit(history.Op{Type: history.Invoke, Process: history.NemesisProcess, F: f})
			emit(history.Op{Type: history.Info, Process: history.NemesisProcess, F: f, Value: "done"})
			continue
		}
		w := rng.IntN(c.procs)
		f := busy[w]
		if f == nil {
			key := rng.IntN(nkeys)
			op := history.Op{Type: history.Invoke, Process: workers[w]}
			switch r := rng.IntN(10); {
			case r < 4:
				op.F, op.Value = "read", wrap(key, nil)
			case r < 7 || !c.cas:
				op.F, op.Value = "write", wrap(key, newValue())
			default:
				var old any = newValue()
				if c.values == 0 {
					// Pick a recent real value so some cas ops succeed.
					vs := regs[key].versions
					old = vs[max(0, len(vs)-1-rng.IntN(2))]
				}
				op.F, op.Value = "cas", wrap(key, []any{old, newValue()})
			}
			emit(op)
			busy[w] = &inflight{op: op, key: key, readFrom: regs[key].completed}
			continue
		}
		r := regs[f.key]
		inner := f.op.Value
		if c.keys > 0 {
			inner = inner.([]any)[1]
		}
		if !f.applied && rng.IntN(3) > 0 {
			// Linearization point.
			f.applied = true
			switch f.op.F {
			case "read":
				f.result = r.value
				if c.stale && f.readFrom > 2 && rng.IntN(20) == 0 {
					f.result = r.versions[rng.IntN(f.readFrom-2)+1]
				}
			case "write":
				r.value = inner
				r.versions = append(r.versions, inner)
				r.writerVer[f.op.Index] = len(r.versions)
			case "cas":
				ab := inner.([]any)
				if r.value == ab[0] {
					r.value = ab[1]
					r.versions = append(r.versions, ab[1])
					r.writerVer[f.op.Index] = len(r.versions)
				} else {
					f.failed = true
				}
			}
			continue
		}
		crashed := false
		if !f.applied {
			if rng.Float64() >= c.infoRate {
				continue // must take effect before completing normally
			}
			crashed = true // times out before taking effect
		} else {
			crashed = rng.Float64() < c.infoRate
		}
		done := history.Op{Process: f.op.Process, F: f.op.F, Value: f.op.Value}
		switch {
		case crashed:
			done.Type, done.Error = history.Info, "timeout"
			workers[w] += c.procs // a crashed process never returns
		case f.failed:
			done.Type = history.Fail
		default:
			done.Type = history.OK
			if f.op.F == "read" {
				done.Value = wrap(f.key, f.result)
			}
		}
		if v, ok := r.writerVer[f.op.Index]; ok && done.Type == history.OK && v > r.completed {
			r.completed = v
		}
		emit(done)
		busy[w] = nil
	}
	return h
}

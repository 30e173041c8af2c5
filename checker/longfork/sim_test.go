package longfork_test

import (
	"math/rand/v2"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/longfork"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/txn"
)

// simulate runs Jepsen's long-fork workload (each key inserted once,
// groups of size keys read whole) against replicas copies of a database.
// A write takes effect on a random replica at its completion and reaches
// each other replica some steps later; a read is served by a random
// replica. With one replica that is serializable; with two, concurrent
// writes reach the replicas in different orders: parallel snapshot
// isolation, which allows long forks.
func simulate(seed uint64, ops, procs, size, replicas int) []history.Op {
	rng := rand.New(rand.NewPCG(seed, 13))
	dbs := make([]map[int64]bool, replicas)
	for i := range dbs {
		dbs[i] = map[int64]bool{}
	}
	type delivery struct {
		at      int
		replica int
		key     int64
	}
	var late []delivery
	var h []history.Op
	emit := func(op history.Op) {
		op.Index, op.Time, op.F = int64(len(h)), int64(len(h))*1000, txn.F
		h = append(h, op)
	}
	busy := make([]any, procs)
	nextKey := int64(0)
	for step := 0; len(h) < ops; step++ {
		kept := late[:0]
		for _, d := range late {
			if d.at <= step {
				dbs[d.replica][d.key] = true
			} else {
				kept = append(kept, d)
			}
		}
		late = kept
		w := rng.IntN(procs)
		if busy[w] == nil {
			if rng.IntN(3) == 0 {
				v := []any{[]any{"w", nextKey, int64(1)}}
				nextKey++
				busy[w] = v
				emit(history.Op{Type: history.Invoke, Process: w, Value: v})
			} else {
				// A group at or below the newest key.
				g := max(nextKey-1, 0) / int64(size) * int64(size)
				if rng.IntN(4) == 0 && g >= int64(size) {
					g -= int64(size)
				}
				v := make([]any, size)
				for i := range v {
					v[i] = []any{"r", g + int64(i), nil}
				}
				busy[w] = v
				emit(history.Op{Type: history.Invoke, Process: w, Value: v})
			}
			continue
		}
		mops, _ := txn.Parse(busy[w])
		busy[w] = nil
		if mops[0].Kind == txn.Write {
			k := mops[0].Key.(int64)
			home := rng.IntN(replicas)
			dbs[home][k] = true
			for r := range replicas {
				if r != home {
					late = append(late, delivery{step + 1 + rng.IntN(20), r, k})
				}
			}
			emit(history.Op{Type: history.OK, Process: w, Value: txn.Value(mops)})
			continue
		}
		db := dbs[rng.IntN(replicas)]
		for i := range mops {
			if db[mops[i].Key.(int64)] {
				mops[i].Value = int64(1)
			}
		}
		emit(history.Op{Type: history.OK, Process: w, Value: txn.Value(mops)})
	}
	return h
}

// saw reports whether the read r saw key k written.
func saw(t *testing.T, r longfork.Read, k any) bool {
	t.Helper()
	mops, err := txn.Parse(r.Value)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mops {
		if m.Key == k {
			return m.Value != nil
		}
	}
	t.Fatalf("read %d does not read key %v", r.Index, k)
	return false
}

func TestSimulated(t *testing.T) {
	forked := 0
	for seed := range uint64(20) {
		h := simulate(seed, 3000, 6, 3, 1)
		res, d := check(t, longfork.Options{GroupSize: 3}, h)
		if res.Valid != checker.True || d.ReadCount == 0 || d.WriteCount == 0 {
			t.Fatalf("seed %d: a serializable run judged %v: %s %s", seed, res.Valid, res.Summary, res.Error)
		}
		h = simulate(seed, 3000, 6, 3, 2)
		res, d = check(t, longfork.Options{GroupSize: 3}, h)
		if res.Valid == checker.Unknown {
			t.Fatalf("seed %d: %s", seed, res.Error)
		}
		if res.Valid == checker.True {
			continue
		}
		forked++
		// Every reported fork is one: each read saw a write the other
		// missed.
		for _, f := range d.Forks {
			if len(f.AOnly) == 0 || len(f.BOnly) == 0 {
				t.Fatalf("seed %d: fork %+v", seed, f)
			}
			for _, k := range f.AOnly {
				if !saw(t, f.A, k) || saw(t, f.B, k) {
					t.Errorf("seed %d: fork %+v: key %v", seed, f, k)
				}
			}
			for _, k := range f.BOnly {
				if !saw(t, f.B, k) || saw(t, f.A, k) {
					t.Errorf("seed %d: fork %+v: key %v", seed, f, k)
				}
			}
		}
	}
	// Delays of up to 20 steps among 6 workers make forks common; a
	// checker that finds none is broken.
	t.Logf("forks found in %d of 20 replicated runs", forked)
	if forked < 10 {
		t.Errorf("forks found in %d of 20 replicated runs", forked)
	}
}

package listappend

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/elle"
	"github.com/jplan/jplan/history"
)

// genHistory simulates n list-append transactions by `threads` processes
// against a single-copy store that applies each transaction atomically at
// its completion, so the history is strict serializable and the checker
// must do all its work. Each transaction has 1 to 8 micro-ops over a pool
// of 10 active keys per thread; a key is retired after 32 appends so that
// reads stay short. Reads share the store's arrays: the values are never
// mutated, and this keeps a million-transaction history small. For the
// same reason an invocation's value is its completion's: the checker reads
// only completions.
func genHistory(n, threads int, seed uint64) []history.Op {
	rng := rand.New(rand.NewPCG(seed, 1))
	keys := make([]int64, 10*threads)
	for i := range keys {
		keys[i] = int64(i)
	}
	nextKey := int64(len(keys))
	store := map[int64][]any{}
	type pending struct {
		mops []any
		ok   bool
	}
	pend := make([]pending, threads)
	h := make([]history.Op, 0, 2*n+threads*2)
	started := 0
	now := int64(0)
	for started < n || len(h) < 2*started {
		p := rng.IntN(threads)
		now += 1000
		if !pend[p].ok {
			if started >= n {
				continue
			}
			k := 1 + rng.IntN(8)
			mops := make([]any, k)
			for j := range mops {
				key := keys[rng.IntN(len(keys))]
				if rng.IntN(2) == 0 {
					mops[j] = []any{"r", key, nil}
				} else {
					mops[j] = []any{"append", key, int64(0)} // value set at completion
				}
			}
			pend[p] = pending{mops, true}
			h = append(h, history.Op{Index: int64(len(h)), Time: now, Type: history.Invoke, Process: p, F: "txn", Value: mops})
			started++
			continue
		}
		// Complete: apply atomically now.
		done := pend[p].mops
		for _, m := range done {
			m := m.([]any)
			key := m[1].(int64)
			if m[0] == "r" {
				l := store[key]
				m[2] = l[:len(l):len(l)]
				continue
			}
			v := int64(len(store[key]) + 1)
			store[key] = append(store[key], v)
			m[2] = v
		}
		// Retire keys that are full.
		for i, key := range keys {
			if len(store[key]) >= 32 {
				keys[i] = nextKey
				nextKey++
			}
		}
		pend[p].ok = false
		h = append(h, history.Op{Index: int64(len(h)), Time: now, Type: history.OK, Process: p, F: "txn", Value: done})
	}
	return h
}

// withAnomaly makes one late transaction read a stale state of a key that
// later transactions saw grow: a G-single (and realtime) cycle.
func withAnomaly(h []history.Op) []history.Op {
	for i := len(h) / 2; i < len(h); i++ {
		op := &h[i]
		if op.Type != history.OK {
			continue
		}
		for _, m := range op.Value.([]any) {
			m := m.([]any)
			if l, ok := m[2].([]any); ok && m[0] == "r" && len(l) >= 2 {
				m[2] = l[:len(l)-1]
				return h
			}
		}
	}
	return h
}

func TestGenHistoryValid(t *testing.T) {
	h := genHistory(5000, 10, 7)
	r := check(t, h, elle.Options{})
	if r.Valid != checker.True {
		t.Fatalf("generated history: %v %v", r.Valid, r.AnomalyTypes)
	}
	h = withAnomaly(h)
	r = check(t, h, elle.Options{})
	if r.Valid != checker.False {
		t.Fatalf("history with a stale read: %v %v", r.Valid, r.AnomalyTypes)
	}
}

func benchCheck(b *testing.B, n int, anomaly bool) {
	h := genHistory(n, 10, 1)
	if anomaly {
		h = withAnomaly(h)
	}
	c := Checker(elle.Options{})
	b.ResetTimer()
	for b.Loop() {
		r := c.Check(context.Background(), h, checker.Options{})
		if (r.Valid == checker.True) == anomaly {
			b.Fatalf("valid %v", r.Valid)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()*float64(b.N), "txns/s")
}

func BenchmarkCheck10k(b *testing.B)         { benchCheck(b, 10_000, false) }
func BenchmarkCheck100k(b *testing.B)        { benchCheck(b, 100_000, false) }
func BenchmarkCheck100kAnomaly(b *testing.B) { benchCheck(b, 100_000, true) }
func BenchmarkCheck1M(b *testing.B)          { benchCheck(b, 1_000_000, false) }
func BenchmarkCheck1MAnomaly(b *testing.B)   { benchCheck(b, 1_000_000, true) }

// BenchmarkGenerate1M only builds the history, to tell the checker's
// memory from the history's in the 1M benchmarks' peak RSS.
func BenchmarkGenerate1M(b *testing.B) {
	for b.Loop() {
		if h := genHistory(1_000_000, 10, 1); len(h) != 2_000_000 {
			b.Fatalf("%d ops", len(h))
		}
	}
}

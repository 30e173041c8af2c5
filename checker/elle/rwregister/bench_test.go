package rwregister

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/elle"
	"github.com/jplan/jplan/history"
)

// genHistory simulates n rw-register transactions by 10 processes against
// a store that applies each atomically at completion: strict serializable.
// 1-8 micro-ops over 100 live keys, each retired after 32 writes; written
// values are unique per key.
func genHistory(n int, seed uint64) []history.Op {
	const threads = 10
	rng := rand.New(rand.NewPCG(seed, 2))
	keys := make([]int64, 100)
	for i := range keys {
		keys[i] = int64(i)
	}
	next := int64(len(keys))
	store := map[int64]int64{}
	writes := map[int64]int64{}
	pend := make([][]any, threads)
	var h []history.Op
	started := 0
	for started < n || len(h) < 2*started {
		p := rng.IntN(threads)
		if pend[p] == nil {
			if started >= n {
				continue
			}
			mops := make([]any, 1+rng.IntN(8))
			for j := range mops {
				k := keys[rng.IntN(len(keys))]
				if rng.IntN(2) == 0 {
					mops[j] = []any{"r", k, nil}
				} else {
					mops[j] = []any{"w", k, nil}
				}
			}
			pend[p] = mops
			h = append(h, history.Op{Index: int64(len(h)), Type: history.Invoke, Process: p, F: "txn", Value: mops})
			started++
			continue
		}
		for _, m := range pend[p] {
			m := m.([]any)
			k := m[1].(int64)
			if m[0] == "r" {
				if v, ok := store[k]; ok {
					m[2] = v
				}
				continue
			}
			writes[k]++
			store[k] = writes[k]
			m[2] = writes[k]
		}
		for i, k := range keys {
			if writes[k] >= 32 {
				keys[i] = next
				next++
			}
		}
		h = append(h, history.Op{Index: int64(len(h)), Type: history.OK, Process: p, F: "txn", Value: pend[p]})
		pend[p] = nil
	}
	return h
}

func TestGenHistoryValid(t *testing.T) {
	r, err := Check(context.Background(), genHistory(5000, 1), elle.Options{WFRKeys: true})
	if err != nil || r.Valid != checker.True {
		t.Fatalf("%v %v %v", err, r.Valid, r.AnomalyTypes)
	}
}

func BenchmarkCheck100k(b *testing.B) {
	h := genHistory(100_000, 1)
	c := Checker(elle.Options{})
	b.ResetTimer()
	for b.Loop() {
		if r := c.Check(context.Background(), h, checker.Options{}); r.Valid != checker.True {
			b.Fatalf("valid %v", r.Valid)
		}
	}
}

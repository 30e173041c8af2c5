package bank_test

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/bank"
	"github.com/jplan/jplan/history"
)

// simulate runs procs workers against a serializable in-memory bank of
// accounts accounts holding 10 each: every op takes effect atomically at
// its completion; a transfer that would overdraw fails. Every read sees
// the total, and no balance is negative.
func simulate(seed uint64, ops, procs, accounts int) []history.Op {
	rng := rand.New(rand.NewPCG(seed, 11))
	bal := make([]int64, accounts)
	for i := range bal {
		bal[i] = 10
	}
	var h []history.Op
	var now int64
	emit := func(op history.Op) {
		now += 1 + rng.Int64N(1000)
		op.Index, op.Time = int64(len(h)), now
		h = append(h, op)
	}
	busy := make([]map[string]any, procs) // a transfer in flight, or {} for a read
	for len(h) < ops {
		w := rng.IntN(procs)
		if busy[w] == nil {
			if rng.IntN(2) == 0 {
				busy[w] = map[string]any{}
				emit(history.Op{Type: history.Invoke, Process: w, F: "read"})
			} else {
				busy[w] = map[string]any{"from": int64(rng.IntN(accounts)), "to": int64(rng.IntN(accounts)),
					"amount": 1 + rng.Int64N(5)}
				emit(history.Op{Type: history.Invoke, Process: w, F: "transfer", Value: busy[w]})
			}
			continue
		}
		t := busy[w]
		busy[w] = nil
		if len(t) == 0 {
			m := make(map[string]any, accounts)
			for a, b := range bal {
				m[strconv.Itoa(a)] = b
			}
			emit(history.Op{Type: history.OK, Process: w, F: "read", Value: m})
			continue
		}
		from, to, amount := t["from"].(int64), t["to"].(int64), t["amount"].(int64)
		if bal[from] < amount {
			emit(history.Op{Type: history.Fail, Process: w, F: "transfer", Value: t})
			continue
		}
		bal[from] -= amount
		bal[to] += amount
		emit(history.Op{Type: history.OK, Process: w, F: "transfer", Value: t})
	}
	return h
}

func TestSimulated(t *testing.T) {
	total := int64(50)
	o := bank.Options{Total: &total, Accounts: []int64{0, 1, 2, 3, 4}}
	for seed := range uint64(20) {
		h := simulate(seed, 2000, 5, 5)
		res, d := check(t, o, h, checker.Options{})
		if res.Valid != checker.True || d.ReadCount == 0 {
			t.Fatalf("seed %d: a serializable bank judged %v: %s", seed, res.Valid, res.Summary)
		}
		// A read that saw half a transfer: one account 3 short.
		var reads []int
		for i, op := range h {
			if op.F == "read" && op.Type == history.OK {
				reads = append(reads, i)
			}
		}
		i := reads[len(reads)/2]
		bad := slices.Clone(h)
		m := maps.Clone(bad[i].Value.(map[string]any))
		m["2"] = m["2"].(int64) - 3
		bad[i].Value = m
		res, d = check(t, o, bad, checker.Options{})
		// The balance may go below zero too, but the total is checked
		// first.
		if res.Valid != checker.False || d.ErrorCount != 1 || d.FirstError.Index != int64(i) ||
			d.FirstError.Type != bank.WrongTotal || d.FirstError.Total != 47 {
			t.Errorf("seed %d: a partial transfer judged %v: %s", seed, res.Valid, res.Summary)
		}
		// Moving money between accounts keeps the total; a negative
		// balance is still caught.
		neg := slices.Clone(h)
		m = maps.Clone(h[i].Value.(map[string]any))
		m["0"], m["1"] = m["0"].(int64)+m["1"].(int64)+1, int64(-1)
		neg[i].Value = m
		if res, d := check(t, o, neg, checker.Options{}); res.Valid != checker.False || d.Errors[bank.NegativeValue] == nil {
			t.Errorf("seed %d: a negative balance judged %v: %s", seed, res.Valid, res.Summary)
		}
	}
}

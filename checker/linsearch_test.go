package checker

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/jplan/jplan/checker/linsearch"
	"github.com/jplan/jplan/history"
)

// linsearchCase prepares one single-key history for both searches.
func linsearchCase(t testing.TB, h []history.Op, model Model, strict bool) (porcupine.Model, []porcupine.Operation, []linsearch.Op, int32) {
	t.Helper()
	l := &linearizable{o: LinearizableOptions{Model: model, Initial: int64(0), StrictNilReads: strict}}
	in := newInterner()
	initial, err := in.id(int64(0))
	if err != nil {
		t.Fatal(err)
	}
	parts, err := l.prepare(h, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 {
		t.Fatalf("%d partitions, want 1", len(parts))
	}
	var stop atomic.Bool
	return l.model(in, initial, &stop, nil), parts[0].ops, linsearchOps(parts[0].ops), initial
}

// TestLinsearchMatchesPorcupine compares verdicts on simulated histories,
// linearizable by construction or with injected stale reads, over many
// seeds and sizes; both verdicts must occur.
func TestLinsearchMatchesPorcupine(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 60
	}
	counts := map[linsearch.Verdict]int{}
	for seed := range uint64(seeds) {
		sizes := []int{10, 50, 200, 800, 2000}
		cfg := simConfig{
			seed:     seed,
			ops:      sizes[seed%uint64(len(sizes))],
			procs:    2 + int(seed%7),
			cas:      seed%3 != 0,
			infoRate: []float64{0, 0.002, 0.01}[seed%3],
			stale:    seed%2 == 1,
		}
		if seed%4 >= 2 {
			cfg.values = 3 + int(seed%4) // repeated values: harder searches
		}
		model := ModelCASRegister
		if !cfg.cas && seed%5 == 0 {
			model = ModelRegister
		}
		strict := seed%6 == 5
		h := simulateRegister(cfg)
		pm, pops, lops, initial := linsearchCase(t, h, model, strict)
		var want linsearch.Verdict
		switch porcupine.CheckOperationsTimeout(pm, pops, 2*time.Second) {
		case porcupine.Ok:
			want = linsearch.Ok
		case porcupine.Illegal:
			want = linsearch.Illegal
		default:
			counts[linsearch.Unknown]++ // porcupine cannot decide it: no reference
			continue
		}
		got := linsearch.Check(context.Background(), lops, linsearch.Options{Initial: initial, StrictNilReads: strict, TimeLimit: time.Minute})
		if got.Verdict != want {
			t.Fatalf("seed %d %+v: linsearch %v (%s), porcupine %v", seed, cfg, got.Verdict, got.Reason, want)
		}
		counts[want]++
	}
	if counts[linsearch.Ok] == 0 || counts[linsearch.Illegal] == 0 {
		t.Fatalf("verdicts %v: want both ok and illegal cases", counts)
	}
	t.Logf("verdicts: %d ok, %d illegal, %d undecided by porcupine", counts[linsearch.Ok], counts[linsearch.Illegal], counts[linsearch.Unknown])
}

// TestLinsearchMemoryBudget: a memo budget too small for the search's
// configurations is cleared, not exceeded, and the verdict is unchanged;
// a budget below the fixed cost gives Unknown.
func TestLinsearchMemoryBudget(t *testing.T) {
	h := simulateRegister(simConfig{seed: 3, ops: 2000, procs: 8, cas: true, values: 4, infoRate: 0.02})
	_, _, lops, initial := linsearchCase(t, h, ModelCASRegister, false)
	full := linsearch.Check(context.Background(), lops, linsearch.Options{Initial: initial})
	if full.Verdict != linsearch.Ok {
		t.Fatalf("full budget: %v %s", full.Verdict, full.Reason)
	}
	tight := full.Bytes - int64(full.MemoEntries)*8 // less than the memo needed
	small := linsearch.Check(context.Background(), lops, linsearch.Options{Initial: initial, MaxMemory: tight, TimeLimit: time.Minute})
	if small.Verdict != linsearch.Ok || small.Bytes > tight || small.MemoClears == 0 {
		t.Fatalf("budget %d: %v %s, used %d bytes, %d clears", tight, small.Verdict, small.Reason, small.Bytes, small.MemoClears)
	}
	none := linsearch.Check(context.Background(), lops, linsearch.Options{Initial: initial, MaxMemory: 1000})
	if none.Verdict != linsearch.Unknown || none.Reason == "" {
		t.Fatalf("budget 1000: %v %q", none.Verdict, none.Reason)
	}
}

// TestLinsearchTimeLimit: an exhausted time limit gives Unknown.
func TestLinsearchTimeLimit(t *testing.T) {
	h := simulateRegister(simConfig{seed: 1, ops: 20000, procs: 10, cas: true, values: 5, infoRate: 0.001})
	_, _, lops, initial := linsearchCase(t, h, ModelCASRegister, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := linsearch.Check(ctx, lops, linsearch.Options{Initial: initial})
	if r.Verdict != linsearch.Unknown || r.Reason == "" {
		t.Fatalf("cancelled: %v %q", r.Verdict, r.Reason)
	}
}

// benchLinsearch100k is BenchmarkLinearizableCASRegister100k's history.
func benchSingleKey(b *testing.B, ops int) []linsearch.Op {
	h := simulateRegister(simConfig{seed: 1, ops: ops, procs: 10, cas: true, values: 5, infoRate: 0.001})
	_, _, lops, initial := linsearchCase(b, h, ModelCASRegister, false)
	if initial != 1 {
		b.Fatalf("initial id %d", initial)
	}
	return lops
}

func BenchmarkLinsearchCASRegister100k(b *testing.B) {
	lops := benchSingleKey(b, 100000)
	b.ReportAllocs()
	var r linsearch.Result
	for b.Loop() {
		if r = linsearch.Check(context.Background(), lops, linsearch.Options{Initial: 1}); r.Verdict != linsearch.Ok {
			b.Fatalf("got %v %s", r.Verdict, r.Reason)
		}
	}
	b.ReportMetric(float64(r.Bytes), "search-bytes")
	b.ReportMetric(float64(r.MemoEntries), "memo-entries")
}

// BenchmarkPorcupineCASRegister100k is porcupine alone on the same ops,
// for a side-by-side with BenchmarkLinsearchCASRegister100k.
func BenchmarkPorcupineCASRegister100k(b *testing.B) {
	h := simulateRegister(simConfig{seed: 1, ops: 100000, procs: 10, cas: true, values: 5, infoRate: 0.001})
	pm, pops, _, _ := linsearchCase(b, h, ModelCASRegister, false)
	b.ReportAllocs()
	for b.Loop() {
		if !porcupine.CheckOperations(pm, pops) {
			b.Fatal("porcupine: illegal")
		}
	}
}

// BenchmarkLinsearchCASRegister1M: a 1M-entry single-key history, decided
// or Unknown within LINSEARCH_TIME (default 60s) and 512 MiB.
//
// LINSEARCH_INFO_RATE overrides the 0.001 info rate: more indeterminate ops
// make a harder search, to see Unknown arrive within the bounds.
func BenchmarkLinsearchCASRegister1M(b *testing.B) {
	rate := 0.001
	if s := os.Getenv("LINSEARCH_INFO_RATE"); s != "" {
		var err error
		if rate, err = strconv.ParseFloat(s, 64); err != nil {
			b.Fatal(err)
		}
	}
	h := simulateRegister(simConfig{seed: 1, ops: 1000000, procs: 10, cas: true, values: 5, infoRate: rate})
	_, _, lops, _ := linsearchCase(b, h, ModelCASRegister, false)
	h = nil
	limit := time.Minute
	if s := os.Getenv("LINSEARCH_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		limit = d
	}
	b.ReportAllocs()
	var r linsearch.Result
	for b.Loop() {
		r = linsearch.Check(context.Background(), lops, linsearch.Options{Initial: 1, TimeLimit: limit, MaxMemory: 512 << 20})
		if r.Verdict == linsearch.Illegal {
			b.Fatalf("illegal on a linearizable history")
		}
	}
	b.ReportMetric(float64(r.Bytes), "search-bytes")
	b.ReportMetric(float64(r.MemoEntries), "memo-entries")
	b.Logf("verdict %v %s, steps %s", r.Verdict, r.Reason, strconv.FormatInt(r.Steps, 10))
}

// TestLinearizableAlgorithmLinsearch: the checker gives the same verdict
// and the same anomaly description with either algorithm.
func TestLinearizableAlgorithmLinsearch(t *testing.T) {
	both := map[Validity]int{}
	for seed := range uint64(40) {
		h := simulateRegister(simConfig{seed: seed, ops: 300, procs: 4, cas: true, infoRate: 0.01, stale: seed%2 == 0})
		opts := LinearizableOptions{Model: ModelCASRegister, Initial: int64(0), Algorithm: "porcupine"}
		want := Linearizable(opts).Check(context.Background(), h, Options{})
		opts.Algorithm = "" // the default: linsearch
		got := Linearizable(opts).Check(context.Background(), h, Options{})
		if got.Valid != want.Valid || got.Summary != want.Summary {
			t.Fatalf("seed %d: linsearch %v %q, porcupine %v %q", seed, got.Valid, got.Summary, want.Valid, want.Summary)
		}
		both[got.Valid]++
	}
	if both[True] == 0 || both[False] == 0 {
		t.Fatalf("verdicts %v: want both", both)
	}
	bad := Linearizable(LinearizableOptions{Model: ModelCASRegister, Algorithm: "nope"}).Check(context.Background(), nil, Options{})
	if bad.Valid != Unknown || bad.Error == "" {
		t.Fatalf("unknown algorithm: %v %q", bad.Valid, bad.Error)
	}
	tiny := Linearizable(LinearizableOptions{Model: ModelCASRegister, Initial: int64(0), Algorithm: "linsearch", MaxMemory: 100}).
		Check(context.Background(), simulateRegister(simConfig{seed: 1, ops: 300, procs: 4, cas: true}), Options{})
	if tiny.Valid != Unknown || tiny.Summary == "" {
		t.Fatalf("100-byte budget: %v %q", tiny.Valid, tiny.Summary)
	}
}

// BenchmarkLinearizableCASRegister100kLinsearch is
// BenchmarkLinearizableCASRegister100k with Algorithm "linsearch".
func BenchmarkLinearizableCASRegister100kLinsearch(b *testing.B) {
	h := simulateRegister(simConfig{seed: 1, ops: 100000, procs: 10, cas: true, values: 5, infoRate: 0.001})
	c := Linearizable(LinearizableOptions{Model: ModelCASRegister, Initial: int64(0), Algorithm: "linsearch"})
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), h, Options{}); res.Valid != True {
			b.Fatalf("got %v %s %s", res.Valid, res.Summary, res.Error)
		}
	}
}

// TestLinsearchExplainsLongKey: past linsearchExplainMax ops a violation
// is described from linsearch's own search, without porcupine.
func TestLinsearchExplainsLongKey(t *testing.T) {
	h := simulateRegister(simConfig{seed: 7, ops: 3 * linsearchExplainMax, procs: 5, cas: true, stale: true})
	res := Linearizable(LinearizableOptions{Model: ModelCASRegister, Initial: int64(0), Algorithm: "linsearch"}).Check(context.Background(), h, Options{})
	d, _ := res.Details.(*LinearizableDetails)
	if res.Valid != False || d == nil || len(d.Anomalies) != 1 {
		t.Fatalf("got %v %q %+v", res.Valid, res.Summary, res.Details)
	}
	a := d.Anomalies[0]
	if !strings.Contains(a.Description, "deepest point") || a.Op.CompleteIndex < 0 || a.Linearized >= a.Total || len(a.States) != 1 || len(res.Findings) != 1 {
		t.Fatalf("anomaly %+v", a)
	}
	t.Log(a.Description)
}

// BenchmarkLinearizableCASRegister1MStaleLinsearch: the checker with
// linsearch on a 1M-entry single-key history with stale reads: a
// violation found and described without porcupine.
func BenchmarkLinearizableCASRegister1MStaleLinsearch(b *testing.B) {
	h := simulateRegister(simConfig{seed: 2, ops: 1000000, procs: 10, cas: true, infoRate: 0.001, stale: true})
	c := Linearizable(LinearizableOptions{Model: ModelCASRegister, Initial: int64(0), Algorithm: "linsearch", TimeLimit: time.Minute, MaxMemory: 512 << 20})
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), h, Options{}); res.Valid == True {
			b.Fatalf("got %v %s %s", res.Valid, res.Summary, res.Error)
		} else {
			b.Logf("%v: %s", res.Valid, res.Summary)
		}
	}
}

package eval_test

import (
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lang"
	"github.com/jplan/jplan/txn"
)

func compile(t *testing.T, path string) (*eval.Evaluator, *eval.Schedule) {
	t.Helper()
	sources, plans, diags := lang.Load(lang.NewParser(), path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	e, diags := eval.New(plans[0], eval.Options{Dir: sources[0].Dir})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s, diags := e.CompileSchedule()
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return e, s
}

// TestEtcdSchedule compiles the etcd example and runs its schedule on the
// simulator: client ops only from the plan's operations, with values of the
// plan's shapes; faults started and stopped in the plan's order; the final
// phase reads once per thread; the same seed gives the same history.
func TestEtcdSchedule(t *testing.T) {
	e, s := compile(t, "../examples/etcd.hcl")
	conc, _ := e.Concurrency()
	if conc != 10 {
		t.Fatalf("concurrency = %d, want 10 (2n of 5 nodes)", conc)
	}
	seed, _, _ := e.Seed()
	sim := func() []history.Op {
		h, err := generator.Simulate(s.Generator(), generator.SimConfig{
			Concurrency: conc, Seed: uint64(seed),
			Latency: func(history.Op) time.Duration { return 5 * time.Millisecond },
		})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := sim()
	var reads, writes, cas, starts, stops int
	lastTime := int64(0)
	var finalReads int
	var nemesis []string
	for _, op := range h {
		if op.Type != history.Invoke {
			continue
		}
		lastTime = op.Time
		switch op.F {
		case "read":
			reads++
			if op.Value != nil {
				t.Fatalf("read with value %v", op.Value)
			}
			if op.Time > int64(69*time.Second) {
				finalReads++
			}
		case "write":
			writes++
			if v, ok := op.Value.(int64); !ok || v < 0 || v > 4 {
				t.Fatalf("write value %#v, want int64 in [0,4]", op.Value)
			}
		case "cas":
			cas++
			pair, ok := op.Value.([]any)
			if !ok || len(pair) != 2 {
				t.Fatalf("cas value %#v, want a pair", op.Value)
			}
		case "start-partition", "start-crash":
			starts++
			nemesis = append(nemesis, op.F)
		case "stop-partition", "stop-crash":
			stops++
			nemesis = append(nemesis, op.F)
		default:
			t.Fatalf("unexpected op %q", op.F)
		}
	}
	// 60 s of ops staggered at 50 ms on average: about 1200 of them.
	if n := reads + writes + cas; n < 800 || n > 1700 {
		t.Errorf("%d client ops in the main phase, want about 1200", n)
	}
	if starts != 6 || stops != 7 {
		// 60 s of a 20 s cycle with ops at 5, 10, 15, ... 55 s: six starts
		// and five stops; the heal phase stops both once more.
		t.Errorf("nemesis ops %v: want 6 starts and 7 stops", nemesis)
	}
	if nemesis[0] != "start-partition" || nemesis[1] != "stop-partition" || nemesis[2] != "start-crash" {
		t.Errorf("nemesis order %v", nemesis)
	}
	if finalReads != conc {
		t.Errorf("final phase made %d reads, want one per thread (%d)", finalReads, conc)
	}
	if lastTime < int64(70*time.Second) {
		t.Errorf("last op at %v: the recover phase's 10 s sleep is missing", time.Duration(lastTime))
	}
	if !reflect.DeepEqual(h, sim()) {
		t.Error("same seed, different histories")
	}
}

func TestOpSpecRoundTrip(t *testing.T) {
	e, s := compile(t, "../examples/etcd.hcl")
	spec := s.Ops["cas"]
	v, err := spec.Value(rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	node := e.Nodes()[2]
	op := history.Op{F: "cas", Value: v, Process: 7, Node: node.Name}
	req, err := spec.HTTPRequest(node, op)
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "POST" || req.Path != "/v3/kv/txn" {
		t.Errorf("request %+v", req)
	}
	ok, err := spec.Complete(node, op, eval.HTTPResponse(200, []byte(`{"succeeded":true}`), nil))
	if err != nil || ok.Type != history.OK {
		t.Errorf("succeeded txn: %v %v", ok.Type, err)
	}
	fail, _ := spec.Complete(node, op, eval.HTTPResponse(200, []byte(`{"header":{}}`), nil))
	if fail.Type != history.Fail {
		t.Errorf("txn that did not succeed: %v, want fail", fail.Type)
	}
	info, _ := spec.Complete(node, op, eval.HTTPResponse(503, []byte(`oops`), nil))
	if info.Type != history.Info {
		t.Errorf("503: %v, want info", info.Type)
	}
	read := s.Ops["read"]
	got, err := read.Complete(node, history.Op{F: "read"}, eval.HTTPResponse(200, []byte(`{"kvs":[{"value":"Mw=="}]}`), nil))
	if err != nil || got.Type != history.OK || got.Value != int64(3) {
		t.Errorf("read of base64 3: %+v %v", got, err)
	}
	empty, _ := read.Complete(node, history.Op{F: "read"}, eval.HTTPResponse(200, []byte(`{"count":0}`), nil))
	if empty.Type != history.OK || empty.Value != nil {
		t.Errorf("read of missing key: %+v, want ok nil", empty)
	}
}

func TestEverythingCompiles(t *testing.T) {
	_, s := compile(t, filepath.Join("..", "testdata", "valid", "everything.hcl"))
	h, err := generator.Simulate(s.Generator(), generator.SimConfig{Concurrency: 6, Seed: 1, MaxOps: 5000,
		Latency: func(history.Op) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	fs := map[string]bool{}
	for _, op := range h {
		fs[op.F] = true
	}
	for _, f := range []string{"write", "read", "cas", "start-partition", "stop-partition"} {
		if !fs[f] {
			t.Errorf("no %q op in the simulated schedule", f)
		}
	}
}

// TestTxnValuesFromPlan: an operation whose value is list_append_txn()
// records real micro-ops: keys from the pool, appended values unique per
// key and counting up, reads unfilled; the same seed, the same txns.
func TestTxnValuesFromPlan(t *testing.T) {
	sim := func() []history.Op {
		_, s := compile(t, "../examples/memory-append.hcl")
		h, err := generator.Simulate(s.Generator(), generator.SimConfig{Concurrency: 6, Seed: 1, MaxOps: 4000,
			Latency: func(history.Op) time.Duration { return time.Millisecond }})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := sim()
	next := map[any]int64{}
	txns := 0
	for _, op := range h {
		if op.Type != history.Invoke {
			continue
		}
		txns++
		mops, err := txn.Parse(op.Value)
		if err != nil {
			t.Fatalf("op %d: %v", op.Index, err)
		}
		if len(mops) < 1 || len(mops) > 4 {
			t.Fatalf("op %d has %d micro-ops, want 1..4 (max_length = 4)", op.Index, len(mops))
		}
		for _, m := range mops {
			if m.Kind == txn.Read {
				if m.Value != nil {
					t.Fatalf("op %d: invoked read %v has a value", op.Index, m)
				}
				continue
			}
			next[m.Key]++
			if m.Value != next[m.Key] {
				t.Fatalf("op %d: %v; want value %d, the key's next", op.Index, m, next[m.Key])
			}
		}
	}
	if txns < 1000 {
		t.Fatalf("only %d txns", txns)
	}
	if !reflect.DeepEqual(invokesOf(h), invokesOf(sim())) {
		t.Fatal("the same seed gave different transactions")
	}
}

func invokesOf(h []history.Op) []any {
	var out []any
	for _, op := range h {
		if op.Type == history.Invoke {
			out = append(out, op.Value)
		}
	}
	return out
}

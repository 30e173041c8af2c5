package memory_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/runner"
	"github.com/jplan/jplan/storage"
	"github.com/jplan/jplan/target/memory"
)

// run performs n register ops against reg and returns the history, which
// also goes through the store (streamed JSONL) to check that both copies
// agree.
func run(t *testing.T, reg *memory.Register, n int, seed uint64) []history.Op {
	t.Helper()
	store, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sr, err := store.Create("register", nil)
	if err != nil {
		t.Fatal(err)
	}
	mem := runner.NewMemRecorder()
	_, err = runner.Run(context.Background(), runner.Config{
		Nodes:       []string{"n1", "n2", "n3", "n4", "n5"},
		Concurrency: 5,
		Generator:   generator.Clients(generator.Limit(n, memory.Workload())),
		Client:      reg.Factory(),
		Recorder:    runner.Tee(sr.History(), mem),
		Seed:        seed,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := mem.Ops()
	if err := sr.WriteEDN(h); err != nil {
		t.Fatal(err)
	}
	if err := sr.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(sr.Dir, storage.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stored, err := history.ReadJSONL(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, h) {
		t.Fatalf("history.jsonl differs from the recorded history (%d vs %d entries)", len(stored), len(h))
	}
	if len(h) != 2*n {
		t.Fatalf("%d entries for %d ops", len(h), n)
	}
	return h
}

func linearizable(t *testing.T, h []history.Op) checker.Result {
	t.Helper()
	c := checker.Linearizable(checker.LinearizableOptions{Model: checker.ModelCASRegister, TimeLimit: time.Minute})
	return checker.Run(context.Background(), c, h, checker.Options{})
}

func TestLinearizableRegisterIsValid(t *testing.T) {
	reg := memory.New(memory.Options{Jitter: 100 * time.Microsecond, ErrorRate: 0.02, Seed: 1})
	h := run(t, reg, 600, 1)
	if res := linearizable(t, h); res.Valid != checker.True {
		t.Fatalf("linearizable register judged %v: %s %s", res.Valid, res.Summary, res.Error)
	}
}

func TestStaleReadsAreInvalid(t *testing.T) {
	reg := memory.New(memory.Options{Jitter: 100 * time.Microsecond, Stale: true, CatchUp: 0.1, Seed: 2})
	h := run(t, reg, 600, 2)
	if res := linearizable(t, h); res.Valid != checker.False {
		t.Fatalf("stale-read register judged %v: %s %s", res.Valid, res.Summary, res.Error)
	}
}

func TestRegisterSemantics(t *testing.T) {
	reg := memory.New(memory.Options{})
	c := reg.Factory()()
	ctx := context.Background()
	if err := c.Open(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	do := func(f string, v any) history.Op {
		t.Helper()
		out, err := c.Invoke(ctx, history.Op{Type: history.Invoke, F: f, Value: v})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if r := do("read", nil); r.Type != history.OK || r.Value != nil {
		t.Fatalf("initial read %+v", r)
	}
	if r := do("cas", []any{int64(0), int64(1)}); r.Type != history.Fail {
		t.Fatalf("cas on unset register %+v", r)
	}
	do("write", int64(3))
	if r := do("cas", []any{int64(3), int64(4)}); r.Type != history.OK {
		t.Fatalf("cas %+v", r)
	}
	if r := do("read", nil); r.Value != int64(4) {
		t.Fatalf("read %+v", r)
	}
	if _, err := c.Invoke(ctx, history.Op{F: "write", Value: "x"}); err == nil {
		t.Fatal("bad write value accepted")
	}
}

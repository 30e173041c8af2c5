package client

import (
	"context"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lang"
	"github.com/jplan/jplan/runner"
)

// TestRegisterProcessExample runs examples/clients/register-process.hcl's
// client and operations through the runner, four workers sharing one
// register file, and checks the history is linearizable.
func TestRegisterProcessExample(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	if testing.Short() {
		t.Skip("starts a dozen Python programs")
	}
	p := lang.NewParser()
	file := filepath.Join(t.TempDir(), "register.json")
	inputs, diags := eval.ReadInputs(p, eval.InputOptions{Vars: []string{"register_file=" + file}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	path := "../examples/clients/register-process.hcl"
	_, plans, diags := lang.Load(p, path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	nodes := []eval.Node{{Name: "n1", Host: "127.0.0.1"}, {Name: "n2", Host: "127.0.0.1", Index: 1}}
	ev, diags := eval.New(plans[0], eval.Options{Dir: filepath.Dir(path), Inputs: inputs, Nodes: nodes})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cfg, lg := configFor(t, ev, nil)
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}

	var gens []generator.Generator
	for _, name := range []string{"read", "write", "cas"} {
		s := ev.OpSpec(name)
		gens = append(gens, generator.Repeat(generator.Invocation(s.F, func(r *rand.Rand) (any, error) { return s.Value(r) })))
	}
	rec := runner.NewMemRecorder()
	sum, err := runner.Run(context.Background(), runner.Config{
		Nodes:       []string{"n1", "n2"},
		Concurrency: 4,
		Generator:   generator.Clients(generator.Limit(300, generator.Mix(gens...))),
		Client:      NewFactory(cfg),
		Recorder:    rec,
		Seed:        7,
		OpTimeout:   10 * time.Second,
		Logf:        t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.OK == 0 || sum.Info != 0 {
		t.Fatalf("summary %+v; log:\n%s", sum, lg)
	}
	h := rec.Ops()
	for _, op := range h {
		if op.Type == history.Fail && op.F != "cas" {
			t.Errorf("unexpected fail: %+v", op)
		}
	}
	c := checker.Linearizable(checker.LinearizableOptions{Model: checker.ModelCASRegister, TimeLimit: time.Minute})
	if res := checker.Run(context.Background(), c, h, checker.Options{}); res.Valid != checker.True {
		t.Fatalf("history judged %v: %s %s", res.Valid, res.Summary, res.Error)
	}
}

package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lang"
	"github.com/jplan/jplan/runner"
)

// TestMain lets the test binary double as a process client: re-executed
// with helperEnv set, it runs the helper program instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

// loadPlan evaluates testdata/name with the given nodes.
func loadPlan(t *testing.T, name string, nodes ...eval.Node) *eval.Evaluator {
	t.Helper()
	path := filepath.Join("testdata", name)
	_, plans, diags := lang.Load(lang.NewParser(), path)
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", path, diags)
	}
	for i := range nodes {
		nodes[i].Index = i
	}
	ev, diags := eval.New(plans[0], eval.Options{Dir: "testdata", Nodes: nodes})
	if diags.HasErrors() {
		t.Fatalf("eval %s: %v", path, diags)
	}
	return ev
}

// configFor builds the factory config the orchestrator would: client
// config per node, ops by f. adjust may change each node's config (tests
// point base_url at httptest servers).
func configFor(t *testing.T, ev *eval.Evaluator, adjust func(*eval.ClientConfig)) (Config, *logs) {
	t.Helper()
	lg := &logs{}
	cfg := Config{
		Kind:    ev.Plan.Client.Kind,
		PerNode: map[string]eval.ClientConfig{},
		Nodes:   map[string]eval.Node{},
		Ops:     map[string]*eval.OpSpec{},
		Logf:    lg.logf,
	}
	for _, n := range ev.Nodes() {
		nc, diags := ev.Client(&n)
		if diags.HasErrors() {
			t.Fatalf("client config for %s: %v", n.Name, diags)
		}
		if adjust != nil {
			adjust(&nc)
		}
		cfg.PerNode[n.Name] = nc
		cfg.Nodes[n.Name] = n
	}
	for _, o := range ev.Plan.Operations {
		s := ev.OpSpec(o.Name)
		cfg.Ops[s.F] = s
	}
	return cfg, lg
}

// logs collects Logf lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// open makes and opens a client on node, closing it when the test ends.
func open(t *testing.T, f runner.ClientFactory, node string) runner.Client {
	t.Helper()
	c := f()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Open(ctx, node); err != nil {
		t.Fatalf("open on %s: %v", node, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

// invoke performs one op with a generous test deadline.
func invoke(t *testing.T, c runner.Client, f string, value any) (history.Op, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return c.Invoke(ctx, history.Op{Type: history.Invoke, Process: 3, F: f, Value: value, Node: "n1"})
}

func wantType(t *testing.T, op history.Op, err error, want history.Type) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", op.F, err)
	}
	t.Logf("%s: %s %q", op.F, op.Type, op.Error)
	if op.Type != want {
		t.Fatalf("%s completed %s (error %q, value %#v), want %s", op.F, op.Type, op.Error, op.Value, want)
	}
}

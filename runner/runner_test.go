package runner_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/runner"
	"github.com/jplan/jplan/target/memory"
)

// checkHistory asserts what every run must record: dense indices from 0,
// non-decreasing times, every invocation completed exactly once by the same
// process and f, at most one op in flight per process, no process invoking
// again after an info, and client processes on thread p mod concurrency
// bound to that thread's node.
func checkHistory(t *testing.T, h []history.Op, conc int, nodes []string) {
	t.Helper()
	open := map[int]history.Op{}
	crashed := map[int]bool{}
	var last int64
	for i, op := range h {
		if op.Index != int64(i) {
			t.Fatalf("entry %d has index %d", i, op.Index)
		}
		if op.Time < last {
			t.Fatalf("entry %d: time went backwards (%d < %d)", i, op.Time, last)
		}
		last = op.Time
		if op.Process != history.NemesisProcess && nodes != nil {
			if want := nodes[(op.Process%conc)%len(nodes)]; op.Node != want {
				t.Fatalf("entry %d: process %d on node %q, want %q", i, op.Process, op.Node, want)
			}
		}
		if op.Type == history.Invoke {
			if _, busy := open[op.Process]; busy {
				t.Fatalf("entry %d: process %d invoked with an op in flight", i, op.Process)
			}
			if crashed[op.Process] {
				t.Fatalf("entry %d: process %d invoked after an info", i, op.Process)
			}
			open[op.Process] = op
			continue
		}
		inv, ok := open[op.Process]
		if !ok {
			t.Fatalf("entry %d: completion by process %d with nothing in flight", i, op.Process)
		}
		if inv.F != op.F {
			t.Fatalf("entry %d: completes %q but %q was invoked", i, op.F, inv.F)
		}
		delete(open, op.Process)
		if op.Type == history.Info && op.Process != history.NemesisProcess {
			crashed[op.Process] = true
		}
	}
	if len(open) > 0 {
		t.Fatalf("%d invocations never completed: %v", len(open), open)
	}
}

func count(h []history.Op, pred func(history.Op) bool) int {
	n := 0
	for _, op := range h {
		if pred(op) {
			n++
		}
	}
	return n
}

var nodes = []string{"n1", "n2", "n3"}

func TestRunMemoryRegisterWellFormed(t *testing.T) {
	reg := memory.New(memory.Options{Jitter: 200 * time.Microsecond, ErrorRate: 0.05, Seed: 1})
	rec := runner.NewMemRecorder()
	var finals int
	sum, err := runner.Run(context.Background(), runner.Config{
		Nodes:       nodes,
		Concurrency: 5,
		Generator:   generator.Clients(generator.Limit(2000, memory.Workload())),
		Client:      reg.Factory(),
		Recorder:    rec,
		Seed:        42,
		Progress: func(p runner.Progress) {
			if p.Final {
				finals++
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := rec.Ops()
	checkHistory(t, h, 5, nodes)
	if len(h) != 4000 || sum.Entries != 4000 || sum.Invocations != 2000 {
		t.Fatalf("want 2000 ops (4000 entries), got %d entries, summary %+v", len(h), sum)
	}
	if sum.OK+sum.Fail+sum.Info != 2000 || sum.Info == 0 || sum.OK == 0 || sum.Fail == 0 {
		t.Fatalf("summary %+v", sum)
	}
	// Infos renumber processes: process ids beyond the concurrency appear.
	if count(h, func(op history.Op) bool { return op.Process >= 5 }) == 0 {
		t.Fatal("no process was renumbered after an info")
	}
	for _, f := range []string{"read", "write", "cas"} {
		if count(h, func(op history.Op) bool { return op.F == f }) < 400 {
			t.Fatalf("too few %s ops", f)
		}
	}
	opened, closed, setups, teardowns := reg.Counts()
	if setups != len(nodes) || teardowns != len(nodes) {
		t.Fatalf("setup/teardown once per node: %d/%d", setups, teardowns)
	}
	// One client per process that invoked (the 5 initial ones, and one per
	// info unless it was its thread's last op), plus one per node for setup
	// and one for teardown; every one closed.
	procs := map[int]bool{}
	for _, op := range h {
		procs[op.Process] = true
	}
	if want := len(procs) + 2*len(nodes); opened != want || closed != opened {
		t.Fatalf("opened %d closed %d, want %d", opened, closed, want)
	}
	if finals != 1 {
		t.Fatalf("final progress reported %d times", finals)
	}
}

// scripted is a client whose behaviour tests choose per op.
type scripted struct {
	invoke func(ctx context.Context, op history.Op) (history.Op, error)
	opens  *atomic.Int64
	open   func(node string) error
}

func (c *scripted) Open(_ context.Context, node string) error {
	if c.opens != nil {
		c.opens.Add(1)
	}
	if c.open != nil {
		return c.open(node)
	}
	return nil
}
func (c *scripted) Setup(context.Context) error    { return nil }
func (c *scripted) Teardown(context.Context) error { return nil }
func (c *scripted) Close(context.Context) error    { return nil }
func (c *scripted) Invoke(ctx context.Context, op history.Op) (history.Op, error) {
	return c.invoke(ctx, op)
}

func factory(opens *atomic.Int64, invoke func(context.Context, history.Op) (history.Op, error)) runner.ClientFactory {
	return func() runner.Client { return &scripted{invoke: invoke, opens: opens} }
}

func ok(_ context.Context, op history.Op) (history.Op, error) {
	op.Type = history.OK
	return op, nil
}

func TestCrashesBecomeInfo(t *testing.T) {
	var opens atomic.Int64
	invoke := func(ctx context.Context, op history.Op) (history.Op, error) {
		switch op.Value {
		case int64(1):
			return op, errors.New("socket closed")
		case int64(2):
			panic("client bug")
		case int64(3):
			op.F = "other"
			op.Type = history.OK
			return op, nil
		case int64(4):
			op.Process += 100
			op.Type = history.OK
			return op, nil
		case int64(5):
			return op, nil // still Type Invoke
		}
		op.Type = history.OK
		return op, nil
	}
	g := generator.Clients(generator.Seq(
		generator.Constant("w", int64(0)),
		generator.Constant("w", int64(1)),
		generator.Constant("w", int64(2)),
		generator.Constant("w", int64(3)),
		generator.Constant("w", int64(4)),
		generator.Constant("w", int64(5)),
		generator.Constant("w", int64(0)),
	))
	rec := runner.NewMemRecorder()
	sum, err := runner.Run(context.Background(), runner.Config{
		Nodes: nodes, Concurrency: 1, Generator: g, Client: factory(&opens, invoke), Recorder: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := rec.Ops()
	checkHistory(t, h, 1, nodes)
	wantErr := []string{"", "socket closed", "panic: client bug", "invalid completion: f \"other\"", "invalid completion: process 103", "invalid completion: type invoke", ""}
	var procs []int
	for i, w := range wantErr {
		inv, c := h[2*i], h[2*i+1]
		procs = append(procs, inv.Process)
		if w == "" && c.Type != history.OK || w != "" && (c.Type != history.Info || !strings.HasPrefix(c.Error, w)) {
			t.Errorf("op %d: %s %q, want error %q", i, c.Type, c.Error, w)
		}
	}
	// Each info moves the thread to a new process with a new client.
	if fmt.Sprint(procs) != "[0 0 1 2 3 4 5]" {
		t.Fatalf("processes %v", procs)
	}
	if sum.Info != 5 || opens.Load() != 6+2*int64(len(nodes)) {
		t.Fatalf("info %d opens %d", sum.Info, opens.Load())
	}
}

func TestOpenFailureFailsOp(t *testing.T) {
	var n atomic.Int64
	f := func() runner.Client {
		return &scripted{invoke: ok, open: func(string) error {
			// Setup (3 nodes) and the first worker open fail... no: setup
			// must succeed; fail the 4th open only.
			if n.Add(1) == 4 {
				return errors.New("refused")
			}
			return nil
		}}
	}
	rec := runner.NewMemRecorder()
	_, err := runner.Run(context.Background(), runner.Config{
		Nodes: nodes, Concurrency: 1, Client: f, Recorder: rec,
		Generator: generator.Clients(generator.RepeatN(2, generator.Constant("r", nil))),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := rec.Ops()
	checkHistory(t, h, 1, nodes)
	if h[1].Type != history.Fail || h[1].Error != "no client: refused" || h[3].Type != history.OK || h[2].Process != 0 {
		t.Fatalf("history %v", h)
	}
}

func TestOpTimeout(t *testing.T) {
	var opens atomic.Int64
	release := make(chan struct{})
	defer close(release)
	invoke := func(ctx context.Context, op history.Op) (history.Op, error) {
		if op.Value == int64(1) {
			// Ignores ctx entirely: the runner must not wait for it.
			<-release
		}
		op.Type = history.OK
		return op, nil
	}
	rec := runner.NewMemRecorder()
	start := time.Now()
	sum, err := runner.Run(context.Background(), runner.Config{
		Nodes: nodes, Concurrency: 2, Client: factory(&opens, invoke), Recorder: rec,
		OpTimeout: 50 * time.Millisecond,
		Generator: generator.Clients(generator.Seq(
			generator.Constant("w", int64(1)),
			generator.RepeatN(10, generator.Constant("w", int64(0))),
			generator.Synchronize(generator.RepeatN(4, generator.Constant("w", int64(0)))),
		)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("run waited for the stuck op")
	}
	h := rec.Ops()
	checkHistory(t, h, 2, nodes)
	if sum.Timeouts != 1 || sum.Info != 1 || sum.OK != 14 {
		t.Fatalf("summary %+v", sum)
	}
	var info history.Op
	for _, op := range h {
		if op.Type == history.Info {
			info = op
		}
	}
	if info.Process != 0 || !strings.Contains(info.Error, "timed out") {
		t.Fatalf("info %+v", info)
	}
	if count(h, func(op history.Op) bool { return op.Process == 2 }) == 0 {
		t.Fatal("thread 0 did not continue as process 2")
	}
}

// recNemesis records its lifecycle.
type recNemesis struct {
	mu       sync.Mutex
	calls    []string
	invoke   func(ctx context.Context, op history.Op) (history.Op, error)
	setupErr error
}

func (n *recNemesis) log(s string) {
	n.mu.Lock()
	n.calls = append(n.calls, s)
	n.mu.Unlock()
}
func (n *recNemesis) Setup(context.Context) error { n.log("setup"); return n.setupErr }
func (n *recNemesis) Teardown(ctx context.Context) error {
	if ctx.Err() != nil {
		n.log("teardown-with-dead-ctx")
	}
	n.log("teardown")
	return nil
}
func (n *recNemesis) Invoke(ctx context.Context, op history.Op) (history.Op, error) {
	n.log(op.F)
	if n.invoke != nil {
		return n.invoke(ctx, op)
	}
	op.Type = history.Info
	return op, nil
}
func (n *recNemesis) Calls() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.calls, " ")
}

func TestNemesisVirtualTime(t *testing.T) {
	nem := &recNemesis{}
	rec := runner.NewMemRecorder()
	var faults []string
	start := time.Now()
	sum, err := runner.Run(context.Background(), runner.Config{
		Nodes: nodes, Concurrency: 3, Client: factory(nil, ok), Recorder: rec, Nemesis: nem,
		Virtual: true, Seed: 3,
		Generator: generator.TimeLimit(100*time.Second, generator.ClientsAndNemesis(
			generator.Stagger(100*time.Millisecond, generator.Repeat(generator.Constant("r", nil))),
			generator.Cycle(generator.Seq(
				generator.Sleep(10*time.Second),
				generator.Constant("start-partition", nil),
				generator.Sleep(10*time.Second),
				generator.Constant("stop-partition", nil),
			)),
		)),
		ProgressInterval: time.Second,
		Progress: func(p runner.Progress) {
			if len(p.ActiveFaults) > 0 {
				faults = p.ActiveFaults
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("virtual run took %v of wall-clock time", time.Since(start))
	}
	h := rec.Ops()
	checkHistory(t, h, 3, nodes)
	if sum.Elapsed < 99*time.Second || sum.Elapsed > 101*time.Second {
		t.Fatalf("virtual elapsed %v", sum.Elapsed)
	}
	reads := count(h, func(op history.Op) bool { return op.F == "r" && op.Type == history.Invoke })
	if reads < 850 || reads > 1150 {
		t.Fatalf("%d reads in 100s at ~10/s", reads)
	}
	var nemOps []string
	for _, op := range h {
		if op.Process == history.NemesisProcess && op.Type == history.Invoke {
			nemOps = append(nemOps, fmt.Sprintf("%s@%ds", op.F, op.Time/int64(time.Second)))
		}
	}
	want := "start-partition@10s stop-partition@20s start-partition@30s stop-partition@40s start-partition@50s stop-partition@60s start-partition@70s stop-partition@80s start-partition@90s"
	if strings.Join(nemOps, " ") != want {
		t.Fatalf("nemesis schedule %v", nemOps)
	}
	if got := nem.Calls(); !strings.HasPrefix(got, "setup start-partition") || !strings.HasSuffix(got, "teardown") {
		t.Fatalf("nemesis calls %q", got)
	}
	if len(faults) != 1 || faults[0] != "partition" {
		t.Fatalf("active faults %v", faults)
	}
}

func TestCancelDrainsAndHeals(t *testing.T) {
	nem := &recNemesis{invoke: ok}
	stuck := make(chan struct{})
	defer close(stuck)
	var started atomic.Int64
	invoke := func(ctx context.Context, op history.Op) (history.Op, error) {
		if started.Add(1) > 20 {
			<-stuck // ignores ctx: only DrainTimeout gets us out
		}
		op.Type = history.OK
		return op, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for started.Load() < 24 { // 20 quick ops, then all 4 threads stuck
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	rec := runner.NewMemRecorder()
	begin := time.Now()
	sum, err := runner.Run(ctx, runner.Config{
		Nodes: nodes, Concurrency: 4, Client: factory(nil, invoke), Recorder: rec, Nemesis: nem,
		DrainTimeout: 100 * time.Millisecond,
		Generator: generator.ClientsAndNemesis(
			generator.Repeat(generator.Constant("r", nil)),
			generator.Constant("start-partition", nil),
		),
	})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) > 5*time.Second {
		t.Fatal("cancel did not bound the drain")
	}
	h := rec.Ops()
	checkHistory(t, h, 4, nodes)
	if !sum.Interrupted || sum.Info != 4 {
		t.Fatalf("summary %+v", sum)
	}
	for _, op := range h {
		if op.Type == history.Info && op.Error != "interrupted: run canceled" {
			t.Fatalf("info %+v", op)
		}
	}
	calls := nem.Calls()
	if !strings.HasSuffix(calls, "teardown") || strings.Contains(calls, "dead-ctx") {
		t.Fatalf("nemesis must be torn down with a live context: %q", calls)
	}
}

func TestNemesisTeardownAfterSetupFailure(t *testing.T) {
	nem := &recNemesis{}
	_, err := runner.Run(context.Background(), runner.Config{
		Nodes: nodes, Nemesis: nem, Recorder: runner.NewMemRecorder(),
		Client: func() runner.Client {
			return &scripted{invoke: ok, open: func(string) error { return errors.New("node down") }}
		},
		Generator: generator.Clients(generator.Constant("r", nil)),
	})
	if err == nil || !strings.Contains(err.Error(), "client setup on n1: open: node down") {
		t.Fatalf("got %v", err)
	}
	if nem.Calls() != "setup teardown" {
		t.Fatalf("nemesis calls %q", nem.Calls())
	}
}

type failingRecorder struct{ n int }

func (f *failingRecorder) Append(history.Op) error {
	f.n++
	if f.n > 10 {
		return errors.New("disk full")
	}
	return nil
}

func TestRecorderFailureStopsRun(t *testing.T) {
	_, err := runner.Run(context.Background(), runner.Config{
		Nodes: nodes, Client: factory(nil, ok), Recorder: &failingRecorder{},
		Generator: generator.Clients(generator.Repeat(generator.Constant("r", nil))),
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("got %v", err)
	}
}

func TestGeneratorErrorStopsRun(t *testing.T) {
	rec := runner.NewMemRecorder()
	_, err := runner.Run(context.Background(), runner.Config{
		Nodes: nodes, Client: factory(nil, ok), Recorder: rec,
		Generator: generator.Clients(generator.Seq(
			generator.RepeatN(10, generator.Constant("r", nil)),
			generator.Invocation("w", func(*rand.Rand) (any, error) { return nil, errors.New("bad value") }),
		)),
	})
	if err == nil || !strings.Contains(err.Error(), "bad value") {
		t.Fatalf("got %v", err)
	}
	checkHistory(t, rec.Ops(), 3, nodes)
}

func TestNoNemesisConfigured(t *testing.T) {
	rec := runner.NewMemRecorder()
	_, err := runner.Run(context.Background(), runner.Config{
		Nodes: nodes, Client: factory(nil, ok), Recorder: rec,
		Generator: generator.Nemesis(generator.Constant("kill", nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := rec.Ops()
	if len(h) != 2 || h[1].Type != history.Info || h[1].Process != history.NemesisProcess {
		t.Fatalf("history %v", h)
	}
}

func TestCancelDuringLongSleep(t *testing.T) {
	nem := &recNemesis{invoke: ok}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	rec := runner.NewMemRecorder()
	begin := time.Now()
	sum, err := runner.Run(ctx, runner.Config{
		Nodes: nodes, Client: factory(nil, ok), Recorder: rec, Nemesis: nem,
		Generator: generator.Nemesis(generator.Seq(
			generator.Constant("start-partition", nil),
			generator.Sleep(time.Hour),
			generator.Constant("stop-partition", nil),
		)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) > 5*time.Second {
		t.Fatal("canceled run waited for the nemesis sleep")
	}
	if !sum.Interrupted || len(rec.Ops()) != 2 || !strings.HasSuffix(nem.Calls(), "teardown") {
		t.Fatalf("summary %+v, history %v, nemesis %q", sum, rec.Ops(), nem.Calls())
	}
}

// TestMemRecorderTake: Take returns every op in order across chunks and
// leaves the recorder empty and usable.
func TestMemRecorderTake(t *testing.T) {
	rec := runner.NewMemRecorder()
	const n = 3*4096 + 17
	for i := 0; i < n; i++ {
		rec.Append(history.Op{Index: int64(i), F: "read"})
	}
	h := rec.Take()
	if len(h) != n {
		t.Fatalf("took %d ops, want %d", len(h), n)
	}
	for i, op := range h {
		if op.Index != int64(i) {
			t.Fatalf("op %d has index %d", i, op.Index)
		}
	}
	if rec.Len() != 0 || len(rec.Take()) != 0 {
		t.Fatal("the recorder still holds ops after Take")
	}
	rec.Append(history.Op{Index: 7})
	if got := rec.Ops(); len(got) != 1 || got[0].Index != 7 {
		t.Fatalf("after Take, recorded %v", got)
	}
}

package generator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/history"
)

// ---------------------------------------------------------------------------
// helpers

func sim(t *testing.T, g Generator, cfg SimConfig) []history.Op {
	t.Helper()
	h, err := Simulate(g, cfg)
	if err != nil {
		t.Fatalf("simulate: %v", err)
	}
	checkWellFormed(t, h, max(cfg.Concurrency, 1))
	return h
}

func invokes(h []history.Op) []history.Op {
	var out []history.Op
	for _, op := range h {
		if op.Type == history.Invoke {
			out = append(out, op)
		}
	}
	return out
}

func fs(h []history.Op) string {
	var b []string
	for _, op := range invokes(h) {
		b = append(b, op.F)
	}
	return strings.Join(b, " ")
}

func fixed(d time.Duration) func(history.Op) time.Duration {
	return func(history.Op) time.Duration { return d }
}

// checkWellFormed asserts the history invariants every interpreter must
// keep: dense indices, monotonic times, each process has at most one op in
// flight and invokes only after its previous op completed, every completion
// matches its invocation, and no process invokes after an info.
func checkWellFormed(t *testing.T, h []history.Op, conc int) {
	t.Helper()
	open := map[int]history.Op{}
	crashed := map[int]bool{}
	var last int64
	for i, op := range h {
		if op.Index != int64(i) {
			t.Fatalf("op %d has index %d", i, op.Index)
		}
		if op.Time < last {
			t.Fatalf("op %d: time went backwards: %d < %d", i, op.Time, last)
		}
		last = op.Time
		if op.Type == history.Invoke {
			if _, busy := open[op.Process]; busy {
				t.Fatalf("op %d: process %d invoked while busy", i, op.Process)
			}
			if crashed[op.Process] {
				t.Fatalf("op %d: process %d invoked after an info", i, op.Process)
			}
			open[op.Process] = op
			continue
		}
		inv, ok := open[op.Process]
		if !ok {
			t.Fatalf("op %d: completion for process %d with nothing in flight", i, op.Process)
		}
		if inv.F != op.F {
			t.Fatalf("op %d: completion f %q for invocation f %q", i, op.F, inv.F)
		}
		delete(open, op.Process)
		if op.Type == history.Info && op.Process != history.NemesisProcess {
			crashed[op.Process] = true
		}
	}
}

func intVal(n int) ValueFunc {
	return func(r *rand.Rand) (any, error) { return r.IntN(n), nil }
}

// ---------------------------------------------------------------------------
// leaves

func TestInvocationIsOneShotAndDeterministic(t *testing.T) {
	h := sim(t, Invocation("write", intVal(1000)), SimConfig{Concurrency: 3, Seed: 1})
	if len(h) != 2 || h[0].F != "write" || h[1].Type != history.OK {
		t.Fatalf("want one write invoked and completed, got %+v", h)
	}
	if _, ok := h[0].Value.(int64); !ok {
		t.Fatalf("value should be normalised to int64, got %T", h[0].Value)
	}
	again := sim(t, Invocation("write", intVal(1000)), SimConfig{Concurrency: 3, Seed: 1})
	if !reflect.DeepEqual(h, again) {
		t.Fatalf("same seed, different histories:\n%v\n%v", h, again)
	}
}

func TestRepeatReevaluatesValues(t *testing.T) {
	h := invokes(sim(t, RepeatN(50, Invocation("write", intVal(1_000_000))), SimConfig{Concurrency: 2, Seed: 7}))
	if len(h) != 50 {
		t.Fatalf("RepeatN(50) emitted %d ops", len(h))
	}
	seen := map[any]bool{}
	for _, op := range h {
		seen[op.Value] = true
	}
	if len(seen) < 45 {
		t.Fatalf("repeat should recompute values; only %d distinct of 50", len(seen))
	}
	other := invokes(sim(t, RepeatN(50, Invocation("write", intVal(1_000_000))), SimConfig{Concurrency: 2, Seed: 8}))
	if reflect.DeepEqual(h, other) {
		t.Fatal("different seeds gave identical values")
	}
}

func TestRepeatKeepsStateOfChild(t *testing.T) {
	// Repeat does not advance its child: repeating a sequence repeats its
	// first op.
	h := sim(t, RepeatN(3, Seq(Constant("a", nil), Constant("b", nil))), SimConfig{})
	if got := fs(h); got != "a a a" {
		t.Fatalf("got %q", got)
	}
}

func TestSeqAndLimitAndOnce(t *testing.T) {
	g := Seq(Void(), Constant("a", nil), Limit(2, Repeat(Constant("b", nil))), Once(Repeat(Constant("c", nil))), Void())
	if got := fs(sim(t, g, SimConfig{Concurrency: 2})); got != "a b b c" {
		t.Fatalf("got %q", got)
	}
	if got := fs(sim(t, Limit(0, Constant("x", nil)), SimConfig{})); got != "" {
		t.Fatalf("Limit 0 emitted %q", got)
	}
}

func TestSeqIsConcurrentPhasesAreNot(t *testing.T) {
	// With latency, a Seq's second op starts while the first is in flight
	// (on another thread); Phases waits for the first to complete.
	g := Seq(Constant("write", 1), Constant("read", nil))
	h := sim(t, g, SimConfig{Concurrency: 2, Latency: fixed(time.Second)})
	if h[1].Type != history.Invoke || h[1].Time != 0 {
		t.Fatalf("seq: read should start at once, got %+v", h[1])
	}
	g = Phases(Constant("write", 1), Constant("read", nil))
	h = sim(t, g, SimConfig{Concurrency: 2, Latency: fixed(time.Second)})
	if fs(h) != "write read" || h[1].Type != history.OK || h[2].Type != history.Invoke || h[2].Time != int64(time.Second) {
		t.Fatalf("phases: read should start after the write completed, got %+v", h)
	}
}

func TestSynchronizeWaitsForAllThreads(t *testing.T) {
	lat := func(op history.Op) time.Duration {
		if op.F == "slow" {
			return 5 * time.Second
		}
		return time.Second
	}
	g := Clients(Seq(Constant("slow", nil), Constant("fast", nil), Synchronize(Constant("after", nil))))
	h := sim(t, g, SimConfig{Concurrency: 3, Latency: lat})
	var after history.Op
	for _, op := range invokes(h) {
		if op.F == "after" {
			after = op
		}
	}
	if after.Time != int64(5*time.Second) {
		t.Fatalf("synchronized op at %v, want 5s", time.Duration(after.Time))
	}
}

// ---------------------------------------------------------------------------
// Mix

func TestMixUniformAndDropsExhausted(t *testing.T) {
	g := Limit(3000, Mix(Repeat(Constant("r", nil)), Repeat(Constant("w", nil)), Repeat(Constant("c", nil))))
	h := invokes(sim(t, g, SimConfig{Concurrency: 4, Seed: 3}))
	count := map[string]int{}
	for _, op := range h {
		count[op.F]++
	}
	for _, f := range []string{"r", "w", "c"} {
		if count[f] < 850 || count[f] > 1150 {
			t.Fatalf("mix not uniform: %v", count)
		}
	}
	// One-shot children: each emitted exactly once, in a seed-dependent
	// order.
	orders := map[string]bool{}
	for seed := uint64(0); seed < 20; seed++ {
		got := fs(sim(t, Mix(Constant("a", nil), Constant("b", nil), Constant("c", nil)), SimConfig{Seed: seed}))
		if len(got) != 5 || !strings.Contains(got, "a") || !strings.Contains(got, "b") || !strings.Contains(got, "c") {
			t.Fatalf("seed %d: %q", seed, got)
		}
		orders[got] = true
	}
	if len(orders) < 3 {
		t.Fatalf("mix order barely depends on seed: %v", orders)
	}
}

// ---------------------------------------------------------------------------
// Cycle

func TestCycleRestarts(t *testing.T) {
	if got := fs(sim(t, CycleN(3, Seq(Constant("a", nil), Constant("b", nil))), SimConfig{})); got != "a b a b a b" {
		t.Fatalf("got %q", got)
	}
	if got := fs(sim(t, Limit(5, Cycle(Seq(Constant("a", nil), Constant("b", nil)))), SimConfig{})); got != "a b a b a" {
		t.Fatalf("got %q", got)
	}
	// An empty cycle ends instead of spinning.
	if got := fs(sim(t, Cycle(Void()), SimConfig{})); got != "" {
		t.Fatalf("got %q", got)
	}
	// Values differ between iterations.
	h := invokes(sim(t, CycleN(20, Invocation("w", intVal(1_000_000))), SimConfig{Seed: 5}))
	seen := map[any]bool{}
	for _, op := range h {
		seen[op.Value] = true
	}
	if len(h) != 20 || len(seen) < 18 {
		t.Fatalf("cycle: %d ops, %d distinct values", len(h), len(seen))
	}
}

// ---------------------------------------------------------------------------
// time

func TestStaggerTotalRate(t *testing.T) {
	const d = time.Second
	g := Clients(TimeLimit(1000*time.Second, Stagger(d, Repeat(Constant("r", nil)))))
	h := invokes(sim(t, g, SimConfig{Concurrency: 5, Seed: 11, Latency: fixed(10 * time.Millisecond)}))
	// About one op per d in total (not per thread): 1000s / 1s.
	if len(h) < 900 || len(h) > 1100 {
		t.Fatalf("stagger 1s over 1000s gave %d ops", len(h))
	}
	for i := 1; i < len(h); i++ {
		gap := h[i].Time - h[i-1].Time
		if gap < 0 || gap >= int64(2*d) {
			t.Fatalf("gap %v outside [0, 2s)", time.Duration(gap))
		}
	}
	again := invokes(sim(t, g, SimConfig{Concurrency: 5, Seed: 11, Latency: fixed(10 * time.Millisecond)}))
	if !reflect.DeepEqual(h, again) {
		t.Fatal("stagger schedule not reproducible from its seed")
	}
}

func TestDelaySpacingAndCatchUp(t *testing.T) {
	g := Clients(Limit(5, Delay(time.Second, Repeat(Constant("r", nil)))))
	h := invokes(sim(t, g, SimConfig{Concurrency: 2, Latency: fixed(time.Millisecond)}))
	for i, op := range h {
		if op.Time != int64(i)*int64(time.Second) {
			t.Fatalf("op %d at %v", i, time.Duration(op.Time))
		}
	}
	// One thread, ops slower than the delay: each op starts as soon as the
	// thread is free, and the schedule continues from the late op.
	h = invokes(sim(t, Clients(Limit(3, Delay(time.Second, Repeat(Constant("r", nil))))), SimConfig{Concurrency: 1, Latency: fixed(3 * time.Second)}))
	want := []time.Duration{0, 3 * time.Second, 6 * time.Second}
	for i, op := range h {
		if op.Time != int64(want[i]) {
			t.Fatalf("op %d at %v, want %v", i, time.Duration(op.Time), want[i])
		}
	}
}

func TestTimeLimitCountsFromFirstOp(t *testing.T) {
	// The limit starts when the limited generator emits, not when the test
	// starts: here after a 100s phase.
	g := Clients(Phases(
		Constant("setup", nil),
		TimeLimit(10*time.Second, Delay(time.Second, Repeat(Constant("r", nil)))),
	))
	h := invokes(sim(t, g, SimConfig{Concurrency: 2, Latency: fixed(100 * time.Second)}))
	n := 0
	for _, op := range h {
		if op.F == "r" {
			n++
		}
	}
	// Reads at 100s, 101s, ... 109s would be 10, but each takes 100s and
	// there are two threads: reads start at 100s and 101s; the next due
	// read (102s) waits for a thread until 200s, past the cutoff at 110s.
	if n != 2 {
		t.Fatalf("want 2 reads, got %d: %v", n, h)
	}
	h = invokes(sim(t, Clients(TimeLimit(10*time.Second, Delay(time.Second, Repeat(Constant("r", nil))))), SimConfig{Concurrency: 2}))
	if len(h) != 10 || h[9].Time != int64(9*time.Second) {
		t.Fatalf("want reads at 0..9s, got %d ending %v", len(h), time.Duration(h[len(h)-1].Time))
	}
}

func TestTimeLimitEndsWhilePending(t *testing.T) {
	// The only thread is stuck in a 1000s op; the limit must end the
	// generator at its cutoff rather than when the thread frees up.
	g := Seq(
		Clients(TimeLimit(10*time.Second, Repeat(Constant("r", nil)))),
		Nemesis(Constant("after", nil)),
	)
	h := sim(t, g, SimConfig{Concurrency: 1, Latency: fixed(1000 * time.Second)})
	for _, op := range invokes(h) {
		if op.F == "after" && op.Time != int64(10*time.Second) {
			t.Fatalf("nemesis op at %v, want 10s", time.Duration(op.Time))
		}
	}
	if fs(h) != "r after" {
		t.Fatalf("got %q", fs(h))
	}
}

func TestSleepInNemesisSchedule(t *testing.T) {
	g := Nemesis(CycleN(2, Seq(Constant("start", nil), Sleep(5*time.Second), Constant("stop", nil), Sleep(10*time.Second))))
	h := invokes(sim(t, g, SimConfig{Concurrency: 2, Latency: fixed(time.Second)}))
	want := []struct {
		f string
		t time.Duration
	}{{"start", 0}, {"stop", 6 * time.Second}, {"start", 17 * time.Second}, {"stop", 23 * time.Second}}
	if len(h) != len(want) {
		t.Fatalf("got %v", h)
	}
	for i, w := range want {
		if h[i].F != w.f || h[i].Time != int64(w.t) || h[i].Process != history.NemesisProcess {
			t.Fatalf("op %d: %s at %v by %d, want %s at %v", i, h[i].F, time.Duration(h[i].Time), h[i].Process, w.f, w.t)
		}
	}
}

func TestLogIsNotRecorded(t *testing.T) {
	var logs []string
	g := Seq(Log("hello"), Constant("a", nil), Log("bye"))
	h := sim(t, g, SimConfig{Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
	if fs(h) != "a" || !reflect.DeepEqual(logs, []string{"hello", "bye"}) {
		t.Fatalf("history %q logs %v", fs(h), logs)
	}
}

// ---------------------------------------------------------------------------
// Any, routing

func TestAnyTakesSoonest(t *testing.T) {
	g := Clients(TimeLimit(16*time.Second, Any(
		Delay(3*time.Second, Repeat(Constant("a", nil))),
		Delay(5*time.Second, Repeat(Constant("b", nil))),
	)))
	h := invokes(sim(t, g, SimConfig{Concurrency: 4, Seed: 1}))
	var got []string
	for _, op := range h {
		got = append(got, fmt.Sprintf("%s@%d", op.F, op.Time/int64(time.Second)))
	}
	// Both want t=0; the tie is broken by the seed. The rest are ordered by
	// time.
	s := strings.Join(got, " ")
	tail := "a@3 b@5 a@6 a@9 b@10 a@12 b@15 a@15"
	if !strings.HasSuffix(s, tail) && !strings.HasSuffix(s, "a@3 b@5 a@6 a@9 b@10 a@12 a@15 b@15") {
		t.Fatalf("got %s", s)
	}
	if !strings.HasPrefix(s, "a@0 b@0") && !strings.HasPrefix(s, "b@0 a@0") {
		t.Fatalf("got %s", s)
	}
}

func TestClientsAndNemesisRouting(t *testing.T) {
	g := TimeLimit(100*time.Second, ClientsAndNemesis(
		Stagger(time.Second, Repeat(Constant("read", nil))),
		Stagger(10*time.Second, Repeat(Constant("kill", nil))),
	))
	h := invokes(sim(t, g, SimConfig{Concurrency: 3, Seed: 2, Latency: fixed(100 * time.Millisecond)}))
	var reads, kills int
	for _, op := range h {
		switch op.F {
		case "read":
			reads++
			if op.Process == history.NemesisProcess {
				t.Fatal("client op on the nemesis")
			}
		case "kill":
			kills++
			if op.Process != history.NemesisProcess {
				t.Fatalf("nemesis op on process %d", op.Process)
			}
		}
	}
	if reads < 60 || kills < 5 {
		t.Fatalf("reads %d kills %d", reads, kills)
	}
}

func TestFaultScheduleIndependentOfClientTiming(t *testing.T) {
	// The nemesis has its own random streams: how fast clients are must not
	// change when faults happen or what they are.
	faults := func(lat time.Duration) []history.Op {
		g := TimeLimit(200*time.Second, ClientsAndNemesis(
			Mix(Repeat(Invocation("write", intVal(5))), Repeat(Constant("read", nil))),
			Stagger(10*time.Second, Repeat(Invocation("partition", func(r *rand.Rand) (any, error) {
				return []any{int64(r.IntN(5)), int64(r.IntN(5))}, nil
			}))),
		))
		var out []history.Op
		for _, op := range invokes(sim(t, g, SimConfig{Concurrency: 5, Seed: 99, Latency: fixed(lat)})) {
			if op.Process == history.NemesisProcess {
				op.Index = 0
				out = append(out, op)
			}
		}
		return out
	}
	a, b := faults(20*time.Millisecond), faults(37*time.Millisecond)
	if len(a) < 10 || !reflect.DeepEqual(a, b) {
		t.Fatalf("fault schedule changed with client latency:\n%v\n%v", a, b)
	}
}

func TestReserve(t *testing.T) {
	g := Clients(Limit(600, Reserve([]int{2, 1},
		Repeat(Constant("w", nil)),
		Repeat(Constant("c", nil)),
		Repeat(Constant("r", nil)))))
	h := invokes(sim(t, g, SimConfig{Concurrency: 6, Seed: 4, Latency: fixed(time.Millisecond)}))
	byF := map[string]int{}
	for _, op := range h {
		th := op.Process % 6
		want := "r"
		if th < 2 {
			want = "w"
		} else if th < 3 {
			want = "c"
		}
		if op.F != want {
			t.Fatalf("thread %d ran %s, want %s", th, op.F, want)
		}
		byF[op.F]++
	}
	// Everyone equally busy: 2/6, 1/6, 3/6 of the ops.
	if byF["w"] < 150 || byF["c"] < 60 || byF["r"] < 250 {
		t.Fatalf("unbalanced: %v", byF)
	}
}

func TestEachThread(t *testing.T) {
	g := Clients(EachThread(Seq(Constant("a", nil), Constant("b", nil))))
	h := sim(t, g, SimConfig{Concurrency: 3, Latency: fixed(time.Second)})
	per := map[int]string{}
	for _, op := range invokes(h) {
		per[op.Process] += op.F
	}
	if !reflect.DeepEqual(per, map[int]string{0: "ab", 1: "ab", 2: "ab"}) {
		t.Fatalf("got %v", per)
	}
	// The copies are independent: they emit concurrently.
	if inv := invokes(h); inv[0].Time != 0 || inv[1].Time != 0 || inv[2].Time != 0 {
		t.Fatalf("first ops should all start at 0: %v", inv)
	}
}

func TestFairProcessChoice(t *testing.T) {
	h := invokes(sim(t, Clients(Limit(9, Repeat(Constant("r", nil)))), SimConfig{Concurrency: 3}))
	for i, op := range h {
		if op.Process != i%3 {
			t.Fatalf("op %d on process %d; want round-robin", i, op.Process)
		}
	}
}

// ---------------------------------------------------------------------------
// UntilOK, FlipFlop, info

func TestUntilOKRetriesUntilSuccess(t *testing.T) {
	fails := 3
	complete := func(inv history.Op) history.Op {
		if inv.F == "read" && fails > 0 {
			fails--
			return history.Op{Type: history.Fail}
		}
		return history.Op{Type: history.OK}
	}
	h := sim(t, Clients(Seq(UntilOK(Constant("read", nil)), Constant("done", nil))), SimConfig{Concurrency: 2, Complete: complete, Latency: fixed(time.Second)})
	if got := fs(h); got != "read read read read done" {
		t.Fatalf("got %q", got)
	}
	// Retries are sequential: a read starts only after the previous failed.
	inv := invokes(h)
	for i := 1; i < 4; i++ {
		if inv[i].Time != int64(i)*int64(time.Second) {
			t.Fatalf("retry %d at %v", i, time.Duration(inv[i].Time))
		}
	}
}

func TestUntilOKOverRepeatIsConcurrent(t *testing.T) {
	n := 0
	complete := func(inv history.Op) history.Op {
		n++
		if n == 5 {
			return history.Op{Type: history.OK}
		}
		return history.Op{Type: history.Fail}
	}
	h := sim(t, Clients(UntilOK(Repeat(Constant("read", nil)))), SimConfig{Concurrency: 3, Complete: complete, Latency: fixed(time.Second)})
	// Three at t=0, three at 1s (the 5th completion is ok at 2s), then stop.
	if got := len(invokes(h)); got != 6 {
		t.Fatalf("want 6 reads, got %d: %v", got, h)
	}
}

func TestInfoRenumbersProcess(t *testing.T) {
	complete := func(inv history.Op) history.Op {
		if inv.Process%2 == 1 {
			return history.Op{Type: history.Info, Error: "timeout"}
		}
		return history.Op{Type: history.OK}
	}
	h := invokes(sim(t, Clients(Limit(6, Repeat(Constant("r", nil)))), SimConfig{Concurrency: 2, Complete: complete}))
	var procs []int
	for _, op := range h {
		procs = append(procs, op.Process)
	}
	if !reflect.DeepEqual(procs, []int{0, 1, 0, 3, 0, 5}) {
		t.Fatalf("processes %v", procs)
	}
}

func TestNemesisNotRenumbered(t *testing.T) {
	complete := func(history.Op) history.Op { return history.Op{Type: history.Info} }
	h := invokes(sim(t, Nemesis(RepeatN(3, Constant("kill", nil))), SimConfig{Concurrency: 2, Complete: complete}))
	for _, op := range h {
		if op.Process != history.NemesisProcess {
			t.Fatalf("nemesis became process %d", op.Process)
		}
	}
}

func TestFlipFlop(t *testing.T) {
	g := FlipFlop(Repeat(Constant("a", nil)), Seq(Constant("b1", nil), Constant("b2", nil)))
	if got := fs(sim(t, g, SimConfig{Concurrency: 2})); got != "a b1 a b2 a" {
		t.Fatalf("got %q", got)
	}
}

func TestFn(t *testing.T) {
	i := 0
	g := Fn(func(ctx *Context) Generator {
		if i == 3 {
			return nil
		}
		i++
		return Seq(Constant("w", nil), Constant("r", nil))
	})
	// Fn may be called more than once per decision; only the count of
	// generators it returned matters here.
	h := fs(sim(t, g, SimConfig{Concurrency: 1}))
	if !strings.HasPrefix(h, "w r w r") {
		t.Fatalf("got %q", h)
	}
}

// ---------------------------------------------------------------------------
// errors

func TestValueErrorStopsRun(t *testing.T) {
	boom := errors.New("boom")
	_, err := Simulate(Invocation("w", func(*rand.Rand) (any, error) { return nil, boom }), SimConfig{})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `"w"`) {
		t.Fatalf("got %v", err)
	}
}

type badGen struct{}

func (badGen) Op(ctx *Context) (Op, Generator, Status) {
	return Op{Kind: KindInvoke, Time: ctx.Time, Process: 0, F: "x"}, badGen{}, Ready
}
func (b badGen) Update(*Context, Event) Generator { return b }

func TestBusyProcessIsAnError(t *testing.T) {
	_, err := Simulate(badGen{}, SimConfig{Concurrency: 2, Latency: fixed(time.Second)})
	if err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("got %v", err)
	}
}

type panicGen struct{}

func (panicGen) Op(*Context) (Op, Generator, Status) { panic("kaboom") }
func (p panicGen) Update(*Context, Event) Generator  { return p }

func TestGeneratorPanicIsAnError(t *testing.T) {
	_, err := Simulate(panicGen{}, SimConfig{})
	if err == nil || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("got %v", err)
	}
}

func TestDeadlockDetected(t *testing.T) {
	// Synchronize in a context that can never be all free is fine while ops
	// are in flight; a generator pending forever with nothing in flight is
	// reported rather than simulated forever.
	_, err := Simulate(pendingForever{}, SimConfig{})
	if err == nil || !strings.Contains(err.Error(), "deadlock") {
		t.Fatalf("got %v", err)
	}
}

type pendingForever struct{}

func (p pendingForever) Op(*Context) (Op, Generator, Status) { return Op{}, p, Pending }
func (p pendingForever) Update(*Context, Event) Generator    { return p }

func TestMixAndAnyRejectNil(t *testing.T) {
	// Mix and Any mark dropped children nil; a nil argument must fail loudly
	// rather than pass for an exhausted child.
	for name, f := range map[string]func(){
		"Mix": func() { Mix(Constant("a", nil), nil) },
		"Any": func() { Any(nil, Constant("a", nil)) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "nil generator") {
					t.Errorf("%s with a nil child: recovered %v", name, r)
				}
			}()
			f()
		}()
	}
}

func TestAnyDropsExhaustedChildren(t *testing.T) {
	// Once its nemesis side is exhausted, ClientsAndNemesis stops asking it:
	// the next state holds nil there, and the ops are unchanged.
	g := ClientsAndNemesis(Limit(3, Repeat(Constant("r", nil))), Void())
	d := NewDriver(g, 2, 1)
	step, err := d.Next(0)
	if err != nil || step.Kind != StepInvoke {
		t.Fatalf("step %+v, err %v", step, err)
	}
	a, ok := d.gen.(*anyGen)
	if !ok || a.gens[1] != nil || a.gens[0] == nil {
		t.Fatalf("state after the first op: %#v", d.gen)
	}
	if got := fs(sim(t, g, SimConfig{Concurrency: 2})); got != "r r r" {
		t.Fatalf("got %q", got)
	}
}

// counter is a Deferred drawing from shared state: the n-th invoked op gets
// n, however often the interpreter computed ops it did not invoke.
type counter struct {
	n     *int64
	seeds map[uint64]bool
}

func (c counter) Resolve(seed uint64) (any, error) {
	c.seeds[seed] = true
	*c.n++
	return *c.n, nil
}

func TestDeferredValuesResolveAtInvocation(t *testing.T) {
	var n int64
	c := counter{n: &n, seeds: map[uint64]bool{}}
	computed := 0
	val := func(*rand.Rand) (any, error) { computed++; return c, nil }
	// Stagger makes ops due in the future, and Any asks both children
	// before taking the sooner: computed ops go unused.
	g := Clients(TimeLimit(10*time.Second, Any(
		Stagger(100*time.Millisecond, Repeat(Invocation("txn", val))),
		Stagger(70*time.Millisecond, Repeat(Constant("read", nil))),
	)))
	h := invokes(sim(t, g, SimConfig{Concurrency: 3, Seed: 5, Latency: fixed(time.Millisecond)}))
	var want int64
	for _, op := range h {
		if op.F != "txn" {
			continue
		}
		want++
		if op.Value != want {
			t.Fatalf("txn %d has value %v: deferred values must resolve once per invocation, in order", want, op.Value)
		}
	}
	if want == 0 || n != want {
		t.Fatalf("%d txns invoked, %d resolved", want, n)
	}
	if computed <= int(want) {
		t.Logf("computed %d values for %d invocations (no unused computations this time)", computed, want)
	}
	if !c.seeds[5] || len(c.seeds) != 1 {
		t.Errorf("Resolve got seeds %v, want the run's seed 5", c.seeds)
	}
}

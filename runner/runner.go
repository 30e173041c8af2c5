package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
)

// tickInterval is how often the interpreter wakes on its own to check op
// timeouts, report progress and re-ask a pending generator that named no
// wake-up time while ops are in flight. Coarse on purpose: a ticker in the
// select costs nothing per op, unlike re-arming a timer on every wait.
const tickInterval = 10 * time.Millisecond

// completion is what a worker sends back: the op it was given, completed.
type completion struct {
	w  *worker
	op history.Op
}

// worker is one incarnation of a thread's worker goroutine. A thread gets a
// new incarnation only when the interpreter gives up on a stuck op.
type worker struct {
	thread  int
	nemesis bool
	node    string
	in      chan history.Op
	ctx     context.Context
	cancel  context.CancelFunc
	// abandoned is set by the interpreter when it stops waiting for this
	// incarnation; the goroutine then discards its result and exits.
	abandoned atomic.Bool

	// Owned by the interpreter.
	busy    bool
	inv     history.Op    // the invocation in flight
	started time.Duration // wall-clock dispatch time since start, for timeouts

	// Owned by the worker goroutine.
	client  Client
	process int // process client was opened for
}

type run struct {
	cfg     Config
	d       *generator.Driver
	workers []*worker
	comp    chan completion
	stop    chan struct{} // closed when the interpreter stops reading comp
	base    context.Context
	wg      sync.WaitGroup // live (not abandoned) worker goroutines

	start   time.Time
	virtual int64 // simulated now, when cfg.Virtual

	index   int64
	sum     Summary
	faults  faultSet
	recErr  error
	lastOps int64
	lastAt  time.Duration
	nextPr  time.Duration
}

// Run performs the test described by cfg: nemesis setup, client setup (one
// client per node), the generator until it is exhausted (or ctx is
// canceled), client teardown, nemesis teardown. Nemesis teardown, which
// heals, runs on every path once nemesis setup was attempted. The history
// goes to cfg.Recorder; Run returns counts, and an error if a phase failed
// (the history recorded so far remains valid).
func Run(ctx context.Context, cfg Config) (sum Summary, err error) {
	if err := cfg.fill(); err != nil {
		return Summary{}, err
	}
	var errs []error
	teardownCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), cfg.TeardownTimeout)
	}
	if cfg.Nemesis != nil {
		// Deferred so that it runs even if something below panics: a test
		// must not leave a cluster partitioned.
		defer func() {
			tctx, cancel := teardownCtx()
			defer cancel()
			if terr := safely(func() error { return cfg.Nemesis.Teardown(tctx) }); terr != nil {
				cfg.logf("nemesis teardown (heal) failed: %v", terr)
				err = errors.Join(err, fmt.Errorf("nemesis teardown (heal): %w", terr))
			}
		}()
		if serr := safely(func() error { return cfg.Nemesis.Setup(ctx) }); serr != nil {
			return sum, fmt.Errorf("nemesis setup: %w", serr)
		}
	}
	if serr := eachNode(ctx, cfg, "setup", func(ctx context.Context, c Client) error { return c.Setup(ctx) }); serr != nil {
		return sum, serr
	}
	sum, ierr := interpret(ctx, cfg)
	if ierr != nil {
		errs = append(errs, ierr)
	}
	tctx, cancel := teardownCtx()
	defer cancel()
	if terr := eachNode(tctx, cfg, "teardown", func(ctx context.Context, c Client) error { return c.Teardown(ctx) }); terr != nil {
		errs = append(errs, terr)
	}
	return sum, errors.Join(errs...)
}

func (cfg *Config) fill() error {
	if len(cfg.Nodes) == 0 {
		return errors.New("runner: no nodes")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = len(cfg.Nodes)
	}
	if cfg.Concurrency < 0 {
		return fmt.Errorf("runner: negative concurrency %d", cfg.Concurrency)
	}
	if cfg.Generator == nil {
		return errors.New("runner: no generator")
	}
	if cfg.Client == nil {
		return errors.New("runner: no client factory")
	}
	if cfg.Recorder == nil {
		return errors.New("runner: no recorder")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.OpTimeout, DefaultOpTimeout)
	def(&cfg.NemesisTimeout, DefaultNemesisTimeout)
	def(&cfg.DrainTimeout, DefaultDrainTimeout)
	def(&cfg.TeardownTimeout, DefaultTeardownTimeout)
	def(&cfg.ProgressInterval, DefaultProgressInterval)
	if cfg.FaultOf == nil {
		cfg.FaultOf = DefaultFaultOf
	}
	return nil
}

func (cfg *Config) logf(format string, args ...any) {
	if cfg.Logf != nil {
		cfg.Logf(format, args...)
	}
}

// eachNode opens a fresh client on every node in parallel, applies f, and
// closes it: Jepsen's per-node client setup and teardown.
func eachNode(ctx context.Context, cfg Config, what string, f func(context.Context, Client) error) error {
	errs := make([]error, len(cfg.Nodes))
	var wg sync.WaitGroup
	for i, node := range cfg.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = safely(func() error {
				c := cfg.Client()
				if c == nil {
					return errors.New("client factory returned nil")
				}
				if err := c.Open(ctx, node); err != nil {
					return fmt.Errorf("open: %w", err)
				}
				err := f(ctx, c)
				if cerr := c.Close(ctx); cerr != nil && err == nil {
					err = fmt.Errorf("close: %w", cerr)
				}
				return err
			})
			if errs[i] != nil {
				errs[i] = fmt.Errorf("client %s on %s: %w", what, node, errs[i])
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// interpret runs the generator with live workers.
func interpret(ctx context.Context, cfg Config) (Summary, error) {
	n := cfg.Concurrency
	r := &run{
		cfg:  cfg,
		d:    generator.NewDriver(cfg.Generator, n, cfg.Seed),
		comp: make(chan completion, 2*(n+1)),
		stop: make(chan struct{}),
		// Workers must outlive a Ctrl-C long enough to drain; their contexts
		// are canceled explicitly.
		base:   context.WithoutCancel(ctx),
		faults: faultSet{of: cfg.FaultOf},
	}
	r.d.Logf = cfg.Logf
	r.workers = make([]*worker, n+1)
	for t := 0; t <= n; t++ {
		r.spawn(t)
	}
	r.start = time.Now()
	r.nextPr = cfg.ProgressInterval
	if cfg.Started != nil {
		cfg.Started(r.start)
	}

	err := r.loop(ctx)
	if err != nil {
		// Nothing more will be asked of the generator; ops still in flight
		// end as info rather than being waited for.
		r.d.Stop()
		r.abandonAll("interrupted: run aborted")
	}

	// Shut down: idle workers exit and close their clients; abandoned ones
	// do so whenever their stuck call returns.
	close(r.stop)
	for _, w := range r.workers {
		close(w.in)
	}
	r.wg.Wait()
	for _, w := range r.workers {
		w.cancel()
	}
	r.sum.Elapsed = r.elapsed()
	r.sum.Entries = r.index
	r.progress(true)
	if r.recErr != nil && !errors.Is(err, r.recErr) {
		err = errors.Join(err, r.recErr)
	}
	return r.sum, err
}

func (r *run) spawn(t int) {
	ctx, cancel := context.WithCancel(r.base)
	w := &worker{
		thread:  t,
		nemesis: t == r.cfg.Concurrency,
		in:      make(chan history.Op, 1),
		ctx:     ctx,
		cancel:  cancel,
		process: -2, // no client yet
	}
	if !w.nemesis {
		w.node = r.cfg.Nodes[t%len(r.cfg.Nodes)]
	}
	r.workers[t] = w
	r.wg.Add(1)
	go r.work(w)
}

// elapsed is the run's clock: wall-clock since start, or simulated.
func (r *run) elapsed() time.Duration {
	if r.cfg.Virtual {
		return time.Duration(r.virtual)
	}
	return time.Since(r.start)
}

func (r *run) loop(ctx context.Context) error {
	var (
		tick     = time.NewTicker(tickInterval)
		timer    = time.NewTimer(time.Hour)
		done     = ctx.Done()
		draining bool
		drainEnd time.Time
	)
	defer tick.Stop()
	timer.Stop()
	defer timer.Stop()

	for {
		// Completions first: they are latency sensitive, and every one we
		// leave waiting makes ops look more concurrent than they were.
		for {
			select {
			case c := <-r.comp:
				if err := r.complete(c); err != nil {
					return err
				}
				continue
			default:
			}
			break
		}
		if r.recErr != nil {
			// The history can no longer be written: stop, without waiting
			// for ops whose completions could not be recorded anyway.
			return r.recErr
		}
		now := r.elapsed()
		step, err := r.d.Next(int64(now))
		if err != nil {
			return fmt.Errorf("generator: %w", err)
		}
		switch step.Kind {
		case generator.StepInvoke:
			r.dispatch(step)
			continue
		case generator.StepDone:
			return nil
		}

		// StepWait.
		if r.d.InFlight() > 0 && (step.Until == 0 || time.Duration(step.Until)-now > spinHorizon) {
			// Every thread that could get an op is busy. Before parking,
			// yield a few times: that lets the worker we just woke run on
			// this core and hand its completion back without either
			// goroutine going through a futex wake-up, which is what
			// limits throughput with fast clients.
			//
			// A wake-up time far ahead must not prevent this: a TimeLimit
			// names its cutoff whenever its generator is pending, and
			// every plan's main part is under one, so testing only for
			// "no wake-up time" parked (with a timer reset and stop)
			// after almost every op of a real schedule.
			if c, got := r.spin(); got {
				if err := r.complete(c); err != nil {
					return err
				}
				continue
			}
		}
		if r.cfg.Virtual && r.d.InFlight() == 0 && !draining {
			if step.Until > 0 {
				r.virtual = step.Until
				continue
			}
			return fmt.Errorf("generator is pending with nothing in flight and no wake-up time (deadlock) at %v", now)
		}
		var timerC <-chan time.Time
		if !r.cfg.Virtual {
			wake := time.Duration(-1)
			if step.Until > 0 {
				wake = time.Duration(step.Until) - now
			}
			if step.Poll && r.d.InFlight() == 0 && (wake < 0 || wake > generator.PollInterval) {
				wake = generator.PollInterval
			}
			if wake >= 0 {
				timer.Reset(wake)
				timerC = timer.C
			}
		}
		select {
		case c := <-r.comp:
			if err := r.complete(c); err != nil {
				return err
			}
		case <-timerC:
		case <-tick.C:
			r.checkTimeouts()
			r.progress(false)
			if draining && time.Now().After(drainEnd) {
				r.abandonAll("interrupted: run canceled")
			}
		case <-done:
			// Ctrl-C: no new ops; give those in flight DrainTimeout.
			done = nil
			draining = true
			drainEnd = time.Now().Add(r.cfg.DrainTimeout)
			r.sum.Interrupted = true
			r.d.Stop()
			r.cfg.logf("run canceled; waiting up to %v for %d ops in flight", r.cfg.DrainTimeout, r.d.InFlight())
		}
		if timerC != nil {
			// Since Go 1.23 a stopped timer delivers nothing stale.
			timer.Stop()
		}
	}
}

// spin yields the processor a few times, watching for a completion.
func (r *run) spin() (completion, bool) {
	for i := 0; i < spinYields; i++ {
		runtime.Gosched()
		select {
		case c := <-r.comp:
			return c, true
		default:
		}
	}
	return completion{}, false
}

// spinYields bounds spin; a handful of yields covers a fast client's round
// trip without burning a core when clients are slow.
const spinYields = 8

// spinHorizon: the interpreter spins before parking only if the generator
// asked to be woken no sooner than this (or not at all), so that spinning
// never delays an op that is due; it takes microseconds unless the
// machine is overloaded.
const spinHorizon = time.Millisecond

// dispatch hands an invocation to its thread's worker and records it.
func (r *run) dispatch(step generator.Step) {
	w := r.workers[step.Thread]
	op := step.Op
	op.Node = w.node
	op.Index = r.index
	r.index++
	r.record(op)
	r.sum.Invocations++
	w.busy = true
	w.inv = op
	if r.cfg.Virtual {
		w.started = time.Since(r.start)
	} else {
		w.started = time.Duration(op.Time)
	}
	// The worker is idle (its thread was free), so this never blocks.
	w.in <- op
}

func (r *run) record(op history.Op) {
	if r.recErr != nil {
		return
	}
	if err := r.cfg.Recorder.Append(op); err != nil {
		r.recErr = fmt.Errorf("recording history: %w", err)
	}
}

// complete records a worker's completion and tells the generator.
func (r *run) complete(c completion) error {
	w := c.w
	if r.workers[w.thread] != w || !w.busy {
		// A late answer from an incarnation we gave up on; its op was
		// already recorded as info.
		return nil
	}
	return r.finish(w, c.op)
}

func (r *run) finish(w *worker, op history.Op) error {
	w.busy = false
	// The completion names the same op as the invocation, whatever the
	// client set; the worker already turned mismatches into info.
	op.Process, op.F, op.Node = w.inv.Process, w.inv.F, w.inv.Node
	now := r.elapsed()
	op.Index = r.index
	op.Time = int64(now)
	r.index++
	r.record(op)
	switch op.Type {
	case history.OK:
		r.sum.OK++
	case history.Fail:
		r.sum.Fail++
	default:
		r.sum.Info++
	}
	if w.nemesis {
		r.faults.observe(op)
	}
	if err := r.d.Complete(int64(now), w.thread, op); err != nil {
		return fmt.Errorf("generator: %w", err)
	}
	return nil
}

// checkTimeouts gives up on ops that have run longer than their timeout:
// they are recorded as info, and the thread continues with a new worker
// (and, for clients, a new process and client).
func (r *run) checkTimeouts() {
	now := time.Since(r.start)
	for _, w := range r.workers {
		if !w.busy {
			continue
		}
		limit := r.cfg.OpTimeout
		if w.nemesis {
			limit = r.cfg.NemesisTimeout
		}
		if limit <= 0 || now-w.started < limit {
			continue
		}
		r.sum.Timeouts++
		r.cfg.logf("process %d: %s timed out after %v", w.inv.Process, w.inv.F, limit)
		r.abandon(w, fmt.Sprintf("timed out after %v", limit))
	}
}

func (r *run) abandonAll(why string) {
	for _, w := range r.workers {
		if w.busy {
			r.abandon(w, why)
		}
	}
}

// abandon records w's op as info, cancels its context and replaces it with a
// fresh incarnation, without waiting for the stuck call to return.
func (r *run) abandon(w *worker, why string) {
	w.abandoned.Store(true)
	w.cancel()
	close(w.in)
	r.wg.Done() // the abandoned goroutine is no longer waited for
	info := w.inv
	info.Type = history.Info
	info.Error = why
	r.spawn(w.thread)
	// finish with the old incarnation's bookkeeping: it holds the
	// invocation. Errors from the generator surface on the next Next.
	if err := r.finish(w, info); err != nil {
		r.cfg.logf("%v", err)
	}
}

// progress calls the progress callback when due (or at the end).
func (r *run) progress(final bool) {
	if r.cfg.Progress == nil {
		return
	}
	el := r.elapsed()
	if !final && el < r.nextPr {
		return
	}
	r.nextPr = el + r.cfg.ProgressInterval
	ops := r.sum.OK + r.sum.Fail + r.sum.Info
	rate := 0.0
	if dt := (el - r.lastAt).Seconds(); dt > 0 {
		rate = float64(ops-r.lastOps) / dt
	}
	r.lastOps, r.lastAt = ops, el
	r.cfg.Progress(Progress{
		Elapsed:      el,
		OpsPerSec:    rate,
		Invocations:  r.sum.Invocations,
		OK:           r.sum.OK,
		Fail:         r.sum.Fail,
		Info:         r.sum.Info,
		InFlight:     r.d.InFlight(),
		ActiveFaults: r.faults.list(),
		Final:        final,
	})
}

// ---------------------------------------------------------------------------
// worker goroutine

func (r *run) work(w *worker) {
	defer func() {
		if w.client != nil {
			// The worker's context may be canceled (abandoned); closing
			// still deserves a bounded chance.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), r.cfg.TeardownTimeout)
			if err := safely(func() error { return w.client.Close(cctx) }); err != nil {
				r.cfg.logf("closing client for process %d: %v", w.process, err)
			}
			cancel()
		}
		if !w.abandoned.Load() {
			r.wg.Done()
		}
	}()
	for op := range w.in {
		var res history.Op
		if w.nemesis {
			res = r.invokeNemesis(w, op)
		} else {
			res = r.invokeClient(w, op)
		}
		if w.abandoned.Load() {
			return
		}
		select {
		case r.comp <- completion{w: w, op: res}:
		case <-r.stop:
			return
		}
	}
}

func (r *run) invokeClient(w *worker, op history.Op) history.Op {
	if w.client == nil || w.process != op.Process {
		// A new process gets a new client: the old one may be in any state
		// after a crash. Jepsen opens lazily, on the first op, too.
		if w.client != nil {
			c := w.client
			w.client = nil
			if err := safely(func() error { return c.Close(w.ctx) }); err != nil {
				r.cfg.logf("closing client for process %d: %v", w.process, err)
			}
		}
		c := r.cfg.Client()
		err := safely(func() error {
			if c == nil {
				return errors.New("client factory returned nil")
			}
			return c.Open(w.ctx, w.node)
		})
		if err != nil {
			// The op never reached the system: a definite failure.
			op.Type = history.Fail
			op.Error = "no client: " + err.Error()
			return op
		}
		w.client, w.process = c, op.Process
	}
	return r.invokeSafely(op, func() (history.Op, error) { return w.client.Invoke(w.ctx, op) })
}

func (r *run) invokeNemesis(w *worker, op history.Op) history.Op {
	if r.cfg.Nemesis == nil {
		op.Type = history.Info
		op.Error = "no nemesis configured"
		return op
	}
	return r.invokeSafely(op, func() (history.Op, error) { return r.cfg.Nemesis.Invoke(w.ctx, op) })
}

// invokeSafely calls invoke and turns errors, panics and malformed
// completions into info, Jepsen's rule: we cannot know whether such an op
// took effect.
func (r *run) invokeSafely(inv history.Op, invoke func() (history.Op, error)) (out history.Op) {
	defer func() {
		if p := recover(); p != nil {
			out = inv
			out.Type = history.Info
			out.Error = fmt.Sprintf("panic: %v", p)
			// The stack belongs in the log, not in the history.
			r.cfg.logf("process %d crashed in %s: %v\n%s", inv.Process, inv.F, p, debug.Stack())
		}
	}()
	res, err := invoke()
	if err != nil {
		out = inv
		out.Type = history.Info
		out.Error = err.Error()
		return out
	}
	var problem string
	switch {
	case res.Process != inv.Process:
		problem = fmt.Sprintf("process %d, invocation had %d", res.Process, inv.Process)
	case res.F != inv.F:
		problem = fmt.Sprintf("f %q, invocation had %q", res.F, inv.F)
	case res.Type != history.OK && res.Type != history.Fail && res.Type != history.Info:
		problem = fmt.Sprintf("type %s, want ok, fail or info", res.Type)
	}
	if problem != "" {
		r.cfg.logf("process %d: invalid completion of %s: %s", inv.Process, inv.F, problem)
		out = inv
		out.Type = history.Info
		out.Error = "invalid completion: " + problem
		return out
	}
	return res
}

package generator

import (
	"errors"
	"fmt"
	"time"

	"github.com/jplan/jplan/history"
)

// PollInterval is how long a driver waits before asking a pending generator
// again when the generator gave no wake-up time and nothing else happens
// (Jepsen's interpreter polls at 1 ms too). Generators may depend on time in
// ways they don't announce.
const PollInterval = time.Millisecond

// StepKind is what a Driver tells its caller to do next.
type StepKind uint8

const (
	// StepInvoke: perform Step.Op on Step.Thread now.
	StepInvoke StepKind = iota
	// StepWait: nothing to do until a completion arrives or Step.Until.
	StepWait
	// StepDone: the generator is exhausted and nothing is in flight.
	StepDone
)

// Step is a Driver's answer to Next.
type Step struct {
	Kind   StepKind
	Thread int
	// Op is the invocation to perform (StepInvoke): Type Invoke, Time,
	// Process, F and Value set; the caller assigns Index and Node.
	Op history.Op
	// Until is the time to call Next again if nothing completes before
	// (StepWait); 0 means only a completion can change anything.
	Until int64
	// Poll is set when the generator is pending without naming a time: a
	// real-time caller should also ask again after PollInterval.
	Poll bool
}

// Driver interprets a generator: it keeps the context (time, free threads,
// processes), asks the generator for ops when they are due, commits the ops
// it hands out, and feeds invocations and completions back to the
// generator. It does no I/O and keeps no clock of its own, so the runner
// drives it with real time and Simulate with a simulated clock.
//
// Like Jepsen's interpreter, a Driver commits to a generator state only when
// it hands an op out: an op that is not due yet, or a pending answer, leaves
// the generator as it was, to be asked again later.
//
// A Driver is not safe for concurrent use.
type Driver struct {
	ctx      *Context
	gen      Generator
	inflight int     // invocations handed out and not completed
	sleepEnd []int64 // by thread: end of a KindSleep, 0 if not sleeping
	sleeping int
	// Logf receives the messages of Log generators. Nil discards them.
	Logf func(format string, args ...any)
}

// NewDriver prepares to interpret g with the given number of client threads
// (plus the nemesis thread) and random seed.
func NewDriver(g Generator, concurrency int, seed uint64) *Driver {
	if concurrency < 0 {
		concurrency = 0
	}
	return &Driver{
		ctx:      newContext(concurrency, seed),
		gen:      g,
		sleepEnd: make([]int64, concurrency+1),
	}
}

// Concurrency is the number of client threads.
func (d *Driver) Concurrency() int { return d.ctx.nClients }

// NemesisThread is the thread number of the nemesis.
func (d *Driver) NemesisThread() int { return d.ctx.nClients }

// Process is the process thread t currently runs.
func (d *Driver) Process(thread int) int { return d.ctx.procs[thread] }

// ThreadOf maps a process to its thread.
func (d *Driver) ThreadOf(process int) int { return d.ctx.ThreadOf(process) }

// InFlight is the number of invocations awaiting completion.
func (d *Driver) InFlight() int { return d.inflight }

// Exhausted reports whether the generator will produce nothing more.
func (d *Driver) Exhausted() bool { return d.gen == nil }

// Stop forgets the generator: Next will hand out nothing more and answer
// StepDone once in-flight ops complete. Sleeping threads wake at once:
// nothing is left for them to wait for. Used on cancellation.
func (d *Driver) Stop() {
	d.gen = nil
	for t, e := range d.sleepEnd {
		if e > 0 {
			d.sleepEnd[t] = 0
			d.ctx.setFree(t)
		}
	}
	d.sleeping = 0
}

// Next returns what to do at time now (ns since the test started). It
// performs Log ops and starts Sleep ops itself.
func (d *Driver) Next(now int64) (step Step, err error) {
	d.ctx.Time = now
	if d.sleeping > 0 {
		d.wakeSleepers(now)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("generator panicked: %v", r)
			d.gen = nil
		}
	}()
	for {
		if d.gen == nil {
			return d.idle(now, 0, false), nil
		}
		op, next, st := d.gen.Op(d.ctx)
		if e := d.ctx.err; e != nil {
			d.gen = nil
			return Step{}, e
		}
		switch st {
		case Exhausted:
			d.gen = nil
			continue
		case Pending:
			return d.idle(now, op.Time, true), nil
		}
		if op.Time > now {
			return d.idle(now, op.Time, false), nil
		}
		if op.Kind == KindLog {
			d.gen = next
			if d.Logf != nil {
				d.Logf("%v", op.Value)
			}
			continue
		}
		t := d.ctx.ThreadOf(op.Process)
		if t < 0 || t > d.ctx.nClients || d.ctx.procs[t] != op.Process {
			d.gen = nil
			return Step{}, fmt.Errorf("generator emitted %s for process %d, which no thread runs", op.F, op.Process)
		}
		if !d.ctx.ThreadFree(t) {
			d.gen = nil
			return Step{}, fmt.Errorf("generator emitted %s for process %d, which is busy", op.F, op.Process)
		}
		d.gen = next
		d.ctx.setBusy(t)
		d.ctx.cursor = t + 1
		if op.Kind == KindSleep {
			d.sleepEnd[t] = now + max(op.Sleep, 1)
			d.sleeping++
			continue
		}
		if dv, ok := op.Value.(Deferred); ok {
			v, err := dv.Resolve(d.ctx.seed)
			if err != nil {
				d.gen = nil
				return Step{}, fmt.Errorf("generator: computing value of %q: %w", op.F, err)
			}
			op.Value = normalize(v)
		}
		d.inflight++
		inv := history.Op{Time: now, Type: history.Invoke, Process: op.Process, F: op.F, Value: op.Value}
		if n := d.gen.Update(d.ctx, inv); n != nil {
			d.gen = n
		}
		if e := d.ctx.err; e != nil {
			d.gen = nil
			return Step{}, e
		}
		return Step{Kind: StepInvoke, Thread: t, Op: inv}, nil
	}
}

// idle builds the answer when nothing can be invoked now. until is the
// time the generator asked to be woken (an op's due time, or a pending
// hint; 0 for none); pending says the generator answered Pending.
func (d *Driver) idle(now, until int64, pending bool) Step {
	poll := false
	if until <= now {
		until = 0
		// A pending generator that names no time is woken by the next
		// event; Poll tells a real-time caller to also ask again after
		// PollInterval, as Jepsen does, for generators that depend on
		// time without saying so.
		poll = pending
	}
	if d.sleeping > 0 {
		for _, e := range d.sleepEnd {
			if e > 0 && (until == 0 || e < until) {
				until = e
			}
		}
	}
	if !pending && until == 0 && d.inflight == 0 {
		return Step{Kind: StepDone}
	}
	return Step{Kind: StepWait, Until: until, Poll: poll}
}

func (d *Driver) wakeSleepers(now int64) {
	for t, e := range d.sleepEnd {
		if e > 0 && e <= now {
			d.sleepEnd[t] = 0
			d.sleeping--
			d.ctx.setFree(t)
		}
	}
}

// ErrNotInFlight is returned by Complete for a thread with no op in flight.
var ErrNotInFlight = errors.New("no operation in flight on that thread")

// Complete records that the op in flight on thread completed with ev (which
// the caller has stamped with Index and Time). It frees the thread, tells the
// generator, and, when a client op completed as info, moves the thread to a
// new process (old + concurrency), as Jepsen does: the old process may still
// be acting on the system, so it must never invoke again.
func (d *Driver) Complete(now int64, thread int, ev history.Op) (err error) {
	if thread < 0 || thread > d.ctx.nClients || d.ctx.ThreadFree(thread) || d.sleepEnd[thread] > 0 {
		return fmt.Errorf("completing %s on thread %d: %w", ev.F, thread, ErrNotInFlight)
	}
	d.ctx.Time = now
	d.ctx.setFree(thread)
	d.inflight--
	if d.gen != nil {
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("generator panicked on update: %v", r)
					d.gen = nil
				}
			}()
			if n := d.gen.Update(d.ctx, ev); n != nil {
				d.gen = n
			}
			if e := d.ctx.err; e != nil {
				err = e
				d.gen = nil
			}
		}()
	}
	if ev.Type == history.Info && thread != d.ctx.nClients {
		d.ctx.procs[thread] += d.ctx.nClients
	}
	return err
}

// Package generator is jplan's model of what a test does and when: Jepsen's
// pure generators, in Go.
//
// A Generator is an immutable value. Asked for an operation with Op, it
// answers Ready (an op, and the generator that would result if that op were
// performed), Pending (nothing yet, perhaps later) or Exhausted (never
// again). Told about an event (an invocation it produced, or a completion)
// with Update, it returns the generator that results. Because asking does not
// change the generator, the interpreter may ask, decline (the op is not due
// yet), and ask again; and combinators such as Any can ask several children
// and keep only the one whose op came first.
//
// Ops carry the time at which they should be performed, so timing
// (Stagger, Delay, TimeLimit, Sleep) is data, not sleeping: a Driver
// interprets a generator against real time in the runner and against a
// simulated clock in tests (see Simulate), with the same code.
//
// docs/generators.md describes every combinator and where jplan differs from
// Jepsen.
package generator

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jplan/jplan/history"
)

// Event is what Update is told about: an invocation or a completion, as
// recorded in the history.
type Event = history.Op

// Status is the kind of answer Op gives.
type Status uint8

const (
	// Exhausted: the generator will never produce another op. Once a
	// generator is exhausted it stays exhausted, whatever the context.
	Exhausted Status = iota
	// Pending: no op now. Op.Time, if positive, is the earliest time at
	// which asking again could give a different answer; otherwise ask again
	// after the next event (or after a short poll interval).
	Pending
	// Ready: Op is the next operation and the returned generator is the
	// state after it.
	Ready
)

func (s Status) String() string {
	switch s {
	case Exhausted:
		return "exhausted"
	case Pending:
		return "pending"
	case Ready:
		return "ready"
	}
	return "unknown"
}

// Kind says what a ready Op asks the interpreter to do.
type Kind uint8

const (
	// KindInvoke: invoke F with Value on Process at Time.
	KindInvoke Kind = iota
	// KindSleep: keep Process's thread idle for Sleep nanoseconds. Not
	// recorded in the history.
	KindSleep
	// KindLog: log Value (a string). Not recorded; occupies no thread.
	KindLog
)

// Op is an operation a generator wants performed.
type Op struct {
	Kind Kind
	// Time is when to perform the op (ns since the test started); for
	// Pending, a wake-up hint (0 for none).
	Time    int64
	Process int
	F       string
	Value   any
	// Sleep is the duration of a KindSleep op, in nanoseconds.
	Sleep int64
}

// Generator is a pure description of the operations of a test.
type Generator interface {
	// Op asks for the next operation. Implementations must not mutate the
	// receiver; they return the next state instead. ctx may be changed
	// during the call but must be restored before returning.
	Op(ctx *Context) (Op, Generator, Status)
	// Update returns the generator after an event: an invocation this
	// generator emitted, or a completion of one; or nil if the event
	// changes nothing, which is the common case and saves rebuilding the
	// tree twice per op. ctx.Time is the event time; the free threads
	// reflect the state after the event; ProcessOf reports the process the
	// thread ran when the event happened.
	Update(ctx *Context, ev Event) Generator
}

// Seconds converts a (fractional) number of seconds, as written in plans, to
// a duration.
func Seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// ---------------------------------------------------------------------------
// Leaves

// ValueFunc computes the value of an invocation. r is seeded per op from the
// run's seed (see Context.Rand), so a seed reproduces values.
type ValueFunc func(r *rand.Rand) (any, error)

// Deferred is an op value that is fixed only when the op is invoked, not
// when the generator computes it. The interpreter may compute an op and
// then not invoke it (another op was due first); values that consume shared
// state — a transaction's keys and per-key counters — must not consume it
// for ops that never happen. The driver calls Resolve once, at invocation,
// in invocation order, with the run's seed.
type Deferred interface {
	Resolve(seed uint64) (any, error)
}

type invocation struct {
	f     string
	value ValueFunc
}

// Invocation is a one-shot generator: it emits a single invoke of f on some
// free process, with the value computed when the op is emitted (nil value
// function: nil value), then is exhausted. Like a map in Jepsen; wrap it in
// Repeat for a stream of such ops, each with a freshly computed value.
func Invocation(f string, value ValueFunc) Generator { return &invocation{f: f, value: value} }

// Constant is an Invocation whose value is fixed.
func Constant(f string, value any) Generator {
	return &invocation{f: f, value: func(*rand.Rand) (any, error) { return value, nil }}
}

func (g *invocation) Op(ctx *Context) (Op, Generator, Status) {
	p, ok := ctx.SomeFreeProcess()
	if !ok {
		return Op{}, g, Pending
	}
	var v any
	if g.value != nil {
		var err error
		v, err = g.value(ctx.Rand(0))
		if err != nil {
			ctx.Fail(fmt.Errorf("generator: computing value of %q: %w", g.f, err))
			return Op{}, nil, Exhausted
		}
		v = normalize(v)
	}
	return Op{Kind: KindInvoke, Time: ctx.Time, Process: p, F: g.f, Value: v}, done, Ready
}

func (g *invocation) Update(*Context, Event) Generator { return nil }

// normalize turns Go integer kinds into int64, which is what history values
// hold; value functions written in Go naturally return int.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return float64(x)
	case []int:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out
	}
	return v
}

type sleep struct{ d int64 }

// Sleep emits one op that keeps a free thread idle for d, then is exhausted.
// In a context of one thread (the nemesis, or EachThread) this is a pause in
// that thread's schedule, as in Jepsen. It is not recorded in the history.
func Sleep(d time.Duration) Generator { return &sleep{d: int64(d)} }

func (g *sleep) Op(ctx *Context) (Op, Generator, Status) {
	p, ok := ctx.SomeFreeProcess()
	if !ok {
		return Op{}, g, Pending
	}
	return Op{Kind: KindSleep, Time: ctx.Time, Process: p, Sleep: g.d}, done, Ready
}

func (g *sleep) Update(*Context, Event) Generator { return nil }

type logGen struct{ msg string }

// Log emits one op asking the interpreter to log msg, then is exhausted. It
// needs no free thread and is not recorded in the history.
func Log(msg string) Generator { return &logGen{msg: msg} }

func (g *logGen) Op(ctx *Context) (Op, Generator, Status) {
	return Op{Kind: KindLog, Time: ctx.Time, Value: g.msg}, done, Ready
}

func (g *logGen) Update(*Context, Event) Generator { return nil }

type void struct{}

// Void is exhausted from the start.
func Void() Generator { return void{} }

// done is what a generator returns as its next state after its last op:
// generators never return a nil next state with Ready.
var done Generator = void{}

func (void) Op(*Context) (Op, Generator, Status) { return Op{}, nil, Exhausted }
func (void) Update(*Context, Event) Generator    { return nil }

type fnGen struct {
	f func(ctx *Context) Generator
	n uint64
}

// Fn calls f to obtain a generator, emits that generator's ops until it is
// exhausted, then calls f again; a nil result from f exhausts Fn. Jepsen's
// function generators. f should depend only on ctx (its Rand, Time, ...):
// it may be called several times for the same decision.
func Fn(f func(ctx *Context) Generator) Generator { return &fnGen{f: f} }

func (g *fnGen) Op(ctx *Context) (Op, Generator, Status) {
	old := ctx.descend(g.n)
	inner := g.f(ctx)
	if inner == nil {
		ctx.ascend(old)
		return Op{}, nil, Exhausted
	}
	op, inner2, st := inner.Op(ctx)
	ctx.ascend(old)
	next := &fnGen{f: g.f, n: g.n + 1}
	switch st {
	case Exhausted:
		// A function that yields an empty generator is treated as done;
		// calling it again would most likely loop forever.
		return Op{}, nil, Exhausted
	case Pending:
		return op, g, Pending
	}
	return op, &fnRest{cur: inner2, n: g.n, next: next}, Ready
}

// fnRest is an Fn part-way through a generator f returned.
type fnRest struct {
	cur  Generator
	n    uint64
	next *fnGen
}

func (g *fnRest) Op(ctx *Context) (Op, Generator, Status) {
	old := ctx.descend(g.n)
	op, cur, st := g.cur.Op(ctx)
	ctx.ascend(old)
	switch st {
	case Exhausted:
		return g.next.Op(ctx)
	case Pending:
		return op, g, Pending
	}
	return op, &fnRest{cur: cur, n: g.n, next: g.next}, Ready
}

func (g *fnRest) Update(ctx *Context, ev Event) Generator {
	old := ctx.descend(g.n)
	cur := g.cur.Update(ctx, ev)
	ctx.ascend(old)
	if cur == nil {
		return nil
	}
	return &fnRest{cur: cur, n: g.n, next: g.next}
}
func (g *fnGen) Update(*Context, Event) Generator { return nil }

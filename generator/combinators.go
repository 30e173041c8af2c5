package generator

import (
	"math/bits"

	"github.com/jplan/jplan/history"
)

// Salts separate the random streams of different kinds of decisions made at
// the same position in the tree.
const (
	saltMix     = 0x6d6978
	saltAny     = 0x616e79
	saltStagger = 0x737467
	saltReserve = 0x727376
)

// ---------------------------------------------------------------------------
// Seq

type seqGen struct {
	cur  Generator
	idx  int         // position of cur among the original arguments
	rest []Generator // the generators after cur; shared, never mutated
}

// Seq emits every op of the first generator, then every op of the second,
// and so on. Updates go to the generator currently emitting. (Jepsen: a
// sequence.)
func Seq(gens ...Generator) Generator {
	if len(gens) == 0 {
		return done
	}
	rest := append([]Generator(nil), gens[1:]...)
	return &seqGen{cur: gens[0], idx: 0, rest: rest}
}

func (g *seqGen) Op(ctx *Context) (Op, Generator, Status) {
	cur, idx, rest := g.cur, g.idx, g.rest
	for {
		old := ctx.descend(uint64(idx))
		op, next, st := cur.Op(ctx)
		ctx.ascend(old)
		switch st {
		case Ready:
			return op, &seqGen{cur: next, idx: idx, rest: rest}, Ready
		case Pending:
			return op, g, Pending
		}
		if len(rest) == 0 {
			return Op{}, nil, Exhausted
		}
		cur, idx, rest = rest[0], idx+1, rest[1:]
	}
}

func (g *seqGen) Update(ctx *Context, ev Event) Generator {
	old := ctx.descend(uint64(g.idx))
	cur := g.cur.Update(ctx, ev)
	ctx.ascend(old)
	if cur == nil {
		return nil
	}
	return &seqGen{cur: cur, idx: g.idx, rest: g.rest}
}

// Phases runs each generator to exhaustion and then waits until every thread
// is free before starting the next: Seq of Synchronize.
func Phases(gens ...Generator) Generator {
	s := make([]Generator, len(gens))
	for i, g := range gens {
		s[i] = Synchronize(g)
	}
	return Seq(s...)
}

// ---------------------------------------------------------------------------
// Synchronize

type syncGen struct{ g Generator }

// Synchronize waits until every thread of its context is free, then behaves
// as g.
func Synchronize(g Generator) Generator { return &syncGen{g: g} }

func (g *syncGen) Op(ctx *Context) (Op, Generator, Status) {
	if !ctx.AllFree() {
		return Op{}, g, Pending
	}
	// Once g has emitted, the barrier is behind us: the returned state is
	// g's own.
	return g.g.Op(ctx)
}

func (g *syncGen) Update(ctx *Context, ev Event) Generator {
	n := g.g.Update(ctx, ev)
	if n == nil {
		return nil
	}
	return &syncGen{g: n}
}

// ---------------------------------------------------------------------------
// Mix

type mixGen struct {
	n uint64 // choices made so far: keys the random stream of the next one
	// gens holds every child's current state at its original position (the
	// position is its randomness identity), nil once it is exhausted.
	// Marking rather than removing keeps the positions without a second,
	// per-state index slice. For small mixes gens points into inline, so a
	// new state is one 80-byte allocation.
	gens   []Generator
	inline [3]Generator // read/write/cas: the common mixes have 2 or 3 children
}

// clone returns a copy of g that the caller may change before publishing it.
func (g *mixGen) clone() *mixGen {
	m := &mixGen{n: g.n}
	if len(g.gens) <= len(m.inline) {
		m.gens = m.inline[:len(g.gens)]
	} else {
		m.gens = make([]Generator, len(g.gens))
	}
	copy(m.gens, g.gens)
	return m
}

// Mix emits each op from a child chosen uniformly at random (from the seeded
// stream), dropping children as they are exhausted. If the chosen child is
// pending, Mix is pending. Updates are ignored, as in Jepsen (mixes may be
// very wide).
func Mix(gens ...Generator) Generator {
	if len(gens) == 0 {
		return done
	}
	noNil("Mix", gens) // nil marks an exhausted child
	return (&mixGen{gens: gens}).clone()
}

func (g *mixGen) Op(ctx *Context) (Op, Generator, Status) {
	var m *mixGen // the next state, copied from g on the first change
	gens, n := g.gens, g.n
	// Counting is as cheap as the copy every new state makes anyway.
	live := 0
	for _, c := range gens {
		if c != nil {
			live++
		}
	}
	for live > 0 {
		// The k-th live child, in original order: the same child as the
		// k-th element of the live children listed compactly.
		k := ctx.Rand(saltMix ^ n).IntN(live)
		i := k
		if live < len(gens) {
			i = nthLive(gens, k)
		}
		old := ctx.descend(uint64(i))
		op, next, st := gens[i].Op(ctx)
		ctx.ascend(old)
		if st == Pending {
			// Children dropped on the way are dropped again next time:
			// asking does not change g.
			return op, g, Pending
		}
		if m == nil {
			m = g.clone()
			gens = m.gens
		}
		n++
		m.n = n
		if st == Ready {
			m.gens[i] = next
			return op, m, Ready
		}
		// Exhausted: drop it and choose again among the rest.
		m.gens[i] = nil
		live--
	}
	return Op{}, nil, Exhausted
}

// noNil panics if a child is nil: Mix and Any use nil for a child they
// have dropped, so a nil argument would silently vanish instead of failing.
func noNil(what string, gens []Generator) {
	for _, c := range gens {
		if c == nil {
			panic("generator." + what + ": nil generator")
		}
	}
}

// nthLive returns the position of the k-th (from 0) non-nil generator.
func nthLive(gens []Generator, k int) int {
	for i, c := range gens {
		if c == nil {
			continue
		}
		if k == 0 {
			return i
		}
		k--
	}
	panic("generator: mix lost count of its children")
}

func (g *mixGen) Update(*Context, Event) Generator { return nil }

// ---------------------------------------------------------------------------
// Limit, Once

type limitGen struct {
	remaining int
	g         Generator
}

// Limit emits at most n ops from g.
func Limit(n int, g Generator) Generator {
	if n <= 0 {
		return done
	}
	return &limitGen{remaining: n, g: g}
}

// Once emits at most one op from g.
func Once(g Generator) Generator { return Limit(1, g) }

func (g *limitGen) Op(ctx *Context) (Op, Generator, Status) {
	op, next, st := g.g.Op(ctx)
	if st != Ready {
		return op, g, st
	}
	if g.remaining == 1 {
		return op, done, Ready
	}
	return op, &limitGen{remaining: g.remaining - 1, g: next}, Ready
}

func (g *limitGen) Update(ctx *Context, ev Event) Generator {
	n := g.g.Update(ctx, ev)
	if n == nil {
		return nil
	}
	return &limitGen{remaining: g.remaining, g: n}
}

// ---------------------------------------------------------------------------
// Repeat

type repeatGen struct {
	g         Generator
	k         uint64 // ops emitted so far; identifies each repetition's randomness
	remaining int    // -1: forever
}

// Repeat emits g's first op over and over, forever. g's state is not
// advanced, but the op is re-evaluated each time (an Invocation computes a
// fresh value), as Jepsen's repeat. Updates reach g.
func Repeat(g Generator) Generator { return &repeatGen{g: g, remaining: -1} }

// RepeatN is Repeat limited to n ops.
func RepeatN(n int, g Generator) Generator {
	if n <= 0 {
		return done
	}
	return &repeatGen{g: g, remaining: n}
}

func (g *repeatGen) Op(ctx *Context) (Op, Generator, Status) {
	old := ctx.descend(g.k)
	op, _, st := g.g.Op(ctx)
	ctx.ascend(old)
	if st != Ready {
		return op, g, st
	}
	rem := g.remaining
	if rem > 0 {
		rem--
		if rem == 0 {
			return op, done, Ready
		}
	}
	return op, &repeatGen{g: g.g, k: g.k + 1, remaining: rem}, Ready
}

func (g *repeatGen) Update(ctx *Context, ev Event) Generator {
	n := g.g.Update(ctx, ev)
	if n == nil {
		return nil
	}
	return &repeatGen{g: n, k: g.k, remaining: g.remaining}
}

// ---------------------------------------------------------------------------
// Cycle

type cycleGen struct {
	orig, cur Generator
	iter      uint64
	remaining int  // iterations left including this one; -1 forever
	emitted   bool // cur has emitted at least one op this iteration
}

// Cycle emits all of g's ops, then starts over from g's original state,
// forever. Updates reach the current iteration only. If a fresh copy of g is
// exhausted before emitting anything, Cycle is exhausted (rather than
// spinning forever).
func Cycle(g Generator) Generator { return &cycleGen{orig: g, cur: g, remaining: -1} }

// CycleN is Cycle limited to n passes over g.
func CycleN(n int, g Generator) Generator {
	if n <= 0 {
		return done
	}
	return &cycleGen{orig: g, cur: g, remaining: n}
}

func (g *cycleGen) Op(ctx *Context) (Op, Generator, Status) {
	cur, iter, rem, emitted := g.cur, g.iter, g.remaining, g.emitted
	for {
		old := ctx.descend(iter)
		op, next, st := cur.Op(ctx)
		ctx.ascend(old)
		switch st {
		case Ready:
			return op, &cycleGen{orig: g.orig, cur: next, iter: iter, remaining: rem, emitted: true}, Ready
		case Pending:
			return op, g, Pending
		}
		if !emitted || rem == 1 {
			return Op{}, nil, Exhausted
		}
		if rem > 0 {
			rem--
		}
		cur, iter, emitted = g.orig, iter+1, false
	}
}

func (g *cycleGen) Update(ctx *Context, ev Event) Generator {
	old := ctx.descend(g.iter)
	cur := g.cur.Update(ctx, ev)
	ctx.ascend(old)
	if cur == nil {
		return nil
	}
	return &cycleGen{orig: g.orig, cur: cur, iter: g.iter, remaining: g.remaining, emitted: g.emitted}
}

// ---------------------------------------------------------------------------
// Choosing the soonest op among several children (Any, Reserve)

type candidate struct {
	op     Op
	next   Generator
	i      int
	weight int
}

// minHint combines pending wake-up hints: the earliest positive one.
func minHint(h, t int64) int64 {
	if t > 0 && (h == 0 || t < h) {
		return t
	}
	return h
}

// pickSoonest returns the index in ready of the soonest op, or -1. Ties are
// broken at random in proportion to weights, like Jepsen: always favouring
// one side would starve the other. It must be called after every child was
// asked: it draws from ctx.Rand, which children reseed. (Candidates live in
// the caller's stack array; this function must not retain the slice.)
func pickSoonest(ctx *Context, ready []candidate, key uint64) int {
	if len(ready) == 0 {
		return -1
	}
	best := ready[0].op.Time
	for _, r := range ready[1:] {
		if r.op.Time < best {
			best = r.op.Time
		}
	}
	total, only := 0, -1
	for j, r := range ready {
		if r.op.Time == best {
			total += r.weight
			only = j
		}
	}
	if total == ready[only].weight {
		return only
	}
	x := ctx.Rand(key).IntN(total)
	for j, r := range ready {
		if r.op.Time != best {
			continue
		}
		if x < r.weight {
			return j
		}
		x -= r.weight
	}
	return only
}

// ---------------------------------------------------------------------------
// Any

type anyGen struct {
	n uint64 // ops emitted so far: keys the tie-breaking random stream
	// gens holds the children at their original positions (their
	// randomness identity); a child found exhausted when Any emits an op is
	// set to nil in the new state, so it is not asked again (an exhausted
	// generator stays exhausted) and a finished side, such as
	// ClientsAndNemesis' nemesis, costs nothing per op afterwards.
	gens   []Generator
	inline [2]Generator // see mixGen.inline
}

func (g *anyGen) with(gens []Generator, n uint64) *anyGen {
	a := &anyGen{n: n}
	if len(gens) <= len(a.inline) {
		a.gens = a.inline[:len(gens)]
		copy(a.gens, gens)
	} else {
		a.gens = append([]Generator(nil), gens...)
	}
	return a
}

// Any asks every child and emits the soonest op; the others keep their
// state. Updates go to every child.
func Any(gens ...Generator) Generator {
	switch len(gens) {
	case 0:
		return done
	case 1:
		return gens[0]
	}
	noNil("Any", gens) // nil marks an exhausted child
	return (*anyGen)(nil).with(gens, 0)
}

func (g *anyGen) Op(ctx *Context) (Op, Generator, Status) {
	var (
		buf     [4]candidate
		ready   = buf[:0]
		pending bool
		hint    int64
		ended   uint64 // bit i: child i (i < 64) reported Exhausted
	)
	for i, c := range g.gens {
		if c == nil {
			continue
		}
		old := ctx.descend(uint64(i))
		op, next, st := c.Op(ctx)
		ctx.ascend(old)
		switch st {
		case Ready:
			ready = append(ready, candidate{op: op, next: next, i: i, weight: 1})
		case Pending:
			pending, hint = true, minHint(hint, op.Time)
		default:
			if i < 64 {
				ended |= 1 << i
			}
		}
	}
	j := pickSoonest(ctx, ready, saltAny^g.n)
	if j < 0 {
		if pending {
			return Op{Time: hint}, g, Pending
		}
		return Op{}, nil, Exhausted
	}
	c := &ready[j]
	a := g.with(g.gens, g.n+1)
	a.gens[c.i] = c.next
	for ; ended != 0; ended &= ended - 1 {
		a.gens[bits.TrailingZeros64(ended)] = nil
	}
	return c.op, a, Ready
}

func (g *anyGen) Update(ctx *Context, ev Event) Generator {
	var a *anyGen // copied on the first change
	for i, c := range g.gens {
		if c == nil {
			continue
		}
		old := ctx.descend(uint64(i))
		n := c.Update(ctx, ev)
		ctx.ascend(old)
		if n == nil {
			continue
		}
		if a == nil {
			a = g.with(g.gens, g.n)
		}
		a.gens[i] = n
	}
	if a == nil {
		return nil
	}
	return a
}

// ---------------------------------------------------------------------------
// Thread routing: Clients, Nemesis, Reserve, EachThread

type onRange struct {
	nemesis bool // true: the nemesis thread; false: the client threads
	g       Generator
}

// Clients restricts g to the client threads: the nemesis never gets its ops,
// and g sees only client threads in its context.
func Clients(g Generator) Generator { return &onRange{g: g} }

// Nemesis restricts g to the nemesis thread.
func Nemesis(g Generator) Generator { return &onRange{nemesis: true, g: g} }

// ClientsAndNemesis runs client ops from c and nemesis ops from n side by
// side: Any(Clients(c), Nemesis(n)). Jepsen's two-argument gen/nemesis.
func ClientsAndNemesis(c, n Generator) Generator { return Any(Clients(c), Nemesis(n)) }

func (g *onRange) bounds(ctx *Context) (int, int) {
	if g.nemesis {
		return ctx.nClients, ctx.nClients + 1
	}
	return 0, ctx.nClients
}

func (g *onRange) Op(ctx *Context) (Op, Generator, Status) {
	lo, hi := g.bounds(ctx)
	olo, ohi := ctx.restrict(lo, hi)
	op, next, st := g.g.Op(ctx)
	ctx.restore(olo, ohi)
	if st != Ready {
		return op, g, st
	}
	return op, &onRange{nemesis: g.nemesis, g: next}, Ready
}

func (g *onRange) Update(ctx *Context, ev Event) Generator {
	// Whether the event's thread is ours, without ThreadOf's division (this
	// runs twice per op): the nemesis process runs on the nemesis thread,
	// any other process on a client thread, if there are any.
	if ours := ev.Process == nemesisProcess; ours != g.nemesis || (!ours && ctx.nClients == 0) {
		return nil
	}
	lo, hi := g.bounds(ctx)
	olo, ohi := ctx.restrict(lo, hi)
	next := g.g.Update(ctx, ev)
	ctx.restore(olo, ohi)
	if next == nil {
		return nil
	}
	return &onRange{nemesis: g.nemesis, g: next}
}

type reserveGen struct {
	counts []int       // threads per dedicated range; shared by every state
	gens   []Generator // one per range, then the default
	n      uint64
	inline [3]Generator // see mixGen.inline
}

// with returns a copy of g with child i replaced by next and n as given:
// one allocation when the children fit inline.
func (g *reserveGen) with(i int, next Generator, n uint64) *reserveGen {
	r := &reserveGen{counts: g.counts, n: n}
	if len(g.gens) <= len(r.inline) {
		r.gens = r.inline[:len(g.gens)]
	} else {
		r.gens = make([]Generator, len(g.gens))
	}
	copy(r.gens, g.gens)
	r.gens[i] = next
	return r
}

// Reserve dedicates threads to generators: the first counts[0] threads of
// the context run gens[0], the next counts[1] run gens[1], and so on; the
// remaining threads run the last generator, the default. len(gens) must be
// len(counts)+1. Ranges are relative to the context Reserve is asked in, so
// Reserve nests. Updates go to the generator of the thread that caused them.
// Ties between ranges are broken at random in proportion to their sizes.
func Reserve(counts []int, gens ...Generator) Generator {
	if len(gens) != len(counts)+1 {
		panic("generator.Reserve: need exactly one generator per count plus a default")
	}
	for _, c := range counts {
		if c < 0 {
			panic("generator.Reserve: negative thread count")
		}
	}
	// with copies gens into storage the new state owns.
	g := &reserveGen{counts: append([]int(nil), counts...), gens: gens}
	return g.with(0, gens[0], 0)
}

// rangeOf returns the thread range of generator i within the view [lo, hi).
func (g *reserveGen) rangeOf(i, lo, hi int) (int, int) {
	start := lo
	for j := 0; j < i; j++ {
		start += g.counts[j]
	}
	if i == len(g.counts) {
		return start, hi
	}
	return start, start + g.counts[i]
}

func (g *reserveGen) Op(ctx *Context) (Op, Generator, Status) {
	var (
		buf     [4]candidate
		ready   = buf[:0]
		pending bool
		hint    int64
	)
	lo, hi := ctx.lo, ctx.hi
	for i, c := range g.gens {
		a, b := g.rangeOf(i, lo, hi)
		olo, ohi := ctx.restrict(a, b)
		w := ctx.hi - ctx.lo
		old := ctx.descend(uint64(i))
		op, next, st := c.Op(ctx)
		ctx.ascend(old)
		ctx.restore(olo, ohi)
		switch st {
		case Ready:
			ready = append(ready, candidate{op: op, next: next, i: i, weight: max(w, 1)})
		case Pending:
			pending, hint = true, minHint(hint, op.Time)
		}
	}
	j := pickSoonest(ctx, ready, saltReserve^g.n)
	if j < 0 {
		if pending {
			return Op{Time: hint}, g, Pending
		}
		return Op{}, nil, Exhausted
	}
	c := &ready[j]
	return c.op, g.with(c.i, c.next, g.n+1), Ready
}

func (g *reserveGen) Update(ctx *Context, ev Event) Generator {
	t := ctx.ThreadOf(ev.Process)
	for i := range g.gens {
		a, b := g.rangeOf(i, ctx.lo, ctx.hi)
		if t < a || t >= b {
			continue
		}
		olo, ohi := ctx.restrict(a, b)
		old := ctx.descend(uint64(i))
		next := g.gens[i].Update(ctx, ev)
		ctx.ascend(old)
		ctx.restore(olo, ohi)
		if next == nil {
			return nil
		}
		return g.with(i, next, g.n)
	}
	return nil
}

type eachThread struct {
	fresh Generator
	gens  []Generator // by thread; nil: not started (a copy of fresh)
}

// EachThread gives every thread of its context an independent copy of g,
// which sees a context of that one thread. Updates go to the copy of the
// thread that caused them. When several threads have an op at the same
// time, the first free thread after the last one served wins, so threads
// take turns.
func EachThread(g Generator) Generator { return &eachThread{fresh: g} }

func (g *eachThread) get(t int) Generator {
	if t < len(g.gens) && g.gens[t] != nil {
		return g.gens[t]
	}
	return g.fresh
}

func (g *eachThread) with(t int, next Generator, size int) *eachThread {
	n := max(len(g.gens), t+1, size)
	ng := make([]Generator, n)
	copy(ng, g.gens)
	ng[t] = next
	return &eachThread{fresh: g.fresh, gens: ng}
}

func (g *eachThread) Op(ctx *Context) (Op, Generator, Status) {
	lo, hi := ctx.lo, ctx.hi
	start := ctx.cursor
	if start < lo || start >= hi {
		start = lo
	}
	var (
		best     Op
		bestNext Generator
		bestT    = -1
		pending  bool
		hint     int64
	)
	// Visit threads from the cursor round to it again, so that on equal
	// times the first visited wins.
	for k := 0; k < hi-lo; k++ {
		t := start + k
		if t >= hi {
			t -= hi - lo
		}
		if !ctx.ThreadFree(t) {
			pending = true
			continue
		}
		olo, ohi := ctx.restrict(t, t+1)
		old := ctx.descend(uint64(t))
		op, next, st := g.get(t).Op(ctx)
		ctx.ascend(old)
		ctx.restore(olo, ohi)
		switch st {
		case Ready:
			if bestT < 0 || op.Time < best.Time {
				best, bestNext, bestT = op, next, t
			}
		case Pending:
			pending, hint = true, minHint(hint, op.Time)
		}
	}
	if bestT >= 0 {
		return best, g.with(bestT, bestNext, ctx.nClients+1), Ready
	}
	if pending {
		return Op{Time: hint}, g, Pending
	}
	return Op{}, nil, Exhausted
}

func (g *eachThread) Update(ctx *Context, ev Event) Generator {
	t := ctx.ThreadOf(ev.Process)
	if t < 0 || !ctx.InView(t) {
		return nil
	}
	olo, ohi := ctx.restrict(t, t+1)
	old := ctx.descend(uint64(t))
	next := g.get(t).Update(ctx, ev)
	ctx.ascend(old)
	ctx.restore(olo, ohi)
	if next == nil {
		return nil
	}
	return g.with(t, next, ctx.nClients+1)
}

// ---------------------------------------------------------------------------
// UntilOK

type untilOK struct {
	orig, cur Generator
	round     uint64
	emitted   bool  // cur emitted an op this round
	active    []int // processes running an op we emitted; copy-on-write
	ok        bool
}

// UntilOK emits ops from g until one of them completes ok. When g is
// exhausted before that, UntilOK waits for its ops still in flight and, if
// none succeeded, starts g over: UntilOK(Invocation("read", nil)) retries a
// read, one at a time, until a read succeeds. (Jepsen's until-ok does not
// restart; it is usually wrapped around a repeat, which works the same
// here.) A fresh g that is exhausted without emitting exhausts UntilOK.
func UntilOK(g Generator) Generator { return &untilOK{orig: g, cur: g} }

func (g *untilOK) Op(ctx *Context) (Op, Generator, Status) {
	if g.ok {
		return Op{}, nil, Exhausted
	}
	cur, round, emitted := g.cur, g.round, g.emitted
	for {
		old := ctx.descend(round)
		op, next, st := cur.Op(ctx)
		ctx.ascend(old)
		switch st {
		case Ready:
			act := g.active
			if op.Kind == KindInvoke {
				act = append(append(make([]int, 0, len(act)+1), act...), op.Process)
			}
			return op, &untilOK{orig: g.orig, cur: next, round: round, emitted: true, active: act}, Ready
		case Pending:
			return op, g, Pending
		}
		if len(g.active) > 0 {
			// An op in flight may yet succeed; its completion will wake us.
			return Op{}, g, Pending
		}
		if !emitted {
			return Op{}, nil, Exhausted
		}
		cur, round, emitted = g.orig, round+1, false
	}
}

func (g *untilOK) Update(ctx *Context, ev Event) Generator {
	old := ctx.descend(g.round)
	cur := g.cur.Update(ctx, ev)
	ctx.ascend(old)
	changed := cur != nil
	if cur == nil {
		cur = g.cur
	}
	n := &untilOK{orig: g.orig, cur: cur, round: g.round, emitted: g.emitted, active: g.active, ok: g.ok}
	if ev.Type == history.Invoke {
		if !changed {
			return nil
		}
		return n
	}
	for i, p := range g.active {
		if p != ev.Process {
			continue
		}
		changed = true
		n.active = append(append(make([]int, 0, len(g.active)-1), g.active[:i]...), g.active[i+1:]...)
		if ev.Type == history.OK {
			n.ok = true
		}
		break
	}
	if !changed {
		return nil
	}
	return n
}

// ---------------------------------------------------------------------------
// FlipFlop

type flipFlop struct {
	a, b  Generator
	which int // 0: a is next
}

// FlipFlop emits an op from a, then one from b, then a again, and so on,
// stopping as soon as the one whose turn it is is exhausted. Unlike Jepsen's
// flip-flop, updates reach both (so e.g. UntilOK works inside it).
func FlipFlop(a, b Generator) Generator { return &flipFlop{a: a, b: b} }

func (g *flipFlop) Op(ctx *Context) (Op, Generator, Status) {
	c := g.a
	if g.which == 1 {
		c = g.b
	}
	old := ctx.descend(uint64(g.which))
	op, next, st := c.Op(ctx)
	ctx.ascend(old)
	if st != Ready {
		return op, g, st
	}
	if g.which == 0 {
		return op, &flipFlop{a: next, b: g.b, which: 1}, Ready
	}
	return op, &flipFlop{a: g.a, b: next, which: 0}, Ready
}

func (g *flipFlop) Update(ctx *Context, ev Event) Generator {
	old := ctx.descend(0)
	a := g.a.Update(ctx, ev)
	ctx.ascend(old)
	old = ctx.descend(1)
	b := g.b.Update(ctx, ev)
	ctx.ascend(old)
	if a == nil && b == nil {
		return nil
	}
	if a == nil {
		a = g.a
	}
	if b == nil {
		b = g.b
	}
	return &flipFlop{a: a, b: b, which: g.which}
}

package generator

import "time"

// ---------------------------------------------------------------------------
// TimeLimit

type timeLimit struct {
	limit  int64
	cutoff int64 // -1 until the first op
	g      Generator
}

// TimeLimit emits ops from g for d, counted from the time of the first op
// it emits; an op due at or after the cutoff exhausts it. Once the cutoff
// has passed it is exhausted even if g is pending (Jepsen only looks at ops;
// a pending g, e.g. waiting for a busy thread, would otherwise outlive the
// limit).
func TimeLimit(d time.Duration, g Generator) Generator {
	return &timeLimit{limit: int64(d), cutoff: -1, g: g}
}

func (g *timeLimit) Op(ctx *Context) (Op, Generator, Status) {
	if g.cutoff >= 0 && ctx.Time >= g.cutoff {
		return Op{}, nil, Exhausted
	}
	op, next, st := g.g.Op(ctx)
	switch st {
	case Exhausted:
		return op, nil, Exhausted
	case Pending:
		if g.cutoff >= 0 && (op.Time <= 0 || op.Time > g.cutoff) {
			op.Time = g.cutoff
		}
		return op, g, Pending
	}
	cutoff := g.cutoff
	if cutoff < 0 {
		cutoff = op.Time + g.limit
	}
	if op.Time >= cutoff {
		return Op{}, nil, Exhausted
	}
	return op, &timeLimit{limit: g.limit, cutoff: cutoff, g: next}, Ready
}

func (g *timeLimit) Update(ctx *Context, ev Event) Generator {
	n := g.g.Update(ctx, ev)
	if n == nil {
		return nil
	}
	return &timeLimit{limit: g.limit, cutoff: g.cutoff, g: n}
}

// ---------------------------------------------------------------------------
// Stagger

type stagger struct {
	span int64 // 2*d: delays are uniform in [0, span)
	next int64 // earliest time of the next op; -1 until the first
	n    uint64
	g    Generator
}

// Stagger spaces g's ops by independent, uniformly random delays in [0, 2d),
// so about one op per d in total, whatever the number of threads (Jepsen's
// pure stagger; the classic one was per thread). An op that g emits later
// than the scheduled time keeps its own time, and the next delay counts from
// it. Delays come from the seeded stream.
func Stagger(d time.Duration, g Generator) Generator {
	return &stagger{span: 2 * int64(d), next: -1, g: g}
}

func (g *stagger) Op(ctx *Context) (Op, Generator, Status) {
	old := ctx.descend(saltStagger)
	op, next, st := g.g.Op(ctx)
	ctx.ascend(old)
	if st != Ready {
		return op, g, st
	}
	due := g.next
	if due < 0 {
		due = ctx.Time
	}
	if op.Time < due {
		op.Time = due
	}
	var delay int64
	if g.span > 0 {
		delay = ctx.Rand(saltStagger ^ g.n).Int64N(g.span)
	}
	return op, &stagger{span: g.span, next: op.Time + delay, n: g.n + 1, g: next}, Ready
}

func (g *stagger) Update(ctx *Context, ev Event) Generator {
	old := ctx.descend(saltStagger)
	next := g.g.Update(ctx, ev)
	ctx.ascend(old)
	if next == nil {
		return nil
	}
	return &stagger{span: g.span, next: g.next, n: g.n, g: next}
}

// ---------------------------------------------------------------------------
// Delay

type delay struct {
	d    int64
	next int64 // -1 until the first op
	g    Generator
}

// Delay spaces g's ops exactly d apart (in total, not per thread). If the
// test falls behind, ops are emitted as soon as possible and the schedule
// continues from the late op. Jepsen's pure delay.
func Delay(d time.Duration, g Generator) Generator {
	return &delay{d: int64(d), next: -1, g: g}
}

func (g *delay) Op(ctx *Context) (Op, Generator, Status) {
	op, next, st := g.g.Op(ctx)
	if st != Ready {
		return op, g, st
	}
	if g.next >= 0 && op.Time < g.next {
		op.Time = g.next
	}
	return op, &delay{d: g.d, next: op.Time + g.d, g: next}, Ready
}

func (g *delay) Update(ctx *Context, ev Event) Generator {
	n := g.g.Update(ctx, ev)
	if n == nil {
		return nil
	}
	return &delay{d: g.d, next: g.next, g: n}
}

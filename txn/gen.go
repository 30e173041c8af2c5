package txn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// Generating transactions follows Elle's generator for list-append and
// rw-register tests: a small pool of active keys, picked with an
// exponential (or uniform) bias so some keys are hot; a write (append) gets
// the next value of its key's counter, so values are unique per key; and a
// key retires, replaced by a fresh one, once it has taken its share of
// writes (drawn once per key, zipf-distributed up to MaxWritesPerKey), so
// lists stay short enough to check while new keys keep appearing.
//
// It happens in two steps, because jplan's generators may compute an op
// and then not invoke it (another op was due first):
//
//   - Shape draws the transaction's shape from the op's seeded random
//     source: its length, and for each micro-op read or write and which
//     slot of the key pool. That is a pure function of the source, like
//     every other op value.
//   - Pool.Fill turns a shape into micro-ops when the op is invoked: slots
//     become the keys active then, writes get their values. Fills happen
//     in invocation order, so the n-th transaction of a seed is the same
//     from run to run, as with Jepsen's lazy sequence of transactions.

// KeyDist is how keys are picked from the pool.
type KeyDist string

const (
	// Exponential: slot i is KeyDistBase times as likely as slot i+1.
	Exponential KeyDist = "exponential"
	// Uniform: every active key is as likely.
	Uniform KeyDist = "uniform"
)

// GenOptions are the knobs of a transaction generator; zero fields take
// Elle's defaults (see Defaults).
type GenOptions struct {
	// Write is the kind of the write micro-ops: Append for list-append,
	// Write for rw-register.
	Write Kind
	// KeyCount is how many keys are active at any time.
	KeyCount int
	// MinLength and MaxLength bound the micro-ops per transaction.
	MinLength, MaxLength int
	// MaxWritesPerKey bounds how many writes a key takes before it is
	// replaced by a fresh one.
	MaxWritesPerKey int
	KeyDist         KeyDist
	// KeyDistBase is the exponential distribution's base.
	KeyDistBase float64
}

// Defaults fills zero fields with Elle's defaults: 10 active keys (3 for
// the uniform distribution), 1 to 4 micro-ops, 256 writes per key at most,
// exponential keys of base 2.
func (o GenOptions) Defaults() GenOptions {
	if o.KeyDist == "" {
		o.KeyDist = Exponential
	}
	if o.KeyCount == 0 {
		o.KeyCount = 10
		if o.KeyDist == Uniform {
			o.KeyCount = 3
		}
	}
	if o.MinLength == 0 {
		o.MinLength = 1
	}
	if o.MaxLength == 0 {
		o.MaxLength = max(4, o.MinLength)
	}
	if o.MaxWritesPerKey == 0 {
		o.MaxWritesPerKey = 256
	}
	if o.KeyDistBase == 0 {
		o.KeyDistBase = 2
	}
	return o
}

// Check reports the first option that makes no sense, after Defaults.
func (o GenOptions) Check() error {
	switch {
	case o.Write != Append && o.Write != Write:
		return fmt.Errorf("write kind must be append or w, not %s", o.Write)
	case o.KeyCount < 1 || o.KeyCount > 1<<16:
		return fmt.Errorf("key_count must be between 1 and 65536, not %d", o.KeyCount)
	case o.MinLength < 1:
		return fmt.Errorf("min_length must be at least 1, not %d", o.MinLength)
	case o.MaxLength < o.MinLength:
		return fmt.Errorf("max_length (%d) is less than min_length (%d)", o.MaxLength, o.MinLength)
	case o.MaxLength > 1<<12:
		return fmt.Errorf("max_length must be at most 4096, not %d", o.MaxLength)
	case o.MaxWritesPerKey < 1:
		return fmt.Errorf("max_writes_per_key must be at least 1, not %d", o.MaxWritesPerKey)
	case o.KeyDist != Exponential && o.KeyDist != Uniform:
		return fmt.Errorf("key_dist must be %q or %q, not %q", Exponential, Uniform, o.KeyDist)
	case o.KeyDistBase <= 1 || math.IsInf(o.KeyDistBase, 0) || math.IsNaN(o.KeyDistBase):
		return fmt.Errorf("key_dist_base must be greater than 1, not %v", o.KeyDistBase)
	}
	return nil
}

// SlotMop is one micro-op of a shape: a read or a write of a pool slot.
type SlotMop struct {
	Write bool
	Slot  int
}

// Shape draws a transaction's shape from r. o must have passed Check.
func (o GenOptions) Shape(r *rand.Rand) []SlotMop {
	n := o.MinLength + r.IntN(o.MaxLength-o.MinLength+1)
	out := make([]SlotMop, n)
	for i := range out {
		out[i] = SlotMop{Write: r.IntN(2) == 1, Slot: o.slot(r)}
	}
	return out
}

// slot picks a pool index. Exponential: invert the CDF of a geometric
// distribution truncated to KeyCount slots, so slot 0 is the most likely.
func (o GenOptions) slot(r *rand.Rand) int {
	if o.KeyDist == Uniform || o.KeyCount == 1 {
		return r.IntN(o.KeyCount)
	}
	b := o.KeyDistBase
	// P(slot >= i) is proportional to b^-i; draw u in [b^-KeyCount, 1).
	lo := math.Pow(b, -float64(o.KeyCount))
	u := lo + r.Float64()*(1-lo)
	i := int(math.Floor(-math.Log(u) / math.Log(b)))
	return min(max(i, 0), o.KeyCount-1)
}

// Pool is the generator's state shared by every transaction of one
// operation: the active keys, each key's next value and its write budget.
// It is safe for concurrent use.
type Pool struct {
	opts GenOptions

	mu     sync.Mutex
	rng    *rand.Rand // write budgets; seeded on the first Fill
	seeded bool
	active []int64 // slot -> key
	budget []int   // slot -> writes the key may still take
	next   []int64 // slot -> the key's next write value
	fresh  int64   // the next unused key
}

// NewPool returns the state of a generator with options o (after Defaults
// and Check).
func NewPool(o GenOptions) *Pool {
	return &Pool{opts: o}
}

// Shape draws a transaction's shape with the pool's options.
func (p *Pool) Shape(r *rand.Rand) []SlotMop { return p.opts.Shape(r) }

// Options returns the pool's options.
func (p *Pool) Options() GenOptions { return p.opts }

// Fill turns a shape into micro-ops, in invocation order. seed seeds the
// write budgets on the first call; later calls ignore it.
func (p *Pool) Fill(shape []SlotMop, seed uint64) []Mop {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.seeded {
		p.seeded = true
		p.rng = rand.New(rand.NewPCG(seed, 0x74786e706f6f6c))
		n := p.opts.KeyCount
		p.active, p.budget, p.next = make([]int64, n), make([]int, n), make([]int64, n)
		for i := range n {
			p.active[i], p.budget[i], p.next[i] = int64(i), p.draw(), 1
		}
		p.fresh = int64(n)
	}
	out := make([]Mop, len(shape))
	for i, s := range shape {
		slot := s.Slot
		if !s.Write {
			out[i] = Mop{Kind: Read, Key: p.active[slot]}
			continue
		}
		if p.budget[slot] == 0 {
			// The key has had its writes: retire it for a fresh one.
			p.active[slot], p.budget[slot], p.next[slot] = p.fresh, p.draw(), 1
			p.fresh++
		}
		out[i] = Mop{Kind: p.opts.Write, Key: p.active[slot], Value: p.next[slot]}
		p.next[slot]++
		p.budget[slot]--
	}
	return out
}

// draw is a key's write budget: 1 + zipf over [0, MaxWritesPerKey), so most
// keys retire young and a few grow long, as in Elle.
func (p *Pool) draw() int {
	m := p.opts.MaxWritesPerKey
	if m == 1 {
		return 1
	}
	// rand.Zipf needs s > 1; 1.01 is close to Elle's skew-1 zipf.
	z := rand.NewZipf(p.rng, 1.01, 1, uint64(m-1))
	return 1 + int(z.Uint64())
}

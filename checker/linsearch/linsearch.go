// Package linsearch decides whether one key's register (or cas-register)
// history is linearizable, within a time and memory budget.
//
// It is the Wing & Gong search with memoization that porcupine also uses,
// with the memo made compact: porcupine keeps a bitset of the linearized
// ops for every visited configuration (n/8 bytes each, O(n²) for a long
// history), while this search keeps a 128-bit Zobrist hash of the set and
// the model state (16 bytes each), updated incrementally as ops are
// linearized and undone. The memo is only a pruning aid — forgetting an
// entry can cost time but never changes a verdict — so when it reaches the
// memory budget it is cleared instead of growing: the search then either
// finishes or runs into its time limit and answers Unknown. Memory that the
// search cannot do without (the event list and the stack, both linear in
// the number of ops) is counted up front; if that alone exceeds the budget
// the answer is Unknown before searching. See docs/checkers.md.
package linsearch

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Kind is an op's kind in the register model.
type Kind uint8

const (
	Read Kind = iota
	Write
	CAS
)

// Op is one operation of a single key's history. Values are interned ids
// (0 is nil), so states compare as integers.
type Op struct {
	Kind Kind
	// A is the value read, the value written, or cas' expected value.
	A int32
	// B is cas' new value.
	B int32
	// Info marks an op whose outcome is unknown: an info cas that finds
	// another value than A leaves the state unchanged instead of failing.
	Info bool
	// Call and Return order the op against the others; an op must take
	// effect after every op that returned before its Call. Info ops have
	// Return beyond every real position. At equal times a call sorts
	// before a return.
	Call, Return int64
}

// Options bounds and parameterizes a search.
type Options struct {
	// Initial is the register's value id before the first op.
	Initial int32
	// StrictNilReads: an ok read of nil (id 0) needs state nil. Without
	// it a read of nil is consistent with any state (Knossos).
	StrictNilReads bool
	// TimeLimit bounds the search; zero means only the context.
	TimeLimit time.Duration
	// MaxMemory bounds the bytes the search allocates for itself (event
	// list, stack, memo); zero means 1 GiB.
	MaxMemory int64
}

// Verdict is the answer of a search.
type Verdict int

const (
	Ok Verdict = iota
	Illegal
	Unknown
)

func (v Verdict) String() string {
	switch v {
	case Ok:
		return "ok"
	case Illegal:
		return "illegal"
	}
	return "unknown"
}

// Result is a verdict with what the search cost.
type Result struct {
	Verdict Verdict
	// Reason says why the verdict is Unknown.
	Reason string
	// Steps counts model steps tried.
	Steps int64
	// MemoEntries is the number of configurations in the memo at the end;
	// MemoClears how often the memo was cleared to stay within budget.
	MemoEntries int
	MemoClears  int
	// Bytes is the peak of the memory the search counted for itself.
	Bytes int64
	// On Illegal: the deepest point the search reached. Linearized ops
	// had been placed, leaving the register in State, when op Stuck
	// returned without a way to take effect. (-1 when not Illegal.)
	Stuck      int
	Linearized int
	State      int32
}

// DefaultMaxMemory is the memory budget when Options.MaxMemory is zero.
const DefaultMaxMemory = 1 << 30

// Check decides whether ops, one key's history, are linearizable.
func Check(ctx context.Context, ops []Op, o Options) Result {
	budget := o.MaxMemory
	if budget <= 0 {
		budget = DefaultMaxMemory
	}
	if o.TimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.TimeLimit)
		defer cancel()
	}
	n := len(ops)
	if n == 0 {
		return Result{Verdict: Ok, Stuck: -1}
	}
	// Fixed memory: 2n list entries of 4 int32, n stack frames of 2 int32,
	// n Zobrist keys of 2 uint64, the sort scratch of 2n events.
	fixed := int64(n)*(2*16+8+16) + int64(2*n)*16
	if fixed > budget {
		return Result{Verdict: Unknown, Bytes: fixed, Stuck: -1,
			Reason: fmt.Sprintf("linsearch: %d ops need %d bytes before searching, over the %d-byte budget", n, fixed, budget)}
	}
	s := newSearch(ops, o)
	s.memo.budget = budget - fixed
	r := s.run(ctx)
	r.Bytes = fixed + s.memo.peak
	return r
}

// The event list: entry 0 is the head sentinel; entry 1+2i is op i's call
// and 2+2i its return, linked in time order. Linearizing an op unlinks
// both of its entries; backtracking relinks them (dancing links).
type search struct {
	ops        []Op
	o          Options
	prev, next []int32
	zob        [][2]uint64
	memo       memo
}

func newSearch(ops []Op, o Options) *search {
	n := len(ops)
	type event struct {
		t    int64
		ret  bool
		id   int32
		call int64 // tie-break among equal returns: keeps order stable
	}
	evs := make([]event, 0, 2*n)
	for i, op := range ops {
		evs = append(evs, event{t: op.Call, id: int32(1 + 2*i), call: op.Call})
		evs = append(evs, event{t: op.Return, ret: true, id: int32(2 + 2*i), call: op.Call})
	}
	slices.SortFunc(evs, func(a, b event) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		if a.ret != b.ret {
			if a.ret {
				return 1 // calls first at equal times
			}
			return -1
		}
		if c := cmp.Compare(a.call, b.call); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	s := &search{ops: ops, o: o, prev: make([]int32, 2*n+1), next: make([]int32, 2*n+1), zob: make([][2]uint64, n)}
	last := int32(0)
	for _, e := range evs {
		s.next[last] = e.id
		s.prev[e.id] = last
		last = e.id
	}
	s.next[last] = -1
	seed := uint64(0x243f6a8885a308d3)
	for i := range s.zob {
		s.zob[i] = [2]uint64{splitmix(&seed), splitmix(&seed)}
	}
	return s
}

func splitmix(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// stateMix spreads a state id over 128 bits so (set, state) pairs hash
// independently.
func stateMix(s int32) [2]uint64 {
	x := uint64(uint32(s)) * 0x9e3779b97f4a7c15
	a := splitmix(&x)
	return [2]uint64{a, splitmix(&x)}
}

func (s *search) step(state int32, op *Op) (bool, int32) {
	switch op.Kind {
	case Read:
		return state == op.A || (op.A == 0 && !s.o.StrictNilReads), state
	case Write:
		return true, op.A
	default:
		if state == op.A {
			return true, op.B
		}
		return op.Info, state
	}
}

func (s *search) unlink(e int32) {
	p, nx := s.prev[e], s.next[e]
	s.next[p] = nx
	if nx >= 0 {
		s.prev[nx] = p
	}
}

func (s *search) relink(e int32) {
	p, nx := s.prev[e], s.next[e]
	s.next[p] = e
	if nx >= 0 {
		s.prev[nx] = e
	}
}

type frame struct {
	call  int32 // the call entry of the op linearized
	state int32 // the state before it
}

func (s *search) run(ctx context.Context) Result {
	r := Result{Stuck: -1}
	state := s.o.Initial
	var h [2]uint64
	stack := make([]frame, 0, len(s.ops))
	e := s.next[0]
	for s.next[0] >= 0 {
		r.Steps++
		if r.Steps&0xfff == 0 && ctx.Err() != nil {
			r.Verdict, r.Reason = Unknown, "linsearch: "+context.Cause(ctx).Error()
			r.Stuck, r.Linearized = -1, 0
			r.MemoEntries, r.MemoClears = s.memo.count, s.memo.clears
			return r
		}
		if e&1 == 1 { // a call
			i := (e - 1) / 2
			if ok, ns := s.step(state, &s.ops[i]); ok {
				nh := [2]uint64{h[0] ^ s.zob[i][0], h[1] ^ s.zob[i][1]}
				m := stateMix(ns)
				if s.memo.add(nh[0]^m[0], nh[1]^m[1]) {
					stack = append(stack, frame{call: e, state: state})
					state, h = ns, nh
					s.unlink(e)
					s.unlink(e + 1)
					e = s.next[0]
					continue
				}
			}
			e = s.next[e]
			continue
		}
		// A return whose op is not linearized: every order tried from
		// here on is too late for it. Undo the last choice and try the
		// next candidate after it.
		if len(stack) > r.Linearized || r.Stuck < 0 {
			r.Linearized, r.Stuck, r.State = len(stack), int(e-2)/2, state
		}
		if len(stack) == 0 {
			r.Verdict = Illegal
			r.MemoEntries, r.MemoClears = s.memo.count, s.memo.clears
			return r
		}
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i := (f.call - 1) / 2
		s.relink(f.call + 1)
		s.relink(f.call)
		state = f.state
		h = [2]uint64{h[0] ^ s.zob[i][0], h[1] ^ s.zob[i][1]}
		e = s.next[f.call]
	}
	r.Verdict, r.Stuck, r.Linearized = Ok, -1, 0
	r.MemoEntries, r.MemoClears = s.memo.count, s.memo.clears
	return r
}

// memo is an open-addressing set of 128-bit keys; (0,0) marks an empty
// slot (a key that hashes to it is nudged to (0,1)).
type memo struct {
	slots  [][2]uint64
	count  int
	budget int64 // bytes the table may occupy
	peak   int64
	clears int
}

// add inserts k and reports whether it was new.
func (m *memo) add(a, b uint64) bool {
	if a == 0 && b == 0 {
		b = 1
	}
	if m.count*2 >= len(m.slots) {
		m.grow()
	}
	mask := uint64(len(m.slots) - 1)
	for i := a & mask; ; i = (i + 1) & mask {
		sl := &m.slots[i]
		if sl[0] == 0 && sl[1] == 0 {
			sl[0], sl[1] = a, b
			m.count++
			return true
		}
		if sl[0] == a && sl[1] == b {
			return false
		}
	}
}

// grow doubles the table, or, when doubling would pass the budget, clears
// it: forgetting visited configurations is always sound.
func (m *memo) grow() {
	size := max(2*len(m.slots), 1<<10)
	if len(m.slots) == 0 {
		for size > 16 && int64(size)*16 > m.budget {
			size /= 2
		}
	} else if int64(size+len(m.slots))*16 > m.budget {
		// Both tables would be live while rehashing.
		clear(m.slots)
		m.count = 0
		m.clears++
		return
	}
	old := m.slots
	m.slots = make([][2]uint64, size)
	m.count = 0
	if b := int64(size+len(old)) * 16; b > m.peak {
		m.peak = b // both tables live while rehashing
	}
	mask := uint64(size - 1)
	for _, k := range old {
		if k[0] == 0 && k[1] == 0 {
			continue
		}
		i := k[0] & mask
		for m.slots[i][0] != 0 || m.slots[i][1] != 0 {
			i = (i + 1) & mask
		}
		m.slots[i] = k
		m.count++
	}
}

package txn

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// Jepsen's long-fork workload: every key is written once, by a
// transaction of one write [w k 1], keys in order; keys fall in groups of
// GroupSize consecutive keys, and a read transaction reads every key of
// one group, in random order, [[r k1 nil] [r k2 nil] ...]. Reads pick one
// of the few most recently started groups, where writes are still landing,
// so that two reads can disagree about the order of two writes (a long
// fork; see checker/longfork).
//
// As with Pool, the op's seeded source draws the shape (read or write,
// which recent group) and LongFork.Fill fixes keys at invocation, in
// invocation order.

// LongForkRecent is how many of the latest groups a read picks among.
const LongForkRecent = 3

// LongFork is the long-fork generator's state: the next key to write. It
// is safe for concurrent use.
type LongFork struct {
	GroupSize int

	mu     sync.Mutex
	next   int64
	rng    *rand.Rand
	seeded bool
}

// NewLongFork returns a long-fork generator over groups of n keys.
func NewLongFork(n int) (*LongFork, error) {
	if n < 1 || n > 1024 {
		return nil, fmt.Errorf("group_size must be between 1 and 1024, not %d", n)
	}
	return &LongFork{GroupSize: n}, nil
}

// LongForkShape draws one op's shape: a write, or a read of the
// slot-th most recent group.
func LongForkShape(r *rand.Rand) []SlotMop {
	if r.IntN(2) == 0 {
		return []SlotMop{{Write: true}}
	}
	return []SlotMop{{Slot: r.IntN(LongForkRecent)}}
}

// Shape draws a long-fork op's shape (LongForkShape).
func (g *LongFork) Shape(r *rand.Rand) []SlotMop { return LongForkShape(r) }

// Fill turns a shape into the op's micro-ops.
func (g *LongFork) Fill(shape []SlotMop, seed uint64) []Mop {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.seeded {
		g.seeded = true
		g.rng = rand.New(rand.NewPCG(seed, 0x6c6f6e67666f726b))
	}
	if len(shape) == 1 && shape[0].Write {
		k := g.next
		g.next++
		return []Mop{{Kind: Write, Key: k, Value: int64(1)}}
	}
	slot := 0
	if len(shape) == 1 {
		slot = shape[0].Slot
	}
	n := int64(g.GroupSize)
	latest := g.next / n // the group the next write lands in
	group := max(latest-int64(slot), 0)
	out := make([]Mop, n)
	for i, j := range g.rng.Perm(int(n)) {
		out[i] = Mop{Kind: Read, Key: group*n + int64(j)}
	}
	return out
}

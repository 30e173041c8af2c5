// Package memory is an in-memory system under test, for testing jplan
// itself: a single register supporting read, write and compare-and-set,
// which is linearizable unless told to serve stale reads; and a key-value
// store for transactions (txn.go) at a chosen isolation level.
//
// Operations (history values are int64, as the checkers expect):
//
//	read   value nil           -> ok, value = current value (nil if unset)
//	write  value v             -> ok
//	cas    value [old, new]    -> ok if the register held old (now new),
//	                              fail otherwise
package memory

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/runner"
	"github.com/jplan/jplan/txn"
)

// Workload is the classic register workload over values 0..4: an equal mix
// of reads, writes and compare-and-sets, forever (wrap it in Limit or
// TimeLimit).
func Workload() generator.Generator {
	return generator.Mix(
		generator.Repeat(generator.Invocation("read", nil)),
		generator.Repeat(generator.Invocation("write", func(r *rand.Rand) (any, error) { return int64(r.IntN(5)), nil })),
		generator.Repeat(generator.Invocation("cas", func(r *rand.Rand) (any, error) {
			return []any{int64(r.IntN(5)), int64(r.IntN(5))}, nil
		})),
	)
}

// Options configure a Register.
type Options struct {
	// Jitter: each invoke waits a uniformly random time in [0, Jitter)
	// before and again after the operation takes effect, so ops overlap
	// like real network calls. Zero: no waiting (but a yield, so
	// goroutines still interleave).
	Jitter time.Duration
	// Stale makes the register non-linearizable: every node serves reads
	// from its own replica, which catches up with the primary only now and
	// then (with probability CatchUp on each read; default 0.3). Writes and
	// cas go to the primary.
	Stale   bool
	CatchUp float64
	// ErrorRate is the probability that an invoke returns an error. Half of
	// those ops still take effect: an error means the outcome is unknown,
	// which the runner records as info.
	ErrorRate float64
	// Seed for jitter, catch-up and errors.
	Seed uint64
	// Isolation is the key-value store's isolation level for txn ops
	// (see txn.go): Serializable (the default), ReadCommitted or
	// ReadUncommitted.
	Isolation string
}

// Register is the shared state: one primary value and a replica per node.
type Register struct {
	opts Options

	mu       sync.Mutex
	versions []any          // every value the primary has held, in order; [0] is nil (unset)
	replica  map[string]int // node -> index into versions it serves reads from
	kv       txnState       // the key-value store of txn ops
	rng      *rand.Rand

	opened, closed, setups, teardowns int
}

// New returns an unset register.
func New(opts Options) *Register {
	if opts.CatchUp <= 0 {
		opts.CatchUp = 0.3
	}
	return &Register{
		opts:     opts,
		versions: []any{nil},
		replica:  map[string]int{},
		rng:      rand.New(rand.NewPCG(opts.Seed, 0x6d656d)),
	}
}

// Factory makes clients of this register, for runner.Config.Client.
func (r *Register) Factory() runner.ClientFactory {
	return func() runner.Client { return &client{reg: r} }
}

// Value is the primary's current value.
func (r *Register) Value() any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.versions[len(r.versions)-1]
}

// Counts reports how many clients were opened and closed, and how many
// setups and teardowns ran, so tests can check the client lifecycle.
func (r *Register) Counts() (opened, closed, setups, teardowns int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opened, r.closed, r.setups, r.teardowns
}

func (r *Register) float() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.Float64()
}

func (r *Register) pause(ctx context.Context) error {
	if r.opts.Jitter <= 0 {
		// Yield anyway: without it a fast client never interleaves with
		// its peers on a small machine, and tests would see no overlap.
		runtime.Gosched()
		return ctx.Err()
	}
	return r.sleep(ctx)
}

// settle is the pause after an op takes effect. Without jitter it does not
// yield: the yield before the op already lets peers interleave, and the
// worker's send of its completion is a scheduling point of its own.
func (r *Register) settle(ctx context.Context) error {
	if r.opts.Jitter <= 0 {
		return ctx.Err()
	}
	return r.sleep(ctx)
}

// sleep waits a random time below Jitter.
func (r *Register) sleep(ctx context.Context) error {
	r.mu.Lock()
	d := time.Duration(r.rng.Int64N(int64(r.opts.Jitter)))
	r.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type client struct {
	reg  *Register
	node string
}

func (c *client) Open(ctx context.Context, node string) error {
	c.node = node
	c.reg.mu.Lock()
	c.reg.opened++
	c.reg.mu.Unlock()
	return nil
}

func (c *client) Setup(ctx context.Context) error {
	c.reg.mu.Lock()
	c.reg.setups++
	c.reg.mu.Unlock()
	return nil
}

func (c *client) Teardown(ctx context.Context) error {
	c.reg.mu.Lock()
	c.reg.teardowns++
	c.reg.mu.Unlock()
	return nil
}

func (c *client) Close(ctx context.Context) error {
	c.reg.mu.Lock()
	c.reg.closed++
	c.reg.mu.Unlock()
	return nil
}

// errIndeterminate is what a client returns for a simulated network error.
var errIndeterminate = errors.New("connection reset (simulated)")

func (c *client) Invoke(ctx context.Context, op history.Op) (history.Op, error) {
	r := c.reg
	if err := r.pause(ctx); err != nil {
		return op, err
	}
	failing := r.opts.ErrorRate > 0 && r.float() < r.opts.ErrorRate
	if failing && r.float() < 0.5 {
		// Lost before reaching the register.
		return op, errIndeterminate
	}
	var out history.Op
	var err error
	if op.F == txn.F {
		out, err = c.txn(ctx, op)
	} else {
		out, err = c.apply(op)
	}
	if err != nil {
		return op, err
	}
	if failing {
		// Applied, but the reply was lost.
		return op, errIndeterminate
	}
	if err := r.settle(ctx); err != nil {
		return op, err
	}
	return out, nil
}

// apply performs op atomically: the linearization point.
func (c *client) apply(op history.Op) (history.Op, error) {
	r := c.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.versions[len(r.versions)-1]
	switch op.F {
	case "read":
		v := cur
		if r.opts.Stale {
			i, seen := r.replica[c.node]
			if !seen || r.rng.Float64() < r.opts.CatchUp {
				i = len(r.versions) - 1
				r.replica[c.node] = i
			}
			v = r.versions[i]
		}
		op.Type, op.Value = history.OK, v
	case "write":
		v, ok := op.Value.(int64)
		if !ok {
			return op, fmt.Errorf("write value %v (%T) is not an int64", op.Value, op.Value)
		}
		r.versions = append(r.versions, v)
		op.Type = history.OK
	case "cas":
		pair, ok := op.Value.([]any)
		if !ok || len(pair) != 2 {
			return op, fmt.Errorf("cas value %v is not [old, new]", op.Value)
		}
		old, ok1 := pair[0].(int64)
		nv, ok2 := pair[1].(int64)
		if !ok1 || !ok2 {
			return op, fmt.Errorf("cas value %v is not two int64s", op.Value)
		}
		if cv, set := cur.(int64); set && cv == old {
			r.versions = append(r.versions, nv)
			op.Type = history.OK
		} else {
			op.Type = history.Fail
		}
	default:
		op.Type = history.Fail
		op.Error = "unknown f " + op.F
	}
	return op, nil
}

package generator

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// Context is what a generator may know about the world when it is asked for
// an operation or told about an event: the current time, which threads exist
// and which are free, which process each thread is running, and a
// deterministic source of randomness.
//
// Threads are numbered 0..Concurrency()-1 for clients; the nemesis is thread
// Concurrency(). A context may be a restricted *view* (see Clients, Nemesis,
// Reserve, EachThread): a contiguous range of threads. Every restriction we
// offer is a contiguous range, which is why a view is two integers rather
// than a set: restricting costs nothing and allocates nothing on the hot path.
//
// One Context is owned by one Driver and passed by pointer. Combinators that
// narrow the view or descend into a child save and restore the fields they
// change, so a generator must not keep the pointer beyond the call.
type Context struct {
	// Time is the current time in nanoseconds since the test started. In
	// Update it is the time of the event.
	Time int64

	nClients int
	lo, hi   int      // the view: threads in [lo, hi)
	free     []uint64 // bitset over all threads; set = free
	procs    []int    // thread -> current process
	cursor   int      // where the fair free-thread search starts

	seed uint64
	path uint64 // identity of the generator node being asked; see Rand
	pcg  rand.PCG
	rng  *rand.Rand

	err error
}

// newContext returns a context with every thread free, client thread i
// running process i and the nemesis running NemesisProcess.
func newContext(concurrency int, seed uint64) *Context {
	n := concurrency + 1
	c := &Context{
		nClients: concurrency,
		lo:       0,
		hi:       n,
		free:     make([]uint64, (n+63)/64),
		procs:    make([]int, n),
		seed:     seed,
	}
	for t := 0; t < n; t++ {
		c.free[t>>6] |= 1 << (t & 63)
		c.procs[t] = t
	}
	c.procs[concurrency] = nemesisProcess
	c.rng = rand.New(&c.pcg)
	return c
}

// nemesisProcess mirrors history.NemesisProcess; kept local so this file
// reads on its own.
const nemesisProcess = -1

// Concurrency is the number of client threads (the nemesis excluded).
func (c *Context) Concurrency() int { return c.nClients }

// NemesisThread is the thread number of the nemesis.
func (c *Context) NemesisThread() int { return c.nClients }

// ThreadOf maps a process to the thread running it. Jepsen's rule: client
// process p runs on thread p mod concurrency; the nemesis process on the
// nemesis thread.
func (c *Context) ThreadOf(process int) int {
	if process == nemesisProcess {
		return c.nClients
	}
	if c.nClients == 0 {
		return -1
	}
	return process % c.nClients
}

// ProcessOf is the process thread t is currently running.
func (c *Context) ProcessOf(thread int) int { return c.procs[thread] }

// InView reports whether thread t belongs to this (possibly restricted)
// context.
func (c *Context) InView(t int) bool { return t >= c.lo && t < c.hi }

// ThreadCount is the number of threads in the view.
func (c *Context) ThreadCount() int { return c.hi - c.lo }

// ThreadFree reports whether thread t is free (not running an operation).
func (c *Context) ThreadFree(t int) bool { return c.free[t>>6]&(1<<(t&63)) != 0 }

// FreeThreadCount is the number of free threads in the view.
func (c *Context) FreeThreadCount() int {
	n := 0
	for t := c.lo; t < c.hi; {
		w := c.free[t>>6] >> (t & 63)
		span := 64 - t&63
		if rem := c.hi - t; rem < span {
			w &= (1 << rem) - 1
			span = rem
		}
		n += bits.OnesCount64(w)
		t += span
	}
	return n
}

// AllFree reports whether every thread in the view is free.
func (c *Context) AllFree() bool { return c.FreeThreadCount() == c.hi-c.lo }

// nextFree returns the first free thread in [from, c.hi), or -1.
func (c *Context) nextFree(from int) int {
	for t := from; t < c.hi; {
		w := c.free[t>>6] >> (t & 63)
		if w != 0 {
			f := t + bits.TrailingZeros64(w)
			if f < c.hi {
				return f
			}
			return -1
		}
		t += 64 - t&63
	}
	return -1
}

// SomeFreeProcess picks a free process in the view. The search starts just
// after the thread that was last given an operation and wraps around, so
// that quick operations don't let one low-numbered thread take every op
// (Jepsen picks at random for the same reason; round-robin is as fair and
// keeps the choice a pure function of the context).
func (c *Context) SomeFreeProcess() (int, bool) {
	start := c.cursor
	if start < c.lo || start >= c.hi {
		start = c.lo
	}
	t := c.nextFree(start)
	if t < 0 && start > c.lo {
		t = c.nextFree(c.lo)
	}
	if t < 0 {
		return 0, false
	}
	return c.procs[t], true
}

// FreeThreads appends the free threads of the view to dst, in order.
func (c *Context) FreeThreads(dst []int) []int {
	for t := c.nextFree(c.lo); t >= 0; t = c.nextFree(t + 1) {
		dst = append(dst, t)
	}
	return dst
}

// restrict narrows the view to [lo, hi) intersected with the current view
// and returns the previous bounds for restore.
func (c *Context) restrict(lo, hi int) (int, int) {
	olo, ohi := c.lo, c.hi
	if lo < c.lo {
		lo = c.lo
	}
	if hi > c.hi {
		hi = c.hi
	}
	if hi < lo {
		hi = lo
	}
	c.lo, c.hi = lo, hi
	return olo, ohi
}

func (c *Context) restore(lo, hi int) { c.lo, c.hi = lo, hi }

// descend moves the randomness identity one level down the generator tree,
// to child k, and returns the previous identity for ascend.
func (c *Context) descend(k uint64) uint64 {
	old := c.path
	c.path = mix64(old ^ (k+1)*0x9e3779b97f4a7c15)
	return old
}

func (c *Context) ascend(old uint64) { c.path = old }

// Rand returns a random source for one decision of the generator currently
// being asked. The stream is a pure function of the run's seed, the
// generator's position in the tree, and key (which the generator derives
// from its own state, e.g. how many ops it has emitted). Asking twice with
// the same state therefore yields the same numbers: that is what makes a
// seed reproduce op values and fault schedules, even though the interpreter
// may ask a generator several times before it commits to an op, and even
// though client threads interleave differently from run to run.
//
// The returned *rand.Rand is shared scratch, reseeded on every call; use it
// before calling Rand again or descending into a child generator.
func (c *Context) Rand(key uint64) *rand.Rand {
	c.pcg.Seed(c.seed, mix64(c.path^mix64(key+0x632be59bd9b4e019)))
	return c.rng
}

// Fail records that a generator could not produce an op (for example a value
// function returned an error). The driver stops the run with this error; a
// generator calling Fail should return Exhausted.
func (c *Context) Fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// Failf is Fail with formatting.
func (c *Context) Failf(format string, args ...any) { c.Fail(fmt.Errorf(format, args...)) }

// setBusy and setFree flip a thread's bit.
func (c *Context) setBusy(t int) { c.free[t>>6] &^= 1 << (t & 63) }
func (c *Context) setFree(t int) { c.free[t>>6] |= 1 << (t & 63) }

// mix64 is the splitmix64 finalizer: a cheap bijective scramble, so nearby
// paths and keys give unrelated PCG seeds.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Package runner performs a test: it drives client workers and a nemesis
// worker with a generator, records every invocation and completion, and
// makes sure faults are healed on every way out.
//
// One goroutine, the interpreter, owns the generator (through a
// generator.Driver), the history index and the clock; each worker goroutine
// owns one thread's client. They talk over channels: one dispatch channel
// per worker, one shared completion channel. Nothing else is shared, so the
// per-op cost is two channel hand-offs and no locks.
package runner

import (
	"context"
	"time"

	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
)

// Client performs client operations against one node. Its lifecycle is
// Jepsen's: a client is opened (bound to a node), invoked any number of
// times by a single worker, and closed. Setup and Teardown run once per node
// before and after the test, on clients opened for that purpose.
type Client interface {
	// Open connects to node.
	Open(ctx context.Context, node string) error
	// Setup prepares the system for the test (create tables...). Called on
	// one client per node.
	Setup(ctx context.Context) error
	// Invoke performs op (Type Invoke) and returns its completion: op with
	// Type OK, Fail or Info and Value/Error filled in. An error, a panic or
	// exceeding the op timeout all make the completion Info. ctx is
	// canceled when the op times out or the run is abandoned.
	Invoke(ctx context.Context, op history.Op) (history.Op, error)
	// Teardown undoes Setup. Called on one client per node.
	Teardown(ctx context.Context) error
	// Close releases the connection.
	Close(ctx context.Context) error
}

// ClientFactory makes an unopened client. It is called once per process
// (a worker whose op crashed continues as a new process with a new client)
// and once per node for setup and teardown.
type ClientFactory func() Client

// Nemesis injects faults. A single nemesis worker invokes it, so Invoke
// calls do not overlap (except after a nemesis op timed out: the stuck call
// is abandoned, not waited for).
type Nemesis interface {
	Setup(ctx context.Context) error
	Invoke(ctx context.Context, op history.Op) (history.Op, error)
	// Teardown must heal every fault. It runs on every exit path, with a
	// context that is not canceled by Ctrl-C.
	Teardown(ctx context.Context) error
}

// Recorder receives the history, in order: Index is dense from 0, Time
// non-decreasing. Only the interpreter goroutine calls it. history.Writer
// (JSONL streaming) satisfies it; so does MemRecorder.
type Recorder interface {
	Append(op history.Op) error
}

// Config is everything Run needs.
type Config struct {
	// Nodes the clients are bound to: client thread i uses
	// Nodes[i % len(Nodes)]. At least one.
	Nodes []string
	// Concurrency is the number of client threads. Default len(Nodes).
	Concurrency int
	Generator   generator.Generator
	Client      ClientFactory
	// Nemesis may be nil when the generator emits no nemesis ops; a nemesis
	// op without one completes as info.
	Nemesis  Nemesis
	Recorder Recorder
	// Seed seeds every random choice of the generator.
	Seed uint64

	// OpTimeout bounds each client invoke (default 60s); NemesisTimeout
	// each nemesis invoke (default 10m). A negative value disables it.
	OpTimeout      time.Duration
	NemesisTimeout time.Duration
	// DrainTimeout is how long a canceled run waits for ops in flight
	// before recording them as info (default 10s).
	DrainTimeout time.Duration
	// TeardownTimeout bounds client teardown, and separately nemesis
	// teardown (default 2m).
	TeardownTimeout time.Duration

	// Virtual runs on simulated time: the clock starts at 0 and jumps
	// ahead whenever every thread is idle and the generator waits for a
	// time, so Stagger/Delay/Sleep/TimeLimit cost no wall-clock time.
	// Invocations take no simulated time. For tests.
	Virtual bool

	// Progress, if set, is called from the interpreter goroutine about every
	// ProgressInterval (default 1s) and once at the end. It must be quick.
	Progress         func(Progress)
	ProgressInterval time.Duration

	// Logf receives log lines (Log generators, crashed ops, teardown
	// problems). Nil discards them.
	Logf func(format string, args ...any)

	// Started, if set, is called once with the instant history time 0
	// stands for (an op's Time is nanoseconds since then), before the
	// first op, so that a caller's log can use the history's clock.
	Started func(origin time.Time)

	// FaultOf classifies nemesis completions for the progress line's active
	// faults. Default: DefaultFaultOf.
	FaultOf func(op history.Op) (fault string, active, ok bool)
}

// Progress is a snapshot for a live status line.
type Progress struct {
	Elapsed time.Duration
	// OpsPerSec is the completion rate since the previous Progress.
	OpsPerSec    float64
	Invocations  int64
	OK           int64
	Fail         int64
	Info         int64
	InFlight     int
	ActiveFaults []string
	Final        bool
}

// Summary describes a finished run.
type Summary struct {
	Elapsed     time.Duration
	Entries     int64 // history entries recorded
	Invocations int64
	OK          int64
	Fail        int64
	Info        int64
	// Timeouts counts ops recorded as info because they exceeded their
	// timeout; Interrupted says the run was canceled (those still in flight
	// after DrainTimeout were recorded as info).
	Timeouts    int64
	Interrupted bool
}

// Defaults.
const (
	DefaultOpTimeout        = 60 * time.Second
	DefaultNemesisTimeout   = 10 * time.Minute
	DefaultDrainTimeout     = 10 * time.Second
	DefaultTeardownTimeout  = 2 * time.Minute
	DefaultProgressInterval = time.Second
)

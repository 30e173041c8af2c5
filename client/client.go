// Package client implements the plan's client kinds — http, exec,
// process and sql — as runner.Clients. The operations they perform are the plan's
// own: each op is looked up by its f among the plan's operations, and the
// operation's request, command and result expressions (evaluated by package
// eval) say what to send and how the answer completes the op.
//
// Every client follows Jepsen's outcome discipline: an op is ok or fail only
// when the client knows it took effect or certainly did not; everything
// else (a timeout, a connection lost after the request left, a crashed
// program) is info. The precise rules per kind are in docs/clients.md and on
// each client type.
package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/runner"
)

// Client kinds.
const (
	KindHTTP    = "http"
	KindExec    = "exec"
	KindProcess = "process"
)

// MaxOutput caps what a client reads of one answer: an HTTP response body,
// a command's stdout or stderr, a process client's reply line. A test's
// answers are small; a runaway one would otherwise exhaust memory with one
// copy per worker.
const MaxOutput = 16 << 20

// DefaultTimeout bounds an operation when neither the operation nor the
// client config gives a timeout (eval.Client defaults it to 5s already).
const DefaultTimeout = 5 * time.Second

// Config is what NewFactory needs to build clients for a run.
type Config struct {
	// Kind is the client kind: "http", "exec", "process" or "sql". Empty
	// means the Kind of the node configs.
	Kind string
	// PerNode is the client block evaluated for each node, keyed by node
	// name (eval.Evaluator.Client).
	PerNode map[string]eval.ClientConfig
	// Nodes are the test's nodes by name; the op's request, command and
	// result expressions see the node a client is bound to.
	Nodes map[string]eval.Node
	// Ops are the plan's operations keyed by the f they record. An op whose
	// f has no entry completes as info with an error.
	Ops map[string]*eval.OpSpec
	// Remotes reach the nodes, by name; the exec client with on = "node"
	// runs commands through them. Not used by the other kinds.
	Remotes map[string]control.Remote
	// Logf receives log lines: a process client's stderr, kill failures.
	// Nil discards them.
	Logf func(format string, args ...any)
}

// NewFactory returns a runner.ClientFactory making clients of cfg.Kind.
// Configuration problems (an unknown kind, a node without a config or a
// remote) surface when a client is opened, naming the node; Check reports
// them up front.
func NewFactory(cfg Config) runner.ClientFactory {
	c := &cfg
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	local := control.NewLocal("control")
	return func() runner.Client {
		switch c.kind() {
		case KindHTTP:
			return &HTTP{cfg: c}
		case KindExec:
			return &Exec{cfg: c, local: local}
		case KindProcess:
			return &Process{cfg: c}
		case KindSQL:
			return &SQL{cfg: c}
		}
		return &badKind{kind: c.kind()}
	}
}

// Check reports configuration problems NewFactory's clients would only hit
// when opened: an unknown kind, a missing node config, an exec client on
// nodes without remotes, a process client without a command.
func (c Config) Check() error {
	var errs []error
	kind := c.kind()
	switch kind {
	case KindHTTP, KindExec, KindProcess, KindSQL:
	default:
		return fmt.Errorf("client: unknown client kind %q", kind)
	}
	if len(c.Nodes) == 0 {
		errs = append(errs, errors.New("client: no nodes"))
	}
	for _, name := range sortedKeys(c.Nodes) {
		nc, ok := c.PerNode[name]
		if !ok {
			errs = append(errs, fmt.Errorf("client: node %s has no client config", name))
			continue
		}
		switch kind {
		case KindHTTP:
			if nc.BaseURL == "" {
				errs = append(errs, fmt.Errorf("client: node %s: base_url is empty", name))
			}
		case KindExec:
			if nc.On == "node" && c.Remotes[name] == nil {
				errs = append(errs, fmt.Errorf("client: node %s: exec on = \"node\" but the node has no remote", name))
			}
		case KindProcess:
			if len(nc.Command) == 0 {
				errs = append(errs, fmt.Errorf("client: node %s: the process client's command is empty", name))
			}
		case KindSQL:
			if _, err := isolation(nc); err != nil {
				errs = append(errs, fmt.Errorf("client: node %s: %w", name, err))
			}
			if _, err := sqlConnConfig(c.Nodes[name], nc); err != nil {
				errs = append(errs, fmt.Errorf("client: node %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (c *Config) kind() string {
	if c.Kind != "" {
		return c.Kind
	}
	for _, nc := range c.PerNode {
		return nc.Kind
	}
	return ""
}

// node returns the node and its client config, for Open.
func (c *Config) node(name string) (eval.Node, eval.ClientConfig, error) {
	nc, ok := c.PerNode[name]
	if !ok {
		return eval.Node{}, eval.ClientConfig{}, fmt.Errorf("node %s has no client config", name)
	}
	n, ok := c.Nodes[name]
	if !ok {
		// A node known only by name still lets expressions see node.name.
		n = eval.Node{Name: name, Host: name}
	}
	return n, nc, nil
}

// spec returns the operation performing op.
func (c *Config) spec(op history.Op) (*eval.OpSpec, error) {
	s := c.Ops[op.F]
	if s == nil {
		return nil, fmt.Errorf("no operation records f %q", op.F)
	}
	return s, nil
}

// timeout is the op's own timeout, else the client's.
func timeout(s *eval.OpSpec, nc eval.ClientConfig) time.Duration {
	switch {
	case s != nil && s.Timeout > 0:
		return s.Timeout
	case nc.Timeout > 0:
		return nc.Timeout
	}
	return DefaultTimeout
}

// fail completes op as fail: it certainly did not take effect.
func fail(op history.Op, format string, args ...any) history.Op {
	op.Type = history.Fail
	op.Error = fmt.Sprintf(format, args...)
	return op
}

// info completes op as info: it may or may not have taken effect.
func info(op history.Op, format string, args ...any) history.Op {
	op.Type = history.Info
	op.Error = fmt.Sprintf(format, args...)
	return op
}

// opError wraps err with the node and op, for errors Invoke returns.
func opError(node string, op history.Op, err error) error {
	return fmt.Errorf("client on %s: %s (process %d): %w", node, op.F, op.Process, err)
}

// errNotOpen is returned by a client used before Open or after Close.
var errNotOpen = errors.New("client is not open")

// badKind is the client for an unknown kind, so the error names the node
// it was opened on instead of panicking in the factory.
type badKind struct{ kind string }

func (b *badKind) Open(_ context.Context, node string) error {
	return fmt.Errorf("client on %s: unknown client kind %q (want http, exec, process or sql)", node, b.kind)
}
func (b *badKind) Setup(context.Context) error    { return errNotOpen }
func (b *badKind) Teardown(context.Context) error { return errNotOpen }
func (b *badKind) Close(context.Context) error    { return nil }
func (b *badKind) Invoke(_ context.Context, op history.Op) (history.Op, error) {
	return op, errNotOpen
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Package nemesis injects the faults a plan declares — network partitions,
// process kills and pauses, custom commands — and heals them. It decides
// nothing about when faults happen: the generator sends it "start-<fault>"
// and "stop-<fault>" operations, and Teardown heals whatever is left.
//
// Every random choice (which nodes, which halves) comes from one generator
// seeded with the test's seed, so a seed replays the same schedule.
package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lifecycle"
)

// DaemonLookup finds the daemon a kill or pause fault acts on, as
// configured for one node (db blocks are evaluated per node). ok is false
// when that node has no such daemon.
type DaemonLookup func(node, db, daemon string) (d eval.DaemonConfig, ok bool)

// DaemonsOf looks daemons up in the per-node db configs lifecycle uses.
func DaemonsOf(dbs lifecycle.DBs) DaemonLookup {
	return func(node, db, daemon string) (eval.DaemonConfig, bool) {
		for _, c := range dbs[node] {
			if c.Name != db {
				continue
			}
			for _, d := range c.Daemons {
				if d.Name == daemon {
					return d, true
				}
			}
		}
		return eval.DaemonConfig{}, false
	}
}

// Options tune a Nemesis.
type Options struct {
	// Seed seeds every random choice.
	Seed uint64
	// Logf receives a line per fault action; nil discards them.
	Logf func(format string, args ...any)
}

// Nemesis carries out a plan's faults on its nodes. It implements
// runner.Nemesis.
type Nemesis struct {
	remotes map[string]control.Remote
	nodes   []string // in node order; nodes[0] is the primary
	hosts   map[string]string
	faults  map[string]fault
	order   []string // fault names in plan order
	logf    func(format string, args ...any)

	rngMu sync.Mutex
	rng   *rand.Rand
}

// fault is one configured fault. start and stop return the completion's
// value; an error alongside a value means the fault was partly applied.
type fault interface {
	start(ctx context.Context) (any, error)
	stop(ctx context.Context) (any, error)
	// heal undoes whatever this fault left in place; Teardown calls it.
	heal(ctx context.Context) error
}

// New builds a nemesis for faults over nodes, reached through remotes (one
// per node, matched by name). It checks every fault now, so a plan whose
// fault cannot work fails before any node is touched.
func New(remotes []control.Remote, nodes []eval.Node, faults []eval.FaultConfig, daemons DaemonLookup, opts Options) (*Nemesis, error) {
	n := &Nemesis{
		remotes: map[string]control.Remote{},
		hosts:   map[string]string{},
		faults:  map[string]fault{},
		logf:    opts.Logf,
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x6a706c616e6e656d)),
	}
	if n.logf == nil {
		n.logf = func(string, ...any) {}
	}
	for _, r := range remotes {
		n.remotes[r.Node()] = r
	}
	sorted := append([]eval.Node(nil), nodes...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Index < sorted[j].Index })
	for _, node := range sorted {
		if _, ok := n.remotes[node.Name]; !ok {
			return nil, fmt.Errorf("nemesis: no remote for node %s", node.Name)
		}
		n.nodes = append(n.nodes, node.Name)
		h := node.Host
		if h == "" {
			h = node.Name
		}
		n.hosts[node.Name] = h
	}
	partitions := 0
	for _, fc := range faults {
		if _, dup := n.faults[fc.Name]; dup {
			return nil, fmt.Errorf("fault %s: defined twice", fc.Name)
		}
		f, err := n.build(fc, partitions, daemons)
		if err != nil {
			return nil, fmt.Errorf("fault %s: %w", fc.Name, err)
		}
		if fc.Type == "partition" {
			partitions++
		}
		n.faults[fc.Name] = f
		n.order = append(n.order, fc.Name)
	}
	return n, nil
}

func (n *Nemesis) build(fc eval.FaultConfig, partitionIndex int, daemons DaemonLookup) (fault, error) {
	if err := n.checkTargets(fc.Targets); err != nil {
		return nil, err
	}
	switch fc.Type {
	case "partition":
		for _, g := range fc.Groups {
			for _, node := range g {
				if _, ok := n.remotes[node]; !ok || n.hosts[node] == "" {
					return nil, fmt.Errorf("topology names %q, which is not one of the test's nodes", node)
				}
			}
		}
		if len(fc.Groups) == 0 && !knownTopology(fc.Topology) {
			return nil, fmt.Errorf("unknown partition topology %q", fc.Topology)
		}
		return &partition{n: n, cfg: fc, chain: chainName(fc.Name, partitionIndex)}, nil
	case "kill", "pause":
		if fc.DB == "" || fc.Daemon == "" {
			return nil, errors.New(`needs daemon = db.<db>.daemon.<daemon>`)
		}
		found := false
		for _, node := range n.nodes {
			if _, ok := daemons(node, fc.DB, fc.Daemon); ok {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("daemon %s of db %s is not defined on any node", fc.Daemon, fc.DB)
		}
		p := &process{n: n, cfg: fc, daemons: daemons, hit: map[string]bool{}}
		if fc.Type == "pause" {
			p.signal = "STOP"
		} else {
			p.signal = fc.Signal
			if p.signal == "" {
				p.signal = "KILL"
			}
		}
		return p, nil
	case "custom":
		if len(fc.Start) == 0 && len(fc.Stop) == 0 {
			return nil, errors.New("a custom fault needs start or stop commands")
		}
		return &custom{n: n, cfg: fc, started: map[string]bool{}}, nil
	}
	if b, ok := builders[fc.Type]; ok {
		return b(n, fc, daemons)
	}
	return nil, fmt.Errorf("fault type %s is not implemented yet", fc.Type)
}

// builder makes a fault of one type. Fault types other than the built-in
// ones register a builder from their own file's init, so each type lives
// in one file.
type builder func(n *Nemesis, fc eval.FaultConfig, daemons DaemonLookup) (fault, error)

var builders = map[string]builder{}

func registerBuilder(typ string, b builder) {
	if _, dup := builders[typ]; dup {
		panic("nemesis: fault type registered twice: " + typ)
	}
	builders[typ] = b
}

func (n *Nemesis) checkTargets(t eval.Targets) error {
	for _, node := range t.Nodes {
		if _, ok := n.remotes[node]; !ok {
			return fmt.Errorf("target %q is not one of the test's nodes", node)
		}
	}
	return nil
}

// targets chooses a fault's nodes with the seeded generator.
func (n *Nemesis) targets(t eval.Targets) ([]string, error) {
	n.rngMu.Lock()
	defer n.rngMu.Unlock()
	return Targets(t, n.nodes, n.rng)
}

func (n *Nemesis) grudge(cfg eval.FaultConfig) (Grudge, error) {
	n.rngMu.Lock()
	defer n.rngMu.Unlock()
	return Topology(cfg.Topology, cfg.Groups, n.nodes, n.rng)
}

// Setup clears partitions a previous, interrupted run may have left, so the
// test starts fully connected (Jepsen's partitioner heals at setup too).
func (n *Nemesis) Setup(ctx context.Context) error {
	if n.hasPartitions() {
		if err := n.healNetwork(ctx); err != nil {
			return err
		}
	}
	// Faults that must be in place before the test starts (a filesystem
	// mounted under the database) prepare now, in plan order.
	for _, name := range n.order {
		if s, ok := n.faults[name].(interface{ setup(context.Context) error }); ok {
			if err := s.setup(ctx); err != nil {
				return fmt.Errorf("fault %s: setup: %w", name, err)
			}
		}
	}
	return nil
}

func (n *Nemesis) hasPartitions() bool {
	for _, f := range n.faults {
		if _, ok := f.(*partition); ok {
			return true
		}
	}
	return false
}

// Invoke performs "start-<fault>" or "stop-<fault>". The completion is
// info, as in Jepsen (a fault is an event, not an operation that can be
// said to have taken effect or not), with the value recording what was
// done on each node; a partial failure keeps that value and sets Error. An
// op naming no known fault completes as fail: nothing was done.
func (n *Nemesis) Invoke(ctx context.Context, op history.Op) (history.Op, error) {
	var name string
	var start bool
	switch {
	case strings.HasPrefix(op.F, "start-"):
		name, start = strings.TrimPrefix(op.F, "start-"), true
	case strings.HasPrefix(op.F, "stop-"):
		name = strings.TrimPrefix(op.F, "stop-")
	}
	f, ok := n.faults[name]
	if !ok {
		op.Type = history.Fail
		op.Error = fmt.Sprintf("nemesis: no fault for %q (expected start-<fault> or stop-<fault> with one of %s)", op.F, strings.Join(n.order, ", "))
		return op, nil
	}
	var v any
	var err error
	if start {
		v, err = f.start(ctx)
	} else {
		v, err = f.stop(ctx)
	}
	if err != nil && v == nil {
		return op, err
	}
	op.Type = history.Info
	op.Value = v
	if err != nil {
		op.Error = err.Error()
	}
	n.logf("nemesis: %s: %v", op.F, v)
	return op, nil
}

// Teardown heals everything: partitions flushed on every node, paused
// daemons continued, killed daemons restarted, custom faults stopped —
// whether or not the matching stop ops ran, and as many times as it is
// called. Each part runs even when another failed.
func (n *Nemesis) Teardown(ctx context.Context) error {
	var errs []error
	if n.hasPartitions() {
		if err := n.healNetwork(ctx); err != nil {
			errs = append(errs, fmt.Errorf("healing partitions: %w", err))
		}
	}
	// Pauses before kills: a daemon must run again before anything else
	// about it can be trusted; restarts after the network is whole, so
	// restarted daemons find their peers. Fault types with a registered
	// builder ("other") heal last, when daemons run again: a membership
	// fault adds nodes back through them.
	for _, kind := range []string{"pause", "kill", "custom", "other"} {
		for _, name := range n.order {
			f := n.faults[name]
			if kindOf(f) != kind {
				continue
			}
			if err := f.heal(ctx); err != nil {
				errs = append(errs, fmt.Errorf("healing fault %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func kindOf(f fault) string {
	switch f := f.(type) {
	case *process:
		return f.cfg.Type
	case *custom:
		return "custom"
	case *partition:
		return "partition"
	}
	return "other"
}

// onNodes runs fn on the named nodes in parallel. It returns each node's
// value (nodes that failed are left out) and the errors.
func (n *Nemesis) onNodes(ctx context.Context, nodes []string, fn func(ctx context.Context, r control.Remote) (string, error)) (map[string]any, error) {
	rs := make([]control.Remote, 0, len(nodes))
	for _, node := range nodes {
		rs = append(rs, n.remotes[node])
	}
	vals, err := control.OnNodesMap(ctx, rs, fn)
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		out[k] = v
	}
	return out, err
}

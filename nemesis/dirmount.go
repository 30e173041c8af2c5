package nemesis

// What the filesystem fault (faultfs) and the flakey fault (dm-flakey)
// have in common: both put a directory on a mount of their own, on the
// nodes that run the faults' daemons, with those daemons stopped while the
// directory moves and started again afterwards. dirMount keeps that part:
// which nodes, which daemons, which of them ran before setup, which nodes
// are set up and which must be healed. How a directory is mounted and put
// back, and what a fault then does to it, stays in each fault's file.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lifecycle"
)

// dirMount is one directory on a fault type's mount, shared by the faults
// of that type naming it. N is the fault type's state of a node, which
// embeds dirNode.
type dirMount[N interface{ base() *dirNode }] struct {
	n       *Nemesis
	dir     string
	id      string   // names the mount's files on the nodes
	newNode func() N // a node's state before setup

	// mu guards the fields below, and whatever the fault type adds to
	// them (the flakey device's faults).
	mu      sync.Mutex
	daemons [][2]string // (db, daemon) of the faults that share the directory
	nodes   map[string]N
}

// dirNode is the directory's state on a node. Its mutex guards the whole
// node state of the fault type embedding it, and is held across setup and
// heal: one node is set up or healed once, however many faults ask.
type dirNode struct {
	mu         sync.Mutex
	touched    bool            // set up (maybe partly) and not yet healed
	mounted    bool            // set up completely
	wasRunning map[string]bool // daemon → running when the directory was set up
}

// base makes every type embedding a dirNode fit dirMount.
func (b *dirNode) base() *dirNode { return b }

func (b *dirNode) isMounted() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mounted
}

func newDirMount[N interface{ base() *dirNode }](n *Nemesis, dir string, newNode func() N) *dirMount[N] {
	sum := sha256.Sum256([]byte(dir))
	return &dirMount[N]{n: n, dir: dir, id: hex.EncodeToString(sum[:6]), newNode: newNode, nodes: map[string]N{}}
}

// sharedDir returns reg's entry for dir in n, made by mk the first time:
// the faults of one type naming one directory share one mount. The caller
// holds reg's lock.
func sharedDir[M any](reg map[*Nemesis]map[string]M, n *Nemesis, dir string, mk func() M) M {
	if reg[n] == nil {
		reg[n] = map[string]M{}
	}
	m, ok := reg[n][dir]
	if !ok {
		m = mk()
		reg[n][dir] = m
	}
	return m
}

// checkFaultDaemon refuses a fault naming a daemon that no node has: its
// directory would be mounted nowhere.
func checkFaultDaemon(n *Nemesis, fc eval.FaultConfig, lookup DaemonLookup) error {
	if fc.Daemon == "" {
		return nil
	}
	for _, node := range n.nodes {
		if _, ok := lookup(node, fc.DB, fc.Daemon); ok {
			return nil
		}
	}
	return fmt.Errorf("daemon %s of db %s is not defined on any node", fc.Daemon, fc.DB)
}

// addDaemon adds the daemon a fault names, if any, to those that stop
// while the directory moves.
func (m *dirMount[N]) addDaemon(fc eval.FaultConfig) {
	if fc.Daemon == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.daemons = append(m.daemons, [2]string{fc.DB, fc.Daemon})
}

// node returns the state of a node of the mount, creating it if asked
// (else nil when there is none).
func (m *dirMount[N]) node(node string, create bool) N {
	m.mu.Lock()
	defer m.mu.Unlock()
	nm, ok := m.nodes[node]
	if !ok && create {
		nm = m.newNode()
		nm.base().wasRunning = map[string]bool{}
		m.nodes[node] = nm
	}
	return nm
}

// mountedNodes are the nodes the directory is set up on, in node order.
func (m *dirMount[N]) mountedNodes() []string {
	var out []string
	for _, node := range m.n.nodes {
		if nm, ok := m.nodeIfAny(node); ok && nm.base().isMounted() {
			out = append(out, node)
		}
	}
	return out
}

func (m *dirMount[N]) nodeIfAny(node string) (N, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	nm, ok := m.nodes[node]
	return nm, ok
}

// daemonsOn are the faults' daemons defined on a node, by "db.daemon".
func (m *dirMount[N]) daemonsOn(node string, lookup DaemonLookup) map[string]eval.DaemonConfig {
	m.mu.Lock()
	refs := append([][2]string(nil), m.daemons...)
	m.mu.Unlock()
	out := map[string]eval.DaemonConfig{}
	for _, ref := range refs {
		if d, ok := lookup(node, ref[0], ref[1]); ok {
			out[ref[0]+"."+ref[1]] = d
		}
	}
	return out
}

// mountNodes are the nodes the directory is mounted on: those with one of
// the faults' daemons, or every node when no fault names a daemon.
func (m *dirMount[N]) mountNodes(lookup DaemonLookup) []string {
	m.mu.Lock()
	none := len(m.daemons) == 0
	m.mu.Unlock()
	if none {
		return m.n.nodes
	}
	var out []string
	for _, node := range m.n.nodes {
		if len(m.daemonsOn(node, lookup)) > 0 {
			out = append(out, node)
		}
	}
	return out
}

// onTargets runs fn on each target of a fault on the directory, with the
// directory's state on that node (nil where there is none). It is a
// fault's start, once the directory is set up.
func (m *dirMount[N]) onTargets(ctx context.Context, targets eval.Targets, fn func(ctx context.Context, r control.Remote, nm N) (string, error)) (any, error) {
	nodes, err := m.n.targets(targets)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return map[string]any{}, nil
	}
	return m.n.onNodes(ctx, nodes, func(ctx context.Context, r control.Remote) (string, error) {
		return fn(ctx, r, m.node(r.Node(), false))
	})
}

// setUp runs setUpOn, with the node's lock held, on every node of the
// mount where the directory is not set up yet, and returns those nodes
// (none when there was nothing to do).
func (m *dirMount[N]) setUp(ctx context.Context, lookup DaemonLookup, setUpOn func(ctx context.Context, r control.Remote, nm N) error) ([]string, error) {
	var todo []string
	for _, node := range m.mountNodes(lookup) {
		if !m.node(node, true).base().isMounted() {
			todo = append(todo, node)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	_, err := m.n.onNodes(ctx, todo, func(ctx context.Context, r control.Remote) (string, error) {
		nm := m.node(r.Node(), true)
		b := nm.base()
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.mounted {
			return "mounted", nil
		}
		return "mounted", setUpOn(ctx, r, nm)
	})
	return todo, err
}

// heal runs healOn, with the node's lock held, on every node the directory
// was (or may have been) set up on and not healed since. The first fault
// of a shared mount to heal does it; the rest find nothing left to do.
func (m *dirMount[N]) heal(ctx context.Context, healOn func(ctx context.Context, r control.Remote, nm N) error) error {
	m.mu.Lock()
	var nodes []string
	for _, node := range m.n.nodes {
		if nm, ok := m.nodes[node]; ok {
			b := nm.base()
			b.mu.Lock()
			if b.touched {
				nodes = append(nodes, node)
			}
			b.mu.Unlock()
		}
	}
	m.mu.Unlock()
	if len(nodes) == 0 {
		return nil
	}
	_, err := m.n.onNodes(ctx, nodes, func(ctx context.Context, r control.Remote) (string, error) {
		nm := m.node(r.Node(), true)
		b := nm.base()
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.touched {
			return "restored", nil
		}
		return "restored", healOn(ctx, r, nm)
	})
	return err
}

// stopForSetup marks the node touched (from now on heal must look at it)
// and stops the daemons (gracefully, so they flush what they want to),
// remembering which ran: those start again after setup, after a power
// failure and after heal. Called with the node's lock held.
func (b *dirNode) stopForSetup(ctx context.Context, r control.Remote, daemons map[string]eval.DaemonConfig) error {
	b.touched = true
	for name, d := range daemons {
		pid, err := lifecycle.StopDaemon(ctx, r, d, 0)
		if err != nil {
			return err
		}
		b.wasRunning[name] = pid > 0
	}
	return nil
}

// stopForHeal stops the daemons before the directory is put back and
// returns which to start again: those running now, and those that ran
// before setup (a setup that failed half way may have left them stopped).
// Called with the node's lock held.
func (b *dirNode) stopForHeal(ctx context.Context, r control.Remote, daemons map[string]eval.DaemonConfig) (map[string]bool, error) {
	running := map[string]bool{}
	for name, d := range daemons {
		pid, err := lifecycle.StopDaemon(ctx, r, d, 0)
		if err != nil {
			return nil, err
		}
		running[name] = pid > 0 || b.wasRunning[name]
	}
	return running, nil
}

// startAgain starts each daemon marked in running, waiting until it is
// ready, and returns what failed: one daemon that does not come back must
// not keep the others down.
func startAgain(ctx context.Context, r control.Remote, daemons map[string]eval.DaemonConfig, running map[string]bool) []error {
	var errs []error
	for name, d := range daemons {
		if running[name] {
			if err := startReady(ctx, r, d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// powerCut is what a power failure (mode "lose-unfsynced") did to the
// fault's daemon on a node.
type powerCut struct {
	d         eval.DaemonConfig
	hasDaemon bool // the fault names a daemon and the node has it
	killed    bool // it was running, and is dead now
}

// cutPower kills the fault's daemon on r's node (SIGKILL, no chance to
// flush) and waits until it is gone: the directory loses its unsynced
// writes only then, as a daemon that could still fsync would be told its
// data is safe and lose it, which no power failure does.
func cutPower(ctx context.Context, r control.Remote, fc eval.FaultConfig, lookup DaemonLookup) (powerCut, error) {
	var p powerCut
	if fc.Daemon != "" {
		p.d, p.hasDaemon = lookup(r.Node(), fc.DB, fc.Daemon)
	}
	if !p.hasDaemon {
		return p, nil
	}
	pid, err := lifecycle.SignalDaemon(ctx, r, p.d, "KILL")
	if err != nil {
		return p, err
	}
	p.killed = pid > 0
	if p.killed {
		if err := waitDead(ctx, r, p.d); err != nil {
			return p, err
		}
	}
	return p, nil
}

// restore ends a power failure whose loss msg describes: the daemon starts
// again (waiting until it is ready) if it was killed or ranBefore (running
// when the directory was set up), as a machine's daemons do after a
// reboot. The value is msg and what became of the daemon.
func (p powerCut) restore(ctx context.Context, r control.Remote, msg string, ranBefore bool) (string, error) {
	if !p.hasDaemon {
		return msg, nil
	}
	if !p.killed && !ranBefore {
		return msg + "; daemon not running", nil
	}
	if err := startReady(ctx, r, p.d); err != nil {
		return "", fmt.Errorf("%s (restarting the daemon: %w)", msg, err)
	}
	return msg + "; daemon restarted", nil
}

// nothingToUndo is the stop of a power failure, on the nodes the
// directory is mounted on: its start did it all (killed the daemon, lost
// the writes, started the daemon again).
func nothingToUndo(nodes []string) map[string]any {
	out := map[string]any{}
	for _, node := range nodes {
		out[node] = "nothing to undo"
	}
	return out
}

// startReady starts a daemon and waits until it is ready.
func startReady(ctx context.Context, r control.Remote, d eval.DaemonConfig) error {
	if _, err := lifecycle.StartDaemon(ctx, r, d); err != nil && !errors.Is(err, lifecycle.ErrAlreadyRunning) {
		return err
	}
	return lifecycle.WaitReady(ctx, r, d)
}

// waitDead waits for a killed daemon's process to be gone, so that nothing
// it had in flight reaches the filesystem after the loss.
func waitDead(ctx context.Context, r control.Remote, d eval.DaemonConfig) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := lifecycle.DaemonStatus(ctx, r, d)
		if err != nil {
			return err
		}
		if !st.Running {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: daemon %s (pid %d) still alive 30s after SIGKILL", r.Node(), d.Name, st.PID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

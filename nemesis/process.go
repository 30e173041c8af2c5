package nemesis

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lifecycle"
)

// process is a kill or pause fault on a daemon.
type process struct {
	n       *Nemesis
	cfg     eval.FaultConfig
	daemons DaemonLookup
	signal  string // KILL (or the configured signal) for kill, STOP for pause

	mu  sync.Mutex
	hit map[string]bool // nodes killed or paused and not yet restored
}

func (p *process) daemon(node string) (eval.DaemonConfig, bool) {
	return p.daemons(node, p.cfg.DB, p.cfg.Daemon)
}

// nodesWithDaemon are the nodes on which the daemon is configured.
func (p *process) nodesWithDaemon() []string {
	var out []string
	for _, node := range p.n.nodes {
		if _, ok := p.daemon(node); ok {
			out = append(out, node)
		}
	}
	return out
}

func (p *process) mark(node string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.hit[node] = true
	} else {
		delete(p.hit, node)
	}
}

func (p *process) isMarked(node string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hit[node]
}

func (p *process) marked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, node := range p.n.nodes {
		if p.hit[node] {
			out = append(out, node)
		}
	}
	return out
}

// start signals the daemon on freshly chosen targets. Value: node →
// "killed" / "paused", "not running", or "no daemon".
func (p *process) start(ctx context.Context) (any, error) {
	targets, err := p.n.targets(p.cfg.Targets)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return map[string]any{}, nil
	}
	done := "killed"
	if p.cfg.Type == "pause" {
		done = "paused"
	}
	return p.n.onNodes(ctx, targets, func(ctx context.Context, r control.Remote) (string, error) {
		d, ok := p.daemon(r.Node())
		if !ok {
			return "no daemon", nil
		}
		// Mark before signalling: if the call is abandoned mid-way,
		// Teardown still restores this node.
		was := p.isMarked(r.Node())
		p.mark(r.Node(), true)
		pid, err := lifecycle.SignalDaemon(ctx, r, d, p.signal)
		if err != nil {
			return "", err
		}
		if pid == 0 {
			// Not ours to restore unless we hit it before.
			p.mark(r.Node(), was)
			return "not running", nil
		}
		return done, nil
	})
}

// stop restores the daemon on every node that has it: kill restarts it
// where it is not running (with the same command, environment and files),
// pause continues it where it is stopped. Value: node → "restarted" /
// "resumed", or "running" where there was nothing to do.
func (p *process) stop(ctx context.Context) (any, error) {
	return p.n.onNodes(ctx, p.nodesWithDaemon(), func(ctx context.Context, r control.Remote) (string, error) {
		s, err := p.restore(ctx, r)
		if err == nil {
			p.mark(r.Node(), false)
		}
		return s, err
	})
}

func (p *process) restore(ctx context.Context, r control.Remote) (string, error) {
	d, _ := p.daemon(r.Node())
	st, err := lifecycle.DaemonStatus(ctx, r, d)
	if err != nil {
		return "", err
	}
	if p.cfg.Type == "pause" {
		if !st.Paused() {
			if !st.Running {
				return "not running", nil
			}
			return "running", nil
		}
		if _, err := lifecycle.SignalDaemon(ctx, r, d, "CONT"); err != nil {
			return "", err
		}
		return "resumed", nil
	}
	if st.Running {
		return "running", nil
	}
	_, err = lifecycle.StartDaemon(ctx, r, d)
	if errors.Is(err, lifecycle.ErrAlreadyRunning) {
		return "running", nil // it came back between our check and the start
	}
	if err != nil {
		return "", err
	}
	return "restarted", nil
}

// heal restores the daemon where this fault hit it. A pause is also undone
// on every other node that has the daemon: SIGCONT is harmless, and a
// stopped daemon left behind would hang the rest of the teardown.
func (p *process) heal(ctx context.Context) error {
	nodes := p.marked()
	if p.cfg.Type == "pause" {
		nodes = p.nodesWithDaemon()
	}
	if len(nodes) == 0 {
		return nil
	}
	_, err := p.n.onNodes(ctx, nodes, func(ctx context.Context, r control.Remote) (string, error) {
		s, err := p.restore(ctx, r)
		if err == nil {
			p.mark(r.Node(), false)
		}
		return s, err
	})
	if err != nil {
		return fmt.Errorf("daemon %s: %w", p.cfg.Daemon, err)
	}
	return nil
}

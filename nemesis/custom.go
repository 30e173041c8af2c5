package nemesis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

const customTimeout = 5 * time.Minute

// custom runs the plan's own start commands on the targets and its stop
// commands on the same nodes.
type custom struct {
	n   *Nemesis
	cfg eval.FaultConfig

	mu      sync.Mutex
	started map[string]bool
}

// start runs the start commands on freshly chosen targets. Value: node →
// the commands' trimmed output ("ok" when silent).
func (c *custom) start(ctx context.Context) (any, error) {
	targets, err := c.n.targets(c.cfg.Targets)
	if err != nil {
		return nil, err
	}
	return c.n.onNodes(ctx, targets, func(ctx context.Context, r control.Remote) (string, error) {
		c.mu.Lock()
		c.started[r.Node()] = true
		c.mu.Unlock()
		return run(ctx, r, "start", c.cfg.Start)
	})
}

// stop runs the stop commands where start ran. Without a start there is
// nothing to stop: the value is "not started" and nothing runs, as with
// Jepsen's start/stop nemeses.
func (c *custom) stop(ctx context.Context) (any, error) {
	nodes := c.startedNodes()
	if len(nodes) == 0 {
		return "not started", nil
	}
	return c.n.onNodes(ctx, nodes, func(ctx context.Context, r control.Remote) (string, error) {
		out, err := run(ctx, r, "stop", c.cfg.Stop)
		if err == nil {
			c.mu.Lock()
			delete(c.started, r.Node())
			c.mu.Unlock()
		}
		return out, err
	})
}

func (c *custom) heal(ctx context.Context) error {
	if len(c.startedNodes()) == 0 {
		return nil
	}
	_, err := c.stop(ctx)
	return err
}

func (c *custom) startedNodes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, node := range c.n.nodes {
		if c.started[node] {
			out = append(out, node)
		}
	}
	return out
}

func run(ctx context.Context, r control.Remote, what string, cmds []string) (string, error) {
	var outs []string
	for i, cmd := range cmds {
		res, err := r.Exec(ctx, control.Command{Script: cmd, Timeout: customTimeout})
		if err != nil {
			return "", fmt.Errorf("%s command %d: %w", what, i+1, err)
		}
		if s := strings.TrimSpace(res.Stdout); s != "" {
			outs = append(outs, s)
		}
	}
	out := strings.Join(outs, "\n")
	if out == "" {
		return "ok", nil
	}
	if len(out) > 200 {
		out = out[:197] + "..."
	}
	return out, nil
}

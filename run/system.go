package run

import (
	"context"
	"errors"
	"fmt"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/runner"
	"github.com/jplan/jplan/storage"
	"github.com/jplan/jplan/target/memory"
)

type nodeSpec = control.NodeSpec

// resolveNodes reads --nodes-file or --nodes. The nodes file also says how
// to reach each node, which wins over the plan's ssh block.
func resolveNodes(o Options) ([]eval.Node, map[string]nodeSpec, error) {
	specs := map[string]nodeSpec{}
	switch {
	case o.NodesFile != "" && o.Nodes != "":
		return nil, nil, errors.New("give --nodes or --nodes-file, not both")
	case o.NodesFile != "":
		nf, err := control.ReadNodesFile(o.NodesFile)
		if err != nil {
			return nil, nil, err
		}
		var nodes []eval.Node
		for i, n := range nf.Nodes {
			host := n.Host
			if host == "" {
				host = n.Name
			}
			nodes = append(nodes, eval.Node{Name: n.Name, Host: host, Port: n.Port, User: n.User, Index: i})
			specs[n.Name] = n
		}
		return nodes, specs, nil
	case o.Nodes != "":
		nodes, err := eval.ParseNodeList(o.Nodes)
		if err != nil {
			return nil, nil, fmt.Errorf("--nodes: %w", err)
		}
		return nodes, specs, nil
	}
	return nil, specs, nil
}

// system is everything a run touches outside jplan: the nodes, the
// clients' factory and the nemesis.
type system struct {
	t       *test
	remotes []control.Remote
	byNode  map[string]control.Remote
	clients runner.ClientFactory
	nemesis runner.Nemesis
	// setUp records how far setup got, so teardown undoes only that.
	osUp, dbUp bool
	leaveDB    bool
}

func openSystem(ctx context.Context, t *test, logf func(string, ...any)) (*system, error) {
	s := &system{t: t, byNode: map[string]control.Remote{}}
	if err := s.openRemotes(); err != nil {
		return nil, err
	}
	var err error
	s.clients, err = s.clientFactory(logf)
	if err != nil {
		control.CloseAll(s.remotes)
		return nil, err
	}
	s.nemesis, err = s.makeNemesis(logf)
	if err != nil {
		control.CloseAll(s.remotes)
		return nil, err
	}
	return s, nil
}

// openRemotes makes one Remote per node: from the nodes file when it has
// the node, else from the plan's remote kind and ssh block. SSH remotes
// connect lazily, on first use.
func (s *system) openRemotes() error {
	for _, n := range s.t.nodes {
		spec, ok := s.t.specs[n.Name]
		if !ok {
			spec = nodeSpec{Name: n.Name, Host: n.Host, Transport: s.t.remote}
			switch s.t.remote {
			case "ssh", "":
				sc, _ := s.t.ev.SSH(&n)
				spec.Port, spec.User = sc.Port, sc.User
				spec.KeyFile, spec.Password = sc.PrivateKeyFile, sc.Password
				spec.KnownHostsFile, spec.InsecureIgnoreHostKey = sc.KnownHostsFile, sc.InsecureIgnoreHostKey
				spec.SudoPassword = sc.SudoPassword
			case "docker":
				spec.Container = n.Name
				if c, ok := s.t.ev.DockerContainer(&n); ok {
					spec.Container = c
				}
			}
		}
		r, err := spec.Open(control.OpenOptions{})
		if err != nil {
			control.CloseAll(s.remotes)
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		s.remotes = append(s.remotes, r)
		s.byNode[n.Name] = r
	}
	return nil
}

func (s *system) clientFactory(logf func(string, ...any)) (runner.ClientFactory, error) {
	cl := s.t.ev.Plan.Client
	if cl == nil {
		return nil, errors.New("the plan has no client block")
	}
	cfg, diags := s.t.ev.Client(&s.t.nodes[0])
	if diags.HasErrors() {
		return nil, &PlanError{diags}
	}
	switch cl.Kind {
	case "memory":
		reg := memory.New(memory.Options{Stale: cfg.StaleReads, Jitter: cfg.Jitter, ErrorRate: cfg.ErrorRate, Seed: uint64(s.t.seed), Isolation: cfg.Isolation})
		return reg.Factory(), nil
	}
	return s.pluginClients(cl.Kind, logf)
}

// setup prepares the nodes in Jepsen's order: the OS, then the database
// (torn down first, so a previous run's state is gone).
func (s *system) setup(ctx context.Context, logf func(string, ...any)) error {
	return s.setupNodes(ctx, logf)
}

// teardown fetches the nodes' logs into the run directory, tears the
// database and the OS setup down, and closes the connections. Every step
// runs even when an earlier one fails.
func (s *system) teardown(ctx context.Context, st *storage.Run, logf func(string, ...any)) error {
	err := s.teardownNodes(ctx, st, logf)
	return errors.Join(err, control.CloseAll(s.remotes))
}

package run

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/client"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lifecycle"
	"github.com/jplan/jplan/nemesis"
	"github.com/jplan/jplan/runner"
	"github.com/jplan/jplan/storage"
)

// pluginClients builds the http, exec, process and sql clients, each node's
// client block evaluated for that node.
func (s *system) pluginClients(kind string, logf func(string, ...any)) (runner.ClientFactory, error) {
	cfg := client.Config{
		Kind:    kind,
		PerNode: map[string]eval.ClientConfig{},
		Nodes:   map[string]eval.Node{},
		Ops:     s.t.schedule.Ops,
		Remotes: s.byNode,
		Logf:    logf,
	}
	var diags hcl.Diagnostics
	for i := range s.t.nodes {
		n := s.t.nodes[i]
		cc, ds := s.t.ev.Client(&n)
		diags = append(diags, ds...)
		cfg.PerNode[n.Name] = cc
		cfg.Nodes[n.Name] = n
	}
	if diags.HasErrors() {
		return nil, &PlanError{diags}
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	return client.NewFactory(cfg), nil
}

// evalPerNode evaluates the os and db blocks for every node.
func (s *system) evalPerNode() (map[string]eval.OSConfig, lifecycle.DBs, error) {
	osCfg := map[string]eval.OSConfig{}
	dbs := lifecycle.DBs{}
	var diags hcl.Diagnostics
	for i := range s.t.nodes {
		n := s.t.nodes[i]
		if s.t.ev.Plan.OS != nil {
			c, ds := s.t.ev.OS(&n)
			diags = append(diags, ds...)
			osCfg[n.Name] = c
		}
		for _, d := range s.t.ev.Plan.DBs {
			c, ds := s.t.ev.DB(d, &n)
			diags = append(diags, ds...)
			dbs[n.Name] = append(dbs[n.Name], c)
		}
	}
	if diags.HasErrors() {
		return nil, nil, &PlanError{diags}
	}
	return osCfg, dbs, nil
}

func (s *system) makeNemesis(logf func(string, ...any)) (runner.Nemesis, error) {
	if len(s.t.ev.Plan.Faults) == 0 {
		return nil, nil
	}
	var faults []eval.FaultConfig
	var diags hcl.Diagnostics
	for _, f := range s.t.ev.Plan.Faults {
		fc, ds := s.t.ev.Fault(f)
		diags = append(diags, ds...)
		faults = append(faults, fc)
	}
	if diags.HasErrors() {
		return nil, &PlanError{diags}
	}
	_, dbs, err := s.evalPerNode()
	if err != nil {
		return nil, err
	}
	nem, err := nemesis.New(s.remotes, s.t.nodes, faults, nemesis.DaemonsOf(dbs), nemesis.Options{Seed: uint64(s.t.seed), Logf: logf})
	if err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	return nem, nil
}

func (s *system) lifecycleOptions(logf func(string, ...any)) lifecycle.Options {
	return lifecycle.Options{BaseDir: s.t.dir, Logf: logf}
}

// setupNodes runs Jepsen's setup order: OS, then the database torn down
// and set up again (with retries), primary setup on the first node.
func (s *system) setupNodes(ctx context.Context, logf func(string, ...any)) error {
	osCfg, dbs, err := s.evalPerNode()
	if err != nil {
		return err
	}
	opts := s.lifecycleOptions(logf)
	if len(osCfg) > 0 {
		logf("setting up the OS on %d nodes", len(s.remotes))
		s.osUp = true
		if err := lifecycle.OSSetup(ctx, s.remotes, s.t.nodes, osCfg, opts); err != nil {
			return fmt.Errorf("os setup: %w", err)
		}
	}
	if len(dbs) > 0 {
		logf("setting up the database on %d nodes", len(s.remotes))
		s.dbUp = true
		if err := lifecycle.DBCycle(ctx, s.remotes, s.t.nodes, dbs, opts); err != nil {
			return fmt.Errorf("db setup: %w", err)
		}
		logf("database ready")
	}
	return nil
}

// teardownNodes fetches logs (also after a failed setup: they say why),
// then tears the database and the OS setup down.
func (s *system) teardownNodes(ctx context.Context, st *storage.Run, logf func(string, ...any)) error {
	if !s.osUp && !s.dbUp {
		return nil
	}
	osCfg, dbs, err := s.evalPerNode()
	if err != nil {
		return err
	}
	opts := s.lifecycleOptions(logf)
	var errs []error
	if s.dbUp {
		logf("downloading logs")
		files, err := lifecycle.DownloadLogs(ctx, s.remotes, dbs, filepath.Join(st.Dir, storage.NodesDir), 2*time.Minute)
		if err != nil {
			logf("downloading logs: %v", err)
		}
		for _, f := range files {
			if f.Err != nil {
				logf("log %s from %s: %v", f.Remote, f.Node, f.Err)
			}
		}
		if s.leaveDB {
			logf("leaving the database running (--leave-db-running)")
			return nil
		}
		logf("tearing down the database")
		if err := lifecycle.DBTeardown(ctx, s.remotes, dbs, opts); err != nil {
			errs = append(errs, fmt.Errorf("db teardown: %w", err))
		}
	}
	if s.osUp {
		if err := lifecycle.OSTeardown(ctx, s.remotes, osCfg, opts); err != nil {
			errs = append(errs, fmt.Errorf("os teardown: %w", err))
		}
	}
	return errors.Join(errs...)
}

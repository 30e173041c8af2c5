package run

import (
	"context"
	"fmt"

	"github.com/jplan/jplan/runner"
	"github.com/jplan/jplan/storage"
)

// These connect the run to the real-cluster packages (lifecycle, nemesis,
// client); until they land a plan that needs them is refused clearly.

func (s *system) pluginClients(kind string, logf func(string, ...any)) (runner.ClientFactory, error) {
	return nil, fmt.Errorf("the %s client is not available yet", kind)
}

func (s *system) makeNemesis(logf func(string, ...any)) (runner.Nemesis, error) {
	if len(s.t.ev.Plan.Faults) > 0 {
		return nil, fmt.Errorf("faults are not available yet")
	}
	return nil, nil
}

func (s *system) setupNodes(ctx context.Context, logf func(string, ...any)) error {
	if s.t.ev.Plan.OS != nil || len(s.t.ev.Plan.DBs) > 0 {
		return fmt.Errorf("os and db setup are not available yet")
	}
	return nil
}

func (s *system) teardownNodes(ctx context.Context, st *storage.Run, logf func(string, ...any)) error {
	return nil
}

package eval

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// PhaseInfo is one phase as jplan plan prints it: what it is called, how
// long it may run, whether it is final and which workers it drives.
type PhaseInfo struct {
	Name      string
	TimeLimit time.Duration // 0: until its generators end (or the test's limit)
	Final     bool
	// Parts are "clients", "nemesis" and "generator", those the phase sets.
	Parts []string
}

// Phases describes the plan's phases in order, for a dry run.
func (e *Evaluator) Phases() ([]PhaseInfo, hcl.Diagnostics) {
	finals, diags := e.phaseFinals()
	out := make([]PhaseInfo, 0, len(e.Plan.Phases))
	for i, ph := range e.Plan.Phases {
		p := PhaseInfo{Name: ph.Name, Final: finals[i]}
		var ds hcl.Diagnostics
		p.TimeLimit, ds = duration(ph.TimeLimit, e.root, "time_limit", 0, false)
		diags = append(diags, ds...)
		for _, part := range []struct {
			expr hcl.Expression
			name string
		}{{ph.Clients, "clients"}, {ph.Nemesis, "nemesis"}, {ph.Generator, "generator"}} {
			if part.expr != nil {
				p.Parts = append(p.Parts, part.name)
			}
		}
		out = append(out, p)
	}
	return out, diags
}

package eval

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/builtins"
	"github.com/jplan/jplan/generator"
)

// Schedule is the plan's generator compiled for the runner, with the
// operations its leaves refer to.
type Schedule struct {
	Generator generator.Generator
	// Ops are the plan's operations keyed by the f they record.
	Ops map[string]*OpSpec
}

// FaultF returns the nemesis op names of a fault's start and stop, the
// convention the runner's progress line and the checkers' fault shading
// read.
func FaultF(fault, action string) string { return action + "-" + fault }

// CompileSchedule turns the plan's phases into one runtime generator:
// phases run in order, each starting when every worker has finished the
// previous one (Jepsen's phases); a phase's clients and nemesis generators
// run side by side; time limits bound a phase from its first op, and the
// test's time_limit bounds all of them.
//
// An operation reference is a stream: operation.read emits reads for as
// long as it is asked, each with a freshly evaluated value, like a Jepsen
// function generator; wrap it in once() or limit() for a fixed number. A
// fault reference (fault.x.start) is a single nemesis op, like a Jepsen map,
// so nemesis schedules read as sequences.
func (e *Evaluator) CompileSchedule() (*Schedule, hcl.Diagnostics) {
	s := &Schedule{Ops: map[string]*OpSpec{}}
	var diags hcl.Diagnostics
	byName := map[string]*OpSpec{}
	for _, o := range e.Plan.Operations {
		spec := e.OpSpec(o.Name)
		byName[o.Name] = spec
		s.Ops[spec.F] = spec // Validate made f unique
	}
	var phases []generator.Generator
	for _, ph := range e.Plan.Phases {
		var parts []generator.Generator
		for _, part := range []struct {
			expr hcl.Expression
			role string
		}{{ph.Clients, "clients"}, {ph.Nemesis, "nemesis"}, {ph.Generator, "generator"}} {
			if part.expr == nil {
				continue
			}
			spec, ds := e.Generator(part.expr, part.role)
			diags = append(diags, ds...)
			if spec == nil {
				continue
			}
			g, err := compileGen(spec, byName)
			if err != nil {
				diags = append(diags, valueDiag(part.expr, part.role, err.Error()))
				continue
			}
			switch part.role {
			case "clients":
				g = generator.Clients(g)
			case "nemesis":
				g = generator.Nemesis(g)
			}
			parts = append(parts, g)
		}
		var pg generator.Generator
		switch len(parts) {
		case 0:
			continue
		case 1:
			pg = parts[0]
		default:
			pg = generator.Any(parts...)
		}
		limit, ds := duration(ph.TimeLimit, e.root, "time_limit", 0, false)
		diags = append(diags, ds...)
		if limit > 0 {
			pg = generator.TimeLimit(limit, pg)
		}
		phases = append(phases, pg)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	g := generator.Phases(phases...)
	if limit, ds := e.TimeLimit(); limit > 0 {
		g = generator.TimeLimit(limit, g)
	} else {
		diags = append(diags, ds...)
	}
	s.Generator = g
	return s, diags
}

func compileGen(g *builtins.Generator, ops map[string]*OpSpec) (generator.Generator, error) {
	kids := func() ([]generator.Generator, error) {
		out := make([]generator.Generator, 0, len(g.Children))
		for _, c := range g.Children {
			cg, err := compileGen(c, ops)
			if err != nil {
				return nil, err
			}
			out = append(out, cg)
		}
		return out, nil
	}
	one := func() (generator.Generator, error) {
		if len(g.Children) != 1 {
			return nil, fmt.Errorf("%s takes one generator, got %d", g.Kind, len(g.Children))
		}
		return compileGen(g.Children[0], ops)
	}
	switch g.Kind {
	case builtins.KindOperation:
		spec := ops[g.Name]
		if spec == nil {
			return nil, fmt.Errorf("no operation %q", g.Name)
		}
		return generator.Repeat(generator.Invocation(spec.F, spec.Value)), nil
	case builtins.KindFault:
		return generator.Invocation(FaultF(g.Name, g.Action), nil), nil
	case builtins.KindSleep:
		return generator.Sleep(g.Duration), nil
	case builtins.KindLog:
		return generator.Log(g.Message), nil
	case builtins.KindSeq, builtins.KindMix, builtins.KindAny, builtins.KindPhases, builtins.KindFlipFlop, builtins.KindReserve:
		cs, err := kids()
		if err != nil {
			return nil, err
		}
		switch g.Kind {
		case builtins.KindSeq:
			return generator.Seq(cs...), nil
		case builtins.KindMix:
			return generator.Mix(cs...), nil
		case builtins.KindAny:
			return generator.Any(cs...), nil
		case builtins.KindPhases:
			return generator.Phases(cs...), nil
		case builtins.KindFlipFlop:
			if len(cs) != 2 {
				return nil, fmt.Errorf("flip_flop takes two generators")
			}
			return generator.FlipFlop(cs[0], cs[1]), nil
		default:
			return generator.Reserve(g.Counts, cs...), nil
		}
	}
	c, err := one()
	if err != nil {
		return nil, err
	}
	switch g.Kind {
	case builtins.KindStagger:
		return generator.Stagger(g.Duration, c), nil
	case builtins.KindDelay:
		return generator.Delay(g.Duration, c), nil
	case builtins.KindTimeLimit:
		return generator.TimeLimit(g.Duration, c), nil
	case builtins.KindLimit:
		return generator.Limit(g.Count, c), nil
	case builtins.KindOnce:
		return generator.Once(c), nil
	case builtins.KindRepeat:
		if g.Count > 0 {
			return generator.RepeatN(g.Count, c), nil
		}
		return generator.Repeat(c), nil
	case builtins.KindCycle:
		if g.Count > 0 {
			return generator.CycleN(g.Count, c), nil
		}
		return generator.Cycle(c), nil
	case builtins.KindEachThread:
		return generator.EachThread(c), nil
	case builtins.KindUntilOK:
		return generator.UntilOK(c), nil
	case builtins.KindClients:
		return generator.Clients(c), nil
	case builtins.KindNemesis:
		return generator.Nemesis(c), nil
	case builtins.KindSynchronize:
		return generator.Synchronize(c), nil
	}
	return nil, fmt.Errorf("unknown generator kind %q", g.Kind)
}

// OpTimeout resolves test.op_timeout (0: the runner's default).
func (e *Evaluator) OpTimeout() (time.Duration, hcl.Diagnostics) {
	if e.Plan.Test == nil {
		return 0, nil
	}
	return duration(e.Plan.Test.OpTimeout, e.root, "op_timeout", 0, false)
}

package eval

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/builtins"
	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/lang"
	"github.com/zclconf/go-cty/cty"
)

// Schedule is the plan's generator compiled for the runner, with the
// operations its leaves refer to. It is kept in two parts, as in Jepsen: the
// main part, which a time limit bounds, and the final part (healing,
// recovery, final reads), which runs after it whatever the time limit.
type Schedule struct {
	// Main is the non-final phases in order, bounded by test.time_limit.
	Main generator.Generator
	// Final is the final phases in order, each bounded only by its own
	// time_limit; nil when the plan has none.
	Final generator.Generator
	// Ops are the plan's operations keyed by the f they record.
	Ops map[string]*OpSpec
}

// Generator is the whole schedule: the main part, then, once every worker
// has finished it, the final part.
func (s *Schedule) Generator() generator.Generator {
	if s.Final == nil {
		return s.Main
	}
	return generator.Phases(s.Main, s.Final)
}

// LimitMain bounds the main part by d as well (jplan run --time-limit),
// counted from its first op; the final part still runs after it. A d of 0
// or less changes nothing.
func (s *Schedule) LimitMain(d time.Duration) {
	if d > 0 {
		s.Main = generator.TimeLimit(d, s.Main)
	}
}

// FaultF returns the nemesis op names of a fault's start and stop, the
// convention the runner's progress line and the checkers' fault shading
// read.
func FaultF(fault, action string) string { return action + "-" + fault }

// CompileSchedule turns the plan's phases into the runtime schedule:
// phases run in order, each starting when every worker has finished the
// previous one (Jepsen's phases); a phase's clients and nemesis generators
// run side by side; time limits bound a phase from its first op, and the
// test's time_limit bounds the non-final phases together. Final phases run
// after those, each bounded only by its own time_limit, like the final
// generator Jepsen runs after the time-limited main one.
//
// An operation reference is a stream: operation.read emits reads for as
// long as it is asked, each with a freshly evaluated value, like a Jepsen
// function generator; wrap it in once() or limit() for a fixed number. A
// fault reference (fault.x.start) is a single nemesis op, like a Jepsen map,
// so nemesis schedules read as sequences.
func (e *Evaluator) CompileSchedule() (*Schedule, hcl.Diagnostics) {
	s := &Schedule{Ops: map[string]*OpSpec{}}
	byName := map[string]*OpSpec{}
	for _, o := range e.Plan.Operations {
		spec := e.OpSpec(o.Name)
		byName[o.Name] = spec
		s.Ops[spec.F] = spec // Validate made f unique
	}
	finals, diags := e.phaseFinals()
	var main, final []generator.Generator
	for i, ph := range e.Plan.Phases {
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
		if finals[i] {
			final = append(final, pg)
		} else {
			main = append(main, pg)
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	s.Main = generator.Phases(main...)
	if limit, ds := e.TimeLimit(); limit > 0 {
		s.Main = generator.TimeLimit(limit, s.Main)
	} else {
		diags = append(diags, ds...)
	}
	if len(final) > 0 {
		s.Final = generator.Phases(final...)
	}
	return s, diags
}

// phaseFinals resolves every phase's final argument, in the plan's order,
// and reports a non-final phase written after a final one: the final part
// runs after the whole main part, so such a plan would not run in the order
// it is written. A final whose value is unknown (validation without a
// variable's value) counts as false and is not checked for order.
func (e *Evaluator) phaseFinals() ([]bool, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	finals := make([]bool, len(e.Plan.Phases))
	var firstFinal *lang.Phase
	for i, ph := range e.Plan.Phases {
		if ph.Final != nil {
			v, ds := evalAs(ph.Final, e.root, cty.Bool, "final")
			diags = append(diags, ds...)
			if ds.HasErrors() || !v.IsWhollyKnown() {
				continue
			}
			finals[i] = !v.IsNull() && v.True()
		}
		switch {
		case finals[i]:
			if firstFinal == nil {
				firstFinal = ph
			}
		case firstFinal != nil:
			rng := ph.DeclRange
			if ph.Final != nil {
				rng = ph.Final.Range()
			}
			diags = append(diags, errDiag("Phase after the final phases",
				fmt.Sprintf("phase %q is not final but comes after the final phase %q (%s). Final phases run after all the others, which the test's time limit bounds, so the plan would not run in the order it is written: set final = true in phase %q as well, or move it before phase %q.",
					ph.Name, firstFinal.Name, firstFinal.DeclRange, ph.Name, firstFinal.Name),
				rng))
		}
	}
	return finals, diags
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

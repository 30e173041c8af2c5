package eval

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/builtins"
	"github.com/jplan/jplan/lang"
	"github.com/zclconf/go-cty/cty"
)

// DefaultFaultInterval is a faults block's interval when none is given,
// Jepsen's nemesis-package default.
const DefaultFaultInterval = 10 * time.Second

// FaultPackageConfig is a faults block evaluated.
type FaultPackageConfig struct {
	Name string
	// Faults are the names of the faults it composes, in the order given.
	Faults []string
	// Interval is the mean time between its fault operations.
	Interval time.Duration
}

// FaultPackage evaluates a faults block.
func (e *Evaluator) FaultPackage(p *lang.FaultPackage) (FaultPackageConfig, hcl.Diagnostics) {
	return e.faultPackage(p, e.root)
}

// faultPackage evaluates p in ctx, which must hold the fault references.
func (e *Evaluator) faultPackage(p *lang.FaultPackage, ctx *hcl.EvalContext) (FaultPackageConfig, hcl.Diagnostics) {
	c := FaultPackageConfig{Name: p.Name, Interval: DefaultFaultInterval}
	var diags hcl.Diagnostics
	if p.Interval != nil {
		d, ds := duration(p.Interval, ctx, "interval", DefaultFaultInterval, false)
		diags = append(diags, ds...)
		if !ds.HasErrors() && d <= 0 {
			v, _ := p.Interval.Value(ctx)
			if known(v) {
				diags = append(diags, valueDiag(p.Interval, "interval", "the interval must be longer than zero"))
			}
		}
		if d > 0 {
			c.Interval = d
		}
	}
	if p.Faults == nil {
		return c, diags
	}
	v, ds := p.Faults.Value(ctx)
	diags = append(diags, ds...)
	if ds.HasErrors() || !v.IsKnown() {
		return c, diags
	}
	bad := func(detail string) (FaultPackageConfig, hcl.Diagnostics) {
		return c, append(diags, valueDiag(p.Faults, "faults", detail))
	}
	ty := v.Type()
	if v.IsNull() || !(ty.IsTupleType() || ty.IsListType()) {
		return bad("expected a list of faults, like [fault.partition, fault.crash]")
	}
	elems := v.AsValueSlice()
	if len(elems) == 0 {
		return bad("the list is empty: a faults block needs at least one fault, like [fault.partition]")
	}
	seen := map[string]bool{}
	for i, el := range elems {
		name, ok := faultRefName(el)
		switch {
		case !ok && el.Type().Equals(builtins.GeneratorType):
			return bad(fmt.Sprintf("element %d is a generator; list the fault itself (fault.<name>), not fault.<name>.start", i+1))
		case !ok:
			return bad(fmt.Sprintf("element %d is not a fault: write fault.<name>", i+1))
		case name == "":
			return c, diags // unknown in validation
		case seen[name]:
			return bad(fmt.Sprintf("fault %q is listed twice", name))
		}
		seen[name] = true
		c.Faults = append(c.Faults, name)
	}
	return c, diags
}

// faultRefName returns the name of a fault.<name> value ("" when unknown).
func faultRefName(v cty.Value) (string, bool) {
	ty := v.Type()
	if !ty.IsObjectType() || v.IsNull() {
		return "", false
	}
	for _, attr := range []string{"name", "type", "start", "stop"} {
		if !ty.HasAttribute(attr) {
			return "", false
		}
	}
	if !ty.AttributeType("start").Equals(builtins.GeneratorType) {
		return "", false
	}
	n := v.GetAttr("name")
	if !n.IsKnown() || n.IsNull() {
		return "", true
	}
	return n.AsString(), true
}

// PackageGenerator is a faults block's schedule, built from the ordinary
// combinators so it compiles and simulates like any plan generator:
//
//	[sleep(interval), stagger(interval, mix([cycle([fault.a.start, fault.a.stop]), ...]))]
//
// Each fault alternates start and stop on its own (a fault is never started
// twice without a stop between), mix picks which fault acts next at random
// from the test's seed, and stagger spaces the operations by a random delay
// of 0 to 2 × interval, interval on average. The first operation comes one
// interval in, so the clients work on a healthy cluster first.
func PackageGenerator(c FaultPackageConfig) *builtins.Generator {
	mix := &builtins.Generator{Kind: builtins.KindMix}
	for _, f := range c.Faults {
		mix.Children = append(mix.Children, &builtins.Generator{Kind: builtins.KindCycle, Children: []*builtins.Generator{{
			Kind: builtins.KindSeq, Children: []*builtins.Generator{
				{Kind: builtins.KindFault, Name: f, Action: "start"},
				{Kind: builtins.KindFault, Name: f, Action: "stop"},
			}}}})
	}
	return &builtins.Generator{Kind: builtins.KindSeq, Children: []*builtins.Generator{
		{Kind: builtins.KindSleep, Duration: c.Interval},
		{Kind: builtins.KindStagger, Duration: c.Interval, Children: []*builtins.Generator{mix}},
	}}
}

// PackageFinal stops every fault of a faults block, in the order listed:
// what a healing phase runs after the package's generator.
func PackageFinal(c FaultPackageConfig) *builtins.Generator {
	g := &builtins.Generator{Kind: builtins.KindSeq}
	for _, f := range c.Faults {
		g.Children = append(g.Children, &builtins.Generator{Kind: builtins.KindFault, Name: f, Action: "stop"})
	}
	return g
}

// faultPackageRefs is the value of `faults` in expressions: per faults
// block, its name, the names of its faults, and its generator and final
// generator. A block that does not evaluate (Validate reports why) or is
// not known yet gives unknown generators.
func (e *Evaluator) faultPackageRefs(ctx *hcl.EvalContext) cty.Value {
	pkgs := map[string]cty.Value{}
	for _, p := range e.Plan.FaultPackages {
		c, diags := e.faultPackage(p, ctx)
		gen, final := cty.UnknownVal(builtins.GeneratorType), cty.UnknownVal(builtins.GeneratorType)
		names := cty.UnknownVal(cty.List(cty.String))
		if !diags.HasErrors() && len(c.Faults) > 0 && e.packageKnown(p, ctx) {
			gen = cty.CapsuleVal(builtins.GeneratorType, PackageGenerator(c))
			final = cty.CapsuleVal(builtins.GeneratorType, PackageFinal(c))
			vals := make([]cty.Value, len(c.Faults))
			for i, f := range c.Faults {
				vals[i] = cty.StringVal(f)
			}
			names = cty.ListVal(vals)
		}
		pkgs[p.Name] = cty.ObjectVal(map[string]cty.Value{
			"name":      cty.StringVal(p.Name),
			"faults":    names,
			"generator": gen,
			"final":     final,
		})
	}
	return cty.ObjectVal(pkgs)
}

// packageKnown reports whether p's arguments are wholly known in ctx (they
// may not be in validation, with variables that have no value).
func (e *Evaluator) packageKnown(p *lang.FaultPackage, ctx *hcl.EvalContext) bool {
	for _, x := range []hcl.Expression{p.Faults, p.Interval} {
		if x == nil {
			continue
		}
		if v, _ := x.Value(ctx); !v.IsWhollyKnown() {
			return false
		}
	}
	return true
}

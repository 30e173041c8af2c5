package eval

import (
	"math/rand/v2"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/jplan/jplan/builtins"
	"github.com/zclconf/go-cty/cty"
)

// A fastValue computes an operation's value without HCL. Value runs for
// every op the generator emits, and evaluating even `random_int(0, 4)`
// through HCL and cty (function dispatch, argument conversion, big.Float
// numbers, then FromCty) costs several times what the interpreter spends
// on the op. Most plans' values are literals, tuples and objects of them,
// and random_int calls with fixed bounds; those compile to Go closures
// that give the same value and draw the same numbers in the same order as
// HCL would. Anything else (another function, op.f, a template, an
// argument that could fail) keeps the HCL path and its diagnostics.
type fastValue func(r *rand.Rand) any

// compileFast returns the fast form of x, or nil when x is outside that
// subset.
func (e *Evaluator) compileFast(x hcl.Expression) fastValue {
	switch x := x.(type) {
	case *hclsyntax.TupleConsExpr:
		elems := make([]fastValue, len(x.Exprs))
		for i, ex := range x.Exprs {
			if elems[i] = e.compileFast(ex); elems[i] == nil {
				return nil
			}
		}
		return func(r *rand.Rand) any {
			out := make([]any, len(elems))
			for i, f := range elems {
				out[i] = f(r)
			}
			return out
		}
	case *hclsyntax.ObjectConsExpr:
		keys := make([]string, len(x.Items))
		vals := make([]fastValue, len(x.Items))
		seen := map[string]bool{}
		for i, it := range x.Items {
			k, ok := e.constant(it.KeyExpr)
			if !ok || k.Type() != cty.String || seen[k.AsString()] {
				return nil
			}
			keys[i] = k.AsString()
			seen[keys[i]] = true
			if vals[i] = e.compileFast(it.ValueExpr); vals[i] == nil {
				return nil
			}
		}
		return func(r *rand.Rand) any {
			out := make(map[string]any, len(keys))
			for i, f := range vals {
				out[keys[i]] = f(r)
			}
			return out
		}
	case *hclsyntax.FunctionCallExpr:
		if x.Name != "random_int" || len(x.Args) != 2 || x.ExpandFinal {
			return nil
		}
		lo, ok1 := e.constantInt(x.Args[0])
		hi, ok2 := e.constantInt(x.Args[1])
		if !ok1 || !ok2 || lo > hi {
			return nil
		}
		return func(r *rand.Rand) any { return builtins.RandomInt(r, lo, hi) }
	}
	// A constant: literals, var.*, local.*, arithmetic on them. Only
	// scalars: a list or map would be shared by every op.
	v, ok := e.constant(x)
	if !ok || !(v.Type() == cty.Number || v.Type() == cty.String || v.Type() == cty.Bool) {
		return nil
	}
	g, err := FromCty(v)
	if err != nil {
		return nil
	}
	return func(*rand.Rand) any { return g }
}

// constant evaluates x at the plan's top level when it calls no function
// and refers to nothing an op supplies: such a value is the same for every
// op. ok is false when it fails, is unknown or is null.
func (e *Evaluator) constant(x hcl.Expression) (cty.Value, bool) {
	sx, ok := x.(hclsyntax.Expression)
	if !ok {
		return cty.NilVal, false
	}
	calls := false
	hclsyntax.VisitAll(sx, func(n hclsyntax.Node) hcl.Diagnostics {
		if _, ok := n.(*hclsyntax.FunctionCallExpr); ok {
			calls = true
		}
		return nil
	})
	if calls {
		return cty.NilVal, false
	}
	for _, t := range x.Variables() {
		if r := t.RootName(); r != "var" && r != "local" {
			return cty.NilVal, false
		}
	}
	v, diags := x.Value(e.root)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || v.IsMarked() {
		return cty.NilVal, false
	}
	return v, true
}

// constantInt is a constant whole number that fits an int64.
func (e *Evaluator) constantInt(x hcl.Expression) (int64, bool) {
	v, ok := e.constant(x)
	if !ok || v.Type() != cty.Number {
		return 0, false
	}
	g, err := FromCty(v)
	n, isInt := g.(int64)
	return n, err == nil && isInt
}

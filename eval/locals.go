package eval

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/lang"
	"github.com/zclconf/go-cty/cty"
)

// evalLocals evaluates locals in dependency order. A local may refer to
// variables, nodes and other locals; a cycle is reported once, naming every
// local in it.
func (e *Evaluator) evalLocals() hcl.Diagnostics {
	byName := map[string]*lang.Local{}
	for _, l := range e.Plan.Locals {
		byName[l.Name] = l
	}
	deps := func(l *lang.Local) []string {
		var out []string
		for _, t := range l.Expr.Variables() {
			if t.RootName() != "local" || len(t) < 2 {
				continue
			}
			if a, ok := t[1].(hcl.TraverseAttr); ok {
				if _, exists := byName[a.Name]; exists {
					out = append(out, a.Name)
				}
			}
		}
		return out
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var diags hcl.Diagnostics
	var stack []string
	ctx := e.baseContext()
	ctx.Variables["nodes"] = e.nodesValue()
	var visit func(name string)
	visit = func(name string) {
		switch state[name] {
		case done:
			return
		case visiting:
			i := 0
			for stack[i] != name {
				i++
			}
			cycle := append(append([]string{}, stack[i:]...), name)
			for j := range cycle {
				cycle[j] = "local." + cycle[j]
			}
			l := byName[name]
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cycle in locals",
				Detail:  fmt.Sprintf("These locals refer to each other in a circle, so none can be evaluated: %s.", strings.Join(cycle, " → ")),
				Subject: l.DeclRange.Ptr()})
			for _, n := range stack[i:] {
				e.locals[n] = cty.DynamicVal
				state[n] = done
			}
			return
		}
		state[name] = visiting
		stack = append(stack, name)
		l := byName[name]
		for _, d := range deps(l) {
			visit(d)
			if state[name] == done { // part of a reported cycle
				stack = stack[:len(stack)-1]
				return
			}
		}
		stack = stack[:len(stack)-1]
		// Give the expression only the locals it refers to: rebuilding an
		// object of every local for each one would make a plan with many
		// locals quadratic to evaluate.
		refs := map[string]cty.Value{}
		for _, d := range deps(l) {
			refs[d] = e.locals[d]
		}
		ctx.Variables["local"] = cty.ObjectVal(refs)
		v, ds := l.Expr.Value(ctx)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			v = cty.DynamicVal
		}
		e.locals[name] = v
		state[name] = done
	}
	for _, l := range e.Plan.Locals {
		visit(l.Name)
	}
	return diags
}

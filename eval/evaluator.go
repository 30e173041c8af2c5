// Package eval gives a decoded plan its values: variables, locals, the
// per-node and per-operation evaluation contexts, and the compilation of
// the plan tree into what a run needs. In validation mode, everything only
// known at run time (the node, the operation, the response, variables
// without values) is an unknown value of the right type, so every
// expression is checked once before any node is touched, as terraform
// validate does.
package eval

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/builtins"
	"github.com/jplan/jplan/lang"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Options configure an Evaluator.
type Options struct {
	// Dir is the plan's directory; file() and relative paths resolve here.
	Dir string
	// Inputs are variable values; nil means none.
	Inputs *Inputs
	// Nodes, when set, replace test.nodes (from --nodes or --nodes-file).
	Nodes []Node
	// Validate makes missing run-time values unknown instead of errors.
	Validate bool
}

// Evaluator evaluates one plan.
type Evaluator struct {
	Plan *lang.Plan
	opts Options

	vars   map[string]cty.Value
	locals map[string]cty.Value
	// nodes is nil when the nodes are not known (validation without nodes).
	nodes []Node

	funcs map[string]function.Function
	root  *hcl.EvalContext
}

// New evaluates the plan's static parts: variables, nodes and locals, and
// builds the root evaluation context.
func New(plan *lang.Plan, opts Options) (*Evaluator, hcl.Diagnostics) {
	if opts.Dir == "" {
		opts.Dir = "."
	}
	e := &Evaluator{Plan: plan, opts: opts, vars: map[string]cty.Value{}, locals: map[string]cty.Value{}}
	// Static expressions never get random functions, not even in
	// validation: a random value there would differ between runs with the
	// same seed. Only operation contexts get them (OpContext).
	e.funcs = builtins.Functions(builtins.Scope{BaseDir: opts.Dir})
	var diags hcl.Diagnostics
	diags = append(diags, e.evalVariables()...)
	diags = append(diags, e.evalNodes()...)
	diags = append(diags, e.evalLocals()...)
	e.root = e.rootContext()
	return e, diags
}

// Nodes returns the test's nodes, or nil when they are not known.
func (e *Evaluator) Nodes() []Node { return e.nodes }

func (e *Evaluator) baseContext() *hcl.EvalContext {
	abs, err := filepath.Abs(e.opts.Dir)
	if err != nil {
		abs = e.opts.Dir
	}
	return &hcl.EvalContext{
		Functions: e.funcs,
		Variables: map[string]cty.Value{
			"var":  cty.ObjectVal(e.vars),
			"path": cty.ObjectVal(map[string]cty.Value{"plan": cty.StringVal(abs)}),
		},
	}
}

func (e *Evaluator) evalNodes() hcl.Diagnostics {
	if e.opts.Nodes != nil {
		e.nodes = e.opts.Nodes
		return nil
	}
	t := e.Plan.Test
	if t == nil || t.Nodes == nil {
		if e.opts.Validate {
			return nil
		}
		rng := hcl.Range{}
		if t != nil {
			rng = t.DeclRange
		}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No nodes",
			Detail:  "The test has no nodes: set nodes in the test block, or give --nodes or --nodes-file.",
			Subject: rng.Ptr()}}
	}
	v, diags := t.Nodes.Value(e.baseContext())
	if diags.HasErrors() {
		return diags
	}
	if !v.IsWhollyKnown() {
		return diags // validation with unknown variables
	}
	nodes, ds := nodesFromValue(v, t.Nodes.Range())
	e.nodes = nodes
	return append(diags, ds...)
}

// nodesValue is the value of `nodes` in expressions.
func (e *Evaluator) nodesValue() cty.Value {
	if e.nodes == nil {
		return cty.UnknownVal(cty.List(NodeType))
	}
	vals := make([]cty.Value, len(e.nodes))
	for i, n := range e.nodes {
		vals[i] = n.Value()
	}
	return cty.ListVal(vals)
}

// rootContext is the context of every static expression: var, local, path,
// test, nodes, and references to blocks (db, operation, fault, faults).
func (e *Evaluator) rootContext() *hcl.EvalContext {
	ctx := e.baseContext()
	vars := ctx.Variables
	vars["local"] = cty.ObjectVal(e.locals)
	vars["nodes"] = e.nodesValue()
	testName := ""
	if e.Plan.Test != nil {
		testName = e.Plan.Test.Name
	}
	vars["test"] = cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(testName)})
	vars["db"] = e.dbRefs()
	ops := map[string]cty.Value{}
	for _, o := range e.Plan.Operations {
		ops[o.Name] = builtins.OperationGenerator(o.Name)
	}
	vars["operation"] = cty.ObjectVal(ops)
	faults := map[string]cty.Value{}
	for _, f := range e.Plan.Faults {
		faults[f.Name] = cty.ObjectVal(map[string]cty.Value{
			"name":  cty.StringVal(f.Name),
			"type":  cty.StringVal(f.Type),
			"start": builtins.FaultGenerator(f.Name, "start"),
			"stop":  builtins.FaultGenerator(f.Name, "stop"),
		})
	}
	vars["fault"] = cty.ObjectVal(faults)
	// Fault packages refer to faults, so they come after them.
	vars["faults"] = e.faultPackageRefs(ctx)
	return ctx
}

// DaemonRefType marks the value of db.<name>.daemon.<name>, so fault
// arguments can tell a daemon reference from any other object.
var DaemonRefType = cty.Object(map[string]cty.Type{"db": cty.String, "daemon": cty.String, "kind": cty.String})

func (e *Evaluator) dbRefs() cty.Value {
	dbs := map[string]cty.Value{}
	for _, d := range e.Plan.DBs {
		daemons := map[string]cty.Value{}
		for _, dm := range d.Daemons {
			daemons[dm.Name] = cty.ObjectVal(map[string]cty.Value{
				"db": cty.StringVal(d.Name), "daemon": cty.StringVal(dm.Name), "kind": cty.StringVal("daemon"),
			})
		}
		dbs[d.Name] = cty.ObjectVal(map[string]cty.Value{
			"name":   cty.StringVal(d.Name),
			"daemon": cty.ObjectVal(daemons),
		})
	}
	return cty.ObjectVal(dbs)
}

// NodeContext is the context for expressions evaluated once per node.
func (e *Evaluator) NodeContext(n *Node) *hcl.EvalContext {
	ctx := e.root.NewChild()
	nv := cty.UnknownVal(NodeType)
	if n != nil {
		nv = n.Value()
	}
	ctx.Variables = map[string]cty.Value{"node": nv}
	return ctx
}

// Concurrency resolves test.concurrency against the node count: a number,
// or "Nn" for N workers per node. Default: one worker per node.
func (e *Evaluator) Concurrency() (int, hcl.Diagnostics) {
	t := e.Plan.Test
	if t == nil || t.Concurrency == nil {
		if e.nodes == nil {
			return 0, nil
		}
		return len(e.nodes), nil
	}
	v, diags := t.Concurrency.Value(e.root)
	if diags.HasErrors() || !known(v) {
		return 0, diags
	}
	bad := func(detail string) (int, hcl.Diagnostics) {
		return 0, append(diags, valueDiag(t.Concurrency, "concurrency", detail))
	}
	switch v.Type() {
	case cty.Number:
		n, err := intOf(v)
		if err != nil || n < 1 || n > 100000 {
			return bad(errConcurrency)
		}
		return n, diags
	case cty.String:
		if e.nodes == nil {
			if _, err := ParseConcurrency(v.AsString(), 1); err != nil {
				return bad(err.Error())
			}
			return 0, diags
		}
		n, err := ParseConcurrency(v.AsString(), len(e.nodes))
		if err != nil {
			return bad(err.Error())
		}
		return n, diags
	}
	return bad("expected a number or a string like \"2n\", got " + v.Type().FriendlyName())
}

const errConcurrency = "expected a whole number of workers from 1 to 100000, or \"Nn\" for N per node"

// ParseConcurrency reads a worker count as plans and --concurrency write
// it: a number ("10"), or "Nn", N workers per node ("2n" on 5 nodes: 10).
func ParseConcurrency(s string, nodes int) (int, error) {
	var k int
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 100000 {
			return 0, errors.New(errConcurrency)
		}
		return n, nil
	}
	if _, err := fmt.Sscanf(s, "%dn", &k); err != nil || fmt.Sprintf("%dn", k) != s || k < 1 || k*nodes > 100000 {
		return 0, fmt.Errorf("%q is not a worker count: use a number, or \"Nn\" such as \"2n\" for two per node", s)
	}
	return k * nodes, nil
}

// Seed resolves test.seed; ok is false when no seed is set.
func (e *Evaluator) Seed() (seed int64, ok bool, diags hcl.Diagnostics) {
	t := e.Plan.Test
	if t == nil || t.Seed == nil {
		return 0, false, nil
	}
	v, diags := evalAs(t.Seed, e.root, cty.Number, "seed")
	if !known(v) {
		return 0, false, diags
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 {
		return 0, false, append(diags, valueDiag(t.Seed, "seed", "expected a whole number that fits in 64 bits"))
	}
	return i, true, diags
}

// TimeLimit resolves test.time_limit; zero means none.
func (e *Evaluator) TimeLimit() (time.Duration, hcl.Diagnostics) {
	if e.Plan.Test == nil {
		return 0, nil
	}
	return duration(e.Plan.Test.TimeLimit, e.root, "time_limit", 0, false)
}

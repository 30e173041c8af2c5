package eval

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/builtins"
	"github.com/jplan/jplan/lang"
	"github.com/zclconf/go-cty/cty"
)

// ClientConfig is the client block evaluated for one worker's node.
type ClientConfig struct {
	Kind    string
	BaseURL string
	Timeout time.Duration
	Headers map[string]string
	On      string
	Env     map[string]string
	Command []string
	Dir     string
	// The sql client's settings: where to connect (Host "" is the node's
	// host; DSN, when given, replaces Host to Database) and the isolation
	// level of every transaction, one of SQLIsolations.
	Host      string
	Port      int
	User      string
	Password  string
	Database  string
	DSN       string
	Isolation string
	// The memory client's settings.
	StaleReads bool
	Jitter     time.Duration
	ErrorRate  float64
}

// Client evaluates the client block for a node.
func (e *Evaluator) Client(n *Node) (ClientConfig, hcl.Diagnostics) {
	cl := e.Plan.Client
	if cl == nil {
		return ClientConfig{}, nil
	}
	c := ClientConfig{Kind: cl.Kind, Timeout: 5 * time.Second, On: "control"}
	ctx := e.NodeContext(n)
	var diags, ds hcl.Diagnostics
	add := func(ds hcl.Diagnostics) { diags = append(diags, ds...) }
	a := cl.Args
	c.BaseURL, ds = str(a.Expr("base_url"), ctx, "base_url", "")
	add(ds)
	c.Timeout, ds = duration(a.Expr("timeout"), ctx, "timeout", c.Timeout, false)
	add(ds)
	c.Headers, ds = stringMap(a.Expr("headers"), ctx, "headers")
	add(ds)
	c.On, ds = oneOfStrings(a.Expr("on"), ctx, "on", "control", "control", "node")
	add(ds)
	c.Env, ds = stringMap(a.Expr("env"), ctx, "env")
	add(ds)
	c.Command, ds = stringList(a.Expr("command"), ctx, "command")
	add(ds)
	if a.Expr("command") != nil && len(c.Command) == 0 && !ds.HasErrors() {
		if v, _ := a.Expr("command").Value(ctx); known(v) {
			add(hcl.Diagnostics{valueDiag(a.Expr("command"), "command", "the command list is empty")})
		}
	}
	c.Dir, ds = str(a.Expr("dir"), ctx, "dir", "")
	add(ds)
	c.StaleReads, ds = boolean(a.Expr("stale_reads"), ctx, "stale_reads", false)
	add(ds)
	c.Jitter, ds = duration(a.Expr("jitter"), ctx, "jitter", 0, false)
	add(ds)
	c.ErrorRate, ds = fractionOpt(a.Expr("error_rate"), ctx, "error_rate", 0)
	add(ds)
	if c.Kind == "sql" {
		add(sqlClient(&c, a, ctx))
	}
	if cl.Kind == "memory" {
		c.Isolation, ds = oneOfStrings(a.Expr("isolation"), ctx, "isolation", "serializable", MemoryIsolations...)
		add(ds)
	}
	return c, diags
}

// MemoryIsolations are the memory store's isolation levels (package
// target/memory, which depends on this one).
var MemoryIsolations = []string{"serializable", "read committed", "read uncommitted"}

// OpInput is what an operation's expressions see of the op being built.
type OpInput struct {
	Node    *Node // nil: unknown (validation)
	Process int
	// Rand draws the op's random values; nil in validation.
	Rand *rand.Rand
}

// opType is the type of `op` in an operation's expressions.
func opObject(f string, in OpInput, value cty.Value) cty.Value {
	process := cty.UnknownVal(cty.Number)
	node := cty.UnknownVal(cty.String)
	if in.Node != nil {
		process = cty.NumberIntVal(int64(in.Process))
		node = cty.StringVal(in.Node.Name)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"f":       cty.StringVal(f),
		"value":   value,
		"process": process,
		"node":    node,
	})
}

// OpContext is the context of an operation's expressions. value is the
// op's value (cty.NilVal while the value itself is being evaluated, when op
// has no value attribute yet).
func (e *Evaluator) OpContext(o *lang.Operation, in OpInput, value cty.Value) *hcl.EvalContext {
	f := e.OpF(o)
	if value == cty.NilVal {
		// The value is generated before the op has a process or a node
		// (Jepsen's generators work that way too), so its expression sees
		// only op.f: referring to op.value, op.process or node there is a
		// mistake worth an error.
		ctx := e.root.NewChild()
		ctx.Functions = builtins.Functions(builtins.Scope{BaseDir: e.opts.Dir, Rand: in.Rand, Validate: in.Rand == nil})
		ctx.Variables = map[string]cty.Value{"op": cty.ObjectVal(map[string]cty.Value{"f": cty.StringVal(f)})}
		return ctx
	}
	// Request, command and result see the op but no random functions: a
	// random draw there would not be recorded in the op's value.
	ctx := e.NodeContext(in.Node).NewChild()
	ctx.Variables = map[string]cty.Value{"op": opObject(f, in, value)}
	return ctx
}

// OpF is the function name an operation records.
func (e *Evaluator) OpF(o *lang.Operation) string {
	if o.F == nil {
		return o.Name
	}
	v, diags := o.F.Value(e.root)
	if diags.HasErrors() || !known(v) || v.Type() != cty.String {
		return o.Name
	}
	return v.AsString()
}

// OpValue evaluates an operation's value for one op.
func (e *Evaluator) OpValue(o *lang.Operation, in OpInput) (cty.Value, hcl.Diagnostics) {
	if o.Value == nil {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	return o.Value.Value(e.OpContext(o, in, cty.NilVal))
}

// ResponseType is the type of `response` in an operation's result, per
// client kind. json holds the body parsed as JSON, or null.
func ResponseType(kind string) cty.Type {
	switch kind {
	case "http":
		return cty.Object(map[string]cty.Type{
			"status": cty.Number, "body": cty.String, "json": cty.DynamicPseudoType, "headers": cty.Map(cty.String),
		})
	case "exec":
		return cty.Object(map[string]cty.Type{
			"exit_code": cty.Number, "stdout": cty.String, "stderr": cty.String, "json": cty.DynamicPseudoType,
		})
	case "sql":
		return cty.Object(map[string]cty.Type{
			"rows": cty.DynamicPseudoType, "rows_affected": cty.Number, "results": cty.DynamicPseudoType,
		})
	}
	return cty.DynamicPseudoType
}

// ResultContext is the context of an operation's result expression.
func (e *Evaluator) ResultContext(o *lang.Operation, in OpInput, value, response cty.Value) *hcl.EvalContext {
	ctx := e.OpContext(o, in, value).NewChild()
	ctx.Variables = map[string]cty.Value{"response": response}
	return ctx
}

// Result is an operation's completion as its result expression gave it.
type Result struct {
	Type  string // "ok", "fail" or "info"
	Value cty.Value
	Error string
}

// EvalResult evaluates and checks an operation's result expression.
func (e *Evaluator) EvalResult(o *lang.Operation, ctx *hcl.EvalContext) (Result, bool, hcl.Diagnostics) {
	if o.Result == nil {
		return Result{}, false, nil
	}
	v, diags := o.Result.Value(ctx)
	if diags.HasErrors() || !v.IsKnown() {
		return Result{}, false, diags
	}
	bad := func(detail string) (Result, bool, hcl.Diagnostics) {
		return Result{}, false, append(diags, valueDiag(o.Result, "result", detail))
	}
	if v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return bad(fmt.Sprintf(`expected an object like { type = "ok", value = ... }, got %s`, v.Type().FriendlyName()))
	}
	var r Result
	r.Value = cty.NilVal
	complete := true
	for _, k := range objectKeys(v) {
		var av cty.Value
		if v.Type().IsObjectType() {
			av = v.GetAttr(k)
		} else {
			av = v.Index(cty.StringVal(k))
		}
		switch k {
		case "type":
			if !av.IsKnown() {
				complete = false
				continue
			}
			if av.IsNull() || av.Type() != cty.String {
				return bad(`type must be "ok", "fail" or "info"`)
			}
			r.Type = av.AsString()
			if r.Type != "ok" && r.Type != "fail" && r.Type != "info" {
				return bad(fmt.Sprintf(`type is %q; it must be "ok", "fail" or "info"`, r.Type))
			}
		case "value":
			r.Value = av
		case "error":
			if !av.IsKnown() {
				continue
			}
			if !av.IsNull() {
				if av.Type() != cty.String {
					return bad("error must be a string")
				}
				r.Error = av.AsString()
			}
		default:
			return bad(fmt.Sprintf("unexpected attribute %q: a result takes type, value and error", k))
		}
	}
	if complete && r.Type == "" {
		return bad(`the object has no type: give type = "ok", "fail" or "info"`)
	}
	return r, complete, diags
}

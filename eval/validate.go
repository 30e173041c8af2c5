package eval

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/jplan/jplan/builtins"
	"github.com/jplan/jplan/lang"
	"github.com/zclconf/go-cty/cty"
)

// Validate checks every expression of the plan once, with unknown values
// for what only a run knows, and the plan's cross-references: everything
// `jplan validate` reports after decoding.
func (e *Evaluator) Validate() hcl.Diagnostics {
	var diags hcl.Diagnostics
	add := func(ds hcl.Diagnostics) { diags = append(diags, ds...) }
	p := e.Plan

	_, ds := e.Concurrency()
	add(ds)
	_, _, ds = e.Seed()
	add(ds)
	_, ds = e.TimeLimit()
	add(ds)
	if p.Test != nil {
		_, ds = str(p.Test.Description, e.root, "description", "")
		add(ds)
		_, ds = duration(p.Test.OpTimeout, e.root, "op_timeout", 0, false)
		add(ds)
	}
	remote, ds := e.Remote()
	add(ds)
	if p.Docker != nil && remote != "docker" && !ds.HasErrors() {
		add(hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "docker block unused",
			Detail:  `The docker block only applies when the test block sets remote = "docker".`,
			Subject: p.Docker.DeclRange.Ptr()}})
	}
	if p.Docker != nil {
		ctx := e.NodeContext(nil)
		_, ds = str(p.Docker.Container, ctx, "container", "")
		add(ds)
		_, ds = str(p.Docker.User, ctx, "user", "")
		add(ds)
	}

	_, ds = e.SSH(nil)
	add(ds)
	_, ds = e.OS(nil)
	add(ds)
	for _, d := range p.DBs {
		_, ds = e.DB(d, nil)
		add(ds)
	}
	add(e.validateClientAndOperations())
	for _, f := range p.Faults {
		_, ds = e.Fault(f)
		add(ds)
	}
	for _, fp := range p.FaultPackages {
		_, ds = e.FaultPackage(fp)
		add(ds)
	}
	used, ds := e.validatePhases()
	add(ds)
	for _, c := range p.Checkers {
		_, ds = e.Checker(c)
		add(ds)
	}
	// Unused blocks are worth a warning only in a plan that is otherwise
	// right: while errors are being fixed they are noise.
	if !diags.HasErrors() {
		add(e.unused(used))
	}
	return diags
}

func (e *Evaluator) validateClientAndOperations() hcl.Diagnostics {
	p := e.Plan
	var diags hcl.Diagnostics
	add := func(ds hcl.Diagnostics) { diags = append(diags, ds...) }
	_, ds := e.Client(nil)
	add(ds)
	kind := ""
	if p.Client != nil {
		kind = p.Client.Kind
		if _, known := lang.ClientKinds[kind]; !known {
			return diags // decoding reported the unknown kind
		}
	}
	byF := map[string]*lang.Operation{}
	for _, o := range p.Operations {
		// The history names an op only by f, and a client finds the request
		// to send by f: two operations with one f could not be told apart.
		f := e.OpF(o)
		if first, dup := byF[f]; dup {
			rng := o.DeclRange
			if o.F != nil {
				rng = o.F.Range()
			}
			add(hcl.Diagnostics{errDiag("Two operations record the same f",
				fmt.Sprintf("operation %q records f = %q, as operation %q (%s) does; the history and the client could not tell them apart. Give one of them another f.", o.Name, f, first.Name, first.DeclRange),
				rng)})
		} else {
			byF[f] = o
		}
		if p.Client == nil {
			add(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Operation without a client",
				Detail:  fmt.Sprintf("operation %q needs a client block saying how to perform it: client \"http\", \"exec\", \"process\" or \"sql\".", o.Name),
				Subject: o.DeclRange.Ptr()}})
		}
		switch {
		case o.Request != nil && kind != "http" && kind != "":
			add(hcl.Diagnostics{errDiag("Request needs an http client",
				fmt.Sprintf("A request block builds an HTTP request, but this plan's client is %q.", kind), o.Request.DeclRange)})
		case o.Request == nil && kind == "http":
			add(hcl.Diagnostics{errDiag("Missing request block",
				fmt.Sprintf("With the http client, operation %q needs a request block (method, path, body).", o.Name), o.DeclRange)})
		}
		switch {
		case o.Command != nil && kind != "exec" && kind != "":
			add(hcl.Diagnostics{errDiag("Command needs an exec client",
				fmt.Sprintf("command runs a program per operation, but this plan's client is %q.", kind), o.Command.Range())})
		case o.Command == nil && kind == "exec":
			add(hcl.Diagnostics{errDiag("Missing command",
				fmt.Sprintf("With the exec client, operation %q needs a command.", o.Name), o.DeclRange)})
		}
		if kind == "memory" {
			switch f {
			case "read", "write", "cas", "txn":
			default:
				add(hcl.Diagnostics{errDiag("Unknown memory operation",
					fmt.Sprintf("The memory client performs read, write (value v) and cas (value [old, new]) on a register, and txn (value: a list of micro-ops) on its key-value store; not %q.", f), o.DeclRange)})
			}
		}
		if o.Stdin != nil && kind != "exec" && kind != "" {
			add(hcl.Diagnostics{errDiag("stdin needs an exec client", "stdin is the input of the exec client's command.", o.Stdin.Range())})
		}
		if o.F != nil {
			_, ds := evalAs(o.F, e.root, cty.String, "f")
			add(ds)
		}
		_, ds = duration(o.Timeout, e.root, "timeout", 0, false)
		add(ds)
		add(e.validateOperation(o, kind))
	}
	return diags
}

// validateOperation evaluates an operation's expressions in order, each
// with unknown run-time values, giving op.value the type its expression has.
func (e *Evaluator) validateOperation(o *lang.Operation, kind string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	add := func(ds hcl.Diagnostics) { diags = append(diags, ds...) }
	in := OpInput{}
	value := cty.NullVal(cty.DynamicPseudoType)
	if o.Value != nil {
		add(e.validateTxnValue(o))
		v, ds := e.OpValue(o, in)
		add(ds)
		value = cty.DynamicVal
		if !ds.HasErrors() {
			value = cty.UnknownVal(v.Type())
		}
	}
	ctx := e.OpContext(o, in, value)
	if r := o.Request; r != nil {
		_, ds := oneOfStrings(r.Method, ctx, "method", "GET", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
		add(ds)
		_, ds = str(r.Path, ctx, "path", "")
		add(ds)
		_, ds = stringMap(r.Query, ctx, "query")
		add(ds)
		_, ds = stringMap(r.Headers, ctx, "headers")
		add(ds)
		_, ds = str(r.Body, ctx, "body", "")
		add(ds)
	}
	if o.Command != nil {
		_, ds := commands(o.Command, ctx, "command")
		add(ds)
	}
	_, ds := str(o.Stdin, ctx, "stdin", "")
	add(ds)
	add(validateSQLOperation(o, kind, ctx))
	if o.Result != nil {
		rctx := e.ResultContext(o, in, value, cty.UnknownVal(ResponseType(kind)))
		_, _, ds := e.EvalResult(o, rctx)
		add(ds)
	}
	return diags
}

// validatePhases checks that every phase's generators are generators, that
// client generators hold no faults and the nemesis's no operations, and that
// final phases come after all the others.
func (e *Evaluator) validatePhases() (map[string]bool, hcl.Diagnostics) {
	_, diags := e.phaseFinals()
	if len(e.Plan.Phases) == 0 && e.Plan.Test != nil {
		diags = append(diags, errDiag("No phases",
			`The plan schedules nothing: add a phase block, e.g. phase "main" { clients = mix([operation.read, operation.write]) }.`,
			e.Plan.Test.DeclRange))
	}
	used := map[string]bool{}
	for _, ph := range e.Plan.Phases {
		_, ds := duration(ph.TimeLimit, e.root, "time_limit", 0, false)
		diags = append(diags, ds...)
		for _, g := range []struct {
			expr hcl.Expression
			role string
		}{{ph.Clients, "clients"}, {ph.Nemesis, "nemesis"}, {ph.Generator, "generator"}} {
			if g.expr == nil {
				continue
			}
			for _, tr := range g.expr.Variables() {
				if tr.RootName() == "faults" && len(tr) > 1 {
					if a, ok := tr[1].(hcl.TraverseAttr); ok {
						used["faults."+a.Name] = true
					}
				}
			}
			gen, ds := e.Generator(g.expr, g.role)
			diags = append(diags, ds...)
			if gen != nil {
				gen.Walk(func(n *builtins.Generator) bool {
					switch n.Kind {
					case "operation":
						used["operation."+n.Name] = true
					case "fault":
						used["fault."+n.Name] = true
					}
					return true
				})
			}
		}
	}
	return used, diags
}

// unused warns about operations and faults that no phase refers to.
func (e *Evaluator) unused(used map[string]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, o := range e.Plan.Operations {
		if !used["operation."+o.Name] && len(e.Plan.Phases) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Unused operation",
				Detail: fmt.Sprintf("operation %q is not used by any phase.", o.Name), Subject: o.DeclRange.Ptr()})
		}
	}
	for _, fp := range e.Plan.FaultPackages {
		if !used["faults."+fp.Name] && len(e.Plan.Phases) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Unused faults block",
				Detail: fmt.Sprintf("faults %q is not used by any phase: schedule it with nemesis = faults.%s.generator, and heal with faults.%s.final.", fp.Name, fp.Name, fp.Name), Subject: fp.DeclRange.Ptr()})
		}
	}
	for _, f := range e.Plan.Faults {
		if !used["fault."+f.Name] && len(e.Plan.Phases) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Unused fault",
				Detail: fmt.Sprintf("fault %q is never started or stopped by any phase.", f.Name), Subject: f.DeclRange.Ptr()})
		}
	}
	return diags
}

// Generator evaluates a phase's generator expression. role is "clients",
// "nemesis" or "generator" (mixed, routed with clients() and nemesis()).
// It returns nil when the value is not known statically.
func (e *Evaluator) Generator(expr hcl.Expression, role string) (*builtins.Generator, hcl.Diagnostics) {
	v, diags := expr.Value(e.root)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return nil, diags
	}
	g, err := builtins.ToGenerator(v)
	if err != nil {
		return nil, append(diags, valueDiag(expr, role, err.Error()))
	}
	if msg := checkRouting(g, role); msg != "" {
		return g, append(diags, valueDiag(expr, role, msg))
	}
	return g, diags
}

// checkRouting finds the first leaf that would reach the wrong worker:
// operations belong to client workers and faults to the nemesis. Inside a
// phase's generator argument, every leaf must be under clients() or
// nemesis(), since nothing else says who performs it.
func checkRouting(g *builtins.Generator, role string) string {
	describe := func(n *builtins.Generator) string {
		if n.Kind == builtins.KindFault {
			return fmt.Sprintf("fault.%s.%s", n.Name, n.Action)
		}
		return "operation." + n.Name
	}
	var walk func(n *builtins.Generator, route string) string
	walk = func(n *builtins.Generator, route string) string {
		switch n.Kind {
		case builtins.KindClients, builtins.KindNemesis:
			if route != "" && route != n.Kind {
				return fmt.Sprintf("%s(...) sits inside the %s generator, which only client workers run", n.Kind, route)
			}
			route = n.Kind
		case builtins.KindOperation, builtins.KindFault:
			want := "clients"
			if n.Kind == builtins.KindFault {
				want = "nemesis"
			}
			switch {
			case route == "":
				return fmt.Sprintf("%s is not routed: wrap it in %s(...), or use the phase's clients and nemesis arguments", describe(n), want)
			case route != want:
				return fmt.Sprintf("the %s generator holds %s, which belongs to the %s; move it there", route, describe(n), want)
			}
		}
		for _, c := range n.Children {
			if msg := walk(c, route); msg != "" {
				return msg
			}
		}
		return ""
	}
	route := role
	if role == "generator" {
		route = ""
	}
	msg := walk(g, route)
	if route == "nemesis" {
		msg = strings.Replace(msg, "which only client workers run", "which only the nemesis runs", 1)
	}
	return msg
}

func errDiag(summary, detail string, rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// validateTxnValue checks that the transaction generators are called only
// as the whole of an operation's value, where eval fills in their keys and
// values at invocation.
func (e *Evaluator) validateTxnValue(o *lang.Operation) hcl.Diagnostics {
	var diags hcl.Diagnostics
	root, _ := o.Value.(*hclsyntax.FunctionCallExpr)
	if syn, ok := o.Value.(hclsyntax.Expression); ok {
		hclsyntax.VisitAll(syn, func(n hclsyntax.Node) hcl.Diagnostics {
			call, ok := n.(*hclsyntax.FunctionCallExpr)
			if ok && call != root {
				if _, isTxn := builtins.TxnFunctions[call.Name]; isTxn {
					r := call.Range()
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Transaction generator inside an expression",
						Detail:   call.Name + " must be the whole of the operation's value (value = " + call.Name + "(...)): its keys and values are filled in when each op is invoked.",
						Subject:  &r,
					})
				}
			}
			return nil
		})
	}
	return diags // the options are checked by the function itself
}

package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/jplan/jplan/builtins"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lang"
	"github.com/jplan/jplan/txn"
	"github.com/zclconf/go-cty/cty"
)

// OpSpec is one operation of the plan, ready to be evaluated at run time:
// its value when the generator emits an op, its request or command when a
// client performs it, and its result when the response arrives.
type OpSpec struct {
	e  *Evaluator
	Op *lang.Operation
	// F is the function name recorded in the history.
	F string
	// ClientKind is the plan's client kind ("http", "exec", "process", "sql").
	ClientKind string
	// Timeout overrides the client's timeout when non-zero.
	Timeout time.Duration
	// pool is set when the value is a transaction generator's call
	// (list_append_txn, rw_register_txn): the keys and per-key counters
	// every op of this operation draws from when it is invoked.
	pool builtins.TxnFiller
	// fast computes the value without HCL when the expression is simple
	// enough (fastvalue.go); nil otherwise.
	fast fastValue

	// valueCtx is the value expression's context, built once: making the
	// function table costs far more than evaluating a small expression,
	// and Value runs for every op. Its random functions draw from src,
	// which is pointed at each call's generator randomness. mu guards
	// both; a concurrent caller builds its own context instead of waiting.
	mu       sync.Mutex
	valueCtx *hcl.EvalContext
	src      *randVia
}

// randVia is a rand.Source drawing from another *rand.Rand. A rand.Rand
// over it yields exactly what that Rand itself would: every method of
// rand.Rand is computed from its source's Uint64 alone.
type randVia struct{ r *rand.Rand }

func (v *randVia) Uint64() uint64 { return v.r.Uint64() }

// OpSpec returns the named operation, or nil.
func (e *Evaluator) OpSpec(name string) *OpSpec {
	o := e.Plan.Operation(name)
	if o == nil {
		return nil
	}
	s := &OpSpec{e: e, Op: o, F: e.OpF(o)}
	if e.Plan.Client != nil {
		s.ClientKind = e.Plan.Client.Kind
	}
	s.Timeout, _ = duration(o.Timeout, e.root, "timeout", 0, false)
	if pool, ok, _ := e.txnFiller(o); ok {
		s.pool = pool
	} else if o.Value != nil {
		s.fast = e.compileFast(o.Value)
	}
	return s
}

// diagError turns diagnostics into an error naming where in the plan the
// failing expression is, for run-time evaluation failures.
func diagError(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		m := d.Summary
		if d.Detail != "" {
			m += ": " + d.Detail
		}
		if d.Subject != nil {
			m = d.Subject.String() + ": " + m
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}

// Value evaluates the op's value with r, for the generator. The value
// expression sees op.f and the random functions only: the process and node
// are chosen by the runner after the value exists.
func (s *OpSpec) Value(r *rand.Rand) (any, error) {
	if s.Op.Value == nil {
		return nil, nil
	}
	if s.fast != nil && r != nil {
		return s.fast(r), nil
	}
	if s.pool != nil && r != nil {
		// The value is a transaction generator's call, its options fixed
		// for the run: the generator draws the shape itself, from the
		// same source the function would, without a trip through HCL.
		return txnValue{pool: s.pool, shape: s.pool.Shape(r)}, nil
	}
	v, diags := s.evalValue(r)
	if err := diagError(diags); err != nil {
		return nil, fmt.Errorf("operation %q value: %w", s.Op.Name, err)
	}
	out, err := FromCty(v)
	if err != nil {
		return nil, fmt.Errorf("operation %q value at %s: %w", s.Op.Name, s.Op.Value.Range(), err)
	}
	return out, nil
}

// evalValue evaluates the value expression drawing from r, in the cached
// context when it is free.
func (s *OpSpec) evalValue(r *rand.Rand) (cty.Value, hcl.Diagnostics) {
	if r == nil || !s.mu.TryLock() {
		return s.Op.Value.Value(s.e.OpContext(s.Op, OpInput{Rand: r}, cty.NilVal))
	}
	defer s.mu.Unlock()
	if s.valueCtx == nil {
		s.src = &randVia{}
		s.valueCtx = s.e.OpContext(s.Op, OpInput{Rand: rand.New(s.src)}, cty.NilVal)
	}
	s.src.r = r
	defer func() { s.src.r = nil }()
	return s.Op.Value.Value(s.valueCtx)
}

// txnValue is a transaction whose keys and write values are drawn from the
// operation's pool when the op is invoked (generator.Deferred).
type txnValue struct {
	pool  builtins.TxnFiller
	shape []txn.SlotMop
}

func (t txnValue) Resolve(seed uint64) (any, error) {
	return txn.Value(t.pool.Fill(t.shape, seed)), nil
}

// txnFiller recognises an operation whose whole value is a transaction
// generator's call and builds its state from its options (evaluated at
// the plan's top level: they are fixed for the run). ok is false for any
// other value.
func (e *Evaluator) txnFiller(o *lang.Operation) (builtins.TxnFiller, bool, hcl.Diagnostics) {
	call, isCall := o.Value.(*hclsyntax.FunctionCallExpr)
	if !isCall {
		return nil, false, nil
	}
	if _, isTxn := builtins.TxnFunctions[call.Name]; !isTxn {
		return nil, false, nil
	}
	opt := cty.NullVal(cty.DynamicPseudoType)
	if len(call.Args) == 1 {
		v, diags := call.Args[0].Value(e.root)
		if diags.HasErrors() {
			return nil, false, diags
		}
		opt = v
	}
	f, err := builtins.NewTxnFiller(call.Name, opt)
	if err != nil {
		return nil, false, hcl.Diagnostics{valueDiag(o.Value, "value", err.Error())}
	}
	return f, true, nil
}

func (s *OpSpec) input(node Node, op history.Op) OpInput {
	return OpInput{Node: &node, Process: op.Process}
}

// HTTPRequest is an operation's request, evaluated.
type HTTPRequest struct {
	Method  string
	Path    string
	Query   map[string]string
	Headers map[string]string
	Body    string
}

// HTTPRequest evaluates the op's request block for a node.
func (s *OpSpec) HTTPRequest(node Node, op history.Op) (HTTPRequest, error) {
	r := s.Op.Request
	if r == nil {
		return HTTPRequest{}, fmt.Errorf("operation %q has no request block", s.Op.Name)
	}
	ctx := s.e.OpContext(s.Op, s.input(node, op), ToCty(op.Value))
	var req HTTPRequest
	var diags, ds hcl.Diagnostics
	req.Method, ds = str(r.Method, ctx, "method", "GET")
	diags = append(diags, ds...)
	req.Path, ds = str(r.Path, ctx, "path", "")
	diags = append(diags, ds...)
	req.Query, ds = stringMap(r.Query, ctx, "query")
	diags = append(diags, ds...)
	req.Headers, ds = stringMap(r.Headers, ctx, "headers")
	diags = append(diags, ds...)
	req.Body, ds = str(r.Body, ctx, "body", "")
	diags = append(diags, ds...)
	if err := diagError(diags); err != nil {
		return HTTPRequest{}, fmt.Errorf("operation %q request: %w", s.Op.Name, err)
	}
	return req, nil
}

// ExecCommand is an exec operation's command: Argv when the plan gave a
// list, Script (run by sh) when it gave a string.
type ExecCommand struct {
	Argv   []string
	Script string
	Stdin  string
}

// Command evaluates the op's command and stdin for a node.
func (s *OpSpec) Command(node Node, op history.Op) (ExecCommand, error) {
	if s.Op.Command == nil {
		return ExecCommand{}, fmt.Errorf("operation %q has no command", s.Op.Name)
	}
	ctx := s.e.OpContext(s.Op, s.input(node, op), ToCty(op.Value))
	v, diags := s.Op.Command.Value(ctx)
	var c ExecCommand
	if !diags.HasErrors() {
		if v.Type() == cty.String && !v.IsNull() {
			c.Script = v.AsString()
		} else {
			var ds hcl.Diagnostics
			c.Argv, ds = stringList(s.Op.Command, ctx, "command")
			diags = append(diags, ds...)
		}
	}
	var ds hcl.Diagnostics
	c.Stdin, ds = str(s.Op.Stdin, ctx, "stdin", "")
	diags = append(diags, ds...)
	if err := diagError(diags); err != nil {
		return ExecCommand{}, fmt.Errorf("operation %q command: %w", s.Op.Name, err)
	}
	if c.Script == "" && len(c.Argv) == 0 {
		return ExecCommand{}, fmt.Errorf("operation %q: the command is empty", s.Op.Name)
	}
	return c, nil
}

// HTTPResponse builds `response` for the http client.
func HTTPResponse(status int, body []byte, header http.Header) cty.Value {
	hs := map[string]cty.Value{}
	for k := range header {
		hs[strings.ToLower(k)] = cty.StringVal(header.Get(k))
	}
	headers := cty.MapValEmpty(cty.String)
	if len(hs) > 0 {
		headers = cty.MapVal(hs)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"status":  cty.NumberIntVal(int64(status)),
		"body":    cty.StringVal(strings.ToValidUTF8(string(body), "\uFFFD")),
		"json":    parseJSON(body),
		"headers": headers,
	})
}

// ExecResponse builds `response` for the exec client.
func ExecResponse(exitCode int, stdout, stderr []byte) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"exit_code": cty.NumberIntVal(int64(exitCode)),
		"stdout":    cty.StringVal(strings.ToValidUTF8(string(stdout), "\uFFFD")),
		"stderr":    cty.StringVal(strings.ToValidUTF8(string(stderr), "\uFFFD")),
		"json":      parseJSON(stdout),
	})
}

// parseJSON returns the body as a value, or null when it is not JSON.
// Numbers keep full precision through json.Number.
func parseJSON(b []byte) cty.Value {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return ToCty(v)
}

// Complete evaluates the op's result against a response and returns the
// completed op. Without a result expression: the http client's op is ok for
// a 2xx status and info otherwise (the request may have been applied); the
// exec client's is ok for exit status 0 and info otherwise; the process
// client's response object {type, value, error} is the result itself; the
// sql client's op is ok (it asks only once its transaction committed).
func (s *OpSpec) Complete(node Node, op history.Op, response cty.Value) (history.Op, error) {
	in := s.input(node, op)
	value := ToCty(op.Value)
	var res Result
	if s.Op.Result != nil {
		ctx := s.e.ResultContext(s.Op, in, value, response)
		r, complete, diags := s.e.EvalResult(s.Op, ctx)
		if err := diagError(diags); err != nil {
			return op, fmt.Errorf("operation %q result: %w", s.Op.Name, err)
		}
		if !complete {
			return op, fmt.Errorf("operation %q result at %s is not known", s.Op.Name, s.Op.Result.Range())
		}
		res = r
	} else {
		res = defaultResult(s.ClientKind, response)
	}
	out := op
	switch res.Type {
	case "ok":
		out.Type = history.OK
	case "fail":
		out.Type = history.Fail
	default:
		out.Type = history.Info
	}
	out.Error = res.Error
	if res.Value != cty.NilVal {
		v, err := FromCty(res.Value)
		if err != nil {
			return op, fmt.Errorf("operation %q result value: %w", s.Op.Name, err)
		}
		out.Value = v
	}
	return out, nil
}

func defaultResult(kind string, response cty.Value) Result {
	r := Result{Type: "info", Value: cty.NilVal}
	if !response.IsKnown() || response.IsNull() {
		return r
	}
	ty := response.Type()
	has := func(k string) bool { return ty.IsObjectType() && ty.HasAttribute(k) }
	switch kind {
	case "sql":
		// The sql client completes an op through here only once its
		// transaction has committed.
		r.Type = "ok"
	case "http":
		if has("status") {
			st, _ := response.GetAttr("status").AsBigFloat().Int64()
			if st >= 200 && st < 300 {
				r.Type = "ok"
			} else {
				r.Error = fmt.Sprintf("HTTP status %d", st)
			}
		}
	case "exec":
		if has("exit_code") {
			code, _ := response.GetAttr("exit_code").AsBigFloat().Int64()
			if code == 0 {
				r.Type = "ok"
			} else {
				r.Error = fmt.Sprintf("exit status %d: %s", code, strings.TrimSpace(response.GetAttr("stderr").AsString()))
			}
		}
	case "process":
		if has("type") && response.GetAttr("type").Type() == cty.String {
			switch t := response.GetAttr("type").AsString(); t {
			case "ok", "fail", "info":
				r.Type = t
			default:
				r.Error = fmt.Sprintf("process client answered type %q", t)
			}
		}
		if has("value") {
			r.Value = response.GetAttr("value")
		}
		if has("error") && response.GetAttr("error").Type() == cty.String {
			r.Error = response.GetAttr("error").AsString()
		}
	}
	return r
}

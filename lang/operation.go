package lang

import "github.com/hashicorp/hcl/v2"

// Operation is one kind of operation clients perform. Its expressions are
// evaluated for every generated op: value first (with op.f, op.process,
// node), then the request or command (with op.value too), then result (with
// response as well).
type Operation struct {
	Name string
	// F overrides the op's function name in the history (default: Name), so
	// two operations can record the same f, e.g. a final read.
	F       hcl.Expression
	Value   hcl.Expression
	Request *Request
	// Command is the exec client's command: a string run by sh, or a list.
	Command hcl.Expression
	Stdin   hcl.Expression
	// Result maps the response to the completion: an object with type
	// ("ok", "fail" or "info"), and optionally value and error.
	Result  hcl.Expression
	Timeout hcl.Expression
	// MicroOps are the sql client's statement templates per micro-op kind
	// of a txn op ($1 the key, $2 the value); Statements the statements of
	// any other sql op.
	MicroOps   hcl.Expression
	Statements hcl.Expression

	DeclRange hcl.Range
}

// Request is the HTTP request of an operation.
type Request struct {
	Method  hcl.Expression
	Path    hcl.Expression
	Query   hcl.Expression
	Headers hcl.Expression
	Body    hcl.Expression

	DeclRange hcl.Range
}

var (
	operationSchema = registerSchema("operation", Schema{
		Attrs: []AttrSpec{
			{Name: "f", Doc: "function name recorded in the history"},
			{Name: "value", Doc: "the op's value, evaluated per op"},
			{Name: "command", Doc: "exec client: the command"},
			{Name: "stdin", Doc: "exec client: input to the command"},
			{Name: "result", Doc: "maps the response to ok/fail/info"},
			{Name: "timeout", Doc: "overrides the client's timeout"},
			{Name: "micro_ops", Doc: "sql client: a statement per micro-op kind of a txn"},
			{Name: "statements", Doc: "sql client: the statements of the op's transaction"},
		},
		Blocks: []BlockSpec{{Type: "request", Single: true}},
	})
	requestSchema = registerSchema("operation.request", Schema{Attrs: []AttrSpec{
		{Name: "method", Doc: `HTTP method (default "GET")`},
		{Name: "path", Doc: "path relative to the client's base_url"},
		{Name: "query", Doc: "query parameters, a map"},
		{Name: "headers", Doc: "headers, a map"},
		{Name: "body", Doc: "request body, a string"},
	}})
)

func decodeOperation(blk *hcl.Block) (*Operation, hcl.Diagnostics) {
	c, diags := operationSchema.content(blk.Body, "operation")
	o := &Operation{
		Name:       blk.Labels[0],
		F:          expr(c, "f"),
		Value:      expr(c, "value"),
		Command:    expr(c, "command"),
		Stdin:      expr(c, "stdin"),
		Result:     expr(c, "result"),
		Timeout:    expr(c, "timeout"),
		MicroOps:   expr(c, "micro_ops"),
		Statements: expr(c, "statements"),
		DeclRange:  blk.DefRange,
	}
	if d := checkName("operation", o.Name, blk.LabelRanges[0]); d != nil {
		diags = append(diags, d)
	}
	if rb := blocksOf(c, "request"); len(rb) > 0 {
		rc, ds := requestSchema.content(rb[0].Body, "request")
		diags = append(diags, ds...)
		o.Request = &Request{Method: expr(rc, "method"), Path: expr(rc, "path"), Query: expr(rc, "query"),
			Headers: expr(rc, "headers"), Body: expr(rc, "body"), DeclRange: rb[0].DefRange}
	}
	return o, diags
}

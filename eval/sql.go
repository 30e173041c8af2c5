package eval

// The sql client's parts of the plan: its connection settings and the two
// ways an operation says what to run, micro_ops (a template per micro-op
// kind, for txn ops) and statements (for any other op).

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lang"
	"github.com/jplan/jplan/txn"
	"github.com/zclconf/go-cty/cty"
)

// SQLIsolations are the isolation levels the sql client's isolation takes,
// as PostgreSQL spells them after BEGIN ISOLATION LEVEL.
var SQLIsolations = []string{"serializable", "repeatable read", "read committed", "read uncommitted"}

// sqlClient evaluates the sql client's arguments into c.
func sqlClient(c *ClientConfig, a lang.Args, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags, ds hcl.Diagnostics
	add := func(ds hcl.Diagnostics) { diags = append(diags, ds...) }
	c.Host, ds = str(a.Expr("host"), ctx, "host", "")
	add(ds)
	c.Port, ds = integer(a.Expr("port"), ctx, "port", 5432, 1, 65535)
	add(ds)
	c.User, ds = str(a.Expr("user"), ctx, "user", "postgres")
	add(ds)
	c.Password, ds = str(a.Expr("password"), ctx, "password", "")
	add(ds)
	c.Database, ds = str(a.Expr("database"), ctx, "database", "postgres")
	add(ds)
	c.DSN, ds = str(a.Expr("dsn"), ctx, "dsn", "")
	add(ds)
	c.Isolation, ds = oneOfStrings(a.Expr("isolation"), ctx, "isolation", "serializable", SQLIsolations...)
	add(ds)
	if dsn := a.Expr("dsn"); dsn != nil {
		// Two ways of saying where to connect would leave the reader to
		// guess which one wins.
		for _, n := range []string{"host", "port", "user", "password", "database"} {
			if e := a.Expr(n); e != nil {
				add(hcl.Diagnostics{errDiag("Both dsn and "+n,
					fmt.Sprintf("dsn is the whole connection string; give the %s in it, or drop dsn and use host, port, user, password and database.", n),
					e.Range())})
			}
		}
	}
	return diags
}

// SQLStatement is one statement of a sql operation with its parameters,
// bound as $1, $2, ... by the driver (never pasted into the text).
type SQLStatement struct {
	SQL  string
	Args []any
}

// IsMicroOps reports whether the operation runs its value's micro-ops
// through micro_ops templates (else it runs its statements).
func (s *OpSpec) IsMicroOps() bool { return s.Op.MicroOps != nil }

// SQLMicroOps evaluates the operation's micro_ops for a node: the statement
// template of each micro-op kind ("r", "append", "w").
func (s *OpSpec) SQLMicroOps(node Node, op history.Op) (map[string]string, error) {
	if s.Op.MicroOps == nil {
		return nil, fmt.Errorf("operation %q has no micro_ops", s.Op.Name)
	}
	ctx := s.e.OpContext(s.Op, s.input(node, op), ToCty(op.Value))
	m, diags := microOps(s.Op.MicroOps, ctx)
	if err := diagError(diags); err != nil {
		return nil, fmt.Errorf("operation %q micro_ops: %w", s.Op.Name, err)
	}
	return m, nil
}

// SQLStatements evaluates the operation's statements for a node and op.
func (s *OpSpec) SQLStatements(node Node, op history.Op) ([]SQLStatement, error) {
	if s.Op.Statements == nil {
		return nil, fmt.Errorf("operation %q has no statements", s.Op.Name)
	}
	ctx := s.e.OpContext(s.Op, s.input(node, op), ToCty(op.Value))
	st, diags := statements(s.Op.Statements, ctx)
	if err := diagError(diags); err != nil {
		return nil, fmt.Errorf("operation %q statements: %w", s.Op.Name, err)
	}
	if len(st) == 0 {
		return nil, fmt.Errorf("operation %q: statements is empty", s.Op.Name)
	}
	return st, nil
}

// microOps evaluates a micro_ops map: micro-op kind to statement text.
func microOps(e hcl.Expression, ctx *hcl.EvalContext) (map[string]string, hcl.Diagnostics) {
	m, diags := stringMap(e, ctx, "micro_ops")
	if diags.HasErrors() {
		return nil, diags
	}
	for _, k := range sortedKeys(m) {
		key, val := objectItem(e, k, ctx)
		if _, ok := txn.ParseKind(k); !ok {
			diags = append(diags, valueDiag(key, "micro_ops",
				fmt.Sprintf("%q is not a micro-op kind: the keys are r, append and w", k)))
			continue
		}
		if m[k] == "" {
			diags = append(diags, valueDiag(val, "micro_ops", fmt.Sprintf("the statement for %q is empty", k)))
			continue
		}
		if n := SQLParams(m[k]); n > 2 {
			diags = append(diags, valueDiag(val, "micro_ops",
				fmt.Sprintf("the statement for %q uses $%d: a micro-op statement has only $1 (the key) and $2 (the value)", k, n)))
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return m, diags
}

// objectItem returns the key and value expressions of k in an object
// written out in the plan, for diagnostics; e itself otherwise.
func objectItem(e hcl.Expression, k string, ctx *hcl.EvalContext) (key, val hcl.Expression) {
	if oc, ok := e.(*hclsyntax.ObjectConsExpr); ok {
		for _, it := range oc.Items {
			if kv, ds := it.KeyExpr.Value(ctx); !ds.HasErrors() && kv.Type() == cty.String && kv.IsKnown() && !kv.IsNull() && kv.AsString() == k {
				return it.KeyExpr, it.ValueExpr
			}
		}
	}
	return e, e
}

// statements evaluates a statements list. Each element is a string (a
// statement without parameters) or a list whose first element is the
// statement and the rest its parameters $1, $2, ... A list written out in
// the plan is evaluated element by element, so a diagnostic points at the
// statement that is wrong.
func statements(e hcl.Expression, ctx *hcl.EvalContext) ([]SQLStatement, hcl.Diagnostics) {
	if tc, ok := e.(*hclsyntax.TupleConsExpr); ok {
		var out []SQLStatement
		var diags hcl.Diagnostics
		for i, ee := range tc.Exprs {
			v, ds := ee.Value(ctx)
			diags = append(diags, ds...)
			if ds.HasErrors() {
				continue
			}
			st, d := statement(ee, i, v)
			if d != nil {
				diags = append(diags, d)
				continue
			}
			out = append(out, st)
		}
		return out, diags
	}
	v, diags := e.Value(ctx)
	if diags.HasErrors() || !v.IsKnown() {
		return nil, diags
	}
	ty := v.Type()
	if v.IsNull() || !(ty.IsListType() || ty.IsTupleType()) {
		return nil, append(diags, valueDiag(e, "statements", `expected a list of statements, each a string or a list ["SQL with $1", param, ...]`))
	}
	var out []SQLStatement
	for i, ev := range v.AsValueSlice() {
		st, d := statement(e, i, ev)
		if d != nil {
			return nil, append(diags, d)
		}
		out = append(out, st)
	}
	return out, diags
}

// statement reads statement i of a statements list from its value; e is
// where a diagnostic points. Unknown parts (validation) are left empty.
func statement(e hcl.Expression, i int, v cty.Value) (SQLStatement, *hcl.Diagnostic) {
	bad := func(detail string) (SQLStatement, *hcl.Diagnostic) {
		return SQLStatement{}, valueDiag(e, "statements", fmt.Sprintf("statement %d: %s", i, detail))
	}
	if !v.IsKnown() {
		return SQLStatement{}, nil
	}
	ty := v.Type()
	switch {
	case v.IsNull():
		return bad("it is null")
	case ty == cty.String:
		if p := SQLParams(v.AsString()); p > 0 {
			return bad(fmt.Sprintf(`it uses $%d but gives no parameters: write it as a list ["SQL", param, ...]`, p))
		}
		return SQLStatement{SQL: v.AsString()}, nil
	case ty.IsListType() || ty.IsTupleType():
		parts := v.AsValueSlice()
		if len(parts) == 0 {
			return bad("it is an empty list: its first element is the SQL text")
		}
		if !parts[0].IsKnown() {
			return SQLStatement{}, nil
		}
		if parts[0].IsNull() || parts[0].Type() != cty.String {
			return bad("the first element must be the SQL text, a string")
		}
		st := SQLStatement{SQL: parts[0].AsString()}
		for j, p := range parts[1:] {
			if !p.IsWhollyKnown() {
				st.Args = append(st.Args, nil)
				continue
			}
			g, err := FromCty(p)
			if err != nil {
				return bad(fmt.Sprintf("parameter $%d: %s", j+1, err))
			}
			st.Args = append(st.Args, g)
		}
		if np := SQLParams(st.SQL); np != len(st.Args) {
			return bad(fmt.Sprintf("it uses %d parameters ($1 to $%d) but gives %d", np, np, len(st.Args)))
		}
		return st, nil
	}
	return bad(fmt.Sprintf(`it is a %s: expected a string or a list ["SQL with $1", param, ...]`, ty.FriendlyName()))
}

// validateSQLOperation checks an operation against the plan's client kind:
// a sql client's operation gives micro_ops or statements, exactly one; no
// other client takes them. ctx sees op.value unknown.
func validateSQLOperation(o *lang.Operation, kind string, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, x := range []struct {
		e    hcl.Expression
		name string
	}{{o.MicroOps, "micro_ops"}, {o.Statements, "statements"}} {
		if x.e != nil && kind != "sql" && kind != "" {
			diags = append(diags, errDiag(x.name+" needs a sql client",
				fmt.Sprintf("%s says what the sql client runs, but this plan's client is %q.", x.name, kind), x.e.Range()))
		}
	}
	if kind == "sql" {
		switch {
		case o.MicroOps != nil && o.Statements != nil:
			diags = append(diags, errDiag("Both micro_ops and statements",
				fmt.Sprintf("Operation %q gives both: micro_ops runs the micro-ops of a txn value, statements runs a fixed list. Give one.", o.Name),
				o.Statements.Range()))
		case o.MicroOps == nil && o.Statements == nil:
			diags = append(diags, errDiag("Missing micro_ops or statements",
				fmt.Sprintf("With the sql client, operation %q needs micro_ops (a statement per micro-op kind, for a txn value) or statements.", o.Name),
				o.DeclRange))
		}
	}
	if o.MicroOps != nil {
		_, ds := microOps(o.MicroOps, ctx)
		diags = append(diags, ds...)
	}
	if o.Statements != nil {
		_, ds := statements(o.Statements, ctx)
		diags = append(diags, ds...)
	}
	return diags
}

// SQLParams returns the highest parameter number ($1, $2, ...) a statement
// uses, skipping string literals, quoted identifiers, dollar-quoted
// strings and comments, where a $n is text. The sql client binds exactly
// that many parameters: PostgreSQL rejects a statement given more or fewer
// than it uses.
func SQLParams(sql string) int {
	max := 0
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '\'' || c == '"':
			// '' and "" inside are escapes: the scan just closes and
			// reopens the quote.
			j := i + 1
			for j < len(sql) && sql[j] != c {
				j++
			}
			i = j
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return max
			}
			i += 2 + end + 1
		case c == '$' && i > 0 && isIdent(sql[i-1]):
			// Inside an identifier (PostgreSQL allows $ after the first
			// character): neither a parameter nor a dollar quote.
		case c == '$':
			j := i + 1
			n := 0
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				n = n*10 + int(sql[j]-'0')
				j++
			}
			if j > i+1 {
				if n > max {
					max = n
				}
				i = j - 1
				continue
			}
			// A dollar quote: $$ or $tag$, up to the same tag again.
			for j < len(sql) && (isIdent(sql[j])) {
				j++
			}
			if j < len(sql) && sql[j] == '$' {
				tag := sql[i : j+1]
				end := strings.Index(sql[j+1:], tag)
				if end < 0 {
					return max
				}
				i = j + 1 + end + len(tag) - 1
			}
		}
	}
	return max
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/txn"
	"github.com/zclconf/go-cty/cty"
)

// KindSQL is the sql client's kind.
const KindSQL = "sql"

// SQL is the sql client: one PostgreSQL connection per worker, and one
// transaction per op (BEGIN ISOLATION LEVEL ...; the op's statements;
// COMMIT). A txn op runs one statement per micro-op, from the operation's
// micro_ops templates ($1 the key, $2 the value), and its reads fill in the
// micro-ops' values; any other op runs the operation's statements.
//
// Outcomes (Jepsen's discipline for PostgreSQL):
//   - COMMIT succeeded → ok (or what the operation's result says);
//   - any error before COMMIT was sent → fail: a serialization failure
//     (SQLSTATE 40001), a deadlock (40P01), a constraint violation, a lost
//     connection or a timeout alike, since PostgreSQL aborts a transaction
//     that never commits, also when its connection dies;
//   - COMMIT answered with an error → fail: the server rolled back
//     (40001 is reported there under serializable), except errors that
//     end the session (class 08, class 57, severity FATAL or PANIC), which
//     may come after the commit was made durable → info;
//   - COMMIT sent but no answer (connection lost, timeout) → info.
type SQL struct {
	cfg  *Config
	node eval.Node
	nc   eval.ClientConfig
	cc   *pgx.ConnConfig
	conn *pgx.Conn
}

// sqlConnConfig builds the driver's config from the client block: the dsn
// as given, or a URL of host (default the node's host), port, user,
// password and database, without TLS (use a dsn for TLS).
func sqlConnConfig(n eval.Node, nc eval.ClientConfig) (*pgx.ConnConfig, error) {
	dsn := nc.DSN
	if dsn == "" {
		host := nc.Host
		if host == "" {
			host = n.Host
		}
		if host == "" {
			host = n.Name
		}
		port := nc.Port
		if port == 0 {
			port = 5432
		}
		u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/" + defaultStr(nc.Database, "postgres")}
		user := defaultStr(nc.User, "postgres")
		if nc.Password != "" {
			u.User = url.UserPassword(user, nc.Password)
		} else {
			u.User = url.User(user)
		}
		u.RawQuery = "sslmode=disable"
		dsn = u.String()
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The driver's message quotes the dsn, password and all; say only
		// that it did not parse.
		return nil, errors.New("the connection string does not parse (see the dsn argument in docs/clients.md)")
	}
	return cc, nil
}

func defaultStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// isolation returns the client's isolation level, checked.
func isolation(nc eval.ClientConfig) (pgx.TxIsoLevel, error) {
	iso := defaultStr(nc.Isolation, "serializable")
	if !slices.Contains(eval.SQLIsolations, iso) {
		return "", fmt.Errorf("isolation %q is not one of %s", iso, strings.Join(eval.SQLIsolations, ", "))
	}
	return pgx.TxIsoLevel(iso), nil
}

// Open binds the client to node and connects. A server that cannot be
// reached is not an error here: Invoke connects again, and each op it
// cannot connect for fails (it certainly did not run). So a worker
// restarted while its node is down records fails, and the runner's setup
// and teardown, which open a client per node, do not need the server.
func (c *SQL) Open(ctx context.Context, node string) error {
	n, nc, err := c.cfg.node(node)
	if err != nil {
		return fmt.Errorf("sql client on %s: %w", node, err)
	}
	if _, err := isolation(nc); err != nil {
		return fmt.Errorf("sql client on %s: %w", node, err)
	}
	cc, err := sqlConnConfig(n, nc)
	if err != nil {
		return fmt.Errorf("sql client on %s: %w", node, err)
	}
	c.node, c.nc, c.cc = n, nc, cc
	cctx, cancel := context.WithTimeout(ctx, timeout(nil, nc))
	defer cancel()
	if err := c.connect(cctx); err != nil {
		c.cfg.Logf("sql client on %s: %v (connecting again at the next op)", node, err)
	}
	return nil
}

// connect opens the connection if there is none (or it was lost).
func (c *SQL) connect(ctx context.Context) error {
	if c.conn != nil && !c.conn.IsClosed() {
		return nil
	}
	c.drop()
	conn, err := pgx.ConnectConfig(ctx, c.cc)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	c.conn = conn
	return nil
}

// drop closes the connection, for one lost or in an unknown state.
func (c *SQL) drop() {
	if c.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.conn.Close(ctx) // the connection is being given up: its error says nothing about an op
	c.conn = nil
}

// Setup does nothing: the schema is the db block's business (e.g. its
// primary_setup), run once rather than once per node.
func (c *SQL) Setup(context.Context) error { return nil }

// Teardown does nothing.
func (c *SQL) Teardown(context.Context) error { return nil }

// Close closes the connection.
func (c *SQL) Close(context.Context) error {
	c.drop()
	c.cc = nil
	return nil
}

// sqlStep is one statement of an op's transaction; mop is the index of the
// micro-op it performs, or -1.
type sqlStep struct {
	eval.SQLStatement
	mop int
}

// sqlResult is what one statement returned.
type sqlResult struct {
	rows     []map[string]any
	first    any // the first column of the first row; nil without rows
	hasRow   bool
	affected int64
}

// Invoke performs op in one transaction.
func (c *SQL) Invoke(ctx context.Context, op history.Op) (history.Op, error) {
	if c.cc == nil {
		return op, opError(c.node.Name, op, errNotOpen)
	}
	spec, err := c.cfg.spec(op)
	if err != nil {
		return op, opError(c.node.Name, op, err)
	}
	steps, mops, lists, err := c.steps(spec, op)
	if err != nil {
		return op, opError(c.node.Name, op, err)
	}
	iso, err := isolation(c.nc)
	if err != nil {
		return op, opError(c.node.Name, op, err)
	}
	octx, cancel := context.WithTimeout(ctx, timeout(spec, c.nc))
	defer cancel()

	if err := c.connect(octx); err != nil {
		return fail(op, "%v", err), nil
	}
	results, terr := c.transact(octx, iso, steps)
	if terr != nil {
		return terr.complete(op), nil
	}
	if mops != nil {
		for i, s := range steps {
			if mops[s.mop].Kind == txn.Read {
				mops[s.mop].Value = readValue(results[i], lists)
			}
		}
		op.Value = txn.Value(mops)
	}
	out, cerr := spec.Complete(c.node, op, sqlResponse(results))
	if cerr != nil {
		// The transaction committed, but the plan's result could not say
		// how: the op took effect, so it must not be a fail.
		return info(op, "committed, but %v", cerr), nil
	}
	return out, nil
}

// steps turns the op into its statements: one per micro-op of a txn value
// through the operation's micro_ops, or the operation's statements. lists
// says whether reads are list reads (the plan has an append statement).
func (c *SQL) steps(spec *eval.OpSpec, op history.Op) (steps []sqlStep, mops []txn.Mop, lists bool, err error) {
	if !spec.IsMicroOps() {
		sts, err := spec.SQLStatements(c.node, op)
		if err != nil {
			return nil, nil, false, err
		}
		for _, s := range sts {
			steps = append(steps, sqlStep{SQLStatement: s, mop: -1})
		}
		return steps, nil, false, nil
	}
	tmpl, err := spec.SQLMicroOps(c.node, op)
	if err != nil {
		return nil, nil, false, err
	}
	mops, err = txn.Parse(op.Value)
	if err != nil {
		return nil, nil, false, err
	}
	for i, m := range mops {
		sql, ok := tmpl[m.Kind.String()]
		if !ok {
			return nil, nil, false, fmt.Errorf("micro-op %s: micro_ops has no %q statement", m, m.Kind)
		}
		steps = append(steps, sqlStep{SQLStatement: microOpStatement(sql, m), mop: i})
	}
	_, lists = tmpl[txn.Append.String()]
	return steps, mops, lists, nil
}

// microOpStatement binds a micro-op to its template: $1 is the key, $2 the
// value (nil for a read), as many of them as the template uses.
func microOpStatement(sql string, m txn.Mop) eval.SQLStatement {
	args := []any{m.Key, m.Value}
	if m.Kind == txn.Read {
		args[1] = nil
	}
	n := min(eval.SQLParams(sql), len(args))
	return eval.SQLStatement{SQL: sql, Args: args[:n]}
}

// sqlError is a failed transaction with the outcome it gives its op.
type sqlError struct {
	typ history.Type
	err error
}

func (e *sqlError) complete(op history.Op) history.Op {
	if e.typ == history.Fail {
		return fail(op, "%v", e.err)
	}
	return info(op, "%v", e.err)
}

// transact runs steps in one transaction at iso and commits. On error the
// connection is dropped when it is lost or its state is unknown.
func (c *SQL) transact(ctx context.Context, iso pgx.TxIsoLevel, steps []sqlStep) ([]sqlResult, *sqlError) {
	tx, err := c.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: iso})
	if err != nil {
		c.dropIfLost()
		return nil, &sqlError{history.Fail, fmt.Errorf("begin: %w", err)}
	}
	results := make([]sqlResult, len(steps))
	for i, s := range steps {
		results[i], err = runStatement(ctx, tx, s.SQLStatement)
		if err != nil {
			c.rollback(tx)
			return nil, &sqlError{history.Fail, fmt.Errorf("statement %d: %w", i, err)}
		}
	}
	err = tx.Commit(ctx)
	if err != nil {
		c.dropIfLost()
		return nil, &sqlError{commitOutcome(err), fmt.Errorf("commit: %w", err)}
	}
	return results, nil
}

// commitOutcome is the outcome of an op whose COMMIT returned err: fail
// when the server certainly rolled back or nothing was sent, info when the
// commit may have happened.
func commitOutcome(err error) history.Type {
	if errors.Is(err, pgx.ErrTxCommitRollback) || pgconn.SafeToRetry(err) {
		return history.Fail
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if endsSession(pe) {
			return history.Info
		}
		return history.Fail
	}
	return history.Info
}

// endsSession reports whether a server error ends the session rather than
// the statement: an administrator's shutdown, a crash of another backend,
// a connection exception. PostgreSQL may send such an error after a
// COMMIT has reached the disk.
func endsSession(pe *pgconn.PgError) bool {
	switch pe.Severity {
	case "FATAL", "PANIC":
		return true
	}
	return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57")
}

// rollback ends a failed transaction. A rollback that fails leaves the
// connection in an unknown state, so it is dropped.
func (c *SQL) rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := tx.Rollback(ctx); err != nil {
		c.drop()
		return
	}
	c.dropIfLost()
}

func (c *SQL) dropIfLost() {
	if c.conn != nil && c.conn.IsClosed() {
		c.drop()
	}
}

// runStatement runs one statement and reads all its rows.
func runStatement(ctx context.Context, tx pgx.Tx, s eval.SQLStatement) (sqlResult, error) {
	rows, err := tx.Query(ctx, s.SQL, s.Args...)
	if err != nil {
		return sqlResult{}, err
	}
	defer rows.Close()
	var r sqlResult
	fields := rows.FieldDescriptions()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return sqlResult{}, err
		}
		row := make(map[string]any, len(vals))
		for i, v := range vals {
			row[string(fields[i].Name)] = plainValue(v)
		}
		if !r.hasRow && len(vals) > 0 {
			r.first, r.hasRow = plainValue(vals[0]), true
		}
		r.rows = append(r.rows, row)
	}
	if err := rows.Err(); err != nil {
		return sqlResult{}, err
	}
	r.affected = rows.CommandTag().RowsAffected()
	return r, nil
}

// readValue is a read micro-op's value: the first column of the first row,
// nil without a row or for NULL. A list read (lists) takes an array column
// or a text column of comma-separated integers.
func readValue(r sqlResult, lists bool) any {
	if !r.hasRow || r.first == nil {
		return nil
	}
	if s, ok := r.first.(string); ok && lists {
		return parseList(s)
	}
	return r.first
}

// parseList reads "1,2,3" as [1 2 3]; elements that are not integers stay
// strings, so a checker sees them rather than a silently dropped value.
func parseList(s string) []any {
	out := []any{}
	if strings.TrimSpace(s) == "" {
		return out
	}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if n, err := strconv.ParseInt(e, 10, 64); err == nil {
			out = append(out, n)
		} else {
			out = append(out, e)
		}
	}
	return out
}

// plainValue turns a driver value into a history value: integers int64,
// arrays []any, numerics int64 or float64, times RFC 3339 strings, bytes
// strings; anything else its text.
func plainValue(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return float64(x)
	case []byte:
		return string(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainValue(e)
		}
		return out
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case pgtype.Numeric:
		if !x.Valid {
			return nil
		}
		if i, err := x.Int64Value(); err == nil {
			return i.Int64 // whole, and it fits
		}
		if f, err := x.Float64Value(); err == nil && f.Valid {
			return f.Float64
		}
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// sqlResponse is `response` for an operation's result: rows and
// rows_affected of the last statement, and results, each statement's
// { rows, rows_affected }. A row is an object keyed by column name.
func sqlResponse(results []sqlResult) cty.Value {
	per := make([]any, len(results))
	for i, r := range results {
		per[i] = map[string]any{"rows": rowsValue(r.rows), "rows_affected": r.affected}
	}
	last := sqlResult{}
	if len(results) > 0 {
		last = results[len(results)-1]
	}
	return cty.ObjectVal(map[string]cty.Value{
		"rows":          eval.ToCty(rowsValue(last.rows)),
		"rows_affected": cty.NumberIntVal(last.affected),
		"results":       eval.ToCty(per),
	})
}

func rowsValue(rows []map[string]any) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out
}

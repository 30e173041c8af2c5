package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/runner"
)

// sqlTestClient opens the sql client of testdata/sql.hcl against the fake
// server on port, with a short timeout.
func sqlTestClient(t *testing.T, port int, limit time.Duration) (runner.Client, *logs) {
	t.Helper()
	ev := loadPlan(t, "sql.hcl", eval.Node{Name: "n1", Host: "n1.invalid"})
	cfg, lg := configFor(t, ev, func(nc *eval.ClientConfig) {
		nc.Host, nc.Port, nc.Timeout = "127.0.0.1", port, limit
	})
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	return open(t, NewFactory(cfg), "n1"), lg
}

// TestSQLTxn: a txn op runs one statement per micro-op inside
// BEGIN ISOLATION LEVEL ... COMMIT, binds the key and value as parameters
// (the read only the key), and its reads fill in the completed value.
func TestSQLTxn(t *testing.T) {
	pg := newFakePG(t)
	c, _ := sqlTestClient(t, pg.port(), 2*time.Second)
	op, err := invoke(t, c, "txn", []any{[]any{"append", int64(1), int64(5)}, []any{"r", int64(1), nil}, []any{"r", int64(2), nil}})
	wantType(t, op, err, history.OK)
	want := []any{[]any{"append", int64(1), int64(5)}, []any{"r", int64(1), []any{int64(5)}}, []any{"r", int64(2), nil}}
	if !reflect.DeepEqual(op.Value, want) {
		t.Errorf("value %#v, want %#v", op.Value, want)
	}
	op, err = invoke(t, c, "txn", []any{[]any{"append", int64(1), int64(6)}, []any{"r", int64(1), nil}})
	wantType(t, op, err, history.OK)
	if got := op.Value.([]any)[1]; !reflect.DeepEqual(got, []any{"r", int64(1), []any{int64(5), int64(6)}}) {
		t.Errorf("second read %#v, want [r 1 [5 6]]", got)
	}
	log := pg.statements()
	wantLog := []string{
		"begin isolation level repeatable read",
		"INSERT INTO lists AS l (k, vals) VALUES ($1, ARRAY[$2::bigint]) ON CONFLICT (k) DO UPDATE SET vals = l.vals || $2::bigint [1 5]",
		"SELECT vals FROM lists WHERE k = $1 [1]",
		"SELECT vals FROM lists WHERE k = $1 [2]",
		"commit",
	}
	if len(log) < len(wantLog) || !slices.Equal(log[:len(wantLog)], wantLog) {
		t.Errorf("statements:\n%s\nwant first:\n%s", strings.Join(log, "\n"), strings.Join(wantLog, "\n"))
	}
	if n := pg.connections(); n != 1 {
		t.Errorf("%d connections for one worker, want 1", n)
	}
}

// TestSQLStatementsAndResult: a bank read's rows become its value through
// the operation's result; a transfer binds op.value's fields.
func TestSQLStatementsAndResult(t *testing.T) {
	pg := newFakePG(t)
	c, _ := sqlTestClient(t, pg.port(), 2*time.Second)
	op, err := invoke(t, c, "read", nil)
	wantType(t, op, err, history.OK)
	want := map[string]any{"0": int64(10), "1": int64(11), "2": int64(12)}
	if !reflect.DeepEqual(op.Value, want) {
		t.Errorf("read value %#v, want %#v", op.Value, want)
	}
	tr := map[string]any{"from": int64(0), "to": int64(2), "amount": int64(3)}
	op, err = invoke(t, c, "transfer", tr)
	wantType(t, op, err, history.OK)
	if !reflect.DeepEqual(op.Value, tr) {
		t.Errorf("transfer value %#v, want it unchanged", op.Value)
	}
	log := strings.Join(pg.statements(), "\n")
	for _, w := range []string{"balance - $1 WHERE id = $2 [3 0]", "balance + $1 WHERE id = $2 [3 2]"} {
		if !strings.Contains(log, w) {
			t.Errorf("no %q among the statements:\n%s", w, log)
		}
	}
}

// TestSQLOutcomes: Jepsen's discipline. Anything before COMMIT is a fail
// (PostgreSQL aborts a transaction that never commits); a COMMIT the
// server refused is a fail; a COMMIT without an answer, or answered by an
// error that ends the session, is info.
func TestSQLOutcomes(t *testing.T) {
	transfer := map[string]any{"from": int64(0), "to": int64(1), "amount": int64(3)}
	overdraft := map[string]any{"from": int64(0), "to": int64(1), "amount": int64(11)}
	cases := []struct {
		name      string
		commit    string
		f         string
		value     any
		want      history.Type
		errHas    string
		committed bool // COMMIT was sent
	}{
		{"commit ok", "", "transfer", transfer, history.OK, "", true},
		{"check constraint", "", "transfer", overdraft, history.Fail, "23514", false},
		{"serialization failure in a statement", "", "conflict", nil, history.Fail, "40001", false},
		{"connection lost in a statement", "", "drop", nil, history.Fail, "statement 1", false},
		{"timeout in a statement", "", "stall", nil, history.Fail, "statement 0", false},
		{"serialization failure at commit", "40001", "transfer", transfer, history.Fail, "40001", true},
		{"connection lost at commit", "drop", "transfer", transfer, history.Info, "commit", true},
		{"shutdown at commit", "fatal", "transfer", transfer, history.Info, "57P01", true},
		{"timeout at commit", "hang", "transfer", transfer, history.Info, "commit", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pg := newFakePG(t)
			pg.setCommit(tc.commit)
			c, _ := sqlTestClient(t, pg.port(), 500*time.Millisecond)
			op, err := invoke(t, c, tc.f, tc.value)
			wantType(t, op, err, tc.want)
			if !strings.Contains(op.Error, tc.errHas) {
				t.Errorf("error %q lacks %q", op.Error, tc.errHas)
			}
			if sent := slices.Contains(pg.statements(), "commit"); sent != tc.committed {
				t.Errorf("COMMIT sent: %v, want %v; statements: %q", sent, tc.committed, pg.statements())
			}
			// The worker's next op works: on the same connection, or on a
			// new one when the last was lost.
			pg.setCommit("")
			op, err = invoke(t, c, "transfer", transfer)
			wantType(t, op, err, history.OK)
		})
	}
}

// TestSQLUnreachable: a server that cannot be reached does not stop the
// client from opening (setup and teardown open one per node); each op
// then fails, since nothing was sent, and the client connects once the
// server is back.
func TestSQLUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c, lg := sqlTestClient(t, port, 500*time.Millisecond)
	op, err := invoke(t, c, "transfer", map[string]any{"from": int64(0), "to": int64(1), "amount": int64(1)})
	wantType(t, op, err, history.Fail)
	if !strings.Contains(op.Error, "connect") {
		t.Errorf("error %q does not say it could not connect", op.Error)
	}
	if !strings.Contains(lg.String(), "connecting again") {
		t.Errorf("Open did not log the failed connection: %q", lg.String())
	}
}

// TestSQLPlanErrors: an op the plan cannot run (a micro-op kind without a
// statement, a value that is not a txn) is an error of the plan, not a
// fail: Invoke returns it and the runner records info.
func TestSQLPlanErrors(t *testing.T) {
	pg := newFakePG(t)
	c, _ := sqlTestClient(t, pg.port(), 2*time.Second)
	for _, v := range []any{
		[]any{[]any{"w", int64(1), int64(2)}},
		"not a txn",
	} {
		_, err := invoke(t, c, "txn", v)
		if err == nil {
			t.Errorf("txn %v: no error", v)
			continue
		}
		t.Logf("txn %v: %v", v, err)
	}
	if got := pg.statements(); len(got) != 0 {
		t.Errorf("statements ran for ops the plan cannot run: %q", got)
	}
}

func TestSQLCommitOutcome(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want history.Type
	}{
		{"rolled back", pgx.ErrTxCommitRollback, history.Fail},
		{"serialization failure", &pgconn.PgError{Severity: "ERROR", Code: "40001"}, history.Fail},
		{"deadlock", &pgconn.PgError{Severity: "ERROR", Code: "40P01"}, history.Fail},
		{"deferred constraint", &pgconn.PgError{Severity: "ERROR", Code: "23505"}, history.Fail},
		{"admin shutdown", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}, history.Info},
		{"crash of another backend", &pgconn.PgError{Severity: "FATAL", Code: "57P02"}, history.Info},
		{"connection exception", &pgconn.PgError{Severity: "ERROR", Code: "08006"}, history.Info},
		{"wrapped serialization failure", fmt.Errorf("commit: %w", &pgconn.PgError{Severity: "ERROR", Code: "40001"}), history.Fail},
		{"EOF", io.ErrUnexpectedEOF, history.Info},
		{"timeout", context.DeadlineExceeded, history.Info},
		{"network", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, history.Info},
	}
	for _, tc := range cases {
		if got := commitOutcome(tc.err); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestSQLConnConfig(t *testing.T) {
	n := eval.Node{Name: "n2", Host: "10.0.0.2"}
	cc, err := sqlConnConfig(n, eval.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if cc.Host != "10.0.0.2" || cc.Port != 5432 || cc.User != "postgres" || cc.Database != "postgres" || cc.TLSConfig != nil {
		t.Errorf("defaults: host %s port %d user %s database %s tls %v", cc.Host, cc.Port, cc.User, cc.Database, cc.TLSConfig != nil)
	}
	cc, err = sqlConnConfig(n, eval.ClientConfig{Host: "n1", Port: 6543, User: "jepsen", Password: "p@ss word", Database: "bank"})
	if err != nil {
		t.Fatal(err)
	}
	if cc.Host != "n1" || cc.Port != 6543 || cc.User != "jepsen" || cc.Password != "p@ss word" || cc.Database != "bank" {
		t.Errorf("explicit: %+v", cc.Config)
	}
	cc, err = sqlConnConfig(n, eval.ClientConfig{DSN: "host=db1 port=7000 user=u dbname=d sslmode=disable"})
	if err != nil {
		t.Fatal(err)
	}
	if cc.Host != "db1" || cc.Port != 7000 || cc.Database != "d" {
		t.Errorf("dsn: %+v", cc.Config)
	}
	_, err = sqlConnConfig(n, eval.ClientConfig{DSN: "postgres://u:secret@h:notaport/d"})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a bad dsn: error %v (it must fail without quoting the password)", err)
	}
	cfg := Config{Kind: KindSQL, Nodes: map[string]eval.Node{"n1": {Name: "n1"}},
		PerNode: map[string]eval.ClientConfig{"n1": {Kind: KindSQL, Isolation: "snapshot"}}}
	if err := cfg.Check(); err == nil || !strings.Contains(err.Error(), "serializable, repeatable read") {
		t.Errorf("Check with isolation snapshot: %v", err)
	}
}

func TestSQLValues(t *testing.T) {
	if got := parseList("1, 2,3"); !reflect.DeepEqual(got, []any{int64(1), int64(2), int64(3)}) {
		t.Errorf("parseList: %#v", got)
	}
	if got := parseList(""); !reflect.DeepEqual(got, []any{}) {
		t.Errorf("parseList of an empty text: %#v, want an empty list", got)
	}
	if got := parseList("1,x"); !reflect.DeepEqual(got, []any{int64(1), "x"}) {
		t.Errorf("parseList keeps what is not an integer: %#v", got)
	}
	var num pgtype.Numeric
	if err := num.Scan("42"); err != nil {
		t.Fatal(err)
	}
	var frac pgtype.Numeric
	if err := frac.Scan("2.5"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want any }{
		{int32(7), int64(7)},
		{int16(-2), int64(-2)},
		{float32(1.5), float64(1.5)},
		{[]byte("ab"), "ab"},
		{[]any{int32(1), nil, int32(3)}, []any{int64(1), nil, int64(3)}},
		{num, int64(42)},
		{frac, 2.5},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05Z"},
	} {
		if got := plainValue(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("plainValue(%#v) = %#v, want %#v", c.in, got, c.want)
		}
	}
	// A rw-register read keeps its scalar; only list reads split text.
	if got := readValue(sqlResult{first: "1,2", hasRow: true}, false); got != "1,2" {
		t.Errorf("scalar read of text: %#v", got)
	}
	if got := readValue(sqlResult{}, true); got != nil {
		t.Errorf("read without a row: %#v, want nil", got)
	}
}

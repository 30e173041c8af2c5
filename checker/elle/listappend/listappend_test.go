package listappend

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/elle"
	"github.com/jplan/jplan/history"
)

// op builds an ok transaction of process 0 from a compact notation: "ax1"
// appends 1 to key x, "ry12" reads y = [1 2], "ry" reads y = nil.
func op(s string) history.Op {
	var mops []any
	var cur []any
	flush := func() {
		if cur != nil {
			mops = append(mops, cur)
		}
	}
	for _, c := range s {
		switch {
		case c == 'a':
			flush()
			cur = []any{"append"}
		case c == 'r':
			flush()
			cur = []any{"r"}
		case c >= 'a' && c <= 'z' && len(cur) == 1:
			cur = append(cur, string(c), nil)
		default:
			e := int64(c - '0')
			if cur[0] == "append" {
				cur[2] = e
			} else {
				l, _ := cur[2].([]any)
				cur[2] = append(l, e)
			}
		}
	}
	flush()
	return history.Op{Type: history.OK, F: "txn", Value: mops}
}

// with sets an op's process and type.
func with(o history.Op, process int, t history.Type) history.Op {
	o.Process, o.Type = process, t
	return o
}

// pair returns the invocation (reads unknown) and the completion.
func pair(o history.Op) []history.Op {
	inv := o
	inv.Type = history.Invoke
	var v []any
	for _, m := range o.Value.([]any) {
		m := m.([]any)
		if m[0] == "r" {
			m = []any{"r", m[1], nil}
		}
		v = append(v, m)
	}
	inv.Value = v
	return []history.Op{inv, o}
}

func hist(parts ...any) []history.Op {
	var h []history.Op
	for _, p := range parts {
		switch x := p.(type) {
		case history.Op:
			h = append(h, x)
		case []history.Op:
			h = append(h, x...)
		}
	}
	for i := range h {
		h[i].Index = int64(i)
		h[i].Time = int64(i) * 1000
	}
	return h
}

var none = []string{}

type want struct {
	valid checker.Validity
	types []string
	not   []string
}

func expect(t *testing.T, name string, h []history.Op, o elle.Options, w want) elle.Result {
	t.Helper()
	r := check(t, h, o)
	if r.Valid != w.valid || !slices.Equal(r.AnomalyTypes, w.types) || !slices.Equal(r.Not, w.not) {
		t.Errorf("%s: got valid %v types %v not %v; want valid %v types %v not %v",
			name, r.Valid, r.AnomalyTypes, r.Not, w.valid, w.types, w.not)
		for _, c := range r.Cycles {
			t.Log(c.Explanation)
		}
	}
	return r
}

func anomalies(as ...string) elle.Options {
	return elle.Options{ConsistencyModels: none, Anomalies: as}
}
func models(ms ...string) elle.Options { return elle.Options{ConsistencyModels: ms} }

var valid = want{valid: checker.True}

func TestG0(t *testing.T) {
	// x is appended by T1 then T2, y by T2 then T1.
	h := hist(op("ax1ay1"), op("ax2ay2"), op("rx12ry21"))
	expect(t, "G0", h, anomalies("G0"), want{checker.False, []string{"G0"}, []string{"read-uncommitted"}})
	expect(t, "G0 default", h, elle.Options{}, want{checker.False, []string{"G0"}, []string{"read-uncommitted"}})
}

func TestG1a(t *testing.T) {
	h := hist(with(op("ax1"), 0, history.Fail), op("rx1"))
	// No edges at all: the graph is empty, which alone is unknown.
	expect(t, "read-uncommitted", h, models("read-uncommitted"),
		want{checker.Unknown, []string{"empty-transaction-graph"}, []string{"read-committed"}})
	r := expect(t, "read-committed", h, models("read-committed"),
		want{checker.False, []string{"G1a", "empty-transaction-graph"}, []string{"read-committed"}})
	if g := r.Anomalies["G1a"].([]any); len(g) != 1 {
		t.Errorf("G1a instances %v", g)
	}
}

func TestG1b(t *testing.T) {
	h := hist(pair(op("ax1ax2")), pair(op("rx1")))
	expect(t, "G0 only", h, anomalies("G0"), valid)
	expect(t, "G1", h, anomalies("G1"), want{checker.False, []string{"G1b"}, []string{"read-committed"}})
	// Reading 1 but not 2 is also a G-single: G2 reports only that, but
	// the G1b still rules out read committed.
	expect(t, "G2", h, anomalies("G2"), want{checker.False, []string{"G-single-item"}, []string{"read-committed"}})
	expect(t, "strict", h, models("strict-serializable"),
		want{checker.False, []string{"G-single-item", "G1b"}, []string{"read-committed"}})
}

func TestG1c(t *testing.T) {
	// T2 appends to x after T1, but T1 saw T2's append to y.
	h := hist(op("ax1ry1"), op("ax2ay1"), op("rx12ry1"))
	expect(t, "G0", h, anomalies("G0"), valid)
	r := expect(t, "G1", h, anomalies("G1"), want{checker.False, []string{"G1c"}, []string{"read-committed"}})
	if len(r.Cycles) != 1 || len(r.Cycles[0].Cycle) != 2 {
		t.Fatalf("cycles %+v", r.Cycles)
	}
	ex := r.Cycles[0].Explanation
	for _, s := range []string{"observed", "append of 1 to key y", "appended 2 after", "a contradiction"} {
		if !strings.Contains(ex, s) {
			t.Errorf("explanation lacks %q:\n%s", s, ex)
		}
	}
	expect(t, "G2", h, anomalies("G2"), valid)
}

func TestGSingle(t *testing.T) {
	// T2 appends x after T1, and did not see T1's append to y.
	h := hist(op("ax1ay1"), op("ax2ry"), op("rx12"))
	expect(t, "G0", h, anomalies("G0"), valid)
	expect(t, "G1", h, anomalies("G1"), valid)
	w := want{checker.False, []string{"G-single-item"}, []string{"consistent-view", "repeatable-read"}}
	expect(t, "G-single", h, anomalies("G-single"), w)
	expect(t, "G2", h, anomalies("G2"), w)
	// Snapshot isolation forbids it: G-single implies G-nonadjacent.
	expect(t, "SI", h, models("snapshot-isolation"), w)
}

func TestG2Item(t *testing.T) {
	// Write skew: each reads the other's key empty, then appends its own.
	h := hist(op("ax1ry"), op("ay1rx"))
	expect(t, "G1", h, anomalies("G1"), valid)
	expect(t, "read-committed", h, models("read-committed"), valid)
	expect(t, "snapshot-isolation", h, models("snapshot-isolation"), valid)
	w := want{checker.False, []string{"G2-item"}, []string{"repeatable-read"}}
	expect(t, "G2", h, anomalies("G2"), w)
	expect(t, "serializable", h, models("serializable"), w)
	expect(t, "repeatable-read", h, models("repeatable-read"), w)
}

func TestGNonadjacent(t *testing.T) {
	h := hist(pair(op("ax1")), pair(op("rx1ry")), pair(op("ay1")), pair(op("ry1rx")))
	expect(t, "serializable", h, models("serializable"),
		want{checker.False, []string{"G-nonadjacent-item"}, []string{"repeatable-read", "snapshot-isolation"}})
}

func TestNonadjacentNeedsNonadjacent(t *testing.T) {
	// rw rw wr rw wr: two rw edges are adjacent, so no SI violation.
	h := hist(pair(op("rx5ay1")), pair(op("ryaz2")), pair(op("rzat3")), pair(op("rt3au4")), pair(op("ruax5")))
	expect(t, "SI", h, models("snapshot-isolation"), valid)
}

func TestRealtime(t *testing.T) {
	// T3 read x = [1] after T2's append of 2 had completed.
	h := hist(
		with(op("ax1"), 0, history.Invoke), with(op("ax1"), 0, history.OK),
		with(op("ax2"), 1, history.Invoke), with(op("ax2"), 1, history.OK),
		with(op("rx"), 2, history.Invoke), with(op("rx1"), 2, history.OK),
		with(op("rx"), 3, history.Invoke), with(op("rx12"), 3, history.OK))
	expect(t, "G2", h, anomalies("G2"), valid)
	expect(t, "serializable", h, models("serializable"), valid)
	r := expect(t, "strict", h, models("strict-serializable"),
		want{checker.False, []string{"G-single-item-realtime"}, []string{"strong-snapshot-isolation"}})
	if len(r.Cycles) == 1 && !strings.Contains(r.Cycles[0].Explanation, "before the invocation of") {
		t.Errorf("no realtime step in:\n%s", r.Cycles[0].Explanation)
	}
}

func TestProcess(t *testing.T) {
	// The same, but the stale read is by the process that appended 2.
	h := hist(
		with(op("ax1"), 0, history.Invoke), with(op("ax1"), 0, history.OK),
		with(op("ax2"), 1, history.Invoke), with(op("ax2"), 1, history.OK),
		with(op("rx"), 1, history.Invoke), with(op("rx1"), 1, history.OK),
		with(op("rx"), 2, history.Invoke), with(op("rx12"), 2, history.OK))
	expect(t, "serializable", h, models("serializable"), valid)
	expect(t, "strong session SI", h, models("strong-session-snapshot-isolation"),
		want{checker.False, []string{"G-single-item-process"}, []string{"strong-session-snapshot-isolation"}})
	// Strict serializability needs realtime edges, which subsume process
	// order: the cycle is reported as realtime.
	expect(t, "strict", h, models("strict-serializable"),
		want{checker.False, []string{"G-single-item-realtime"}, []string{"strong-snapshot-isolation"}})
}

func TestG1cProcess(t *testing.T) {
	h := hist(
		with(op("rxay1"), 1, history.Invoke), with(op("rx1ay1"), 1, history.OK),
		with(op("ry"), 2, history.Invoke), with(op("ry1"), 2, history.OK),
		with(op("ax1"), 2, history.Invoke), with(op("ax1"), 2, history.OK))
	expect(t, "strong session SI", h, models("strong-session-snapshot-isolation"),
		want{checker.False, []string{"G1c-process"}, []string{"strong-session-read-committed"}})
}

func TestInternal(t *testing.T) {
	h := hist(op("ax1ax2ax4"), op("ax3rx1234"))
	expect(t, "internal", h, anomalies("internal"), want{checker.False, []string{"internal"}, []string{"read-uncommitted"}})
	// Reading your own append is fine.
	expect(t, "own read", hist(op("rxax1rx1"), op("rx1")), elle.Options{}, valid)
}

func TestFutureRead(t *testing.T) {
	h := hist(op("rx1ax1"), op("rx1"))
	r := check(t, h, elle.Options{})
	if r.Valid != checker.False || !slices.Contains(r.AnomalyTypes, "future-read") {
		t.Errorf("got %v %v", r.Valid, r.AnomalyTypes)
	}
}

func TestDuplicateElements(t *testing.T) {
	h := hist(op("ax1ry1"), op("ax2ay1"), op("rx121"))
	expect(t, "read-committed", h, models("read-committed"),
		want{checker.False, []string{"G1c", "duplicate-elements"}, []string{"read-uncommitted"}})
}

func TestIncompatibleOrder(t *testing.T) {
	h := hist(op("ax1ry1"), op("ax2"), op("ax3ay1"), op("rx13"), op("rx123"))
	r := expect(t, "G1", h, anomalies("G1"),
		want{checker.False, []string{"G1c", "incompatible-order"}, []string{"read-committed"}})
	if io := r.Anomalies["incompatible-order"].([]any); len(io) != 1 {
		t.Errorf("incompatible orders %v", io)
	}
}

func TestDirtyUpdate(t *testing.T) {
	expect(t, "none", hist(with(op("ax1"), 0, history.Fail)), anomalies("dirty-update"),
		want{checker.Unknown, []string{"empty-transaction-graph"}, nil})
	expect(t, "direct", hist(with(op("ax1"), 0, history.Fail), with(op("ax2"), 1, history.OK), with(op("rx12"), 2, history.OK)),
		anomalies("dirty-update"), want{checker.False, []string{"dirty-update"}, []string{"read-committed"}})
	expect(t, "indirect", hist(with(op("ax1"), 0, history.Fail), with(op("ax2"), 1, history.Info),
		with(op("ax3"), 2, history.OK), with(op("rx123"), 3, history.OK)),
		anomalies("dirty-update"), want{checker.False, []string{"dirty-update"}, []string{"read-committed"}})
}

func TestUnobservedWrite(t *testing.T) {
	// y never shows 1, so T1's append to y comes after T2's; x shows it
	// before: G0. The reader of y = [2] also missed T1: G-single.
	h := hist(pair(op("ax1ay1")), pair(op("ax2ay2")), pair(op("ax3ay3")), pair(op("rx12")), pair(op("ry2")))
	expect(t, "serializable", h, models("serializable"),
		want{checker.False, []string{"G-single-item", "G0"}, []string{"read-uncommitted"}})
}

func TestLostUpdate(t *testing.T) {
	h := hist(pair(op("ax0")), pair(op("rx0ax1")), pair(op("rx0ax2")))
	r := check(t, h, elle.Options{})
	if r.Valid != checker.False || !slices.Equal(r.AnomalyTypes, []string{"G2-item", "lost-update"}) ||
		!slices.Equal(r.Not, []string{"cursor-stability", "update-atomic"}) {
		t.Errorf("got %v %v not %v", r.Valid, r.AnomalyTypes, r.Not)
	}
	// One txn appending twice over its read is no lost update.
	expect(t, "double write", hist(pair(op("rxax1ax2")), pair(op("rx12"))), elle.Options{}, valid)
}

func TestValid(t *testing.T) {
	h := hist(pair(op("ax1")), pair(op("rx1ax2")), pair(op("rx12ry")), pair(op("ay1")), pair(op("rx12ry1")))
	expect(t, "strict", h, elle.Options{}, valid)
}

func TestUnknownModel(t *testing.T) {
	_, err := Analyze(context.Background(), hist(op("ax1")), models("serialisable"))
	if err == nil || !strings.Contains(err.Error(), `"serialisable"`) || !strings.Contains(err.Error(), "snapshot-isolation") {
		t.Errorf("err %v", err)
	}
}

func TestCheckerFiles(t *testing.T) {
	dir := t.TempDir()
	h := hist(op("ax1ry1"), op("ax2ay1"), op("rx12ry1"))
	c := Checker(elle.Options{})
	if c.Name() != "list-append" {
		t.Errorf("name %q", c.Name())
	}
	res := c.Check(context.Background(), h, checker.Options{Dir: dir})
	if res.Valid != checker.False {
		t.Fatalf("valid %v", res.Valid)
	}
	if !slices.Contains(res.Files, "anomalies.html") || !slices.Contains(res.Files, "G1c-1.dot") {
		t.Fatalf("files %v", res.Files)
	}
	b, err := os.ReadFile(filepath.Join(dir, "anomalies.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "G1c") {
		t.Errorf("page lacks the cycle drawing")
	}
	js, err := json.Marshal(res.Details)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"anomaly_types":["G1c"]`, `"not":["read-committed"]`, `"also_not"`, `"explanation"`} {
		if !strings.Contains(string(js), k) {
			t.Errorf("details lack %s: %s", k, js)
		}
	}
	// Nothing is written without a directory.
	res = c.Check(context.Background(), h, checker.Options{})
	if len(res.Files) != 0 {
		t.Errorf("files %v without a dir", res.Files)
	}
}

// ring builds n txns: txn i appends i to key 0; the last appends to key 1,
// which the first read: a G1c cycle through all n.
func ring(n int) []history.Op {
	var ops []any
	for i := 0; i < n; i++ {
		mops := []any{[]any{"append", int64(0), int64(i)}}
		if i == 0 {
			mops = append(mops, []any{"r", int64(1), []any{int64(1)}})
		}
		if i == n-1 {
			mops = append(mops, []any{"append", int64(1), int64(1)})
		}
		ops = append(ops, history.Op{Type: history.OK, F: "txn", Value: mops})
	}
	all := make([]any, n)
	for i := range all {
		all[i] = int64(i)
	}
	ops = append(ops, history.Op{Type: history.OK, F: "txn", Value: []any{[]any{"r", int64(0), all}}})
	return hist(ops...)
}

func TestCycleSearchTimeout(t *testing.T) {
	h := ring(5000)
	r := check(t, h, elle.Options{})
	if !slices.Equal(r.AnomalyTypes, []string{"G1c"}) || len(r.Cycles[0].Cycle) != 5000 {
		t.Fatalf("without a bound: %v", r.AnomalyTypes)
	}
	r = check(t, h, elle.Options{CycleSearchTimeout: time.Nanosecond})
	if !slices.Contains(r.AnomalyTypes, "cycle-search-timeout") || r.Valid != checker.False {
		t.Fatalf("with a 1ns bound: %v %v", r.Valid, r.AnomalyTypes)
	}
	// The SCC is still reported: a fallback cycle and a cycle-exists case.
	if !slices.Contains(r.AnomalyTypes, "G1c") && !slices.Contains(r.AnomalyTypes, "PL-2-cycle-exists") {
		t.Errorf("no cycle reported: %v", r.AnomalyTypes)
	}
	if !slices.Equal(r.Not, []string{"read-committed"}) {
		t.Errorf("not %v", r.Not)
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := ring(5000)
	a, err := Analyze(ctx, h, elle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := elle.Check(ctx, a, elle.Options{})
	if !slices.Contains(r.AnomalyTypes, "cycle-search-timeout") {
		t.Errorf("canceled search: %v", r.AnomalyTypes)
	}
}

func TestRepeatableRead(t *testing.T) {
	h := hist(op("rxay1"), op("ryax1"))
	expect(t, "read-committed", h, models("read-committed"), valid)
	expect(t, "repeatable-read", h, models("repeatable-read"), want{checker.False, []string{"G2-item"}, []string{"repeatable-read"}})
}

func TestRepeatableReadGSingleItem(t *testing.T) {
	h := hist(pair(op("ax1ay1")), pair(op("rx1ry")))
	expect(t, "repeatable-read", h, models("repeatable-read"),
		want{checker.False, []string{"G-single-item"}, []string{"consistent-view", "repeatable-read"}})
}

func TestRepeatableReadGNonadjacentItem(t *testing.T) {
	h := hist(pair(op("ax1at1")), pair(op("rx1ry")), pair(op("ay1az2")), pair(op("rz2rt")))
	r := expect(t, "repeatable-read", h, models("repeatable-read"),
		want{checker.False, []string{"G-nonadjacent-item"}, []string{"repeatable-read", "snapshot-isolation"}})
	if len(r.Cycles) != 1 || len(r.Cycles[0].Cycle) != 4 {
		t.Errorf("cycles %+v", r.Cycles)
	}
}

func TestFutureReadAlone(t *testing.T) {
	h := hist(pair(op("rx1ax1")))
	expect(t, "read-committed", h, models("read-committed"),
		want{checker.False, []string{"empty-transaction-graph", "future-read"}, []string{"read-committed"}})
}

func TestEDNFile(t *testing.T) {
	f, err := os.Open("testdata/write-skew.edn")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := history.ReadEDN(f)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "SI", h, models("snapshot-isolation"), valid)
	expect(t, "serializable", h, models("serializable"), want{checker.False, []string{"G2-item"}, []string{"repeatable-read"}})
	expect(t, "strict", h, elle.Options{}, want{checker.False, []string{"G2-item"}, []string{"repeatable-read"}})
}

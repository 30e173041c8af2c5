package rwregister

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/elle"
	"github.com/jplan/jplan/history"
)

// op builds an ok transaction of process 0: "wx1" writes 1 to x, "ry2"
// reads y = 2, "rx_" reads x = nil.
func op(s string) history.Op {
	var mops []any
	for i := 0; i+2 < len(s)+1 && i < len(s); i += 3 {
		f, k, c := s[i:i+1], s[i+1:i+2], s[i+2]
		var v any
		if c != '_' {
			v = int64(c - '0')
		}
		mops = append(mops, []any{f, k, v})
	}
	return history.Op{Type: history.OK, F: "txn", Value: mops}
}

func with(o history.Op, process int, t history.Type) history.Op {
	o.Process, o.Type = process, t
	return o
}

// pair returns the invocation (reads unknown) and the completion.
func pair(o history.Op) (history.Op, history.Op) {
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
	return inv, o
}

func hist(ops ...history.Op) []history.Op {
	for i := range ops {
		ops[i].Index = int64(i)
		ops[i].Time = int64(i) * 1000
	}
	return ops
}

type want struct {
	valid checker.Validity
	types []string
	not   []string
}

func expect(t *testing.T, name string, h []history.Op, o elle.Options, w want) elle.Result {
	t.Helper()
	a, err := Analyze(context.Background(), h, o)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	r := elle.Check(context.Background(), a, o)
	if r.Valid != w.valid || !slices.Equal(r.AnomalyTypes, w.types) || !slices.Equal(r.Not, w.not) {
		t.Errorf("%s: got valid %v types %v not %v; want valid %v types %v not %v",
			name, r.Valid, r.AnomalyTypes, r.Not, w.valid, w.types, w.not)
		for _, c := range r.Cycles {
			t.Log(c.Explanation)
		}
	}
	return r
}

var noModels = []string{}

func anomalies(as ...string) elle.Options {
	return elle.Options{ConsistencyModels: noModels, Anomalies: as}
}

var valid = want{valid: checker.True}

func TestG0NeedsVersionOrder(t *testing.T) {
	i1, t1 := pair(with(op("wx1wy2"), 0, history.OK))
	i2, t2 := pair(with(op("wx2wy1"), 1, history.OK))
	// Without reads nothing orders the writes: an empty graph.
	expect(t, "no reads", hist(i1, t1, i2, t2), anomalies("G0"),
		want{checker.Unknown, []string{"empty-transaction-graph"}, nil})
	// Later reads by the same processes, with sequential keys, order them.
	i3, t3 := pair(with(op("rx2"), 0, history.OK))
	i4, t4 := pair(with(op("ry2"), 1, history.OK))
	o := anomalies("G0")
	o.SequentialKeys = true
	expect(t, "sequential keys", hist(i1, t1, i2, t2, i3, t3, i4, t4), o,
		want{checker.False, []string{"G0"}, []string{"read-uncommitted"}})
}

func TestG1a(t *testing.T) {
	h := hist(op("rx1"), with(op("wx1"), 0, history.Fail))
	expect(t, "G1", h, anomalies("G1"),
		want{checker.False, []string{"G1a", "empty-transaction-graph"}, []string{"read-committed"}})
}

func TestG1b(t *testing.T) {
	h := hist(op("wx1wx2"), op("rx1"))
	expect(t, "G0", h, anomalies("G0"), want{checker.Unknown, []string{"empty-transaction-graph"}, []string{"read-committed"}})
	expect(t, "G1", h, anomalies("G1"),
		want{checker.False, []string{"G1b", "empty-transaction-graph"}, []string{"read-committed"}})
	expect(t, "repeatable-read", h, elle.Options{ConsistencyModels: []string{"repeatable-read"}},
		want{checker.False, []string{"G1b", "empty-transaction-graph"}, []string{"read-committed"}})
}

func TestG1c(t *testing.T) {
	h := hist(op("wx1ry1"), op("wy1rx1"))
	expect(t, "G2", h, anomalies("G2"), valid)
	r := expect(t, "serializable", h, elle.Options{ConsistencyModels: []string{"serializable"}},
		want{checker.False, []string{"G1c"}, []string{"read-committed"}})
	if len(r.Cycles) == 1 && !strings.Contains(r.Cycles[0].Explanation, "which was read by") {
		t.Errorf("explanation:\n%s", r.Cycles[0].Explanation)
	}
}

func TestG2ItemLinearizable(t *testing.T) {
	i1, t1 := pair(with(op("rx1ry1"), 0, history.OK))
	i2, t2 := pair(with(op("rx1wy2"), 1, history.OK))
	i3, t3 := pair(with(op("ry1wx2"), 2, history.OK))
	h := hist(i1, t1, i2, i3, t3, t2)
	o := elle.Options{ConsistencyModels: []string{"read-committed"}, LinearizableKeys: true}
	expect(t, "read-committed", h, o, valid)
	o = anomalies("G2")
	o.LinearizableKeys = true
	expect(t, "G2", h, o, want{checker.False, []string{"G2-item"}, []string{"repeatable-read"}})
}

func TestGSingleWFR(t *testing.T) {
	// T2 read x = 1 and wrote x = 2: with writes-follow-reads, 1 < 2. T3
	// read x = 1 but saw T2's y: G-single.
	h := hist(op("wx1"), op("rx1wx2wy2"), op("rx1ry2"))
	o := elle.Options{ConsistencyModels: []string{"serializable"}, WFRKeys: true}
	expect(t, "wfr", h, o, want{checker.False, []string{"G-single-item"}, []string{"consistent-view", "repeatable-read"}})
	expect(t, "no wfr", h, elle.Options{ConsistencyModels: []string{"serializable"}}, valid)
}

func TestCyclicVersions(t *testing.T) {
	// x = 1 then a read of 2 (never written) then of 1, in real time.
	i1, t1 := pair(with(op("wx1"), 0, history.OK))
	i2, t2 := pair(with(op("rx2"), 0, history.OK))
	i3, t3 := pair(with(op("rx1"), 0, history.OK))
	o := elle.Options{ConsistencyModels: []string{"strict-serializable"}, LinearizableKeys: true}
	expect(t, "linearizable", hist(i1, t1, i2, t2, i3, t3), o,
		want{checker.False, []string{"cyclic-versions"}, []string{"read-uncommitted"}})
}

func TestInternal(t *testing.T) {
	expect(t, "stale", hist(op("wx1rx2"), op("rx1")), anomalies("internal"),
		want{checker.False, []string{"internal"}, []string{"read-atomic"}})
	expect(t, "reread", hist(op("rx1rx2"), op("wx1")), anomalies("internal"),
		want{checker.False, []string{"internal"}, []string{"read-atomic"}})
}

func TestLostUpdate(t *testing.T) {
	h := hist(op("wx0"), op("rx0wx1"), op("rx0wx2"))
	a, err := Analyze(context.Background(), h, elle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := elle.Check(context.Background(), a, elle.Options{})
	if r.Valid != checker.False || !slices.Contains(r.AnomalyTypes, "lost-update") {
		t.Errorf("got %v %v", r.Valid, r.AnomalyTypes)
	}
}

func TestDuplicateWrite(t *testing.T) {
	_, err := Analyze(context.Background(), hist(op("wx1"), op("wx1"), op("rx1")), elle.Options{})
	if err == nil || !strings.Contains(err.Error(), "more than one op") {
		t.Errorf("err %v", err)
	}
	c := Checker(elle.Options{})
	if r := c.Check(context.Background(), hist(op("wx1"), op("wx1"), op("rx1")), checker.Options{}); r.Valid != checker.Unknown {
		t.Errorf("valid %v", r.Valid)
	}
}

func TestInitialState(t *testing.T) {
	// T1 read x = nil but saw T2's y; nil precedes T2's x = 2: G-single.
	i1, t1 := pair(op("rx_ry1"))
	i2, t2 := pair(op("wy1wx2"))
	expect(t, "serializable", hist(i1, i2, t2, t1), elle.Options{ConsistencyModels: []string{"serializable"}},
		want{checker.False, []string{"G-single-item"}, []string{"consistent-view", "repeatable-read"}})
}

func TestInternalAlone(t *testing.T) {
	expect(t, "one txn", hist(op("rx1rx2")), anomalies("internal"),
		want{checker.False, []string{"empty-transaction-graph", "internal"}, []string{"read-atomic"}})
}

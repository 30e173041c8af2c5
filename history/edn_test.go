package history

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// A history in the shape Jepsen 0.3 writes: one map per line, keywords,
// :nemesis process, independent tuples, errors as vectors.
const jepsenLines = `{:index 0, :time 1000, :type :invoke, :process 0, :f :read, :value [3 nil]}
{:index 1, :time 2000, :type :invoke, :process 1, :f :cas, :value [3 [1 2]]}
{:index 2, :time 3000, :type :ok, :process 0, :f :read, :value [3 1]}
{:index 3, :time 4000, :type :info, :process 1, :f :cas, :value [3 [1 2]], :error [:timeout "5s"]}
{:index 4, :time 5000, :type :info, :process :nemesis, :f :start, :value {"n1" #{"n2" "n3"}}}
`

func TestReadEDNJepsenLines(t *testing.T) {
	ops, err := ReadEDN(strings.NewReader(jepsenLines))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 5 {
		t.Fatalf("got %d ops", len(ops))
	}
	want0 := Op{Index: 0, Time: 1000, Type: Invoke, Process: 0, F: "read", Value: []any{int64(3), nil}}
	if !reflect.DeepEqual(ops[0], want0) {
		t.Fatalf("op 0: %#v", ops[0])
	}
	if !reflect.DeepEqual(ops[1].Value, []any{int64(3), []any{int64(1), int64(2)}}) {
		t.Fatalf("cas value: %#v", ops[1].Value)
	}
	if ops[3].Error != `[:timeout "5s"]` {
		t.Fatalf("structured error kept as source text, got %q", ops[3].Error)
	}
	if ops[4].Process != NemesisProcess || ops[4].F != "start" {
		t.Fatalf("nemesis op: %#v", ops[4])
	}
	if !reflect.DeepEqual(ops[4].Value, map[string]any{"n1": []any{"n2", "n3"}}) {
		t.Fatalf("set value: %#v", ops[4].Value)
	}
}

func TestReadEDNVectorOfRecords(t *testing.T) {
	in := `; a comment
[#jepsen.history.Op{:index 7, :time 10, :type :invoke, :process 2, :f :write,
   :value #jepsen.independent.Tuple{:key 5, :value 3}}
 #jepsen.history.Op{:index 8, :time 20, :type :ok, :process 2, :f :write,
   :value #jepsen.independent.Tuple{:key 5, :value 3}, :extra #{1 2}}
 #_{:index 99 :type :ok}
 {:type :invoke :process 3 :f :read :value nil}]
`
	ops, err := ReadEDN(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 {
		t.Fatalf("got %d ops: %+v", len(ops), ops)
	}
	if !reflect.DeepEqual(ops[0].Value, []any{int64(5), int64(3)}) {
		t.Fatalf("tuple: %#v", ops[0].Value)
	}
	if ops[0].Index != 7 || ops[1].Index != 8 {
		t.Fatalf("indices kept: %d %d", ops[0].Index, ops[1].Index)
	}
	if ops[2].Index != 2 {
		t.Fatalf("missing index should be the position (2), got %d", ops[2].Index)
	}
}

func TestReadEDNScalars(t *testing.T) {
	in := `{:type :ok, :process 0, :f :x, :value [nil true false 42 -7 +3 12N 99999999999999999999N 1.5 -2e3 3M 1/4 -1/2 ##Inf ##-Inf
  "s\"\\\n\t\u00e9\101" \a \newline \space \u00e9 \( sym ns/sym :kw :ns/kw 0x1F 2r101 017 (1 2) {:a 1, "b" 2, 3 4, [1] 5} #inst "2020-01-01" #uuid "abc" ^:meta [9]]}`
	ops, err := ReadEDN(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := ops[0].Value.([]any)
	want := []any{nil, true, false, int64(42), int64(-7), int64(3), int64(12), "99999999999999999999", 1.5, -2000.0, 3.0, 0.25, -0.5,
		math.Inf(1), math.Inf(-1), "s\"\\\n\té" + "A", "a", "\n", " ", "é", "(", "sym", "ns/sym", "kw", "ns/kw", int64(31), int64(5), int64(15),
		[]any{int64(1), int64(2)}, map[string]any{"a": int64(1), "b": int64(2), "3": int64(4), "[1]": int64(5)}, "2020-01-01", "abc", []any{int64(9)}}
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d: %#v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("value %d: got %#v, want %#v", i, got[i], want[i])
		}
	}
	nan, err := ReadEDN(strings.NewReader(`{:type :ok :value ##NaN}`))
	if err != nil || !math.IsNaN(nan[0].Value.(float64)) {
		t.Fatalf("##NaN: %v %v", nan, err)
	}
}

func TestReadEDNErrorsHaveLineCol(t *testing.T) {
	cases := []struct {
		in        string
		line, col int
		msg       string
	}{
		{"{:type :ok}\n{:type :ok, :value [1 2}", 2, 24, "unexpected"},
		{"{:type :ok}\n\n  {:type :bogus}", 3, 10, ":type"},
		{"{:type :ok, :process :client}", 1, 22, ":process"},
		{"{:type :ok, :value \"abc", 1, 20, "unterminated string"},
		{"{:process 1}", 1, 1, "no :type"},
		{"[1 2]", 1, 2, "expected an op map"},
		{"{:type :ok, :value 1/0}", 1, 20, "ratio"},
		{"{:type :ok, :value \\xyz}", 1, 20, "invalid character"},
		{"{:type :ok, :value #\"re\"}", 1, 20, "dispatch"},
		{"{:type :ok :value}", 1, 18, "no value"},
	}
	for _, c := range cases {
		_, err := ReadEDN(strings.NewReader(c.in))
		var ee *EDNError
		if !errors.As(err, &ee) {
			t.Errorf("%q: want EDNError, got %v", c.in, err)
			continue
		}
		if ee.Line != c.line || ee.Col != c.col || !strings.Contains(ee.Msg, c.msg) {
			t.Errorf("%q: got %v, want %d:%d containing %q", c.in, err, c.line, c.col, c.msg)
		}
	}
}

func TestReadEDNDepthLimit(t *testing.T) {
	for _, in := range []string{
		"{:type :ok :value " + strings.Repeat("[", 200000),
		"{:type :ok :value " + strings.Repeat("#_", 200000) + "1}",
		"{:type :ok :value " + strings.Repeat("#t ", 200000) + "1}",
		"{:type :ok :value " + strings.Repeat("^", 200000) + "1}",
		"{:type :ok :value " + strings.Repeat("{:a ", 200000),
	} {
		_, err := ReadEDN(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), "nested deeper") {
			t.Errorf("want depth error, got %v", err)
		}
	}
}

func TestEDNRoundTrip(t *testing.T) {
	ops := sampleOps()
	ops = append(ops, Op{Index: 9, Type: OK, Process: 1, F: "has space", Value: map[string]any{"ok-key": 1.0, "not a kw": math.Inf(-1)}})
	var buf bytes.Buffer
	if err := WriteEDN(&buf, ops); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "{:index 0, :time 10, :type :invoke, :process 0, :f :read, :value nil}\n") {
		t.Fatalf("unexpected layout:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), ":process :nemesis, :f :start-partition") {
		t.Fatalf("nemesis not written as keyword:\n%s", buf.String())
	}
	got, err := ReadEDN(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ops) {
		t.Fatalf("round trip mismatch:\n got %#v\nwant %#v", got, ops)
	}
}

func TestWriteEDNRejectsNonPlainValues(t *testing.T) {
	var buf bytes.Buffer
	err := WriteEDN(&buf, []Op{{Type: OK, Value: struct{}{}}})
	if err == nil {
		t.Fatal("struct value accepted")
	}
}

func BenchmarkReadEDN(b *testing.B) {
	var buf bytes.Buffer
	if err := WriteEDN(&buf, benchHistory(100000)); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		ops, err := ReadEDN(bytes.NewReader(data))
		if err != nil || len(ops) != 100000 {
			b.Fatal(err, len(ops))
		}
	}
	b.ReportMetric(float64(100000*b.N)/b.Elapsed().Seconds(), "ops/s")
}

// TestEDNTxnKeywords: a transaction's micro-op functions are written as
// keywords, as Jepsen records them, and read back as the same strings.
func TestEDNTxnKeywords(t *testing.T) {
	ops := []Op{
		{Index: 0, Type: Invoke, F: "txn", Value: []any{[]any{"append", int64(9), int64(2)}, []any{"r", int64(9), nil}}},
		{Index: 1, Type: OK, F: "txn", Value: []any{[]any{"append", int64(9), int64(2)}, []any{"r", int64(9), []any{int64(1), int64(2)}}}},
		{Index: 2, Type: OK, F: "txn", Value: []any{[]any{"x", int64(1), nil}}},
	}
	var buf bytes.Buffer
	if err := WriteEDN(&buf, ops); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`:value [[:append 9 2] [:r 9 nil]]}`, `:value [[:append 9 2] [:r 9 [1 2]]]}`, `:value [["x" 1 nil]]}`} {
		if !strings.Contains(out, want) {
			t.Errorf("EDN lacks %s:\n%s", want, out)
		}
	}
	back, err := ReadEDN(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back[1].Value, ops[1].Value) {
		t.Errorf("read back %#v, want %#v", back[1].Value, ops[1].Value)
	}
}

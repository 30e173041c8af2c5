package longfork_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/longfork"
	"github.com/jplan/jplan/history"
)

func parse(t testing.TB, s string) []history.Op {
	t.Helper()
	h, err := history.ReadJSONL(strings.NewReader(strings.TrimSpace(s) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// write is an ok insert of key k.
func write(p int, k int) string {
	return fmt.Sprintf(`{"type":"invoke","process":%d,"f":"write","value":[["w",%d,1]]}
{"type":"ok","process":%d,"f":"write","value":[["w",%d,1]]}
`, p, k, p, k)
}

// read reads keys, seeing 1 for those in saw and nil for the others.
func read(p int, keys []int, saw ...int) string {
	var inv, ok []string
	for _, k := range keys {
		v := "null"
		for _, s := range saw {
			if s == k {
				v = "1"
			}
		}
		inv = append(inv, fmt.Sprintf(`["r",%d,null]`, k))
		ok = append(ok, fmt.Sprintf(`["r",%d,%s]`, k, v))
	}
	return fmt.Sprintf(`{"type":"invoke","process":%d,"f":"read","value":[%s]}
{"type":"ok","process":%d,"f":"read","value":[%s]}
`, p, strings.Join(inv, ","), p, strings.Join(ok, ","))
}

func check(t *testing.T, o longfork.Options, h []history.Op) (checker.Result, *longfork.Details) {
	t.Helper()
	res := checker.Run(context.Background(), longfork.Checker(o), h, checker.Options{})
	d, _ := res.Details.(*longfork.Details)
	if d == nil && res.Error == "" {
		t.Fatalf("details are %T: %+v", res.Details, res)
	}
	return res, d
}

func TestClassicFork(t *testing.T) {
	xy := []int{0, 1}
	h := parse(t, write(0, 0)+write(1, 1)+read(2, xy, 0)+read(3, xy, 1))
	res, d := check(t, longfork.Options{}, h)
	if res.Valid != checker.False {
		t.Fatalf("judged %v: %s", res.Valid, res.Summary)
	}
	if d.ReadCount != 2 || d.WriteCount != 2 || d.GroupCount != 1 || d.ForkCount != 1 || len(d.Forks) != 1 {
		t.Fatalf("details %+v", *d)
	}
	f := d.Forks[0]
	want := longfork.Fork{Keys: []any{int64(0), int64(1)},
		A:     longfork.Read{Index: 5, Process: 2, Value: h[5].Value},
		B:     longfork.Read{Index: 7, Process: 3, Value: h[7].Value},
		AOnly: []any{int64(0)}, BOnly: []any{int64(1)}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("fork %+v, want %+v", f, want)
	}
	wantSum := "1 pairs of reads fork; first: reads at index 5 and 7 of keys [0 1], one saw [0] but not [1], the other [1] but not [0]"
	if res.Summary != wantSum {
		t.Errorf("summary %q, want %q", res.Summary, wantSum)
	}
}

// TestJepsenExample is the shape of Jepsen's own test: three keys read in
// different orders; one read sees 0 and 1, the other 0 and 2.
func TestJepsenExample(t *testing.T) {
	h := parse(t, `
{"type":"invoke","process":0,"f":"read","value":[["r",0,null],["r",1,null],["r",2,null]]}
{"type":"invoke","process":1,"f":"read","value":[["r",2,null],["r",0,null],["r",1,null]]}
{"type":"ok","process":0,"f":"read","value":[["r",0,1],["r",1,1],["r",2,null]]}
{"type":"ok","process":1,"f":"read","value":[["r",2,1],["r",0,1],["r",1,null]]}
`)
	res, d := check(t, longfork.Options{GroupSize: 3}, h)
	if res.Valid != checker.False || d.ReadCount != 2 || d.EarlyReadCount != 0 || d.LateReadCount != 0 || d.ForkCount != 1 {
		t.Fatalf("judged %v, details %+v", res.Valid, *d)
	}
	if f := d.Forks[0]; f.A.Index != 2 || f.B.Index != 3 || !reflect.DeepEqual(f.AOnly, []any{int64(1)}) || !reflect.DeepEqual(f.BOnly, []any{int64(2)}) {
		t.Errorf("fork %+v", f)
	}
}

func TestChainValid(t *testing.T) {
	g := []int{0, 1, 2}
	// Key 5 is never written, so the last read of [5 6] is not late.
	h := parse(t, read(9, g)+write(0, 1)+read(9, g, 1)+read(8, g, 1)+write(0, 0)+read(9, g, 0, 1)+
		write(0, 2)+read(9, g, 0, 1, 2)+read(8, []int{5, 6})+write(1, 6)+read(8, []int{6, 5}, 6)+
		// Not transactions, or not reads: ignored.
		`{"type":"invoke","process":3,"f":"cas","value":[1,2]}
{"type":"ok","process":3,"f":"cas","value":[1,2]}
{"type":"invoke","process":3,"f":"txn","value":[["r",0,null],["w",7,1]]}
{"type":"ok","process":3,"f":"txn","value":[["r",1,null],["w",7,1]]}
`)
	res, d := check(t, longfork.Options{}, h)
	if res.Valid != checker.True {
		t.Fatalf("judged %v: %s", res.Valid, res.Summary)
	}
	want := longfork.Details{ReadCount: 7, EarlyReadCount: 2, LateReadCount: 1, WriteCount: 4, GroupCount: 2}
	if !reflect.DeepEqual(*d, want) {
		t.Errorf("details %+v, want %+v", *d, want)
	}
	if res.Summary != "no long forks in 7 reads of 2 key groups (2 early, 1 late)" {
		t.Errorf("summary %q", res.Summary)
	}
}

// TestForkCount: every pair of reads in incompatible states counts; the
// reported fork is the earliest read of each state.
func TestForkCount(t *testing.T) {
	g := []int{0, 1, 2}
	h := parse(t, read(0, g, 0)+read(1, g, 1)+read(0, g, 0)+read(1, g, 1)+read(2, g, 1)+
		read(3, g, 0, 1)+ // compatible with both
		read(4, g, 2)) // forks with all six others
	res, d := check(t, longfork.Options{}, h)
	if res.Valid != checker.False {
		t.Fatalf("judged %v", res.Valid)
	}
	// {0}x{1}: 2*3; {0}x{2}: 2; {1}x{2}: 3; {0,1}x{2}: 1.
	if d.ForkCount != 12 || len(d.Forks) != 4 {
		t.Fatalf("fork count %d, forks %+v", d.ForkCount, d.Forks)
	}
	var got [][2]int64
	for _, f := range d.Forks {
		got = append(got, [2]int64{f.A.Index, f.B.Index})
	}
	if want := [][2]int64{{1, 3}, {1, 13}, {3, 13}, {11, 13}}; !reflect.DeepEqual(got, want) {
		t.Errorf("fork reads %v, want %v", got, want)
	}
	_, d = check(t, longfork.Options{MaxReported: 1}, h)
	if d.ForkCount != 12 || len(d.Forks) != 1 {
		t.Errorf("bounded: %d %d", d.ForkCount, len(d.Forks))
	}
}

func TestStringKeys(t *testing.T) {
	h := parse(t, `
{"type":"ok","process":0,"f":"txn","value":[["r","x",1],["r","y",null]]}
{"type":"ok","process":1,"f":"txn","value":[["r","y",1],["r","x",null]]}
`)
	res, d := check(t, longfork.Options{}, h)
	if res.Valid != checker.False || !reflect.DeepEqual(d.Forks[0].Keys, []any{"x", "y"}) {
		t.Errorf("judged %v, details %+v", res.Valid, d)
	}
}

func TestIllegalHistories(t *testing.T) {
	g := []int{0, 1}
	for name, c := range map[string]struct {
		h, err string
		o      longfork.Options
	}{
		"written twice":   {write(0, 1) + write(1, 1), "key 1 is written more than once (index 2)", longfork.Options{}},
		"two values read": {read(0, g, 0) + `{"type":"ok","process":1,"f":"read","value":[["r",0,2],["r",1,null]]}`, "key 0 read as 1 and as 2 (index 2)", longfork.Options{}},
		"group size":      {read(0, g, 0) + read(0, []int{0, 1, 2}), "read at index 3 reads 3 keys, not the group size 2", longfork.Options{GroupSize: 2}},
		"bad txn":         {`{"type":"ok","process":0,"f":"txn","value":[["r"]]}`, "ok at index 0: txn: micro-op 0", longfork.Options{}},
	} {
		res, _ := check(t, c.o, parse(t, c.h))
		if res.Valid != checker.Unknown || !strings.Contains(res.Error, c.err) {
			t.Errorf("%s: %v %q, want error %q", name, res.Valid, res.Error, c.err)
		}
	}
}

// BenchmarkCheck: 100k ops, Jepsen's workload shape: groups of 4 keys,
// each key inserted once, each group read 20 times as its keys fill up;
// one group forks.
func BenchmarkCheck(b *testing.B) {
	h := make([]history.Op, 0, 100000)
	emit := func(p int, t history.Type, v any) {
		h = append(h, history.Op{Index: int64(len(h)), Time: int64(len(h)) * 1000, Type: t, Process: p, F: "txn", Value: v})
	}
	for gi := int64(0); len(h) < 100000; gi++ {
		for r := range 20 {
			p := r % 10
			if r%5 == 0 {
				w := []any{[]any{"w", gi*4 + int64(r/5), int64(1)}}
				emit(p, history.Invoke, w)
				emit(p, history.OK, w)
			}
			inv, ok := make([]any, 4), make([]any, 4)
			for k := range int64(4) {
				var v any
				if k <= int64(r/5) {
					v = int64(1)
				}
				if gi == 7 && r == 19 && k == 0 {
					v = nil // saw 1, 2 and 3 but not 0, though another read saw 0 alone
				}
				inv[k] = []any{"r", gi*4 + k, nil}
				ok[k] = []any{"r", gi*4 + k, v}
			}
			emit(p, history.Invoke, inv)
			emit(p, history.OK, ok)
		}
	}
	c := longfork.Checker(longfork.Options{GroupSize: 4})
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), h, checker.Options{}); res.Valid != checker.False {
			b.Fatal(res.Summary, res.Error)
		}
	}
}

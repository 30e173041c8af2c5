package uniqueids_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/uniqueids"
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

func check(t testing.TB, c checker.Checker, h []history.Op) (checker.Result, *uniqueids.Details) {
	t.Helper()
	res := checker.Run(context.Background(), c, h, checker.Options{})
	d, _ := res.Details.(*uniqueids.Details)
	if d == nil && res.Error == "" {
		t.Fatalf("details are %T: %+v", res.Details, res)
	}
	return res, d
}

// gen is an invoke and a completion of a generate on process p.
func gen(p int, typ, value string) string {
	return fmt.Sprintf(`{"type":"invoke","process":%d,"f":"generate","value":null}
{"type":"%s","process":%d,"f":"generate","value":%s}
`, p, typ, p, value)
}

func TestValid(t *testing.T) {
	h := parse(t, gen(0, "ok", "3")+gen(1, "ok", "1")+gen(2, "fail", "null")+gen(3, "info", "null")+gen(0, "ok", "7")+
		`{"type":"invoke","process":4,"f":"generate","value":null}`)
	res, d := check(t, uniqueids.Checker(uniqueids.Options{}), h)
	if res.Valid != checker.True {
		t.Fatalf("valid history judged %v: %s", res.Valid, res.Summary)
	}
	want := uniqueids.Details{AttemptedCount: 6, AcknowledgedCount: 3, Range: []any{int64(1), int64(7)}}
	if !reflect.DeepEqual(*d, want) {
		t.Errorf("details %+v, want %+v", *d, want)
	}
	if res.Summary != "all 3 acknowledged ids distinct (6 attempted), from 1 to 7" {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestDuplicates(t *testing.T) {
	h := parse(t, gen(0, "ok", "5")+gen(1, "ok", "5")+gen(2, "ok", "5")+
		gen(0, "ok", `"a"`)+gen(1, "ok", `"a"`)+
		gen(0, "ok", "[1,2]")+gen(1, "ok", "[1,2]")+
		gen(2, "ok", "5.0")+gen(2, "ok", `"[1,2]"`)+gen(2, "ok", "9"))
	res, d := check(t, uniqueids.Checker(uniqueids.Options{}), h)
	if res.Valid != checker.False {
		t.Fatalf("duplicates judged %v: %s", res.Valid, res.Summary)
	}
	// 5 three times first; then the twice-seen in identifier order:
	// strings before lists. 5.0 and "[1,2]" are not duplicates of 5
	// and [1,2].
	want := uniqueids.Details{AttemptedCount: 10, AcknowledgedCount: 10, DuplicatedCount: 3,
		Duplicated: []uniqueids.Duplicate{{int64(5), 3}, {"a", 2}, {[]any{int64(1), int64(2)}, 2}},
		Range:      []any{int64(5), []any{int64(1), int64(2)}}}
	if !reflect.DeepEqual(*d, want) {
		t.Errorf("details %+v, want %+v", *d, want)
	}
	if want := `3 of 10 acknowledged ids were handed out more than once: 5, "a", [1,2]`; res.Summary != want {
		t.Errorf("summary %q, want %q", res.Summary, want)
	}

	// MaxReported bounds the list, not the count.
	_, d = check(t, uniqueids.Checker(uniqueids.Options{MaxReported: 1}), h)
	if d.DuplicatedCount != 3 || len(d.Duplicated) != 1 || d.Duplicated[0].Value != int64(5) {
		t.Errorf("bounded details %+v", *d)
	}
}

func TestGenerateF(t *testing.T) {
	h := parse(t, strings.ReplaceAll(gen(0, "ok", "1")+gen(1, "ok", "1"), "generate", "id")+gen(2, "ok", "1"))
	res, d := check(t, uniqueids.Checker(uniqueids.Options{GenerateF: "id"}), h)
	if res.Valid != checker.False || d.AcknowledgedCount != 2 || d.AttemptedCount != 2 {
		t.Errorf("GenerateF id: %v %+v", res.Valid, *d)
	}
}

func TestNothingGenerated(t *testing.T) {
	res, d := check(t, uniqueids.Checker(uniqueids.Options{}), parse(t, gen(0, "fail", "null")))
	if res.Valid != checker.True || d.AttemptedCount != 1 || d.Range != nil {
		t.Errorf("no acks: %v %+v", res.Valid, *d)
	}
}

func TestBadValue(t *testing.T) {
	h := parse(t, gen(0, "ok", "1"))
	h[1].Value = struct{}{}
	res := checker.Run(context.Background(), uniqueids.Checker(uniqueids.Options{}), h, checker.Options{})
	if res.Valid != checker.Unknown || !strings.Contains(res.Error, "index 1") {
		t.Errorf("bad value: %+v", res)
	}
}

// BenchmarkCheck: 100k ops, 50k ok generates of distinct ids with a few
// duplicates.
func BenchmarkCheck(b *testing.B) {
	h := make([]history.Op, 0, 100000)
	for i := 0; len(h) < 100000; i++ {
		p := i % 10
		id := int64(i)
		if i%1000 == 999 {
			id = int64(i - 1)
		}
		h = append(h, history.Op{Index: int64(len(h)), Type: history.Invoke, Process: p, F: "generate"},
			history.Op{Index: int64(len(h) + 1), Type: history.OK, Process: p, F: "generate", Value: id})
	}
	c := uniqueids.Checker(uniqueids.Options{})
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), h, checker.Options{}); res.Valid != checker.False {
			b.Fatal(res.Summary)
		}
	}
}

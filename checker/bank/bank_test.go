package bank_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/bank"
	"github.com/jplan/jplan/history"
)

func parse(t testing.TB, s string) []history.Op {
	t.Helper()
	h, err := history.ReadJSONL(strings.NewReader(strings.TrimSpace(s) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range h {
		h[i].Time = int64(i) * 1e8
	}
	return h
}

func read(p int, balances string) string {
	return fmt.Sprintf(`{"type":"invoke","process":%d,"f":"read","value":null}
{"type":"ok","process":%d,"f":"read","value":%s}
`, p, p, balances)
}

func transfer(p int, typ string, from, to, amount int) string {
	v := fmt.Sprintf(`{"from":%d,"to":%d,"amount":%d}`, from, to, amount)
	return fmt.Sprintf(`{"type":"invoke","process":%d,"f":"transfer","value":%s}
{"type":%q,"process":%d,"f":"transfer","value":%s}
`, p, v, typ, p, v)
}

func check(t *testing.T, o bank.Options, h []history.Op, opts checker.Options) (checker.Result, *bank.Details) {
	t.Helper()
	res := checker.Run(context.Background(), bank.Checker(o), h, opts)
	d, ok := res.Details.(*bank.Details)
	if !ok {
		t.Fatalf("details are %T: %+v", res.Details, res)
	}
	return res, d
}

func TestValid(t *testing.T) {
	h := parse(t, read(0, `{"0":10,"1":10}`)+transfer(1, "ok", 0, 1, 3)+transfer(2, "fail", 1, 0, 50)+
		read(0, `{"0":7,"1":13}`)+read(3, `{"1":20.0,"0":0}`))
	res, d := check(t, bank.Options{}, h, checker.Options{})
	if res.Valid != checker.True {
		t.Fatalf("judged %v: %s", res.Valid, res.Summary)
	}
	want := bank.Details{ReadCount: 3, Total: 20, Accounts: []string{"0", "1"}, TransferCount: 1}
	if !reflect.DeepEqual(*d, want) {
		t.Errorf("details %+v, want %+v", *d, want)
	}
	if res.Summary != "all 3 reads of 2 accounts total 20" {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestErrors(t *testing.T) {
	total := int64(30)
	h := parse(t,
		read(0, `{"0":10,"1":10,"2":10}`)+ // 0, 1
			read(0, `{"0":10,"1":5,"2":10}`)+ // 2, 3: wrong-total 25
			read(0, `{"0":10,"1":10,"2":10,"7":0}`)+ // 4, 5: unexpected-key
			read(0, `{"0":40,"1":-5,"2":-5}`)+ // 6, 7: negative-value, -10 below zero
			read(0, `{"0":10,"1":null,"2":null}`)+ // 8, 9: nil-balance
			read(0, `{"0":10,"1":-1,"2":21}`)+ // 10, 11: negative-value, -1
			read(0, `{"0":10,"1":30,"2":10}`)+ // 12, 13: wrong-total 50, the worst
			read(0, `{"0":10,"1":11,"2":10}`)+ // 14, 15: wrong-total 31
			read(0, `{"0":10,"9":-4,"2":10}`)) // 16, 17: unexpected-key beats negative
	res, d := check(t, bank.Options{Total: &total, Accounts: []int64{0, 1, 2}}, h, checker.Options{})
	if res.Valid != checker.False {
		t.Fatalf("judged %v: %s", res.Valid, res.Summary)
	}
	if d.ReadCount != 9 || d.ErrorCount != 8 || d.Total != 30 || !reflect.DeepEqual(d.Accounts, []string{"0", "1", "2"}) {
		t.Errorf("details %+v", *d)
	}
	counts := map[string]int{}
	for typ, st := range d.Errors {
		counts[typ] = st.Count
	}
	if want := map[string]int{bank.WrongTotal: 3, bank.UnexpectedKey: 2, bank.NegativeValue: 2, bank.NilBalance: 1}; !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
	idx := func(r *bank.BadRead) int64 { return r.Index }
	wt := d.Errors[bank.WrongTotal]
	if idx(wt.First) != 3 || idx(wt.Worst) != 13 || idx(wt.Last) != 15 || idx(wt.Lowest) != 3 || idx(wt.Highest) != 13 {
		t.Errorf("wrong-total first %d worst %d last %d lowest %d highest %d",
			idx(wt.First), idx(wt.Worst), idx(wt.Last), idx(wt.Lowest), idx(wt.Highest))
	}
	if wt.First.Total != 25 || wt.First.Type != bank.WrongTotal || wt.First.Process != 0 || wt.First.Time != 3e8 ||
		wt.First.Balances["1"] != int64(5) {
		t.Errorf("first wrong total %+v", *wt.First)
	}
	neg := d.Errors[bank.NegativeValue]
	if idx(neg.First) != 7 || idx(neg.Worst) != 7 || idx(neg.Last) != 11 || neg.Lowest != nil ||
		!reflect.DeepEqual(neg.First.Negative, []int64{-5, -5}) {
		t.Errorf("negative-value %+v first %+v", *neg, *neg.First)
	}
	uk := d.Errors[bank.UnexpectedKey]
	if idx(uk.First) != 5 || idx(uk.Last) != 17 || !reflect.DeepEqual(uk.Last.Unexpected, []string{"9"}) {
		t.Errorf("unexpected-key %+v", *uk)
	}
	nb := d.Errors[bank.NilBalance]
	if !reflect.DeepEqual(nb.First.Nils, []string{"1", "2"}) || nb.First.Total != 10 {
		t.Errorf("nil-balance %+v", *nb.First)
	}
	if d.FirstError != wt.First {
		t.Errorf("first error %+v", *d.FirstError)
	}
	want := "8 of 9 reads bad (2 unexpected-key, 1 nil-balance, 3 wrong-total, 2 negative-value); first: wrong-total at index 3, process 0, total 25 of 30"
	if res.Summary != want {
		t.Errorf("summary %q, want %q", res.Summary, want)
	}

	// Allowed negative balances are no error; the rest stay.
	_, d = check(t, bank.Options{Total: &total, Accounts: []int64{0, 1, 2}, NegativeBalances: true}, h, checker.Options{})
	if d.ErrorCount != 6 || d.Errors[bank.NegativeValue] != nil {
		t.Errorf("negative balances allowed: %+v", *d)
	}
}

// TestDefaults: without Total and Accounts the first ok read sets both.
func TestDefaults(t *testing.T) {
	h := parse(t, `{"type":"invoke","process":0,"f":"read","value":null}
{"type":"fail","process":0,"f":"read","value":{"0":1}}
`+read(0, `{"0":3,"1":4}`)+read(1, `{"0":3,"1":4,"2":0}`)+read(1, `{"0":3,"1":5}`))
	res, d := check(t, bank.Options{}, h, checker.Options{})
	if res.Valid != checker.False || d.Total != 7 || !reflect.DeepEqual(d.Accounts, []string{"0", "1"}) ||
		d.Errors[bank.UnexpectedKey].Count != 1 || d.Errors[bank.WrongTotal].Count != 1 {
		t.Errorf("judged %v, details %+v", res.Valid, *d)
	}
}

func TestRenamedFs(t *testing.T) {
	h := parse(t, strings.ReplaceAll(strings.ReplaceAll(read(0, `{"0":1}`)+read(0, `{"0":2}`)+transfer(1, "ok", 0, 0, 1),
		`"read"`, `"balances"`), `"transfer"`, `"move"`)+read(0, `{"0":5}`))
	res, d := check(t, bank.Options{ReadF: "balances", TransferF: "move"}, h, checker.Options{})
	if res.Valid != checker.False || d.ReadCount != 2 || d.TransferCount != 1 {
		t.Errorf("judged %v, details %+v", res.Valid, *d)
	}
}

func TestBadValues(t *testing.T) {
	for _, v := range []string{`[1,2]`, `{"0":"x"}`, `{"0":1.5}`, `{"0":9223372036854775807,"1":1}`} {
		res := checker.Run(context.Background(), bank.Checker(bank.Options{}), parse(t, read(0, v)), checker.Options{})
		if res.Valid != checker.Unknown || !strings.Contains(res.Error, "read at index 1") {
			t.Errorf("read %s: %+v", v, res)
		}
	}
}

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	h := parse(t, read(0, `{"0":10,"1":10}`)+read(0, `{"0":10,"1":11}`)+read(0, `{"0":10,"1":-10,"2":20}`)+
		`{"type":"invoke","process":"nemesis","f":"start-partition","value":null}
{"type":"info","process":"nemesis","f":"start-partition","value":null}
`)
	res, _ := check(t, bank.Options{}, h, checker.Options{Dir: dir})
	if !reflect.DeepEqual(res.Files, []string{"bank.svg"}) || res.Error != "" {
		t.Fatalf("files %v, error %q", res.Files, res.Error)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bank.svg"))
	if err != nil {
		t.Fatal(err)
	}
	svg := string(b)
	for _, want := range []string{"<svg", "expected 20", "wrong total", "other error", "partition"} {
		if !strings.Contains(svg, want) {
			t.Errorf("bank.svg lacks %q", want)
		}
	}
	// Valid: no highlighted series.
	res, _ = check(t, bank.Options{}, parse(t, read(0, `{"0":1}`)), checker.Options{Dir: dir})
	b, _ = os.ReadFile(filepath.Join(dir, "bank.svg"))
	if len(res.Files) != 1 || strings.Contains(string(b), "wrong total") {
		t.Errorf("valid plot: files %v, has wrong total %v", res.Files, strings.Contains(string(b), "wrong total"))
	}
}

// BenchmarkCheck: 100k ops, 10 processes, half of them reads of 8
// accounts, one in 100 with a wrong total.
func BenchmarkCheck(b *testing.B) {
	h := make([]history.Op, 0, 100000)
	for i := 0; len(h) < 100000; i++ {
		p := i % 10
		emit := func(t history.Type, f string, v any) {
			h = append(h, history.Op{Index: int64(len(h)), Time: int64(len(h)) * 1000, Type: t, Process: p, F: f, Value: v})
		}
		if i%2 == 0 {
			v := map[string]any{"from": int64(i % 8), "to": int64((i + 1) % 8), "amount": int64(1)}
			emit(history.Invoke, "transfer", v)
			emit(history.OK, "transfer", v)
			continue
		}
		m := make(map[string]any, 8)
		for a := range 8 {
			m[fmt.Sprint(a)] = int64(10)
		}
		if i%100 == 1 && i > 1 {
			m["3"] = int64(11)
		}
		emit(history.Invoke, "read", nil)
		emit(history.OK, "read", m)
	}
	c := bank.Checker(bank.Options{})
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), h, checker.Options{}); res.Valid != checker.False {
			b.Fatal(res.Summary)
		}
	}
}

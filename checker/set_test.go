package checker_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/verdict"
)

// scEDN parses a hand-written EDN history for the set and counter tests;
// ops get their position as index.
func scEDN(t testing.TB, s string) []history.Op {
	t.Helper()
	ops, err := history.ReadEDN(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ops {
		ops[i].Index = int64(i)
		ops[i].Time = int64(i) * 1e6
	}
	return ops
}

// scCheck runs c on h and fails if the history was modified.
func scCheck(t testing.TB, c checker.Checker, h []history.Op) checker.Result {
	t.Helper()
	// %#v shows every field and nested value (NaN included, which
	// reflect.DeepEqual would call unequal to itself).
	before := fmt.Sprintf("%#v", h)
	res := checker.Run(context.Background(), c, h, checker.Options{})
	if fmt.Sprintf("%#v", h) != before {
		t.Errorf("%s modified the history", c.Name())
	}
	return res
}

func setDetails(t testing.TB, res checker.Result) *checker.SetDetails {
	t.Helper()
	d, ok := res.Details.(*checker.SetDetails)
	if !ok {
		t.Fatalf("details are %T (result %+v)", res.Details, res)
	}
	return d
}

// okAdds writes an invoke and an ok completion per element, on process 0.
func okAdds(elements ...string) string {
	var b strings.Builder
	for _, e := range elements {
		b.WriteString("{:process 0 :type :invoke :f :add :value " + e + "}\n")
		b.WriteString("{:process 0 :type :ok :f :add :value " + e + "}\n")
	}
	return b.String()
}

func TestSetValid(t *testing.T) {
	h := scEDN(t, okAdds("1", "2", "3")+`
{:process 1 :type :invoke :f :add :value 4}
{:process 1 :type :info :f :add :value 4}
{:process 2 :type :invoke :f :add :value 5}
{:process 2 :type :fail :f :add :value 5}
{:process 3 :type :invoke :f :read :value nil}
{:process 3 :type :ok :f :read :value [3 1 2]}
`)
	res := scCheck(t, checker.Set(checker.SetOptions{}), h)
	if res.Valid != checker.True {
		t.Fatalf("valid set judged %v: %+v", res.Valid, res)
	}
	d := setDetails(t, res)
	want := checker.SetDetails{AttemptCount: 5, AcknowledgedCount: 3, OKCount: 3,
		FinalReadIndex: 11, FinalReadSize: 3}
	if !reflect.DeepEqual(*d, want) {
		t.Errorf("details %+v, want %+v", *d, want)
	}
	if res.Summary != "all 3 acknowledged adds present in the final read" {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestSetLost(t *testing.T) {
	h := scEDN(t, okAdds("17", "1", "42", "2", "99", "3")+`
{:process 1 :type :invoke :f :read :value nil}
{:process 1 :type :ok :f :read :value [1 2 3]}
`)
	res := scCheck(t, checker.Set(checker.SetOptions{}), h)
	if res.Valid != checker.False {
		t.Fatalf("lost adds judged %v", res.Valid)
	}
	d := setDetails(t, res)
	if d.LostCount != 3 || !reflect.DeepEqual(d.Lost, []any{int64(17), int64(42), int64(99)}) ||
		d.OKCount != 3 || d.AcknowledgedCount != 6 || d.UnexpectedCount != 0 {
		t.Errorf("details %+v", *d)
	}
	if res.Summary != "3 of 6 acknowledged adds lost: 17, 42, 99" {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestSetUnexpected(t *testing.T) {
	// 7 was never attempted; 1.0 is a float, not the integer 1 that was
	// added, so 1 is lost and 1.0 unexpected.
	h := scEDN(t, okAdds("1", "2")+`
{:process 1 :type :invoke :f :read :value nil}
{:process 1 :type :ok :f :read :value [2 7 1.0 "x"]}
`)
	res := scCheck(t, checker.Set(checker.SetOptions{}), h)
	if res.Valid != checker.False {
		t.Fatalf("unexpected elements judged %v", res.Valid)
	}
	d := setDetails(t, res)
	if !reflect.DeepEqual(d.Unexpected, []any{1.0, int64(7), "x"}) || d.UnexpectedCount != 3 {
		t.Errorf("unexpected %v (%d)", d.Unexpected, d.UnexpectedCount)
	}
	if !reflect.DeepEqual(d.Lost, []any{int64(1)}) {
		t.Errorf("lost %v", d.Lost)
	}
	want := `1 of 2 acknowledged adds lost: 1; 3 unexpected elements never added: 1.0, 7, "x"`
	if res.Summary != want {
		t.Errorf("summary %q, want %q", res.Summary, want)
	}
}

func TestSetRecovered(t *testing.T) {
	// 4 is an info add and 5 never completed: both present, so recovered.
	// 6 failed yet is present: reported, but (as in Jepsen) not invalid.
	// 8 is an info add that is absent: fine. 9 failed once and succeeded
	// once: acknowledged.
	h := scEDN(t, okAdds("1")+`
{:process 1 :type :invoke :f :add :value 4}
{:process 1 :type :info :f :add :value 4}
{:process 2 :type :invoke :f :add :value 5}
{:process 3 :type :invoke :f :add :value 6}
{:process 3 :type :fail :f :add :value 6}
{:process 4 :type :invoke :f :add :value 8}
{:process 4 :type :info :f :add :value 8}
{:process 3 :type :invoke :f :add :value 9}
{:process 3 :type :fail :f :add :value 9}
{:process 3 :type :invoke :f :add :value 9}
{:process 3 :type :ok :f :add :value 9}
{:process 6 :type :invoke :f :read :value nil}
{:process 6 :type :ok :f :read :value [1 4 5 6 9]}
`)
	res := scCheck(t, checker.Set(checker.SetOptions{}), h)
	if res.Valid != checker.True {
		t.Fatalf("recovered adds judged %v: %s", res.Valid, res.Summary)
	}
	d := setDetails(t, res)
	if !reflect.DeepEqual(d.Recovered, []any{int64(4), int64(5)}) || d.RecoveredCount != 2 {
		t.Errorf("recovered %v", d.Recovered)
	}
	if !reflect.DeepEqual(d.FailedPresent, []any{int64(6)}) {
		t.Errorf("failed-present %v", d.FailedPresent)
	}
	if d.AttemptCount != 6 || d.AcknowledgedCount != 2 || d.OKCount != 5 || d.LostCount != 0 {
		t.Errorf("details %+v", *d)
	}
	want := "all 2 acknowledged adds present in the final read; 2 indeterminate adds recovered; 1 failed adds present anyway"
	if res.Summary != want {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestSetNoFinalRead(t *testing.T) {
	h := scEDN(t, okAdds("1")+`
{:process 1 :type :invoke :f :read :value nil}
{:process 1 :type :fail :f :read :value nil}
{:process 2 :type :invoke :f :read :value nil}
{:process 2 :type :info :f :read :value nil}
{:process 3 :type :invoke :f :read :value nil}
`)
	res := scCheck(t, checker.Set(checker.SetOptions{}), h)
	if res.Valid != checker.Unknown || !strings.Contains(res.Error, "never read") ||
		!strings.Contains(res.Summary, "never read") {
		t.Errorf("no ok read: %+v", res)
	}
}

func TestSetUsesLastOKRead(t *testing.T) {
	early := `
{:process 1 :type :invoke :f :read :value nil}
{:process 1 :type :ok :f :read :value []}
`
	late := `
{:process 1 :type :invoke :f :read :value nil}
{:process 1 :type :ok :f :read :value [1]}
`
	if res := scCheck(t, checker.Set(checker.SetOptions{}), scEDN(t, okAdds("1")+early+late)); res.Valid != checker.True {
		t.Errorf("element present in the last read judged %v", res.Valid)
	}
	if res := scCheck(t, checker.Set(checker.SetOptions{}), scEDN(t, okAdds("1")+late+early)); res.Valid != checker.False {
		t.Errorf("element missing from the last read judged %v", res.Valid)
	}
	// The last read to complete counts, even if invoked first.
	h := scEDN(t, okAdds("1")+`
{:process 1 :type :invoke :f :read :value nil}
{:process 2 :type :invoke :f :read :value nil}
{:process 2 :type :ok :f :read :value [1]}
{:process 1 :type :ok :f :read :value []}
`)
	if res := scCheck(t, checker.Set(checker.SetOptions{}), h); res.Valid != checker.False || setDetails(t, res).FinalReadIndex != 5 {
		t.Errorf("last completed read not used: %+v", res)
	}
}

func TestSetIgnoresNemesisAndCustomF(t *testing.T) {
	h := scEDN(t, `
{:process :nemesis :type :info :f :insert :value {:weird true}}
{:process 0 :type :invoke :f :insert :value "a"}
{:process 0 :type :ok :f :insert :value "a"}
{:process :nemesis :type :info :f :scan :value [zzz]}
{:process 0 :type :invoke :f :add :value {:not "an element"}}
{:process 0 :type :ok :f :add :value nil}
{:process 1 :type :invoke :f :scan :value nil}
{:process 1 :type :ok :f :scan :value ["a"]}
`)
	res := scCheck(t, checker.Set(checker.SetOptions{AddF: "insert", ReadF: "scan"}), h)
	if res.Valid != checker.True {
		t.Errorf("judged %v: %+v", res.Valid, res)
	}
}

func TestSetMalformed(t *testing.T) {
	const read = "{:process 2 :type :invoke :f :read}\n{:process 2 :type :ok :f :read :value []}\n"
	for name, s := range map[string]string{
		"add value":     "{:process 0 :type :invoke :f :add :value {:a 1}}\n{:process 0 :type :ok :f :add :value nil}\n" + read,
		"NaN element":   "{:process 0 :type :invoke :f :add :value ##NaN}\n" + read,
		"read not list": okAdds("1") + "{:process 1 :type :invoke :f :read}\n{:process 1 :type :ok :f :read :value 1}\n",
		"read element":  okAdds("1") + "{:process 1 :type :invoke :f :read}\n{:process 1 :type :ok :f :read :value [[1]]}\n",
		"pairing":       "{:process 0 :type :ok :f :add :value 1}\n" + read,
	} {
		if res := scCheck(t, checker.Set(checker.SetOptions{}), scEDN(t, s)); res.Valid != checker.Unknown || res.Error == "" {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

func TestSetBoundsLists(t *testing.T) {
	var adds []string
	for i := 0; i < 15; i++ {
		adds = append(adds, fmt.Sprint(100+i))
	}
	h := scEDN(t, okAdds(adds...)+"{:process 1 :type :invoke :f :read}\n{:process 1 :type :ok :f :read :value []}\n")
	res := scCheck(t, checker.Set(checker.SetOptions{MaxReported: 12}), h)
	d := setDetails(t, res)
	if res.Valid != checker.False || d.LostCount != 15 || len(d.Lost) != 12 || d.Lost[0] != int64(100) {
		t.Errorf("%v, %d lost, listed %v", res.Valid, d.LostCount, d.Lost)
	}
	want := "15 of 15 acknowledged adds lost: 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, … (5 more)"
	if res.Summary != want {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestSetCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := scEDN(t, okAdds("1")+"{:process 1 :type :invoke :f :read}\n{:process 1 :type :ok :f :read :value [1]}\n")
	if res := checker.Run(ctx, checker.Set(checker.SetOptions{}), h, checker.Options{}); res.Valid != checker.Unknown {
		t.Errorf("cancelled check judged %v", res.Valid)
	}
}

// TestSetAndCounterThroughVerdict proves the plan wiring: checker blocks
// of kind set and counter reach these checkers with their f names.
func TestSetAndCounterThroughVerdict(t *testing.T) {
	h := scEDN(t, okAdds("1", "2")+`
{:process 1 :type :invoke :f :read :value nil}
{:process 1 :type :ok :f :read :value [1]}
`)
	res := verdict.Check(context.Background(), h,
		[]eval.CheckerConfig{{Kind: "set", AddF: "add", ReadF: "read"}}, checker.Options{})
	sub, ok := res.Results["set"]
	if res.Valid != checker.False || !ok || sub.Summary != "1 of 2 acknowledged adds lost: 2" {
		t.Fatalf("set through verdict: %+v", res)
	}

	h = scEDN(t, `
{:process 0 :type :invoke :f :incr :value 2}
{:process 0 :type :ok :f :incr :value 2}
{:process 1 :type :invoke :f :get :value nil}
{:process 1 :type :ok :f :get :value 2}
`)
	cfg := []eval.CheckerConfig{{Kind: "counter", AddF: "incr", ReadF: "get"}}
	res = verdict.Check(context.Background(), h, cfg, checker.Options{})
	if res.Valid != checker.True || res.Results["counter"].Details.(*checker.CounterDetails).ReadCount != 1 {
		t.Fatalf("counter through verdict: %+v", res)
	}
	h[3].Value = int64(3)
	if res := verdict.Check(context.Background(), h, cfg, checker.Options{}); res.Valid != checker.False {
		t.Errorf("counter over its bound through verdict: %v", res.Valid)
	}
}

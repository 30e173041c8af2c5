package checker_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
)

func counterDetails(t testing.TB, res checker.Result) *checker.CounterDetails {
	t.Helper()
	d, ok := res.Details.(*checker.CounterDetails)
	if !ok {
		t.Fatalf("details are %T (result %+v)", res.Details, res)
	}
	return d
}

// readCounter is an invoke and ok read of v on process 9.
func readCounter(v string) string {
	return "{:process 9 :type :invoke :f :read :value nil}\n{:process 9 :type :ok :f :read :value " + v + "}\n"
}

func TestCounterSequential(t *testing.T) {
	adds := `
{:process 0 :type :invoke :f :add :value 1}
{:process 0 :type :ok :f :add :value 1}
{:process 0 :type :invoke :f :add :value 2}
{:process 0 :type :ok :f :add :value 2}
{:process 1 :type :invoke :f :add :value 10}
{:process 1 :type :fail :f :add :value 10}
`
	for _, c := range []struct {
		read string
		want checker.Validity
	}{
		{"3", checker.True},
		{"4", checker.False},  // over: nothing else may have happened
		{"2", checker.False},  // under: both adds were acknowledged
		{"13", checker.False}, // the failed add never happened
	} {
		res := scCheck(t, checker.Counter(checker.CounterOptions{}), scEDN(t, adds+readCounter(c.read)))
		if res.Valid != c.want {
			t.Errorf("read %s: %v, want %v (%s)", c.read, res.Valid, c.want, res.Summary)
		}
		d := counterDetails(t, res)
		if d.ReadCount != 1 || d.Final == nil || d.Final.Lower != int64(3) || d.Final.Upper != int64(3) {
			t.Errorf("read %s: details %+v final %+v", c.read, *d, d.Final)
		}
		if c.want == checker.False {
			want := []checker.CounterRead{{Process: 9, InvokeIndex: 6, Index: 7,
				Lower: int64(3), Value: d.Final.Value, Upper: int64(3)}}
			if !reflect.DeepEqual(d.Errors, want) || d.ErrorCount != 1 {
				t.Errorf("read %s: errors %+v", c.read, d.Errors)
			}
			if !strings.HasPrefix(res.Summary, "1 of 1 reads out of bounds; first: process 9 read "+c.read+" at index 7, bounds [3, 3]") {
				t.Errorf("summary %q", res.Summary)
			}
		} else if res.Summary != "all 1 reads within bounds; final read 3 in [3, 3]" {
			t.Errorf("summary %q", res.Summary)
		}
	}
}

// TestCounterConcurrentBounds: an add concurrent with a read may or may not
// be seen; lower counts adds ok before the read's invocation, upper adds
// invoked before its completion.
func TestCounterConcurrentBounds(t *testing.T) {
	cases := []struct {
		name, h      string
		lower, upper int64
	}{
		{"add spans the read", `
{:process 0 :type :invoke :f :add :value 5}
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value READ}
{:process 0 :type :ok :f :add :value 5}
`, 0, 5},
		{"add invoked before, ok during the read", `
{:process 0 :type :invoke :f :add :value 5}
{:process 9 :type :invoke :f :read :value nil}
{:process 0 :type :ok :f :add :value 5}
{:process 9 :type :ok :f :read :value READ}
`, 0, 5},
		{"add invoked during the read", `
{:process 9 :type :invoke :f :read :value nil}
{:process 0 :type :invoke :f :add :value 5}
{:process 9 :type :ok :f :read :value READ}
{:process 0 :type :ok :f :add :value 5}
`, 0, 5},
		{"add ok just before the read is invoked", `
{:process 0 :type :invoke :f :add :value 5}
{:process 0 :type :ok :f :add :value 5}
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value READ}
`, 5, 5},
		{"add invoked just after the read completes", `
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value READ}
{:process 0 :type :invoke :f :add :value 5}
{:process 0 :type :ok :f :add :value 5}
`, 0, 0},
		{"info add counts in upper only, for good", `
{:process 0 :type :invoke :f :add :value 5}
{:process 0 :type :info :f :add :value 5}
{:process 1 :type :invoke :f :add :value 2}
{:process 1 :type :ok :f :add :value 2}
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value READ}
`, 2, 7},
		{"an add that never completes counts in upper", `
{:process 0 :type :invoke :f :add :value 5}
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value READ}
`, 0, 5},
		{"negative delta concurrent: lowers lower only", `
{:process 1 :type :invoke :f :add :value 10}
{:process 1 :type :ok :f :add :value 10}
{:process 0 :type :invoke :f :add :value -3}
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value READ}
{:process 0 :type :ok :f :add :value -3}
`, 7, 10},
		{"negative delta ok before the read: both bounds", `
{:process 1 :type :invoke :f :add :value 10}
{:process 1 :type :ok :f :add :value 10}
{:process 0 :type :invoke :f :add :value -3}
{:process 0 :type :ok :f :add :value -3}
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value READ}
`, 7, 7},
		{"negative info delta: lowers lower only", `
{:process 0 :type :invoke :f :add :value -3}
{:process 0 :type :info :f :add :value -3}
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value READ}
`, -3, 0},
		{"negative failed delta: nothing", `
{:process 0 :type :invoke :f :add :value -3}
{:process 0 :type :fail :f :add :value -3}
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value READ}
`, 0, 0},
	}
	c := checker.Counter(checker.CounterOptions{})
	for _, tc := range cases {
		for v := tc.lower - 1; v <= tc.upper+1; v++ {
			h := scEDN(t, strings.Replace(tc.h, "READ", itoa(v), 1))
			res := scCheck(t, c, h)
			want := checker.True
			if v < tc.lower || v > tc.upper {
				want = checker.False
			}
			if res.Valid != want {
				t.Errorf("%s: read %d judged %v, want %v (%s)", tc.name, v, res.Valid, want, res.Summary)
			}
			if f := counterDetails(t, res).Final; f == nil || f.Lower != tc.lower || f.Upper != tc.upper {
				t.Errorf("%s: final read %+v, want bounds [%d, %d]", tc.name, f, tc.lower, tc.upper)
			}
		}
	}
}

func itoa(v int64) string {
	if v < 0 {
		return "-" + itoa(-v)
	}
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}

func TestCounterSeveralReads(t *testing.T) {
	// Bounds are per read: the second read is stale (below the first ok
	// add), the third is fine; info and failed reads are ignored, as are
	// nemesis ops.
	h := scEDN(t, `
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value 0}
{:process 0 :type :invoke :f :add :value 4}
{:process 0 :type :ok :f :add :value 4}
{:process :nemesis :type :info :f :add :value "not a number"}
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value 0}
{:process 8 :type :invoke :f :read :value nil}
{:process 8 :type :info :f :read :value nil}
{:process 7 :type :invoke :f :read :value nil}
{:process 7 :type :fail :f :read :value 99}
{:process 9 :type :invoke :f :read :value nil}
{:process 9 :type :ok :f :read :value 4}
`)
	res := scCheck(t, checker.Counter(checker.CounterOptions{}), h)
	d := counterDetails(t, res)
	if res.Valid != checker.False || d.ReadCount != 3 || d.ErrorCount != 1 || d.Errors[0].Index != 6 {
		t.Errorf("%v: %+v", res.Valid, *d)
	}
	if res.Summary != "1 of 3 reads out of bounds; first: process 9 read 0 at index 6, bounds [4, 4]" {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestCounterFloats(t *testing.T) {
	h := `
{:process 0 :type :invoke :f :add :value 0.5}
{:process 0 :type :ok :f :add :value 0.5}
{:process 0 :type :invoke :f :add :value 1}
{:process 0 :type :ok :f :add :value 1}
`
	c := checker.Counter(checker.CounterOptions{})
	if res := scCheck(t, c, scEDN(t, h+readCounter("1.5"))); res.Valid != checker.True {
		t.Errorf("read 1.5 judged %v: %s", res.Valid, res.Summary)
	} else if f := counterDetails(t, res).Final; f.Lower != 1.5 || f.Upper != 1.5 || f.Value != 1.5 {
		t.Errorf("final %+v", f)
	}
	if res := scCheck(t, c, scEDN(t, h+readCounter("2"))); res.Valid != checker.False ||
		!strings.Contains(res.Summary, "read 2 at index 5, bounds [1.5, 1.5]") {
		t.Errorf("read 2 judged %v: %s", res.Valid, res.Summary)
	}
	// Integers only: exact, even beyond float64's 53-bit mantissa.
	big := `
{:process 0 :type :invoke :f :add :value 9007199254740993}
{:process 0 :type :ok :f :add :value 9007199254740993}
`
	if res := scCheck(t, c, scEDN(t, big+readCounter("9007199254740992"))); res.Valid != checker.False {
		t.Errorf("off-by-one large read judged %v", res.Valid)
	}
}

func TestCounterBoundsErrorList(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 5; i++ {
		b.WriteString(readCounter("1"))
	}
	res := scCheck(t, checker.Counter(checker.CounterOptions{MaxReported: 2}), scEDN(t, b.String()))
	d := counterDetails(t, res)
	if res.Valid != checker.False || d.ErrorCount != 5 || len(d.Errors) != 2 || d.ReadCount != 5 {
		t.Errorf("%v: %+v", res.Valid, *d)
	}
}

func TestCounterNoReads(t *testing.T) {
	res := scCheck(t, checker.Counter(checker.CounterOptions{}),
		scEDN(t, "{:process 0 :type :invoke :f :add :value 1}\n{:process 0 :type :ok :f :add :value 1}\n"))
	if res.Valid != checker.True || res.Summary != "no ok reads: nothing to check" {
		t.Errorf("%+v", res)
	}
}

func TestCounterMalformed(t *testing.T) {
	for name, s := range map[string]string{
		"add string": "{:process 0 :type :invoke :f :add :value \"1\"}\n{:process 0 :type :ok :f :add :value \"1\"}\n" + readCounter("1"),
		"add nil":    "{:process 0 :type :invoke :f :add :value nil}\n{:process 0 :type :fail :f :add :value nil}\n" + readCounter("0"),
		"add NaN":    "{:process 0 :type :invoke :f :add :value ##NaN}\n" + readCounter("0"),
		"read nil":   readCounter("nil"),
		"read list":  readCounter("[1]"),
		"overflow":   "{:process 0 :type :invoke :f :add :value 9223372036854775807}\n{:process 1 :type :invoke :f :add :value 1}\n" + readCounter("0"),
		"pairing":    "{:process 0 :type :ok :f :add :value 1}\n" + readCounter("0"),
		"f mismatch": "{:process 0 :type :invoke :f :add :value 1}\n{:process 0 :type :ok :f :read :value 1}\n",
	} {
		if res := scCheck(t, checker.Counter(checker.CounterOptions{}), scEDN(t, s)); res.Valid != checker.Unknown || res.Error == "" {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

func TestCounterCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := scEDN(t, readCounter("0"))
	if res := checker.Run(ctx, checker.Counter(checker.CounterOptions{}), h, checker.Options{}); res.Valid != checker.Unknown {
		t.Errorf("cancelled check judged %v", res.Valid)
	}
}

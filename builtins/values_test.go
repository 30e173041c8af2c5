package builtins

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in     cty.Value
		want   time.Duration
		signed bool   // use ParseSignedDuration
		err    string // substring; empty means success
	}{
		{in: cty.StringVal("20ms"), want: 20 * time.Millisecond},
		{in: cty.StringVal("1m30s"), want: 90 * time.Second},
		{in: cty.NumberIntVal(2), want: 2 * time.Second},
		{in: cty.NumberFloatVal(0.25), want: 250 * time.Millisecond},
		{in: cty.MustParseNumberVal("0.000000001"), want: time.Nanosecond},
		{in: cty.StringVal("0s"), want: 0},
		{in: cty.StringVal("20ms").Mark("sensitive"), want: 20 * time.Millisecond},
		{in: cty.StringVal("-5s"), err: "duration -5s is negative"},
		{in: cty.NumberIntVal(-1), err: "negative"},
		{in: cty.StringVal("-5s"), signed: true, want: -5 * time.Second},
		{in: cty.NumberFloatVal(-1.5), signed: true, want: -1500 * time.Millisecond},
		{in: cty.StringVal("5"), err: `duration "5" has no unit: write "5s", or the number 5 for seconds`},
		{in: cty.StringVal("later"), err: `invalid duration "later"`},
		{in: cty.StringVal(""), err: `invalid duration ""`},
		{in: cty.NumberIntVal(1e12), err: "too long"},
		{in: cty.PositiveInfinity, err: "infinite"},
		{in: cty.True, err: "not a bool"},
		{in: cty.ListValEmpty(cty.String), err: "not a list of string"},
		{in: cty.NullVal(cty.String), err: "got null"},
		{in: cty.UnknownVal(cty.String), err: "not known until the test runs"},
	}
	for _, c := range cases {
		parse := ParseDuration
		if c.signed {
			parse = ParseSignedDuration
		}
		got, err := parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parse(%#v) = %v, %v; want error containing %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parse(%#v) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// drawN evaluates expr n times in one per-operation scope seeded with seed.
func drawN(t *testing.T, seed uint64, expr string, n int) []cty.Value {
	t.Helper()
	s := Scope{Rand: rand.New(rand.NewPCG(seed, seed))}
	out := make([]cty.Value, n)
	for i := range out {
		v, err := evalIn(s, expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		out[i] = v
	}
	return out
}

// TestRandomDeterminism checks the promise plans rely on: the same seed
// gives the same values, and a different seed different ones.
func TestRandomDeterminism(t *testing.T) {
	exprs := []string{
		`random_int(0, 1000000)`,
		`random_float(0, 1)`,
		`random_choice(["a", "b", "c", "d", "e", "f", "g", "h"])`,
		`random_string(16)`,
		`random_bool()`,
	}
	for _, expr := range exprs {
		a := drawN(t, 7, expr, 32)
		b := drawN(t, 7, expr, 32)
		c := drawN(t, 8, expr, 32)
		same, differ := true, false
		for i := range a {
			same = same && a[i].RawEquals(b[i])
			differ = differ || !a[i].RawEquals(c[i])
		}
		if !same {
			t.Errorf("%s: same seed gave different values", expr)
		}
		if !differ {
			t.Errorf("%s: seeds 7 and 8 gave the same 32 values", expr)
		}
	}
}

func TestRandomDistributions(t *testing.T) {
	const n = 2000
	t.Run("random_int covers both ends", func(t *testing.T) {
		seen := map[int64]int{}
		for _, v := range drawN(t, 1, `random_int(-2, 2)`, n) {
			i, _ := v.AsBigFloat().Int64()
			if i < -2 || i > 2 {
				t.Fatalf("random_int(-2, 2) = %d", i)
			}
			seen[i]++
		}
		for i := int64(-2); i <= 2; i++ {
			if seen[i] < n/10 { // expected n/5 each
				t.Errorf("%d drawn %d times of %d", i, seen[i], n)
			}
		}
	})
	t.Run("random_int full int64 range", func(t *testing.T) {
		drawN(t, 1, `random_int(-9223372036854775808, 9223372036854775807)`, 10)
	})
	t.Run("random_float stays in [min, max)", func(t *testing.T) {
		var below, above int
		for _, v := range drawN(t, 2, `random_float(1, 3)`, n) {
			f, _ := v.AsBigFloat().Float64()
			if f < 1 || f >= 3 {
				t.Fatalf("random_float(1, 3) = %v", f)
			}
			if f < 2 {
				below++
			} else {
				above++
			}
		}
		if below < n/3 || above < n/3 {
			t.Errorf("lopsided: %d below 2, %d above", below, above)
		}
	})
	t.Run("random_choice picks every element", func(t *testing.T) {
		seen := map[string]int{}
		for _, v := range drawN(t, 3, `random_choice(["a", "b", "c"])`, n) {
			seen[v.AsString()]++
		}
		for _, k := range []string{"a", "b", "c"} {
			if seen[k] < n/6 {
				t.Errorf("%s chosen %d times of %d", k, seen[k], n)
			}
		}
	})
	t.Run("random_string is alphanumeric", func(t *testing.T) {
		chars := map[rune]bool{}
		for _, v := range drawN(t, 4, `random_string(20)`, 200) {
			s := v.AsString()
			if len(s) != 20 {
				t.Fatalf("length %d", len(s))
			}
			for _, r := range s {
				if !strings.ContainsRune(alphanumeric, r) {
					t.Fatalf("random_string produced %q", s)
				}
				chars[r] = true
			}
		}
		if len(chars) < 55 { // 4000 draws from 62 characters
			t.Errorf("only %d distinct characters", len(chars))
		}
	})
	t.Run("random_bool gives both", func(t *testing.T) {
		trues := 0
		for _, v := range drawN(t, 5, `random_bool()`, n) {
			if v.True() {
				trues++
			}
		}
		if trues < n/3 || trues > 2*n/3 {
			t.Errorf("%d trues of %d", trues, n)
		}
	})
}

func TestToGenerator(t *testing.T) {
	read, write := OperationGenerator("read"), OperationGenerator("write")
	start := FaultGenerator("partition", "start")

	g, err := ToGenerator(cty.TupleVal([]cty.Value{read, cty.TupleVal([]cty.Value{write, cty.ListVal([]cty.Value{start})})}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.String(), "[operation.read, operation.write, fault.partition.start]"; got != want {
		t.Errorf("nested lists: got %s, want %s", got, want)
	}
	if g.Kind != KindSeq || len(g.Children) != 3 || g.Children[2].Kind != KindFault || g.Children[2].Action != "start" {
		t.Errorf("nested lists: unexpected tree %+v", g)
	}

	g, err = ToGenerator(read)
	if err != nil || g.Kind != KindOperation || g.Name != "read" {
		t.Fatalf("leaf: %+v, %v", g, err)
	}

	g, err = ToGenerator(cty.EmptyTupleVal)
	if err != nil || g.Kind != KindSeq || len(g.Children) != 0 {
		t.Errorf("empty list: %+v, %v", g, err)
	}

	for _, c := range []struct {
		in  cty.Value
		err string
	}{
		{cty.StringVal("read"), "the value is a string, not a generator (did you mean operation.read?)"},
		{cty.TupleVal([]cty.Value{read, cty.NumberIntVal(1)}), "element 2 is a number, not a generator"},
		{cty.NullVal(GeneratorType), "is null"},
		{cty.UnknownVal(GeneratorType), "not known until the test runs"},
		{cty.TupleVal([]cty.Value{read, cty.UnknownVal(GeneratorType)}), "not known until the test runs"},
		{cty.SetVal([]cty.Value{cty.StringVal("x")}), "is a set"},
		{cty.EmptyObjectVal, "is an object, not a generator"},
	} {
		if _, err := ToGenerator(c.in); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("ToGenerator(%#v): error %v, want one containing %q", c.in, err, c.err)
		}
	}
}

// TestToGeneratorCopies checks that annotating the result of ToGenerator
// cannot alter the shared capsule, which other expressions may reference.
func TestToGeneratorCopies(t *testing.T) {
	v, err := evalIn(scopeFor(perOp), `mix([operation.read, operation.write])`)
	if err != nil {
		t.Fatal(err)
	}
	g1, _ := ToGenerator(v)
	g1.Children[0].Name = "changed"
	g1.Children = append(g1.Children, g1.Children[0])
	g2, _ := ToGenerator(v)
	if got := g2.String(); got != "mix([operation.read, operation.write])" {
		t.Errorf("capsule was mutated through a copy: %s", got)
	}
}

// TestStringRoundTrip checks that String renders the expression that builds
// the same generator, for every generator test case; the runner and error
// messages rely on it being faithful.
func TestStringRoundTrip(t *testing.T) {
	for _, c := range functionCases() {
		if c.gen == "" {
			continue
		}
		v, err := evalIn(scopeFor(perOp), c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		g, _ := ToGenerator(v)
		v2, err := evalIn(scopeFor(perOp), g.String())
		if err != nil {
			t.Fatalf("re-evaluating %s: %v", g, err)
		}
		g2, _ := ToGenerator(v2)
		if !g.Equal(g2) {
			t.Errorf("%s rendered as %s, which builds %s", c.expr, g, g2)
		}
	}
}

func TestGeneratorFields(t *testing.T) {
	eval := func(expr string) *Generator {
		t.Helper()
		v, err := evalIn(scopeFor(perOp), expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		g, err := ToGenerator(v)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := eval(`time_limit("1m30s", stagger(0.02, mix([operation.read, [operation.write, operation.cas]])))`)
	if g.Kind != KindTimeLimit || g.Duration != 90*time.Second {
		t.Errorf("time_limit: %+v", g)
	}
	st := g.Children[0]
	if st.Kind != KindStagger || st.Duration != 20*time.Millisecond || len(st.Children) != 1 {
		t.Errorf("stagger: %+v", st)
	}
	mix := st.Children[0]
	if mix.Kind != KindMix || len(mix.Children) != 2 || mix.Children[1].Kind != KindSeq || len(mix.Children[1].Children) != 2 {
		t.Errorf("mix keeps a list element as one sequence: %s", mix)
	}

	r := eval(`reserve(5, operation.write, 10, [operation.cas], operation.read)`)
	if r.Kind != KindReserve || len(r.Counts) != 2 || r.Counts[0] != 5 || r.Counts[1] != 10 || len(r.Children) != 3 || r.Children[2].Name != "read" {
		t.Errorf("reserve: %+v", r)
	}

	for expr, want := range map[string]int{`repeat(operation.read)`: 0, `repeat(4, operation.read)`: 4, `cycle(2, operation.read)`: 2, `limit(7, operation.read)`: 7} {
		if g := eval(expr); g.Count != want {
			t.Errorf("%s: Count %d, want %d", expr, g.Count, want)
		}
	}
	if g := eval(`log("phase 2")`); g.Kind != KindLog || g.Message != "phase 2" {
		t.Errorf("log: %+v", g)
	}
	if g := eval(`sleep(1.5)`); g.Kind != KindSleep || g.Duration != 1500*time.Millisecond {
		t.Errorf("sleep: %+v", g)
	}

	var kinds []string
	eval(`phases(operation.write, nemesis(fault.crash.start))`).Walk(func(g *Generator) bool {
		kinds = append(kinds, g.Kind)
		return g.Kind != KindNemesis // do not descend into the nemesis
	})
	if got := strings.Join(kinds, ","); got != "phases,operation,nemesis" {
		t.Errorf("Walk visited %s", got)
	}
}

func TestGeneratorEquality(t *testing.T) {
	a := OperationGenerator("read")
	if !a.Equals(OperationGenerator("read")).True() {
		t.Error("two operation.read values are not equal")
	}
	if a.Equals(OperationGenerator("write")).True() {
		t.Error("operation.read equals operation.write")
	}
	if FaultGenerator("crash", "start").RawEquals(FaultGenerator("crash", "stop")) {
		t.Error("start equals stop")
	}
	g1 := &Generator{Kind: KindReserve, Counts: []int{1}, Children: []*Generator{{Kind: KindOnce}, {Kind: KindOnce}}}
	g2 := g1.Clone()
	g2.Range.Filename = "elsewhere.hcl"
	if !g1.Equal(g2) {
		t.Error("a clone with a different range is not equal")
	}
	g2.Counts[0] = 2
	if g1.Equal(g2) || g1.Counts[0] != 1 {
		t.Error("Clone shares Counts, or Equal ignores them")
	}
}

package eval

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/jplan/jplan/lang"
	"github.com/zclconf/go-cty/cty"
)

const fastPlan = `
variable "n" {
  type    = number
  default = 7
}
locals {
  name = "k"
  big  = 9007199254740993
  list = [1, 2]
}
test "fast" {
  nodes = ["n1"]
}
client "memory" {}

operation "int"    { value = random_int(0, 4) }
operation "pair"   { value = [random_int(0, 4), random_int(0, 4)] }
operation "neg"    { value = random_int(-3, var.n * 2) }
operation "wide"   { value = random_int(-9223372036854775808, 9223372036854775807) }
operation "one"    { value = random_int(5, 5) }
operation "consts" { value = [1, 2.5, "s", true, local.name, local.big, var.n + 1] }
operation "obj"    { value = { from = random_int(0, 2), "to" = random_int(0, 2), amount = [random_int(1, 5)], k = local.name } }
operation "nested" { value = [[random_int(0, 1)], {a = [random_int(0, 9), 3]}] }
operation "empty"  { value = [] }

operation "fthrough" { value = [op.f, random_int(0, 4)] }
operation "other"    { value = random_choice(["a", "b"]) }
operation "float"    { value = [random_float(0, 1), random_int(0, 3)] }
operation "nested_call" { value = random_int(0, max(1, 2)) }
operation "list_const" { value = [local.name, [1, 2]] }
operation "list_ref"   { value = [local.list] }
operation "bad_bounds" { value = random_int(4, 0) }
operation "templ"   { value = "v${random_int(0, 3)}" }
`

// TestFastValue: the values compiled to Go are the ones HCL computes, drawn
// in the same order from the same randomness; the rest keep the HCL path.
func TestFastValue(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(path, []byte(fastPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	srcs, diags := lang.Find(lang.NewParser(), path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, diags := lang.Decode(srcs[0].Files)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	e, diags := New(plan, Options{Dir: dir})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	fast := map[string]bool{"int": true, "pair": true, "neg": true, "wide": true, "one": true, "consts": true,
		"obj": true, "nested": true, "empty": true, "list_const": true}
	for _, o := range plan.Operations {
		s := e.OpSpec(o.Name)
		if got := s.fast != nil; got != fast[o.Name] {
			t.Errorf("%s: fast path %v, want %v", o.Name, got, fast[o.Name])
		}
		if s.fast == nil {
			continue
		}
		for seed := uint64(0); seed < 200; seed++ {
			r1 := rand.New(rand.NewPCG(seed, 1))
			r2 := rand.New(rand.NewPCG(seed, 1))
			got := s.fast(r1)
			v, diags := s.Op.Value.Value(e.OpContext(s.Op, OpInput{Rand: r2}, cty.NilVal))
			if diags.HasErrors() {
				t.Fatalf("%s: %v", o.Name, diags)
			}
			want, err := FromCty(v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s seed %d: fast %#v, HCL %#v", o.Name, seed, got, want)
			}
			if a, b := r1.Uint64(), r2.Uint64(); a != b {
				t.Fatalf("%s seed %d: the fast path drew a different amount of randomness", o.Name, seed)
			}
		}
	}
	// Each op gets its own value: a fast tuple is not shared between ops.
	s := e.OpSpec("pair")
	r := rand.New(rand.NewPCG(1, 2))
	a := s.fast(r).([]any)
	b := s.fast(r).([]any)
	a[0] = "changed"
	if b[0] == "changed" {
		t.Error("two ops share one value")
	}
}

// TestCachedValueContext: Value through the cached context draws what a
// fresh context would, op after op.
func TestCachedValueContext(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(path, []byte(fastPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	srcs, _ := lang.Find(lang.NewParser(), path)
	plan, _ := lang.Decode(srcs[0].Files)
	e, _ := New(plan, Options{Dir: dir})
	for _, name := range []string{"other", "float", "fthrough", "templ"} {
		s := e.OpSpec(name)
		r1 := rand.New(rand.NewPCG(5, 6))
		r2 := rand.New(rand.NewPCG(5, 6))
		for i := 0; i < 100; i++ {
			got, err := s.Value(r1)
			if err != nil {
				t.Fatal(err)
			}
			v, diags := s.Op.Value.Value(e.OpContext(s.Op, OpInput{Rand: r2}, cty.NilVal))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			want, _ := FromCty(v)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s op %d: cached %#v, fresh %#v", name, i, got, want)
			}
		}
	}
	// Out-of-order bounds still fail with the function's message.
	if _, err := e.OpSpec("bad_bounds").Value(rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("random_int(4, 0) did not fail")
	}
}

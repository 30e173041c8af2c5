package format

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGolden formats every testdata/*_in.hcl and compares with its
// *_out.hcl; formatting the output again must change nothing.
func TestGolden(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*_in.hcl")
	if len(ins) == 0 {
		t.Fatal("no golden files")
	}
	for _, in := range ins {
		out := strings.TrimSuffix(in, "_in.hcl") + "_out.hcl"
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got, diags := Source(in, src)
			if diags.HasErrors() {
				t.Fatalf("unexpected errors: %v", diags)
			}
			if string(got) != string(want) {
				t.Errorf("formatted %s differs from %s:\n%s", in, out, Diff(out, want, got))
			}
			again, _ := Source(out, got)
			if string(again) != string(got) {
				t.Errorf("formatting is not idempotent:\n%s", Diff(out, got, again))
			}
		})
	}
}

func TestRefusesUnparsable(t *testing.T) {
	for _, src := range []string{`test "x" {`, `a = `, "}}}", `test "x" { nodes = [1, }`} {
		out, diags := Source("bad.hcl", []byte(src))
		if !diags.HasErrors() {
			t.Errorf("%q: expected a syntax error, got output %q", src, out)
		}
		if out != nil {
			t.Errorf("%q: returned output for unparsable source", src)
		}
	}
}

func TestDiff(t *testing.T) {
	a := []byte("a\nb\nc\nd\n")
	b := []byte("a\nB\nc\nd\ne\n")
	got := Diff("f.hcl", a, b)
	for _, want := range []string{"--- f.hcl", "-b\n", "+B\n", "+e\n", " a\n", "@@ -1,4 +1,5 @@"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	if Diff("f", a, a) != "" {
		t.Error("diff of equal inputs is not empty")
	}
	if !strings.Contains(got, "+++ f.hcl (formatted)\n") {
		t.Errorf("diff does not label the formatted side:\n%s", got)
	}
}

// TestDiffLarge: a file of 20,000 lines (past what a quadratic diff could
// afford) still gets a real diff, with the one changed line in its hunk.
func TestDiffLarge(t *testing.T) {
	var a, b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&a, "x%d = %d\n", i, i)
		if i == 12345 {
			fmt.Fprintf(&b, "x%d  =  %d\n", i, i)
			continue
		}
		fmt.Fprintf(&b, "x%d = %d\n", i, i)
	}
	got := Diff("big.hcl", []byte(a.String()), []byte(b.String()))
	for _, want := range []string{"-x12345 = 12345\n", "+x12345  =  12345\n", "@@ -12343,7 +12343,7 @@"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n > 15 {
		t.Errorf("diff of one changed line has %d lines", n)
	}
}

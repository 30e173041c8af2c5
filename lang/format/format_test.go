package format

import (
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
}

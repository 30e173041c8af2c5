package eval_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lang"
)

// FuzzValidate feeds arbitrary bytes through parse, decode and validate.
// Whatever the input, validation must end quickly with diagnostics, never a
// panic (ValidateSource turns a panic into an "Internal error" diagnostic,
// which this target treats as a failure).
func FuzzValidate(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/*/*.hcl")
	examples, _ := filepath.Glob("../examples/*.hcl")
	for _, s := range append(seeds, examples...) {
		if src, err := os.ReadFile(s); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("test \"x\" { nodes = [[[[[[[[1]]]]]]]] }"))
	f.Add([]byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// A hang is a bug too: crash with every goroutine's stack so the
		// fuzzer records the input.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				panic("validation hung for 5s on this input")
			}
		}()
		diags := validateSource(t, src)
		for _, d := range diags {
			if strings.Contains(d.Summary, "Internal error") {
				t.Fatalf("validation crashed: %s", d.Detail)
			}
		}
	})
}

func validateSource(t *testing.T, src []byte) hcl.Diagnostics {
	t.Helper()
	// One directory for every input: the plan's files are parsed from
	// memory, the directory only anchors relative paths.
	dir := os.TempDir()
	p := lang.NewParser()
	f, diags := p.ParseSource(filepath.Join(dir, "fuzz.hcl"), src)
	if f == nil {
		return diags
	}
	start := time.Now()
	c := eval.ValidateSource(&lang.Source{Name: "fuzz.hcl", Dir: dir, Files: []*hcl.File{f}}, nil)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("validation took %v", el)
	}
	return append(diags, c.Diags...)
}

// BenchmarkValidateManyLocals validates a plan with 20,000 chained locals:
// local evaluation must stay linear in the number of locals.
func BenchmarkValidateManyLocals(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("test \"big\" {\n  nodes = [\"n1\"]\n}\nlocals {\n  l0 = 1\n")
	for i := 1; i < 20000; i++ {
		fmt.Fprintf(&sb, "  l%d = local.l%d + 1\n", i, i-1)
	}
	sb.WriteString("}\nclient \"memory\" {}\noperation \"read\" {}\nphase \"main\" {\n  clients = limit(local.l19999, operation.read)\n}\n")
	src := []byte(sb.String())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := lang.NewParser()
		f, diags := p.ParseSource("big.hcl", src)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		c := eval.ValidateSource(&lang.Source{Name: "big.hcl", Dir: ".", Files: []*hcl.File{f}}, nil)
		if c.Diags.HasErrors() {
			b.Fatal(c.Diags)
		}
	}
}

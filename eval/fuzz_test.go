package eval_test

import (
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
	dir := t.TempDir()
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

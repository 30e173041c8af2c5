package eval_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lang"
)

// marker is a `# ERROR: text` or `# WARNING: text` comment: the line it is
// on must get a diagnostic of that severity whose summary or detail
// contains text.
var marker = regexp.MustCompile(`#\s*(ERROR|WARNING):\s*(.*?)\s*$`)

type expectation struct {
	severity string
	text     string
}

func expectations(t *testing.T, path string) map[int]expectation {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]expectation{}
	for i, line := range strings.Split(string(src), "\n") {
		if m := marker.FindStringSubmatch(line); m != nil {
			out[i+1] = expectation{severity: m[1], text: m[2]}
		}
	}
	return out
}

func validateFile(t *testing.T, path string) hcl.Diagnostics {
	t.Helper()
	p := lang.NewParser()
	checked, global := eval.ValidatePaths(p, []string{path}, eval.InputOptions{})
	diags := append(hcl.Diagnostics{}, global...)
	for _, c := range checked {
		diags = append(diags, c.Diags...)
	}
	return diags
}

func render(diags hcl.Diagnostics) string {
	var sb strings.Builder
	for _, d := range diags {
		sev := "ERROR"
		if d.Severity == hcl.DiagWarning {
			sev = "WARNING"
		}
		where := "(no location)"
		if d.Subject != nil {
			where = d.Subject.String()
		}
		fmt.Fprintf(&sb, "  %s %s: %s — %s\n", where, sev, d.Summary, d.Detail)
	}
	return sb.String()
}

// TestInvalidFiles checks that every marked line of every file in
// testdata/invalid gets its diagnostic, and no other line gets one.
func TestInvalidFiles(t *testing.T) {
	files, _ := filepath.Glob("../testdata/invalid/*.hcl")
	if len(files) == 0 {
		t.Fatal("no files in testdata/invalid")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := expectations(t, f)
			if len(want) == 0 {
				t.Fatalf("%s has no # ERROR: markers", f)
			}
			diags := validateFile(t, f)
			wantErrors := false
			for _, w := range want {
				wantErrors = wantErrors || w.severity == "ERROR"
			}
			if wantErrors && !diags.HasErrors() {
				t.Fatalf("expected errors, got none")
			}
			got := map[int][]*hcl.Diagnostic{}
			for _, d := range diags {
				if d.Subject == nil || d.Subject.Filename != f {
					t.Errorf("diagnostic without a place in the file: %s", render(hcl.Diagnostics{d}))
					continue
				}
				got[d.Subject.Start.Line] = append(got[d.Subject.Start.Line], d)
			}
			var lines []int
			for l := range want {
				lines = append(lines, l)
			}
			for l := range got {
				if _, ok := want[l]; !ok {
					lines = append(lines, l)
				}
			}
			sort.Ints(lines)
			for _, l := range lines {
				w, expected := want[l]
				ds := got[l]
				if !expected {
					t.Errorf("line %d: unexpected diagnostic:\n%s", l, render(ds))
					continue
				}
				if len(ds) == 0 {
					t.Errorf("line %d: expected %s containing %q, got nothing. All diagnostics:\n%s", l, w.severity, w.text, render(diags))
					continue
				}
				matched := false
				for _, d := range ds {
					sev := "ERROR"
					if d.Severity == hcl.DiagWarning {
						sev = "WARNING"
					}
					if sev == w.severity && strings.Contains(d.Summary+" "+d.Detail, w.text) {
						matched = true
					}
				}
				if !matched {
					t.Errorf("line %d: expected %s containing %q, got:\n%s", l, w.severity, w.text, render(ds))
				}
			}
		})
	}
}

// TestValidFiles checks that the valid plans and the examples validate
// without errors or warnings.
func TestValidFiles(t *testing.T) {
	files, _ := filepath.Glob("../testdata/valid/*")
	examples, _ := filepath.Glob("../examples/*.hcl")
	files = append(files, examples...)
	if len(files) < 2 {
		t.Fatal("no valid plans found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if diags := validateFile(t, f); len(diags) > 0 {
				t.Errorf("expected no diagnostics, got:\n%s", render(diags))
			}
		})
	}
}

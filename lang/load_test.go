package lang_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/lang"
)

func write(t testing.TB, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func summaries(diags hcl.Diagnostics) string {
	var s []string
	for _, d := range diags {
		s = append(s, d.Summary)
	}
	return strings.Join(s, "; ")
}

// TestHostileInput: each kind of input that is not a plan gets one clear
// diagnostic naming the file, without reaching the HCL parser's slow paths.
func TestHostileInput(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, src, want string
	}{
		{"binary.hcl", "\x7fELF\x02\x01\x01\x00\x00\x00garbage\xff\xfe", "Plan file is not text"},
		{"latin1.hcl", "test \"caf\xe9\" {}", "Plan file is not text"},
		{"deep.hcl", "test \"x\" { nodes = " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + " }", "Plan nested too deeply"},
		{"deep_parens.hcl", "locals { a = " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + " }", "Plan nested too deeply"},
		{"huge.hcl", "# " + strings.Repeat("x", 10<<20) + "\n", "Plan file too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, dir, c.name, c.src)
			_, plans, diags := lang.Load(lang.NewParser(), path)
			if len(plans) != 0 {
				t.Errorf("got %d plans from hostile input", len(plans))
			}
			if len(diags) != 1 || diags[0].Summary != c.want {
				t.Fatalf("want one %q diagnostic, got %s", c.want, summaries(diags))
			}
			if diags[0].Subject == nil || diags[0].Subject.Filename != path {
				t.Errorf("diagnostic does not name the file: %+v", diags[0].Subject)
			}
		})
	}
}

func TestEmptyFileAndDirs(t *testing.T) {
	dir := t.TempDir()
	empty := write(t, dir, "empty/plan.hcl", "")
	_, _, diags := lang.Load(lang.NewParser(), empty)
	if summaries(diags) != "Missing test block" {
		t.Errorf("empty file: got %q", summaries(diags))
	}
	noPlans := filepath.Join(dir, "noplans")
	write(t, noPlans, "README.md", "# not a plan")
	_, _, diags = lang.Load(lang.NewParser(), noPlans)
	if summaries(diags) != "No plan files" {
		t.Errorf("dir without plans: got %q", summaries(diags))
	}
	_, _, diags = lang.Load(lang.NewParser(), filepath.Join(dir, "missing.hcl"))
	if summaries(diags) != "Cannot read plan" || !strings.Contains(diags[0].Detail, "no such file") {
		t.Errorf("missing file: got %q %q", summaries(diags), diags[0].Detail)
	}
}

// TestDirectoryPlans covers the rule for directories: one plan from all
// files, unless several files have test blocks.
func TestDirectoryPlans(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "one")
	write(t, one, "a.hcl", `test "t" { nodes = ["n1"] }`)
	write(t, one, "b.hcl", `phase "p" { clients = sleep(1) }`)
	write(t, one, "c.hcl.json", `{"checker": {"stats": {}}}`)
	sources, plans, diags := lang.Load(lang.NewParser(), one)
	if diags.HasErrors() || len(plans) != 1 || len(sources[0].Files) != 3 {
		t.Fatalf("want one plan of 3 files, got %d plans, %s", len(plans), summaries(diags))
	}
	p := plans[0]
	if p.Test == nil || len(p.Phases) != 1 || len(p.Checkers) != 1 {
		t.Errorf("plan not merged across files: %+v", p)
	}

	many := filepath.Join(dir, "many")
	write(t, many, "a.hcl", `test "a" {}`)
	write(t, many, "b.hcl", `test "b" {}`)
	_, plans, diags = lang.Load(lang.NewParser(), many)
	if diags.HasErrors() || len(plans) != 2 || plans[0].Test.Name != "a" || plans[1].Test.Name != "b" {
		t.Fatalf("want plans a and b, got %d: %s", len(plans), summaries(diags))
	}
	stray := write(t, many, "shared.hcl", `checker "stats" {}`)
	_, plans, diags = lang.Load(lang.NewParser(), many)
	if len(plans) != 2 || summaries(diags) != "File belongs to no plan" || diags[0].Subject.Filename != stray {
		t.Errorf("stray file: got %d plans, %s", len(plans), summaries(diags))
	}
}

func TestDuplicateCitesFirst(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "dup.hcl", "test \"t\" {}\noperation \"r\" {}\n\noperation \"r\" {}\n")
	_, _, diags := lang.Load(lang.NewParser(), path)
	if len(diags) != 1 {
		t.Fatalf("want 1 diagnostic, got %s", summaries(diags))
	}
	d := diags[0]
	if d.Subject.Start.Line != 4 || !strings.Contains(d.Detail, "dup.hcl:2,1") {
		t.Errorf("duplicate should point at line 4 and cite line 2: %s at %s", d.Detail, d.Subject)
	}
}

// TestDecodeKeepsExpressions: run-time expressions stay unevaluated with
// their source ranges.
func TestDecodeKeepsExpressions(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "p.hcl", `test "t" {}
operation "write" {
  value = random_int(0, 4)
  request {
    body = tostring(op.value)
  }
}
`)
	_, plans, diags := lang.Load(lang.NewParser(), path)
	if diags.HasErrors() {
		t.Fatal(summaries(diags))
	}
	op := plans[0].Operation("write")
	if op == nil || op.Value == nil || op.Request == nil || op.Request.Body == nil {
		t.Fatalf("operation not decoded: %+v", op)
	}
	if r := op.Request.Body.Range(); r.Start.Line != 5 || r.Filename != path {
		t.Errorf("body range = %s", r)
	}
	vars := op.Request.Body.Variables()
	if len(vars) != 1 || vars[0].RootName() != "op" {
		t.Errorf("body refers to %v, want op", vars)
	}
}

// TestPhaseFinalDecoded: a phase's final argument is kept as an
// expression with its range, like the other phase arguments; a phase
// without one has none.
func TestPhaseFinalDecoded(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "p.hcl", `test "t" {}
phase "main" {
  clients = sleep(1)
}
phase "heal" {
  clients = sleep(1)
  final   = var.heal_is_final
}
`)
	_, plans, diags := lang.Load(lang.NewParser(), path)
	if diags.HasErrors() {
		t.Fatal(summaries(diags))
	}
	phases := plans[0].Phases
	if len(phases) != 2 || phases[0].Final != nil {
		t.Fatalf("want two phases, the first without final: %+v", phases)
	}
	f := phases[1].Final
	if f == nil {
		t.Fatal("final not decoded")
	}
	if r := f.Range(); r.Start.Line != 7 || r.Filename != path {
		t.Errorf("final range = %s, want line 7", r)
	}
	if vars := f.Variables(); len(vars) != 1 || vars[0].RootName() != "var" {
		t.Errorf("final refers to %v, want var", vars)
	}
}

func BenchmarkRejectHuge(b *testing.B) {
	dir := b.TempDir()
	path := write(b, dir, "huge.hcl", "# "+strings.Repeat("x", 10<<20))
	for i := 0; i < b.N; i++ {
		lang.Load(lang.NewParser(), path)
	}
}

func BenchmarkRejectDeep(b *testing.B) {
	src := []byte("a = " + strings.Repeat("[", 1<<20))
	for i := 0; i < b.N; i++ {
		lang.NewParser().ParseSource("deep.hcl", src)
	}
}

func BenchmarkRejectBinary(b *testing.B) {
	src := bytes.Repeat([]byte{0x00, 0xff, 0x13}, 1<<20)
	for i := 0; i < b.N; i++ {
		lang.NewParser().ParseSource("bin.hcl", src)
	}
}

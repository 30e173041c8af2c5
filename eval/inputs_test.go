package eval_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lang"
)

// evalWith loads src as a plan with the given inputs.
func evalWith(t *testing.T, src string, in eval.InputOptions) (*eval.Evaluator, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p := lang.NewParser()
	sources, plans, diags := lang.Load(p, path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	inputs, diags := eval.ReadInputs(p, in)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	e, diags := eval.New(plans[0], eval.Options{Dir: sources[0].Dir, Inputs: inputs})
	return e, diags.Error()
}

const typedVars = `
variable "stale_reads" {
  type    = bool
  default = false
}
variable "keys" {
  type    = number
  default = 3
}
variable "nodes" {
  type    = list(string)
  default = ["n1"]
}
test "t" {
  nodes = var.nodes
}
`

// TestTypedVarErrors: a -var value of the wrong type names the variable,
// the type it expects and the value given, never HCL's "Variables not
// allowed" for a bare word.
func TestTypedVarErrors(t *testing.T) {
	cases := []struct{ kv, want string }{
		{"stale_reads=yes", `stale_reads expects a bool; got "yes" from -var stale_reads`},
		{"stale_reads=3", "stale_reads expects a bool"},
		{"keys=many", `keys expects a number; got "many"`},
		{"keys=[1]", "keys expects a number"},
		{"nodes=n1", `nodes expects a list of string; got "n1"`},
		{"nodes=3", "nodes expects a list of string"},
	}
	for _, c := range cases {
		_, msg := evalWith(t, typedVars, eval.InputOptions{Vars: []string{c.kv}})
		if !strings.Contains(msg, c.want) {
			t.Errorf("-var %s: %q, want it to say %q", c.kv, msg, c.want)
		}
		if strings.Contains(msg, "Variables not allowed") {
			t.Errorf("-var %s: %q still says Variables not allowed", c.kv, msg)
		}
	}
	for _, kv := range []string{"stale_reads=true", "keys=5", `nodes=["a","b"]`} {
		if _, msg := evalWith(t, typedVars, eval.InputOptions{Vars: []string{kv}}); msg != "no diagnostics" {
			t.Errorf("-var %s: %s", kv, msg)
		}
	}
	_, msg := evalWith(t, typedVars, eval.InputOptions{Environ: []string{"JPLAN_VAR_stale_reads=on"}})
	if !strings.Contains(msg, `stale_reads expects a bool; got "on" from JPLAN_VAR_stale_reads`) {
		t.Errorf("environment: %q", msg)
	}
}

// TestSSHOverride: the command line's ssh settings win over the plan's
// block for every node; unset ones leave the block's.
func TestSSHOverride(t *testing.T) {
	const plan = `
test "t" {
  nodes = ["n1", "n2"]
}
ssh {
  user             = "admin"
  port             = 2222
  private_key_file = "/keys/plan"
  known_hosts_file = "/keys/known_hosts"
}
`
	e, msg := evalWith(t, plan, eval.InputOptions{})
	if msg != "no diagnostics" {
		t.Fatal(msg)
	}
	n := e.Nodes()[0]
	sc, _ := e.SSH(&n)
	if sc.User != "admin" || sc.PrivateKeyFile != "/keys/plan" || sc.InsecureIgnoreHostKey {
		t.Fatalf("without override: %+v", sc)
	}
	no := false
	e, msg = evalWith(t, plan, eval.InputOptions{SSH: eval.SSHOverride{User: "jepsen", Password: "hunter2", PrivateKeyFile: "/keys/cli", StrictHostKeyChecking: &no}})
	if msg != "no diagnostics" {
		t.Fatal(msg)
	}
	for _, n := range e.Nodes() {
		sc, _ := e.SSH(&n)
		if sc.User != "jepsen" || sc.Password != "hunter2" || sc.PrivateKeyFile != "/keys/cli" || !sc.InsecureIgnoreHostKey || sc.Port != 2222 {
			t.Errorf("%s with override: %+v", n.Name, sc)
		}
	}
	yes := true
	e, _ = evalWith(t, "test \"t\" {\n  nodes = [\"n1\"]\n}\nssh {\n  insecure_ignore_host_key = true\n}\n", eval.InputOptions{SSH: eval.SSHOverride{StrictHostKeyChecking: &yes}})
	n = e.Nodes()[0]
	if sc, _ := e.SSH(&n); sc.InsecureIgnoreHostKey || sc.User != "root" {
		t.Errorf("--strict-host-key-checking over insecure_ignore_host_key: %+v", sc)
	}
}

package eval_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lang"
)

// TestDaemonNodes: a daemon with nodes runs only there; the db's other
// settings still apply to every node.
func TestDaemonNodes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "p.hcl")
	os.WriteFile(p, []byte(`
test "t" {
  nodes = ["n1", "n2", "n3"]
}
db "d" {
  daemon "primary" {
    command = "/bin/server"
    nodes   = [nodes[0].name]
  }
  daemon "everywhere" {
    command = "/bin/agent"
  }
  teardown = ["rm -rf /tmp/d"]
}
`), 0o644)
	_, plans, diags := lang.Load(lang.NewParser(), p)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	e, diags := eval.New(plans[0], eval.Options{Dir: filepath.Dir(p)})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, n := range e.Nodes() {
		c, diags := e.DB(plans[0].DBs[0], &n)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		var names []string
		for _, d := range c.Daemons {
			names = append(names, d.Name)
		}
		want := 1
		if n.Name == "n1" {
			want = 2
		}
		if len(names) != want || len(c.Teardown) != 1 {
			t.Errorf("%s: daemons %v, teardown %v", n.Name, names, c.Teardown)
		}
	}
}

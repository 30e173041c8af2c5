package nemesis

import (
	"strings"
	"testing"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

// twoLocalNodes are nodes n1 and n2, both this machine: enough to build
// faults, which touch no node.
func twoLocalNodes() ([]eval.Node, []control.Remote) {
	return []eval.Node{{Name: "n1", Index: 0}, {Name: "n2", Index: 1}},
		[]control.Remote{control.NewLocal("n1"), control.NewLocal("n2")}
}

// dirBuildCase is a fault configuration and what building it must say: ""
// for nothing, else part of the error.
type dirBuildCase struct {
	fc   eval.FaultConfig
	want string
}

// checkDirBuilds builds each case alone as fault name of type typ, on two
// nodes of which only n1 has daemon kv of db kv.
func checkDirBuilds(t *testing.T, name, typ string, cases []dirBuildCase) {
	t.Helper()
	nodes, remotes := twoLocalNodes()
	daemons := func(node, db, daemon string) (eval.DaemonConfig, bool) {
		return eval.DaemonConfig{Name: daemon}, db == "kv" && daemon == "kv" && node == "n1"
	}
	for _, c := range cases {
		c.fc.Name, c.fc.Type = name, typ
		_, err := New(remotes, nodes, []eval.FaultConfig{c.fc}, daemons, Options{})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.fc, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want one containing %q", c.fc, err, c.want)
		}
	}
}

// onlyOnN2 has every daemon on n2 and none on n1.
func onlyOnN2(node, db, daemon string) (eval.DaemonConfig, bool) {
	return eval.DaemonConfig{Name: daemon}, node == "n2"
}

// checkSharedDir checks what faults of one type share, given a, b and c of
// a nemesis built on twoLocalNodes with onlyOnN2: a (naming a daemon) and b
// on one directory, c (naming none) on another. a and b share a mount, on
// the node with the daemon; c has its own, on every node. Healing what was
// never set up touches nothing.
func checkSharedDir[N interface{ base() *dirNode }](t *testing.T, n *Nemesis, a, b, c *dirMount[N]) {
	t.Helper()
	if a != b || a == c {
		t.Errorf("sharing: a %p, b %p, c %p", a, b, c)
	}
	if got := a.mountNodes(onlyOnN2); strings.Join(got, ",") != "n2" {
		t.Errorf("mount nodes with a daemon on n2: %v", got)
	}
	if got := c.mountNodes(onlyOnN2); strings.Join(got, ",") != "n1,n2" {
		t.Errorf("mount nodes without a daemon: %v", got)
	}
	if got := a.mountedNodes(); len(got) != 0 {
		t.Errorf("mounted before setup: %v", got)
	}
	if err := n.Teardown(t.Context()); err != nil {
		t.Errorf("teardown: %v", err)
	}
}

package nemesis

import (
	"strings"
	"testing"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

func TestBuildFilesystemChecks(t *testing.T) {
	nodes := []eval.Node{{Name: "n1", Index: 0}, {Name: "n2", Index: 1}}
	remotes := []control.Remote{control.NewLocal("n1"), control.NewLocal("n2")}
	daemons := func(node, db, daemon string) (eval.DaemonConfig, bool) {
		return eval.DaemonConfig{Name: daemon}, db == "kv" && daemon == "kv" && node == "n1"
	}
	cases := []struct {
		fc   eval.FaultConfig
		want string
	}{
		{eval.FaultConfig{Dir: "relative", Mode: "lose-unfsynced"}, "absolute path"},
		{eval.FaultConfig{Dir: "/", Mode: "lose-unfsynced"}, "absolute path"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "sideways"}, "unknown filesystem mode"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "corrupt", Prob: 2}, "probability"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "lose-unfsynced", DB: "kv", Daemon: "nope"}, "not defined on any node"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "lose-unfsynced", DB: "kv", Daemon: "kv"}, ""},
		{eval.FaultConfig{Dir: "/var/lib/kv/", Mode: "error-writes", Prob: 0.5}, ""},
	}
	for _, c := range cases {
		c.fc.Name, c.fc.Type = "fs", "filesystem"
		_, err := New(remotes, nodes, []eval.FaultConfig{c.fc}, daemons, Options{})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.fc, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want one containing %q", c.fc, err, c.want)
		}
	}
}

// Faults on the same directory share one mount; the mount covers the
// nodes that run the daemon.
func TestFilesystemFaultsShareAMount(t *testing.T) {
	nodes := []eval.Node{{Name: "n1", Index: 0}, {Name: "n2", Index: 1}}
	remotes := []control.Remote{control.NewLocal("n1"), control.NewLocal("n2")}
	daemons := func(node, db, daemon string) (eval.DaemonConfig, bool) {
		return eval.DaemonConfig{Name: daemon}, node == "n2"
	}
	n, err := New(remotes, nodes, []eval.FaultConfig{
		{Name: "lose", Type: "filesystem", Dir: "/var/lib/kv", Mode: "lose-unfsynced", DB: "kv", Daemon: "kv"},
		{Name: "eio", Type: "filesystem", Dir: "/var/lib/kv/", Mode: "error-writes", Prob: 1},
		{Name: "other", Type: "filesystem", Dir: "/var/lib/other", Mode: "error-reads", Prob: 1},
	}, daemons, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := n.faults["lose"].(*filesystem), n.faults["eio"].(*filesystem), n.faults["other"].(*filesystem)
	if a.m != b.m || a.m == c.m {
		t.Errorf("mount sharing: lose %p, eio %p, other %p", a.m, b.m, c.m)
	}
	if got := a.m.mountNodes(daemons); strings.Join(got, ",") != "n2" {
		t.Errorf("mount nodes with a daemon on n2: %v", got)
	}
	if got := c.m.mountNodes(daemons); strings.Join(got, ",") != "n1,n2" {
		t.Errorf("mount nodes without a daemon: %v", got)
	}
	// Healing what was never set up touches nothing.
	if err := n.Teardown(t.Context()); err != nil {
		t.Errorf("teardown: %v", err)
	}
}

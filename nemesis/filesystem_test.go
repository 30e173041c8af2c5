package nemesis

import (
	"testing"

	"github.com/jplan/jplan/eval"
)

func TestBuildFilesystemChecks(t *testing.T) {
	checkDirBuilds(t, "fs", "filesystem", []dirBuildCase{
		{eval.FaultConfig{Dir: "relative", Mode: "lose-unfsynced"}, "absolute path"},
		{eval.FaultConfig{Dir: "/", Mode: "lose-unfsynced"}, "absolute path"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "sideways"}, "unknown filesystem mode"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "corrupt", Prob: 2}, "probability"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "lose-unfsynced", DB: "kv", Daemon: "nope"}, "not defined on any node"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "lose-unfsynced", DB: "kv", Daemon: "kv"}, ""},
		{eval.FaultConfig{Dir: "/var/lib/kv/", Mode: "error-writes", Prob: 0.5}, ""},
	})
}

// Faults on the same directory share one mount; the mount covers the
// nodes that run the daemon.
func TestFilesystemFaultsShareAMount(t *testing.T) {
	nodes, remotes := twoLocalNodes()
	n, err := New(remotes, nodes, []eval.FaultConfig{
		{Name: "lose", Type: "filesystem", Dir: "/var/lib/kv", Mode: "lose-unfsynced", DB: "kv", Daemon: "kv"},
		{Name: "eio", Type: "filesystem", Dir: "/var/lib/kv/", Mode: "error-writes", Prob: 1},
		{Name: "other", Type: "filesystem", Dir: "/var/lib/other", Mode: "error-reads", Prob: 1},
	}, onlyOnN2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := n.faults["lose"].(*filesystem), n.faults["eio"].(*filesystem), n.faults["other"].(*filesystem)
	checkSharedDir(t, n, a.m.dirMount, b.m.dirMount, c.m.dirMount)
	if a.m != b.m {
		t.Errorf("two fsMounts for one directory")
	}
}

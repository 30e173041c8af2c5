package nemesis

// Integration tests for the filesystem fault on the real cluster of
// integration_test.go: faultfs mounted under a daemon's directory, writes
// lost and failed as seen on the nodes, and everything put back.

import (
	"context"
	"strings"
	"testing"

	"github.com/jplan/jplan/eval"
)

const fsDir = "/var/lib/jplan-nem-fs"

// addAppender adds db "fsdb" with a daemon that works in fsDir (its
// working directory), appending a line to a file there every 100ms, and
// starts it on every node.
func (c *testCluster) addAppender(t *testing.T) {
	t.Helper()
	const clean = "umount -l " + fsDir + " 2>/dev/null; rm -rf " + fsDir + " " + fsDir + ".faultfs"
	c.addDirDaemon(t, "fsdb", "appender", "appender", fsDir, "0.1", clean+"; mkdir -p "+fsDir, clean)
}

func (c *testCluster) daemonPID(t *testing.T, node string) int {
	t.Helper()
	return c.pidOf(t, node, "fsdb", "appender")
}

// fsFault builds a nemesis with one filesystem fault and sets the mount up
// (what Nemesis.Setup does once it calls fault setups; idempotent).
func (c *testCluster) fsFault(t *testing.T, fc eval.FaultConfig) *Nemesis {
	t.Helper()
	fc.Type, fc.Dir, fc.DB, fc.Daemon = "filesystem", fsDir, "fsdb", "appender"
	if fc.Prob == 0 {
		fc.Prob = 1
	}
	n := c.nemesis(t, fc)
	if err := n.faults[fc.Name].(*filesystem).setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFilesystemLoseUnfsynced(t *testing.T) {
	c := setup(t)
	c.addAppender(t)
	n := c.fsFault(t, eval.FaultConfig{Name: "power", Mode: "lose-unfsynced", Targets: eval.Targets{Nodes: []string{"n1"}}})
	for _, node := range []string{"n1", "n2", "n3"} {
		if out := c.sh(t, node, "grep -c ' "+fsDir+" fuse.faultfs ' /proc/mounts"); out != "1" {
			t.Fatalf("%s: faultfs not mounted at %s after setup: %q", node, fsDir, out)
		}
		// The daemon was restarted on the mount: its cwd is there.
		if out := c.sh(t, node, "readlink /proc/$(cat /var/run/jplan-nem-appender.pid)/cwd"); out != fsDir {
			t.Errorf("%s: daemon runs in %q", node, out)
		}
	}
	before := c.daemonPID(t, "n1")
	c.sh(t, "n1", "cd "+fsDir+" && printf durable > synced && sync synced && printf volatile > unsynced && printf first > log && sync log && printf second >> log")
	if got := c.sh(t, "n1", "cat "+fsDir+"/unsynced "+fsDir+"/log"); got != "volatilefirstsecond" {
		t.Fatalf("before the loss: %q", got)
	}
	op := invoke(t, n, "start-power")
	v := op.Value.(map[string]any)
	if s, _ := v["n1"].(string); !strings.HasPrefix(s, "lost ") || !strings.HasSuffix(s, "daemon restarted") || len(v) != 1 {
		t.Errorf("start value %v", v)
	}
	for file, want := range map[string]string{"synced": "durable", "unsynced": "", "log": "first"} {
		if got := c.sh(t, "n1", "cat "+fsDir+"/"+file); got != want {
			t.Errorf("n1: %s after the loss: %q, want %q", file, got, want)
		}
	}
	// Other nodes lost nothing.
	c.sh(t, "n2", "printf kept > "+fsDir+"/unsynced")
	if after := c.daemonPID(t, "n1"); after == 0 || after == before {
		t.Errorf("daemon pid %d before the loss, %d after: not restarted", before, after)
	}
	op = invoke(t, n, "stop-power")
	if v := op.Value.(map[string]any); v["n1"] != "nothing to undo" {
		t.Errorf("stop value %v", v)
	}

	// Teardown: no mount left, the data in place (unsynced writes
	// included: an unmount flushes), the daemon running.
	c.sh(t, "n2", "printf unsynced-at-teardown > "+fsDir+"/late")
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
	for _, node := range []string{"n1", "n2", "n3"} {
		if out := c.sh(t, node, "grep faultfs /proc/mounts || true; ls -d "+fsDir+".faultfs 2>/dev/null || true"); out != "" {
			t.Errorf("%s: after teardown: %q", node, out)
		}
		if pid := c.daemonPID(t, node); pid == 0 {
			t.Errorf("%s: daemon not running after teardown", node)
		}
	}
	if got := c.sh(t, "n1", "cat "+fsDir+"/synced"); got != "durable" {
		t.Errorf("n1 synced after teardown: %q", got)
	}
	if got := c.sh(t, "n2", "cat "+fsDir+"/unsynced "+fsDir+"/late"); got != "keptunsynced-at-teardown" {
		t.Errorf("n2 after teardown: %q", got)
	}
}

func TestFilesystemErrorWrites(t *testing.T) {
	c := setup(t)
	c.addAppender(t)
	n := c.fsFault(t, eval.FaultConfig{Name: "eio", Mode: "error-writes", Targets: eval.Targets{Nodes: []string{"n2"}}})
	write := func(node string) string {
		// cp says why a write failed; the shell's printf does not.
		return c.sh(t, node, "cp /etc/hostname "+fsDir+"/probe 2>&1 && echo ok || true")
	}
	if got := write("n2"); got != "ok" {
		t.Fatalf("n2 before the fault: %q", got)
	}
	op := invoke(t, n, "start-eio")
	if v := op.Value.(map[string]any); v["n2"] != "error-writes on" || len(v) != 1 {
		t.Errorf("start value %v", v)
	}
	if got := write("n2"); !strings.Contains(got, "Input/output error") {
		t.Errorf("n2 write during error-writes: %q, want EIO", got)
	}
	if got := write("n1"); got != "ok" {
		t.Errorf("n1 (not a target) write: %q", got)
	}
	op = invoke(t, n, "stop-eio")
	if v := op.Value.(map[string]any); v["n2"] != "error-writes off" {
		t.Errorf("stop value %v", v)
	}
	if got := write("n2"); got != "ok" {
		t.Errorf("n2 after stop: %q", got)
	}
	// Teardown with the fault left on still restores everything.
	invoke(t, n, "start-eio")
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"n1", "n2", "n3"} {
		if out := c.sh(t, node, "grep faultfs /proc/mounts || true"); out != "" {
			t.Errorf("%s: mounted after teardown: %q", node, out)
		}
		if got := write(node); got != "ok" {
			t.Errorf("%s: write after teardown: %q", node, got)
		}
	}
}

// A mount left by a run that died is put back before mounting again.
func TestFilesystemRecoversAStaleMount(t *testing.T) {
	c := setup(t)
	c.addAppender(t)
	fc := eval.FaultConfig{Name: "power", Mode: "lose-unfsynced", Targets: eval.Targets{Selection: "all"}}
	first := c.fsFault(t, fc)
	c.sh(t, "n3", "printf old > "+fsDir+"/data && sync "+fsDir+"/data")
	_ = first // never torn down: as if the run died
	second := c.fsFault(t, fc)
	if out := c.sh(t, "n3", "grep -c ' "+fsDir+" fuse.faultfs ' /proc/mounts; cat "+fsDir+"/data"); out != "1\nold" {
		t.Errorf("n3 after a second setup: %q", out)
	}
	if err := second.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out := c.sh(t, "n3", "grep faultfs /proc/mounts || true; cat "+fsDir+"/data"); out != "old" {
		t.Errorf("n3 after teardown: %q", out)
	}
}

package nemesis

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

func TestFlakeyTables(t *testing.T) {
	def := eval.DefaultFlakey()
	cycle := def
	cycle.Up, cycle.Down = 10*time.Second, 3*time.Second
	corrupt := def
	corrupt.CorruptByte, corrupt.CorruptValue = 32, 1
	const dev = "/dev/loop3"
	cases := []struct {
		mode string
		fl   eval.FlakeyConfig
		want string
	}{
		// up 0: down the whole time; dm-flakey wants up + down > 0.
		{"drop-writes", def, "0 524288 flakey /dev/loop3 0 0 1 1 drop_writes"},
		{"error-writes", def, "0 524288 flakey /dev/loop3 0 0 1 1 error_writes"},
		{"error-reads", def, "0 524288 flakey /dev/loop3 0 0 1 1 error_reads"},
		// No features: dm-flakey fails every read and write.
		{"error-all", def, "0 524288 flakey /dev/loop3 0 0 1"},
		{"corrupt-reads", def, "0 524288 flakey /dev/loop3 0 0 1 5 corrupt_bio_byte 1 r 255 0"},
		{"corrupt-writes", corrupt, "0 524288 flakey /dev/loop3 0 0 1 5 corrupt_bio_byte 32 w 1 0"},
		{"drop-writes", cycle, "0 524288 flakey /dev/loop3 0 10 3 1 drop_writes"},
		{"error-all", cycle, "0 524288 flakey /dev/loop3 0 10 3"},
		// The power failure drops writes until the device is unmounted.
		{"lose-unfsynced", def, "0 524288 flakey /dev/loop3 0 0 1 1 drop_writes"},
	}
	for _, c := range cases {
		if got := flakeyTable(524288, dev, c.mode, c.fl); got != c.want {
			t.Errorf("%s %+v:\n got %q\nwant %q", c.mode, c.fl, got, c.want)
		}
	}
	if got, want := linearTable(524288, dev), "0 524288 linear /dev/loop3 0"; got != want {
		t.Errorf("linear: %q, want %q", got, want)
	}
	for mode := range flakeyFeatures {
		found := false
		for _, m := range eval.FlakeyModes {
			found = found || m == mode
		}
		if !found {
			t.Errorf("mode %q is implemented but not in eval.FlakeyModes", mode)
		}
	}
	for _, m := range eval.FlakeyModes {
		if _, ok := flakeyFeatures[m]; !ok {
			t.Errorf("mode %q of eval.FlakeyModes has no table", m)
		}
	}
}

func TestFlakeyDescribe(t *testing.T) {
	fl := eval.DefaultFlakey()
	f := &flakeyFault{cfg: eval.FaultConfig{Mode: "drop-writes"}, fl: fl}
	if got := f.describe(); got != "drop-writes on" {
		t.Errorf("describe: %q", got)
	}
	fl.Up, fl.Down = 5*time.Second, 2*time.Second
	f = &flakeyFault{cfg: eval.FaultConfig{Mode: "corrupt-reads"}, fl: fl}
	if got, want := f.describe(), "corrupt-reads on, cycling: up 5s, down 2s (byte 1 := 255)"; got != want {
		t.Errorf("describe: %q, want %q", got, want)
	}
}

func TestBuildFlakeyChecks(t *testing.T) {
	fl := func(edit func(*eval.FlakeyConfig)) *eval.FlakeyConfig {
		c := eval.DefaultFlakey()
		edit(&c)
		return &c
	}
	checkDirBuilds(t, "fl", "flakey", []dirBuildCase{
		{eval.FaultConfig{Dir: "relative", Mode: "drop-writes"}, "absolute path"},
		{eval.FaultConfig{Dir: "/", Mode: "drop-writes"}, "root directory"},
		{eval.FaultConfig{Dir: "/var/lib/my kv", Mode: "drop-writes"}, "white space"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "sideways"}, "unknown flakey mode"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "drop-writes", Flakey: fl(func(c *eval.FlakeyConfig) { c.Size = 1 << 20 })}, "out of range"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "drop-writes", Flakey: fl(func(c *eval.FlakeyConfig) { c.Up = 1500 * time.Millisecond; c.Down = time.Second })}, "whole seconds"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "drop-writes", Flakey: fl(func(c *eval.FlakeyConfig) { c.Up = time.Second })}, "needs a down_interval"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "lose-unfsynced", Flakey: fl(func(c *eval.FlakeyConfig) { c.Down = time.Second })}, "no intervals"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "corrupt-reads", Flakey: fl(func(c *eval.FlakeyConfig) { c.CorruptValue = 256 })}, "corrupt_value"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "drop-writes", DB: "kv", Daemon: "nope"}, "not defined on any node"},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "lose-unfsynced", DB: "kv", Daemon: "kv"}, ""},
		{eval.FaultConfig{Dir: "/var/lib/kv/", Mode: "error-all"}, ""},
		{eval.FaultConfig{Dir: "/var/lib/kv", Mode: "error-reads", Flakey: fl(func(c *eval.FlakeyConfig) { c.Up, c.Down = 3*time.Second, time.Second })}, ""},
	})
}

// Faults on the same directory share one device, named after the first;
// the device covers the nodes that run the daemon.
func TestFlakeyFaultsShareADevice(t *testing.T) {
	nodes, remotes := twoLocalNodes()
	daemons := onlyOnN2
	n, err := New(remotes, nodes, []eval.FaultConfig{
		{Name: "power", Type: "flakey", Dir: "/var/lib/kv", Mode: "lose-unfsynced", DB: "kv", Daemon: "kv"},
		{Name: "eio", Type: "flakey", Dir: "/var/lib/kv/", Mode: "error-writes"},
		{Name: "other", Type: "flakey", Dir: "/var/lib/other", Mode: "error-reads"},
	}, daemons, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := n.faults["power"].(*flakeyFault), n.faults["eio"].(*flakeyFault), n.faults["other"].(*flakeyFault)
	checkSharedDir(t, n, a.d.dirMount, b.d.dirMount, c.d.dirMount)
	if a.d != b.d {
		t.Errorf("two flakeyDevs for one directory")
	}
	if a.d.dm != "jplan-power" || c.d.dm != "jplan-other" {
		t.Errorf("device names %q, %q", a.d.dm, c.d.dm)
	}

	// A shared device has one size.
	big := eval.DefaultFlakey()
	big.Size = 1 << 30
	_, err = New(remotes, nodes, []eval.FaultConfig{
		{Name: "a", Type: "flakey", Dir: "/var/lib/kv", Mode: "drop-writes"},
		{Name: "b", Type: "flakey", Dir: "/var/lib/kv", Mode: "error-writes", Flakey: &big},
	}, daemons, Options{})
	if err == nil || !strings.Contains(err.Error(), "same size") {
		t.Errorf("two sizes for one device: %v", err)
	}
	// A directory is on faultfs or on a flakey device.
	_, err = New(remotes, nodes, []eval.FaultConfig{
		{Name: "fs", Type: "filesystem", Dir: "/var/lib/kv", Mode: "drop-writes", Prob: 1},
		{Name: "fl", Type: "flakey", Dir: "/var/lib/kv", Mode: "drop-writes"},
	}, daemons, Options{})
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("faultfs and flakey on one directory: %v", err)
	}
}

// The scripts are generated; every shell on the nodes must parse them.
func TestFlakeyScriptsParse(t *testing.T) {
	d := &flakeyDev{dirMount: &dirMount[*flakeyNode]{dir: "/var/lib/it's", id: "0123456789ab"}, dm: "jplan-x", size: 256 << 20}
	nm := &flakeyNode{loop: "/dev/loop0", sectors: 524288}
	scripts := map[string]string{
		"setup":         d.setupScript(),
		"restore":       d.restoreScript(),
		"power failure": flakeyFns + d.powerFailureScript(nm, flakeyTable(nm.sectors, nm.loop, "lose-unfsynced", eval.DefaultFlakey())),
		"repair":        flakeyFns + d.vars() + d.repairScript(),
	}
	shells := 0
	for _, sh := range []string{"sh", "dash", "bash"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		shells++
		for name, s := range scripts {
			out, err := exec.Command(sh, "-n", "-c", "set -e\n"+s).CombinedOutput()
			if err != nil {
				t.Errorf("%s -n: %s script: %v\n%s", sh, name, err, out)
			}
		}
	}
	if shells == 0 {
		t.Skip("no shell to parse the scripts with")
	}
	if !strings.Contains(d.vars(), `dir='/var/lib/it'\''s'`) {
		t.Errorf("dir is not quoted: %s", d.vars())
	}
}

// cannedRemote answers every command with the same stdout.
type cannedRemote struct {
	control.Remote
	node, stdout string
}

func (c cannedRemote) Node() string { return c.node }
func (c cannedRemote) Exec(ctx context.Context, cmd control.Command) (control.Result, error) {
	return control.Result{Node: c.node, Stdout: c.stdout}, nil
}

// The probe's verdicts become errors that name the node and what is
// missing. (The "no device-mapper" one is also what a host kernel without
// it gives: run the probe on such a machine through control.NewLocal.)
func TestFlakeyProbeErrors(t *testing.T) {
	cases := []struct{ out, want string }{
		{"ok 6.1.0-31-amd64\n", ""},
		{"tools dmsetup mkfs.ext4\n", "n2: a flakey fault needs dmsetup mkfs.ext4 on the node"},
		{"nodm /dev/mapper/control is missing and modprobe dm_mod did not add it\n", "n2: the kernel has no usable device-mapper (/dev/mapper/control is missing"},
		{"noflakey striped linear error \n", "n2: the kernel lacks dm-flakey (dmsetup targets lists no flakey after modprobe dm_flakey; it lists: striped linear error"},
		{"noloop\n", "n2: the kernel has no loop devices"},
		{"what\n", "unexpected output"},
	}
	for _, c := range cases {
		k, err := flakeyProbe(t.Context(), cannedRemote{node: "n2", stdout: c.out})
		switch {
		case c.want == "" && (err != nil || k != "6.1.0-31-amd64"):
			t.Errorf("%q: kernel %q, error %v", c.out, k, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want one containing %q", c.out, err, c.want)
		}
	}
}

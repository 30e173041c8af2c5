package nemesis

// Integration tests for the flakey fault on the VM cluster of
// vm_integration_test.go (containers have no device-mapper): a real
// dm-flakey device under a daemon's directory, each mode's effect observed
// on the device itself (read with O_DIRECT, past every cache), and
// everything put back.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

const flDir = "/var/lib/jplan-nem-flakey"

// flCleanScript removes whatever a failed test may have left.
const flCleanScript = `dir=` + flDir + `
while awk -v d="$dir" '$2 == d { f = 1 } END { exit !f }' /proc/mounts; do umount -l "$dir" || break; done
for d in $(dmsetup ls 2>/dev/null | awk '/^jplan-/ { print $1 }'); do dmsetup remove --force --retry "$d" >/dev/null 2>&1 || true; done
for l in $(losetup -a 2>/dev/null | awk -F: '/jplan-flakey/ { print $1 }'); do losetup -d "$l" || true; done
rm -rf "$dir" "$dir.flakey" "$dir.flakey-out" /var/lib/jplan-flakey
`

// addFlakeyWriter adds db "fldb" with a daemon that appends to a file in
// flDir (its working directory) every 200ms, seeds flDir with a file
// (owner nobody, modes 0750 and 0640), and starts the daemon on every node.
func (c *testCluster) addFlakeyWriter(t *testing.T) {
	t.Helper()
	c.addDirDaemon(t, "fldb", "writer", "flwriter", flDir, "0.2", flCleanScript+`mkdir -p "$dir"
echo seed > "$dir/seed"
chown nobody "$dir" "$dir/seed"
chmod 0750 "$dir"
chmod 0640 "$dir/seed"
`, flCleanScript)
}

// flRun runs a script on a node and returns its output (stdout and
// stderr) and whether it succeeded.
func (c *testCluster) flRun(t *testing.T, node, script string) (string, bool) {
	t.Helper()
	res, err := c.byName[node].Exec(context.Background(), control.Command{Script: script + " 2>&1", Timeout: 2 * time.Minute})
	var ee *control.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", node, err)
	}
	return strings.TrimSpace(res.Stdout), err == nil
}

// onDevice counts the places marker is on a node's device, read with
// O_DIRECT: what the device holds, not what any cache does.
func (c *testCluster) onDevice(t *testing.T, node, dm, marker string) int {
	t.Helper()
	out := c.sh(t, node, fmt.Sprintf("dd if=/dev/mapper/%s iflag=direct bs=1M 2>/dev/null | grep -a -c %s || true", dm, marker))
	var n int
	fmt.Sscan(out, &n)
	return n
}

func (c *testCluster) dmTable(t *testing.T, node, dm string) string {
	t.Helper()
	return c.sh(t, node, "dmsetup table "+dm)
}

func (c *testCluster) writerPID(t *testing.T, node string) int {
	t.Helper()
	return c.pidOf(t, node, "fldb", "writer")
}

// flakeyGone checks that nothing of the fault is left on a node and that
// flDir is a plain directory with its owner and mode.
func (c *testCluster) flakeyGone(t *testing.T, node string) {
	t.Helper()
	out := c.sh(t, node, `dir=`+flDir+`
echo "mounts $(awk -v d="$dir" '$2 == d' /proc/mounts | wc -l)"
echo "dm $(dmsetup ls | grep -c '^jplan-' || true)"
echo "loops $(losetup -a | grep -c jplan-flakey || true)"
echo "state $(ls -A /var/lib/jplan-flakey 2>/dev/null | wc -l)"
echo "aside $(ls -d "$dir.flakey" "$dir.flakey-out" 2>/dev/null | wc -l)"
echo "dir $(stat -c '%U %a' "$dir")"
echo "seed $(cat "$dir/seed")"`)
	want := "mounts 0\ndm 0\nloops 0\nstate 0\naside 0\ndir nobody 750\nseed seed"
	if out != want {
		t.Errorf("%s after teardown:\n%s\nwant:\n%s", node, out, want)
	}
}

func flFault(name, mode string, edit func(*eval.FaultConfig)) eval.FaultConfig {
	fl := eval.DefaultFlakey()
	fl.Size = 64 << 20
	fc := eval.FaultConfig{Name: name, Type: "flakey", Dir: flDir, Mode: mode, Flakey: &fl,
		Targets: eval.Targets{Nodes: []string{"n1"}}}
	if edit != nil {
		edit(&fc)
	}
	return fc
}

func valueOn(t *testing.T, op any, node string) string {
	t.Helper()
	v, _ := op.(map[string]any)
	s, _ := v[node].(string)
	return s
}

// TestVMFlakeyModes puts flDir on a dm-flakey device on both VMs, with a
// daemon writing there, and goes through the modes on n1, each observed on
// the device: a power failure keeps what was fsynced and loses the rest,
// dropped writes never reach the device, failed ones fail, corrupted ones
// are corrupted, the cycle alternates; n2 stays healthy; teardown leaves
// nothing behind.
func TestVMFlakeyModes(t *testing.T) {
	c := setupVM(t)
	c.addFlakeyWriter(t)
	withDaemon := func(fc *eval.FaultConfig) { fc.DB, fc.Daemon = "fldb", "writer" }
	n := c.nemesis(t,
		flFault("fl-power", "lose-unfsynced", withDaemon),
		flFault("fl-drop", "drop-writes", nil),
		flFault("fl-ewrite", "error-writes", withDaemon),
		flFault("fl-eall", "error-all", nil),
		flFault("fl-cycle", "error-all", func(fc *eval.FaultConfig) { fc.Flakey.Up, fc.Flakey.Down = 2*time.Second, 2*time.Second }),
		flFault("fl-wcorrupt", "corrupt-writes", func(fc *eval.FaultConfig) { fc.Flakey.CorruptValue = 0x5a }),
	)
	const dm = "jplan-fl-power" // named after the first fault on the directory
	for _, node := range []string{"n1", "n2"} {
		out := c.sh(t, node, `dir=`+flDir+`
awk -v d="$dir" '$2 == d { print $1, $3 }' /proc/mounts
stat -c '%U %a' "$dir" "$dir/seed"
cat "$dir/seed"
ls -A "$dir" | grep -c lost+found || true
cat "$dir.flakey/seed"
readlink /proc/$(cat /var/run/jplan-nem-flwriter.pid)/cwd`)
		want := "/dev/mapper/" + dm + " ext4\nnobody 750\nnobody 640\nseed\n0\nseed\n" + flDir
		if out != want {
			t.Fatalf("%s after setup:\n%s\nwant:\n%s", node, out, want)
		}
		if tb := c.dmTable(t, node, dm); !strings.Contains(tb, " linear ") {
			t.Fatalf("%s: table after setup %q, want linear", node, tb)
		}
	}
	stamp := fmt.Sprint(time.Now().UnixNano())

	t.Run("lose-unfsynced", func(t *testing.T) {
		pid := c.writerPID(t, "n1")
		c.sh(t, "n1", fmt.Sprintf("cd %s && printf SYNCED-%s > synced && sync synced && printf UNSYNCED-%s > unsynced", flDir, stamp, stamp))
		op := invoke(t, n, "start-fl-power")
		v := valueOn(t, op.Value, "n1")
		t.Logf("start: %v", op.Value)
		if !strings.HasPrefix(v, "power failure: lost ") || !strings.HasSuffix(v, "; daemon restarted") || strings.HasPrefix(v, "power failure: lost 0 ") {
			t.Fatalf("start value on n1: %q", v)
		}
		out := c.sh(t, "n1", "cd "+flDir+" && cat synced; echo; cat unsynced 2>/dev/null || echo absent")
		if out != "SYNCED-"+stamp+"\nabsent" && out != "SYNCED-"+stamp {
			t.Fatalf("after the power failure synced, unsynced:\n%s", out)
		}
		if p := c.writerPID(t, "n1"); p == 0 || p == pid {
			t.Fatalf("writer pid %d before, %d after: not restarted", pid, p)
		}
		if tb := c.dmTable(t, "n1", dm); !strings.Contains(tb, " linear ") {
			t.Fatalf("table after the power failure %q, want linear", tb)
		}
		if v := valueOn(t, invoke(t, n, "stop-fl-power").Value, "n1"); v != "nothing to undo" {
			t.Fatalf("stop value %q", v)
		}
	})

	t.Run("drop-writes", func(t *testing.T) {
		op := invoke(t, n, "start-fl-drop")
		if v := valueOn(t, op.Value, "n1"); v != "drop-writes on" {
			t.Fatalf("start value %v", op.Value)
		}
		if tb := c.dmTable(t, "n1", dm); !strings.Contains(tb, " flakey ") || !strings.Contains(tb, "drop_writes") {
			t.Fatalf("n1 table %q", tb)
		}
		if tb := c.dmTable(t, "n2", dm); !strings.Contains(tb, " linear ") {
			t.Fatalf("n2 (not a target) table %q", tb)
		}
		// Written and fsynced, and the fsync succeeds: the device says so.
		if out, ok := c.flRun(t, "n1", fmt.Sprintf("cd %s && printf DROPPED-%s > dropped && sync dropped && cat dropped", flDir, stamp)); !ok || out != "DROPPED-"+stamp {
			t.Fatalf("write under drop-writes: %v %q", ok, out)
		}
		if k := c.onDevice(t, "n1", dm, "DROPPED-"+stamp); k != 0 {
			t.Fatalf("a dropped write is on the device %d times", k)
		}
		op = invoke(t, n, "stop-fl-drop")
		if v := valueOn(t, op.Value, "n1"); !strings.HasPrefix(v, "drop-writes off") {
			t.Fatalf("stop value %v", op.Value)
		}
		c.sh(t, "n1", fmt.Sprintf("cd %s && printf KEPT-%s > kept && sync kept", flDir, stamp))
		if k := c.onDevice(t, "n1", dm, "KEPT-"+stamp); k == 0 {
			t.Fatal("a write after stop is not on the device")
		}
	})

	t.Run("error-writes", func(t *testing.T) {
		op := invoke(t, n, "start-fl-ewrite")
		if v := valueOn(t, op.Value, "n1"); v != "error-writes on" {
			t.Fatalf("start value %v", op.Value)
		}
		out, ok := c.flRun(t, "n1", "cd "+flDir+" && printf x > ew && sync ew")
		if ok || !strings.Contains(out, "Input/output error") {
			t.Fatalf("fsync under error-writes: ok %v, %q", ok, out)
		}
		// Reads work.
		if out := c.sh(t, "n1", "dd if=/dev/mapper/"+dm+" iflag=direct bs=4096 count=1 2>&1 >/dev/null | grep -c 'Input/output' || true"); out != "0" {
			t.Fatalf("a read failed under error-writes: %q", out)
		}
		// A journal commit that fails makes ext4 give up writing for good.
		c.flRun(t, "n1", "mkdir "+flDir+"/d1; sync -f "+flDir)
		if out, ok := c.flRun(t, "n1", "touch "+flDir+"/probe"); ok || !strings.Contains(out, "Read-only file system") {
			t.Fatalf("ext4 still writes after a failed journal commit: %v %q", ok, out)
		}
		op = invoke(t, n, "stop-fl-ewrite")
		v := valueOn(t, op.Value, "n1")
		t.Logf("stop: %v", op.Value)
		if v != "error-writes off; the filesystem had failed: e2fsck and mounted again; daemon restarted" || op.Error != "" {
			t.Fatalf("stop value %v, error %q", op.Value, op.Error)
		}
		if out := c.sh(t, "n1", "ls -A "+flDir+" | grep -c lost+found || true"); out != "0" {
			t.Fatalf("e2fsck's empty lost+found was left in the directory")
		}
		c.sh(t, "n1", fmt.Sprintf("cd %s && printf AFTER-EW-%s > after-ew && sync after-ew", flDir, stamp))
		if k := c.onDevice(t, "n1", dm, "AFTER-EW-"+stamp); k == 0 {
			t.Fatal("a write after stop is not on the device")
		}
		if c.writerPID(t, "n1") == 0 {
			t.Fatal("the writer is not running after stop")
		}
	})

	t.Run("error-all", func(t *testing.T) {
		invoke(t, n, "start-fl-eall")
		out, ok := c.flRun(t, "n1", "dd if=/dev/mapper/"+dm+" iflag=direct bs=4096 count=1 of=/dev/null")
		if ok || !strings.Contains(out, "Input/output error") {
			t.Fatalf("read under error-all: ok %v, %q", ok, out)
		}
		if out, ok := c.flRun(t, "n1", "cd "+flDir+" && printf x > ea && sync ea"); ok {
			t.Fatalf("fsync under error-all succeeded: %q", out)
		}
		op := invoke(t, n, "stop-fl-eall")
		t.Logf("stop: %v", op.Value)
		if op.Error != "" {
			t.Fatalf("stop: %s", op.Error)
		}
		if _, ok := c.flRun(t, "n1", "dd if=/dev/mapper/"+dm+" iflag=direct bs=4096 count=1 of=/dev/null"); !ok {
			t.Fatal("a read fails after stop")
		}
		c.sh(t, "n1", "cd "+flDir+" && printf x > after-ea && sync after-ea")
	})

	t.Run("cycle", func(t *testing.T) {
		op := invoke(t, n, "start-fl-cycle")
		if v := valueOn(t, op.Value, "n1"); v != "error-all on, cycling: up 2s, down 2s" {
			t.Fatalf("start value %v", op.Value)
		}
		out := c.sh(t, "n1", "for i in $(seq 24); do if dd if=/dev/mapper/"+dm+" iflag=direct bs=4096 count=1 of=/dev/null 2>/dev/null; then printf u; else printf d; fi; sleep 0.25; done")
		t.Logf("up (u) and down (d) every 250ms: %s", out)
		// Up for 2 s, down for 2 s, and again (the first read may come
		// after the first up interval: the VMs are slow).
		if !strings.Contains(out, "ud") || !strings.Contains(out, "du") {
			t.Fatalf("reads %q: want them to fail and work again in turn", out)
		}
		if op := invoke(t, n, "stop-fl-cycle"); op.Error != "" {
			t.Fatalf("stop: %s", op.Error)
		}
	})

	t.Run("corrupt-writes", func(t *testing.T) {
		invoke(t, n, "start-fl-wcorrupt")
		c.sh(t, "n1", "cd "+flDir+" && head -c 4096 /dev/zero | tr '\\0' W | dd of=wc bs=4096 oflag=direct conv=fsync 2>/dev/null")
		invoke(t, n, "stop-fl-wcorrupt")
		if out := c.sh(t, "n1", "dd if="+flDir+"/wc iflag=direct bs=4096 count=1 2>/dev/null | od -An -tx1 -N2 | tr -s ' '"); out != "5a 57" {
			t.Fatalf("first bytes of a file written under corrupt-writes: %q, want 5a 57", out)
		}
	})

	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatalf("a second teardown: %v", err)
	}
	for _, node := range []string{"n1", "n2"} {
		c.flakeyGone(t, node)
		// The device's last contents are in the plain directory, and the
		// daemon runs there.
		if cwd := c.sh(t, node, "readlink /proc/$(cat /var/run/jplan-nem-flwriter.pid)/cwd"); cwd != flDir {
			t.Errorf("%s: writer runs in %q after teardown", node, cwd)
		}
	}
	if out := c.sh(t, "n1", "cd "+flDir+" && cat synced after-ew"); out != "SYNCED-"+stamp+"AFTER-EW-"+stamp {
		t.Errorf("n1's files after teardown: %q", out)
	}
	// "kept" is not required: it was committed to a journal that had lost
	// the transactions dropped just before, and the failed journal commit
	// under error-writes then stopped ext4 before it checkpointed; the
	// repair (e2fsck replays the journal only up to the gap) may drop it,
	// as a real disk that lies about writes can make a filesystem lose
	// later, fsynced data. Which happens depends on timing.
	t.Logf("kept after the repairs: %q", c.sh(t, "n1", "cat "+flDir+"/kept 2>&1 || true"))
}

// flKernelMode sets up a fault of a mode that some kernels lack. Where
// the VMs' kernel lacks it, the setup must fail with an error containing
// lacks (and naming a node), and leave nothing behind; then it returns
// nil.
func (c *testCluster) flKernelMode(t *testing.T, fc eval.FaultConfig, lacks string) *Nemesis {
	t.Helper()
	n, err := New(c.remotes, c.nodes, []eval.FaultConfig{fc}, DaemonsOf(c.dbs), Options{Seed: 1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Teardown(context.Background()) })
	err = n.Setup(context.Background())
	if err == nil {
		return n
	}
	if !strings.Contains(err.Error(), lacks) || !strings.Contains(err.Error(), "n1: ") || !strings.Contains(err.Error(), "n2: ") {
		t.Fatal(err)
	}
	t.Logf("setup on a kernel without %s: %v", fc.Mode, err)
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"n1", "n2"} {
		c.flakeyGone(t, node)
	}
	return nil
}

// TestVMFlakeyErrorReads: reads fail, writes work. dm-flakey has had
// error_reads since Linux 6.4; on an older kernel the setup must say so.
func TestVMFlakeyErrorReads(t *testing.T) {
	c := setupVM(t)
	c.addFlakeyWriter(t)
	n := c.flKernelMode(t, flFault("fl-eread", "error-reads", nil), "error_reads came in Linux 6.4")
	if n == nil {
		return
	}
	c.sh(t, "n1", "cd "+flDir+" && printf R > r && sync r")
	invoke(t, n, "start-fl-eread")
	out, ok := c.flRun(t, "n1", "dd if="+flDir+"/r iflag=direct bs=4096 count=1")
	if ok || !strings.Contains(out, "Input/output error") {
		t.Fatalf("read under error-reads: ok %v, %q", ok, out)
	}
	if out, ok := c.flRun(t, "n1", "cd "+flDir+" && printf W > w && sync w"); !ok {
		t.Fatalf("write under error-reads: %q", out)
	}
	invoke(t, n, "stop-fl-eread")
	if out := c.sh(t, "n1", "dd if="+flDir+"/r iflag=direct bs=4096 count=1 2>/dev/null"); out != "R" {
		t.Fatalf("read after stop: %q", out)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"n1", "n2"} {
		c.flakeyGone(t, node)
	}
}

// TestVMFlakeyInterruptedRun abandons a nemesis with its device set up and
// dropping writes (as a killed jplan would), then sets up another fault on
// the same directory, under another name: it puts the first run's device
// back (its contents included) before making its own, and its teardown
// leaves nothing.
func TestVMFlakeyInterruptedRun(t *testing.T) {
	c := setupVM(t)
	c.addFlakeyWriter(t)
	fc := flFault("fl-old", "drop-writes", func(fc *eval.FaultConfig) { fc.DB, fc.Daemon = "fldb", "writer" })
	old, err := New(c.remotes, c.nodes, []eval.FaultConfig{fc}, DaemonsOf(c.dbs), Options{Seed: 1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.sh(t, "n1", "cd "+flDir+" && printf FIRST > first && sync first")
	invoke(t, old, "start-fl-old")
	// old is abandoned here: no stop, no teardown.

	n := c.nemesis(t, flFault("fl-new", "error-writes", func(fc *eval.FaultConfig) { fc.DB, fc.Daemon = "fldb", "writer" }))
	for _, node := range []string{"n1", "n2"} {
		out := c.sh(t, node, `dir=`+flDir+`
dmsetup ls | awk '/^jplan-/ { print $1 }'
losetup -a | grep -c jplan-flakey
awk -v d="$dir" '$2 == d { print $1 }' /proc/mounts
cat "$dir/seed"`)
		if want := "jplan-fl-new\n1\n/dev/mapper/jplan-fl-new\nseed"; out != want {
			t.Fatalf("%s after the second setup:\n%s\nwant:\n%s", node, out, want)
		}
	}
	if out := c.sh(t, "n1", "cat "+flDir+"/first"); out != "FIRST" {
		t.Fatalf("the first run's file: %q", out)
	}
	if tb := c.dmTable(t, "n1", "jplan-fl-new"); !strings.Contains(tb, " linear ") {
		t.Fatalf("table %q", tb)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"n1", "n2"} {
		c.flakeyGone(t, node)
	}
	if out := c.sh(t, "n1", "cat "+flDir+"/first"); out != "FIRST" {
		t.Fatalf("the first run's file after teardown: %q", out)
	}
}

// TestVMFlakeyCorruptReads: the first byte of each read is replaced; the
// data on the device is not. Some kernels accept the table and corrupt
// nothing; the setup must say so.
func TestVMFlakeyCorruptReads(t *testing.T) {
	c := setupVM(t)
	c.addFlakeyWriter(t)
	n := c.flKernelMode(t, flFault("fl-rcorrupt", "corrupt-reads", nil), "does not change them")
	if n == nil {
		return
	}
	c.sh(t, "n1", "cd "+flDir+" && head -c 4096 /dev/zero | tr '\\0' B > rc && sync rc")
	read := "dd if=" + flDir + "/rc iflag=direct bs=4096 count=1 2>/dev/null | od -An -tx1 -N2 | tr -s ' '"
	invoke(t, n, "start-fl-rcorrupt")
	if out := c.sh(t, "n1", read); out != "ff 42" {
		t.Fatalf("first bytes read under corrupt-reads: %q, want ff 42", out)
	}
	invoke(t, n, "stop-fl-rcorrupt")
	if out := c.sh(t, "n1", read); out != "42 42" {
		t.Fatalf("first bytes read after stop: %q, want 42 42 (the data was never changed)", out)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"n1", "n2"} {
		c.flakeyGone(t, node)
	}
}

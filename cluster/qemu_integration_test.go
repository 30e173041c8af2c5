package cluster_test

// The qemu driver end to end: one VM, checked from inside and outside,
// reused by a second Up, and gone without a trace after Down.

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jplan/jplan/cluster"
	"github.com/jplan/jplan/cluster/clustertest"
	"github.com/jplan/jplan/control"
)

func TestQEMUClusterLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots a VM; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	require := os.Getenv(clustertest.RequireDockerEnv) == "1"
	if err := cluster.Ping(ctx, ""); err != nil {
		if require {
			t.Fatal(err)
		}
		t.Skipf("the VM image is made from the node image: %v", err)
	}
	if os.Geteuid() != 0 {
		if require {
			t.Fatal("the qemu driver needs root")
		}
		t.Skip("the qemu driver needs root")
	}
	clustertest.LockVMs(t)
	opts := cluster.Options{Name: "jplan-clvm", Nodes: 1, Driver: cluster.DriverQEMU, Subnet: "10.231.54.0/24",
		Dir: t.TempDir(), Recreate: true, Log: os.Stderr}
	t.Cleanup(func() { cluster.Down(context.Background(), opts) })
	info, err := cluster.Up(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if info.Driver != cluster.DriverQEMU || len(info.Nodes) != 1 || info.Nodes[0].PID == 0 {
		t.Fatalf("info %+v", info)
	}
	pid := info.Nodes[0].PID
	for _, f := range []string{"iptables", "tc-netem", "set-clock", "fuse", "device-mapper"} {
		if !info.Features[f] {
			t.Errorf("feature %s does not work on the VM: %v", f, info.Features)
		}
	}

	// The nodes file opens a verified connection (known_hosts from the
	// console, strict checking).
	nf, err := control.ReadNodesFile(info.NodesFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := nf.Nodes[0].Open(control.OpenOptions{ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sh := func(script string) string {
		t.Helper()
		res, err := r.Exec(ctx, control.Command{Script: script, Timeout: 30 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		return strings.TrimSpace(res.Stdout)
	}
	hostBoot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if id := sh("cat /proc/sys/kernel/random/boot_id"); id == "" || id == strings.TrimSpace(string(hostBoot)) {
		t.Fatalf("the VM's boot id %q is the host's: not its own kernel", id)
	}
	if h := sh("hostname"); h != "n1" {
		t.Fatalf("hostname %q", h)
	}
	if hosts := sh("cat /etc/hosts"); !strings.Contains(hosts, info.Nodes[0].IP+" n1") {
		t.Fatalf("/etc/hosts lacks n1:\n%s", hosts)
	}
	if routes := sh("ip route"); strings.Contains(routes, "default") {
		t.Fatalf("the VM has a default route, so a way out:\n%s", routes)
	}
	before := time.Now()
	nodeNow, err := strconv.ParseFloat(sh("date +%s.%N"), 64)
	if err != nil {
		t.Fatal(err)
	}
	mid := float64(before.Add(time.Since(before)/2).UnixNano()) / 1e9
	if d := nodeNow - mid; math.Abs(d) > 0.5 {
		t.Fatalf("the VM's clock is %.3fs from the control machine's after up", d)
	}
	r.Close()

	sts, err := cluster.Status(ctx, cluster.Options{Name: opts.Name, Dir: opts.Dir})
	if err != nil || len(sts) != 1 || !sts[0].SSH || sts[0].State != "running" || sts[0].PID != pid {
		t.Fatalf("status %+v %v", sts, err)
	}

	// A second Up keeps the running VM.
	again := opts
	again.Recreate = false
	info2, err := cluster.Up(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if info2.Nodes[0].PID != pid {
		t.Fatalf("up replaced the running VM (pid %d → %d)", pid, info2.Nodes[0].PID)
	}

	// Down without naming the driver: the state directory says qemu.
	if err := cluster.Down(ctx, cluster.Options{Name: opts.Name, Dir: opts.Dir}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("QEMU pid %d still exists after down (%v)", pid, err)
	}
	if out, _ := exec.Command("ip", "-o", "link", "show").Output(); strings.Contains(string(out), info.Network) {
		t.Fatalf("bridge %s left behind:\n%s", info.Network, out)
	}
	if out, _ := exec.Command("iptables", "-w", "-S").Output(); strings.Contains(string(out), "JPLAN-VM-") && strings.Contains(string(out), info.Network) {
		t.Fatalf("firewall rules for %s left behind", info.Network)
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "vm")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("VM disks left behind: %v", err)
	}
	if sts, err := cluster.Status(ctx, cluster.Options{Name: opts.Name, Dir: opts.Dir, Driver: cluster.DriverQEMU}); err != nil || len(sts) != 0 {
		t.Fatalf("status after down: %+v %v", sts, err)
	}
}

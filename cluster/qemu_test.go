package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVMInterfaceNamesFitLinux(t *testing.T) {
	for _, name := range []string{"jplan", "a-very-long-cluster-name-indeed-longer-than-fifteen"} {
		for _, ifname := range []string{vmBridge(name), vmTap(name, 1), vmTap(name, 200)} {
			if len(ifname) > 15 {
				t.Errorf("%s: interface name %q is longer than Linux's 15 characters", name, ifname)
			}
		}
		if c := vmChain(name); len(c) > 28 {
			t.Errorf("chain %q is longer than iptables' 28 characters", c)
		}
	}
	if vmBridge("a") == vmBridge("b") || vmMAC("a", 1) == vmMAC("a", 2) {
		t.Fatal("names or MACs collide")
	}
	if m := vmMAC("jplan", 3); !strings.HasPrefix(m, "52:54:") || !strings.HasSuffix(m, ":03") {
		t.Fatalf("MAC %q: want a locally administered 52:54:… address ending in the node number", m)
	}
}

func TestConsoleHostKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "n1.console")
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKlrW7klsWqjioiDdewQ2jtD0EVMo/YD1bq/9O9EoaqC root@n1"
	boot := "[    1.2] some kernel line\r\nJPLAN-HOSTKEY ecdsa-sha2-nistp256 AAAA root@n1\r\nJPLAN-HOSTKEY " + key + "\r\n"
	if err := os.WriteFile(path, []byte(boot), 0o600); err != nil {
		t.Fatal(err)
	}
	k, ready := consoleHostKey(path)
	if k == nil || ready {
		t.Fatalf("before JPLAN-READY: key %v, ready %v; want a key, not ready", k, ready)
	}
	if err := os.WriteFile(path, []byte(boot+"JPLAN-READY\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, ready = consoleHostKey(path)
	if k == nil || !ready || k.Type() != "ssh-ed25519" {
		t.Fatalf("key %v ready %v", k, ready)
	}
	if k, ready := consoleHostKey(filepath.Join(dir, "missing")); k != nil || ready {
		t.Fatal("a missing console gave a key")
	}
}

func TestAcceleratorOverride(t *testing.T) {
	if accelerator("tcg") != "tcg" || accelerator("kvm") != "kvm" {
		t.Fatal("an explicit accelerator was not kept")
	}
	if a := accelerator(""); a != "tcg" && a != "kvm" {
		t.Fatalf("picked %q", a)
	}
}

func TestOptionsDriverChecks(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		err  string
	}{
		{Options{Driver: "lxc"}, `driver "lxc"`},
		{Options{Driver: DriverQEMU, Memory: 64}, "at least 256"},
		{Options{Driver: DriverQEMU, Accel: "hvf"}, `accelerator "hvf"`},
	} {
		tc.opts.Dir = t.TempDir()
		err := tc.opts.defaults()
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.err)
		}
	}
	o := Options{Driver: DriverQEMU, Dir: t.TempDir()}
	if err := o.defaults(); err != nil || o.Subnet != DefaultVMSubnet || o.Memory != DefaultVMMemory {
		t.Fatalf("qemu defaults: %v %+v", err, o)
	}
}

func TestDriverOfReadsState(t *testing.T) {
	dir := t.TempDir()
	if d := driverOf(Options{Dir: dir}); d != DriverDocker {
		t.Fatalf("no state: %s", d)
	}
	if err := writeInfo(&Info{Dir: dir, Driver: DriverQEMU}); err != nil {
		t.Fatal(err)
	}
	if d := driverOf(Options{Dir: dir}); d != DriverQEMU {
		t.Fatalf("state says qemu, got %s", d)
	}
	if d := driverOf(Options{Dir: dir, Driver: DriverDocker}); d != DriverDocker {
		t.Fatalf("an explicit driver must win, got %s", d)
	}
}

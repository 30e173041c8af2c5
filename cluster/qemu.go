package cluster

// The qemu driver runs each node as a QEMU virtual machine with its own
// Debian kernel, for faults that containers cannot have: containers share
// the host's kernel (no netem qdisc or device-mapper if the host lacks
// them) and its clock (setting a container's clock sets the host's).
//
// Networking: one Linux bridge per cluster (jpb-<tag>) holding the
// control machine's address (.1) and one tap device per VM (jpt-<tag>-<i>).
// VMs get no default route, and an iptables chain (JPLAN-VM-<tag>, jumped
// to from FORWARD) drops whatever the host would route to or from the
// bridge, so nodes reach each other and the control machine, nothing else.
// Creating taps and bridges needs root.
//
// Trust: each VM makes fresh host keys at boot and prints them on its
// serial console, which QEMU writes to a file on the control machine;
// known_hosts is written from there, so the first SSH connection is
// already verified, as with `docker exec` for containers.
//
// VMs run daemonized (qemu -daemonize), outliving `jplan cluster up` like
// containers do. They are found again by a marker on their kernel command
// line (jplan.cluster=<name>), so Down works without the state directory.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jplan/jplan/control"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Drivers.
const (
	DriverDocker = "docker"
	DriverQEMU   = "qemu"
)

// DefaultVMSubnet differs from DefaultSubnet so a container cluster and a
// VM cluster of the same name can run side by side.
const DefaultVMSubnet = "10.213.56.0/24"

// DefaultVMMemory is each VM's memory in MiB: enough for the example
// databases with their small test data.
const DefaultVMMemory = 1024

// vmBootTimeout bounds the wait for every VM's console to report ready.
// Under software emulation (no KVM) a boot takes 20-60 s on a loaded
// 2-core machine; all VMs boot at once.
const vmBootTimeout = 5 * time.Minute

const vmDirName = "vm" // under the state directory: overlays, consoles, pid files

// vmTag is a short, stable hash of the cluster name for interface and
// chain names, which Linux limits to 15 and iptables to 28 characters.
func vmTag(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])[:6]
}

func vmBridge(name string) string     { return "jpb-" + vmTag(name) }
func vmTap(name string, i int) string { return fmt.Sprintf("jpt-%s-%d", vmTag(name), i) }
func vmChain(name string) string      { return "JPLAN-VM-" + vmTag(name) }

func vmMAC(name string, i int) string {
	t, _ := hex.DecodeString(vmTag(name))
	return fmt.Sprintf("52:54:%02x:%02x:%02x:%02x", t[0], t[1], t[2], byte(i))
}

// accelerator picks KVM when it can work and software emulation (TCG)
// otherwise. /dev/kvm alone is not enough: in nested set-ups without
// hardware virtualization exposed to this machine (no vmx/svm CPU flag)
// the device exists but guests hang, so both are required.
func accelerator(want string) string {
	switch want {
	case "kvm", "tcg":
		return want
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	cpu, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(cpu), "\n") {
		if strings.HasPrefix(line, "flags") {
			for _, fl := range strings.Fields(line) {
				if fl == "vmx" || fl == "svm" {
					return "kvm"
				}
			}
			break
		}
	}
	return "tcg"
}

// runningVM is a QEMU process of some cluster, found in /proc.
type runningVM struct {
	pid  int
	node string
	args []string
}

// findVMs lists the QEMU processes whose kernel command line carries
// jplan.cluster=name.
func findVMs(name string) map[string]runningVM {
	out := map[string]runningVM{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(raw, []byte("jplan.cluster="+name+" ")) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "qemu") {
			continue
		}
		for i, a := range args {
			if a != "-append" || i+1 >= len(args) {
				continue
			}
			fields := strings.Fields(args[i+1])
			if !contains(fields, "jplan.cluster="+name) {
				break
			}
			for _, f := range fields {
				if node, ok := strings.CutPrefix(f, "jplan.hostname="); ok {
					out[node] = runningVM{pid: pid, node: node, args: args}
				}
			}
		}
	}
	return out
}

// stopVM ends a VM's QEMU process: SIGTERM (QEMU exits at once, the guest
// is powered off) and SIGKILL if it lingers.
func stopVM(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func upQEMU(ctx context.Context, opts Options) (*Info, error) {
	log := opts.Log
	start := time.Now()
	if os.Geteuid() != 0 {
		return nil, errors.New("the qemu driver needs root: it creates a bridge and tap devices for the VMs")
	}
	// The image build installs QEMU where it is missing (Debian's
	// qemu-system-x86 and qemu-utils), so look for it afterwards.
	img, err := EnsureVMImage(ctx, opts.Docker, opts.VMCacheDir, log)
	if err != nil {
		return nil, err
	}
	qemu := orDefault(opts.QEMU, "qemu-system-x86_64")
	for _, bin := range []string{qemu, "qemu-img"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("the qemu driver needs %s (Debian: apt-get install qemu-system-x86 qemu-utils): %w", bin, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, vmDirName), 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	prefix, err := netip.ParsePrefix(opts.Subnet)
	if err != nil {
		return nil, fmt.Errorf("subnet %q: %w", opts.Subnet, err)
	}
	accel := accelerator(opts.Accel)
	info := &Info{
		Name: opts.Name, Driver: DriverQEMU, Network: vmBridge(opts.Name), Subnet: opts.Subnet,
		Gateway: gatewayIP(opts.Subnet), Image: img.Dir, Dir: opts.Dir, Accel: accel,
		NodesFile:      filepath.Join(opts.Dir, NodesFileName),
		KeyFile:        filepath.Join(opts.Dir, KeyFileName),
		KnownHostsFile: filepath.Join(opts.Dir, KnownHostsFileName),
		SSHConfigFile:  filepath.Join(opts.Dir, SSHConfigFileName),
		// A VM has every privilege a node wants: its own kernel.
		Granted: []string{"NET_ADMIN", "SYS_TIME", "SYS_ADMIN", "/dev/fuse"},
	}
	for i := 1; i <= opts.Nodes; i++ {
		ip, err := NodeIP(opts.Subnet, i)
		if err != nil {
			return nil, err
		}
		info.Nodes = append(info.Nodes, Node{Name: fmt.Sprintf("n%d", i), IP: ip})
	}
	authorized, err := ensureKey(info.KeyFile)
	if err != nil {
		return nil, err
	}
	keyArg := base64.StdEncoding.EncodeToString([]byte(authorized))

	// Keep a running VM only if it boots this image and trusts this key;
	// stop the rest, and nodes beyond the requested count.
	running := findVMs(opts.Name)
	wanted := map[string]bool{}
	for _, n := range info.Nodes {
		wanted[n.Name] = true
	}
	for node, vm := range running {
		keep := !opts.Recreate && wanted[node] && contains(vm.args, img.Initrd) &&
			strings.Contains(strings.Join(vm.args, " "), "jplan.key="+keyArg+" ")
		if !keep {
			fmt.Fprintf(log, "stopping VM %s (pid %d)\n", node, vm.pid)
			stopVM(vm.pid)
			delete(running, node)
		}
	}
	if err := ensureBridge(ctx, info, prefix); err != nil {
		return nil, err
	}
	if err := ensureVMFirewall(ctx, opts.Name, info.Network); err != nil {
		fmt.Fprintf(log, "warning: %v; the VMs have no default route, so they still cannot reach beyond the control machine\n", err)
	}

	vmDir := filepath.Join(opts.Dir, vmDirName)
	for i, n := range info.Nodes {
		if vm, ok := running[n.Name]; ok {
			info.Nodes[i].PID = vm.pid
			continue
		}
		pid, err := startVM(ctx, opts, info, img, accel, i+1, keyArg, prefix.Bits())
		if err != nil {
			return nil, err
		}
		info.Nodes[i].PID = pid
		fmt.Fprintf(log, "started VM %s (%s, pid %d, %s)\n", n.Name, n.IP, pid, accel)
	}

	if err := writeVMKnownHosts(ctx, info, vmDir); err != nil {
		return nil, err
	}
	return finishUp(ctx, info, opts, start, writeVMHosts)
}

// ensureBridge creates the cluster's bridge with the control machine's
// address, or checks an existing one.
func ensureBridge(ctx context.Context, info *Info, prefix netip.Prefix) error {
	br := info.Network
	gw := fmt.Sprintf("%s/%d", info.Gateway, prefix.Bits())
	if _, err := runCmd(ctx, "ip", "link", "show", br); err == nil {
		out, _ := runCmd(ctx, "ip", "-4", "-o", "addr", "show", "dev", br)
		if strings.Contains(out, " "+gw+" ") {
			_, err := runCmd(ctx, "ip", "link", "set", br, "up")
			return err
		}
		return fmt.Errorf("bridge %s exists but does not hold %s; run `jplan cluster down --driver qemu` first or pick another name", br, gw)
	}
	// Refuse a subnet the host already routes elsewhere (a Docker network,
	// a VPN): the VMs would shadow it or be unreachable.
	if out, _ := runCmd(ctx, "ip", "-4", "route", "show", prefix.Masked().String()); out != "" {
		return fmt.Errorf("subnet %s is already routed on this machine (%s); choose another with --subnet", prefix.Masked(), out)
	}
	for _, args := range [][]string{
		{"link", "add", br, "type", "bridge"},
		{"addr", "add", gw, "dev", br},
		{"link", "set", br, "up"},
	} {
		if _, err := runCmd(ctx, "ip", args...); err != nil {
			_, _ = runCmd(ctx, "ip", "link", "del", br)
			return fmt.Errorf("creating bridge %s: %w", br, err)
		}
	}
	return nil
}

// ensureVMFirewall lets VMs talk among themselves across the bridge (hosts
// with br_netfilter and a DROP forward policy, as Docker sets up, would
// otherwise drop even bridged frames) and drops anything routed to or from
// the bridge.
func ensureVMFirewall(ctx context.Context, name, br string) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return errors.New("iptables not found on the control machine")
	}
	chain := vmChain(name)
	_, _ = runCmd(ctx, "iptables", "-w", "-N", chain)
	if _, err := runCmd(ctx, "iptables", "-w", "-F", chain); err != nil {
		return err
	}
	for _, rule := range [][]string{
		{"-i", br, "-o", br, "-j", "ACCEPT"},
		{"-i", br, "-j", "DROP"},
		{"-o", br, "-j", "DROP"},
	} {
		if _, err := runCmd(ctx, "iptables", append([]string{"-w", "-A", chain}, rule...)...); err != nil {
			return err
		}
	}
	if _, err := runCmd(ctx, "iptables", "-w", "-C", "FORWARD", "-j", chain); err != nil {
		if _, err := runCmd(ctx, "iptables", "-w", "-I", "FORWARD", "1", "-j", chain); err != nil {
			return err
		}
	}
	return nil
}

// startVM boots node i (1-based) on a fresh copy-on-write overlay of the
// image's disk and returns QEMU's pid.
func startVM(ctx context.Context, opts Options, info *Info, img VMImage, accel string, i int, keyArg string, bits int) (int, error) {
	n := info.Nodes[i-1]
	dir := filepath.Join(opts.Dir, vmDirName)
	overlay := filepath.Join(dir, n.Name+".qcow2")
	console := filepath.Join(dir, n.Name+".console")
	pidfile := filepath.Join(dir, n.Name+".pid")
	for _, f := range []string{overlay, console, pidfile} {
		_ = os.Remove(f)
	}
	if _, err := runCmd(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", img.Disk, overlay); err != nil {
		return 0, fmt.Errorf("%s: disk overlay: %w", n.Name, err)
	}
	tap := vmTap(opts.Name, i)
	_, _ = runCmd(ctx, "ip", "link", "del", tap)
	for _, args := range [][]string{
		{"tuntap", "add", "dev", tap, "mode", "tap"},
		{"link", "set", tap, "master", info.Network},
		{"link", "set", tap, "up"},
	} {
		if _, err := runCmd(ctx, "ip", args...); err != nil {
			return 0, fmt.Errorf("%s: tap device: %w", n.Name, err)
		}
	}
	cmdline := strings.Join([]string{
		"root=/dev/vda", "rw", "console=ttyS0", "panic=-1", "quiet", "net.ifnames=0",
		"init=/usr/local/sbin/jplan-vm-init",
		"jplan.cluster=" + opts.Name,
		"jplan.hostname=" + n.Name,
		fmt.Sprintf("jplan.ip=%s/%d", n.IP, bits),
		"jplan.key=" + keyArg,
	}, " ")
	if accel == "tcg" {
		// Emulated, the guest calibrates its TSC against a timer while
		// the host may be busy, and a wrong calibration makes its clock
		// drift by seconds a minute, spoiling clock faults' offsets.
		// HPET reads follow the host's clock.
		cmdline += " clocksource=hpet"
	}
	cmdline += " " // the trailing space lets findVMs match whole words
	args := []string{
		"-name", opts.Name + "-" + n.Name,
		"-nodefaults", "-no-user-config", "-no-reboot",
		"-accel", accel, "-cpu", "max", "-smp", "1",
		"-m", strconv.Itoa(opts.Memory),
		"-kernel", img.Kernel, "-initrd", img.Initrd, "-append", cmdline,
		"-drive", "file=" + overlay + ",if=virtio,format=qcow2",
		"-netdev", "tap,id=net0,ifname=" + tap + ",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=net0,mac=" + vmMAC(opts.Name, i),
		"-object", "rng-random,id=rng0,filename=/dev/urandom",
		"-device", "virtio-rng-pci,rng=rng0",
		"-rtc", "base=utc",
		"-display", "none", "-serial", "file:" + console,
		"-daemonize", "-pidfile", pidfile,
	}
	qemu := orDefault(opts.QEMU, "qemu-system-x86_64")
	if _, err := runCmd(ctx, qemu, args...); err != nil {
		return 0, fmt.Errorf("%s: starting QEMU: %w", n.Name, err)
	}
	raw, err := os.ReadFile(pidfile)
	if err != nil {
		return 0, fmt.Errorf("%s: QEMU wrote no pid file: %w", n.Name, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(raw)))
}

// writeVMKnownHosts waits for every VM to print its host keys and
// readiness on its console and records the ed25519 keys.
func writeVMKnownHosts(ctx context.Context, info *Info, vmDir string) error {
	deadline := time.Now().Add(vmBootTimeout)
	var b strings.Builder
	for _, n := range info.Nodes {
		console := filepath.Join(vmDir, n.Name+".console")
		for {
			key, ready := consoleHostKey(console)
			if ready && key != nil {
				b.WriteString(knownhosts.Line([]string{n.IP, n.Name}, key) + "\n")
				break
			}
			if syscall.Kill(n.PID, 0) != nil {
				return fmt.Errorf("VM %s exited while booting; its console output is in %s", n.Name, console)
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("VM %s did not finish booting within %s; its console output is in %s", n.Name, vmBootTimeout, console)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return os.WriteFile(info.KnownHostsFile, []byte(b.String()), 0o644)
}

// consoleHostKey reads the ed25519 host key the VM's init printed, and
// whether it has reported ready.
func consoleHostKey(path string) (ssh.PublicKey, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var key ssh.PublicKey
	ready := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "JPLAN-HOSTKEY "); ok && strings.HasPrefix(rest, "ssh-ed25519 ") {
			if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(rest)); err == nil {
				key = k
			}
		}
		if line == "JPLAN-READY" {
			ready = true
		}
	}
	return key, ready
}

// writeVMHosts gives every VM the names of the others, as --add-host does
// for containers, and sets its clock.
func writeVMHosts(ctx context.Context, info *Info) error {
	var lines strings.Builder
	for _, n := range info.Nodes {
		fmt.Fprintf(&lines, "%s %s\n", n.IP, n.Name)
	}
	nf, err := control.ReadNodesFile(info.NodesFile)
	if err != nil {
		return err
	}
	rs, err := nf.OpenAll(control.OpenOptions{ConnectTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer control.CloseAll(rs)
	script := `f=/etc/hosts
grep -v '# jplan-cluster$' "$f" >"$f.new" || true
sed 's/$/ # jplan-cluster/' >>"$f.new"
cat "$f.new" >"$f" && rm -f "$f.new"`
	return control.OnNodes(ctx, rs, func(ctx context.Context, r control.Remote) error {
		_, err := r.Exec(ctx, control.Command{Script: script, Stdin: strings.NewReader(lines.String()), Timeout: 30 * time.Second})
		if err != nil {
			return fmt.Errorf("writing /etc/hosts: %w", err)
		}
		// A VM's clock starts from the emulated RTC, which counts whole
		// seconds; set it to the control machine's time (off by the
		// command's latency, milliseconds) so clock faults start from 0.
		now := time.Now()
		_, err = r.Exec(ctx, control.Command{Argv: []string{"date", "-s", fmt.Sprintf("@%d.%09d", now.Unix(), now.Nanosecond())}, Timeout: 10 * time.Second})
		if err != nil {
			return fmt.Errorf("setting the clock: %w", err)
		}
		return nil
	})
}

// downQEMU stops the cluster's VMs and removes their taps, bridge,
// firewall chain and disks.
func downQEMU(ctx context.Context, opts Options) error {
	for _, vm := range findVMs(opts.Name) {
		stopVM(vm.pid)
	}
	var errs []error
	links, _ := runCmd(ctx, "ip", "-o", "link", "show")
	tapPrefix := "jpt-" + vmTag(opts.Name) + "-"
	for _, line := range strings.Split(links, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ifname, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if strings.HasPrefix(ifname, tapPrefix) {
			if _, err := runCmd(ctx, "ip", "link", "del", ifname); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := runCmd(ctx, "ip", "link", "show", vmBridge(opts.Name)); err == nil {
		if _, err := runCmd(ctx, "ip", "link", "del", vmBridge(opts.Name)); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := exec.LookPath("iptables"); err == nil {
		chain := vmChain(opts.Name)
		for {
			if _, err := runCmd(ctx, "iptables", "-w", "-D", "FORWARD", "-j", chain); err != nil {
				break
			}
		}
		_, _ = runCmd(ctx, "iptables", "-w", "-F", chain)
		_, _ = runCmd(ctx, "iptables", "-w", "-X", chain)
	}
	if err := os.RemoveAll(filepath.Join(opts.Dir, vmDirName)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// vmStatuses lists the cluster's VMs by process.
func vmStatuses(name string) (map[string]*NodeStatus, []string) {
	byNode := map[string]*NodeStatus{}
	var order []string
	for node, vm := range findVMs(name) {
		byNode[node] = &NodeStatus{Name: node, State: "running", PID: vm.pid}
		order = append(order, node)
	}
	return byNode, order
}

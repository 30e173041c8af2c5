// Package cluster runs a local cluster of jplan nodes in Docker containers:
// Debian bookworm with sshd, iptables and the example databases, on a
// private network that cannot reach anything outside. jplan tests reach
// the nodes over real SSH, exactly like remote machines, through the nodes
// file that Up writes.
package cluster

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jplan/jplan/control"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Defaults.
const (
	DefaultName  = "jplan"
	DefaultNodes = 5
	DefaultDir   = ".cluster"
	// DefaultSubnet is a /24 picked to stay clear of Docker's default
	// address pools (172.17-31.x, 192.168.x) and of common home routers.
	DefaultSubnet = "10.213.57.0/24"
)

// Files Up writes into the state directory.
const (
	NodesFileName      = "nodes.json"
	KeyFileName        = "id_ed25519"
	KnownHostsFileName = "known_hosts"
	SSHConfigFileName  = "ssh_config"
	StateFileName      = "cluster.json"
)

// Labels mark what a cluster owns, so Down and Status find it without the
// state directory.
const (
	labelCluster = "org.jplan.cluster"
	labelNode    = "org.jplan.node"
)

// Options configure a cluster. The zero value means 5 nodes named n1..n5 in
// cluster "jplan", state in ./.cluster, subnet DefaultSubnet.
type Options struct {
	Name   string // prefixes containers (<name>-n1) and the network (<name>-net)
	Nodes  int
	Dir    string // state directory: key, known_hosts, nodes file
	Subnet string // an IPv4 CIDR; node i gets host address 10+i
	Image  string // node image; default: built from the recipe (EnsureImage)
	Docker string // docker CLI binary; default "docker"
	// Recreate removes existing containers of this cluster first, rather
	// than reusing running ones.
	Recreate bool
	// SSHTimeout bounds the wait for every node to accept SSH; default 90s.
	SSHTimeout time.Duration
	// Driver runs the nodes: DriverDocker (containers, the default) or
	// DriverQEMU (virtual machines with their own kernels and clocks).
	Driver string
	// QEMU-only settings: memory per VM in MiB (default DefaultVMMemory),
	// accelerator ("kvm", "tcg", or "" to pick), the QEMU binary
	// (default qemu-system-x86_64) and where VM images are cached
	// (default DefaultVMCacheDir).
	Memory     int
	Accel      string
	QEMU       string
	VMCacheDir string
	// Log receives progress messages; nil discards them.
	Log io.Writer
}

func (o *Options) defaults() error {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Nodes == 0 {
		o.Nodes = DefaultNodes
	}
	if o.Nodes < 1 || o.Nodes > 200 {
		return fmt.Errorf("cluster: %d nodes: want 1..200", o.Nodes)
	}
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	o.Dir = dir
	switch o.Driver {
	case "", DriverDocker, DriverQEMU:
	default:
		return fmt.Errorf("cluster: driver %q: want %q or %q", o.Driver, DriverDocker, DriverQEMU)
	}
	if o.Subnet == "" {
		o.Subnet = DefaultSubnet
		if o.Driver == DriverQEMU {
			o.Subnet = DefaultVMSubnet
		}
	}
	if o.Memory == 0 {
		o.Memory = DefaultVMMemory
	}
	if o.Memory < 256 {
		return fmt.Errorf("cluster: %d MiB of memory per VM: want at least 256", o.Memory)
	}
	switch o.Accel {
	case "", "kvm", "tcg":
	default:
		return fmt.Errorf("cluster: accelerator %q: want kvm or tcg", o.Accel)
	}
	if o.SSHTimeout <= 0 {
		o.SSHTimeout = 90 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// Info describes a running cluster; Up returns it and writes it to
// cluster.json in the state directory.
type Info struct {
	Name           string   `json:"name"`
	Driver         string   `json:"driver"`          // DriverDocker or DriverQEMU
	Accel          string   `json:"accel,omitempty"` // qemu: kvm or tcg
	Network        string   `json:"network"`
	Subnet         string   `json:"subnet"`
	Gateway        string   `json:"gateway"` // the control machine's address on the network
	Image          string   `json:"image"`
	Nodes          []Node   `json:"nodes"`
	Dir            string   `json:"dir"`
	NodesFile      string   `json:"nodes_file"`
	KeyFile        string   `json:"key_file"`
	KnownHostsFile string   `json:"known_hosts_file"`
	SSHConfigFile  string   `json:"ssh_config_file"`
	Granted        []string `json:"granted"` // privileges the containers have
	Refused        []string `json:"refused"` // privileges the engine refused
	// Features records which fault-injection mechanisms work on the nodes:
	// containers share the host's kernel, so what it lacks (say, the netem
	// qdisc) the nodes lack too. Keys: see featureProbes.
	Features map[string]bool `json:"features"`
}

// featureProbes are shell checks run on the first node by Up. Each succeeds
// only if the mechanism works and leaves nothing behind.
var featureProbes = map[string]string{
	"iptables":           "iptables -w -L INPUT -n",
	"iptables-statistic": "iptables -w -A INPUT -s 192.0.2.1 -m statistic --mode random --probability 0.5 -j DROP && iptables -w -D INPUT -s 192.0.2.1 -m statistic --mode random --probability 0.5 -j DROP",
	"tc-netem":           "tc qdisc add dev lo root netem delay 1ms && tc qdisc del dev lo root",
	"tc-tbf":             "tc qdisc add dev lo root tbf rate 1gbit burst 1mb latency 10ms && tc qdisc del dev lo root",
	// CAP_SYS_TIME (bit 25) in the effective set. Actually setting the
	// clock would move the host's clock: containers share it.
	"set-clock": `cap=$(awk '/^CapEff/ {print $2}' /proc/self/status) && [ $(( (0x$cap >> 25) & 1 )) = 1 ]`,
	"fuse":      "test -c /dev/fuse",
	// A device-mapper device can be made with the flakey target.
	"device-mapper": "modprobe dm_flakey 2>/dev/null; test -c /dev/mapper/control && dmsetup targets | grep -q '^flakey'",
}

// Node is one cluster node.
type Node struct {
	Name      string `json:"name"`
	Container string `json:"container,omitempty"` // docker driver
	PID       int    `json:"pid,omitempty"`       // qemu driver: the VM's QEMU process
	IP        string `json:"ip"`
}

// privilege is an optional docker run flag that nodes want. The engine may
// refuse some (rootless Docker, restrictive hosts); Up then runs without it
// and says so.
type privilege struct {
	name  string   // as reported
	args  []string // docker run flags
	blame []string // substrings of the engine's error that implicate it
}

var privileges = []privilege{
	{"NET_ADMIN", []string{"--cap-add", "NET_ADMIN"}, []string{"NET_ADMIN"}},
	{"SYS_TIME", []string{"--cap-add", "SYS_TIME"}, []string{"SYS_TIME"}},
	{"SYS_ADMIN", []string{"--cap-add", "SYS_ADMIN"}, []string{"SYS_ADMIN"}},
	{"/dev/fuse", []string{"--device", "/dev/fuse"}, []string{"/dev/fuse", "fuse"}},
}

// privilegeWhy says what a refused privilege breaks.
var privilegeWhy = map[string]string{
	"NET_ADMIN": "iptables partitions and traffic shaping will not work",
	"SYS_TIME":  "clock faults (date -s, ntpdate) will not work",
	"SYS_ADMIN": "FUSE mounts (lazy filesystem faults) will not work",
	"/dev/fuse": "FUSE mounts (lazy filesystem faults) will not work",
}

// NodeIP returns the address of node i (1-based) in subnet: .10+i, so
// .1 stays the gateway and low addresses free for other uses.
func NodeIP(subnet string, i int) (string, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil || !p.Addr().Is4() {
		return "", fmt.Errorf("subnet %q: want an IPv4 CIDR such as %s", subnet, DefaultSubnet)
	}
	p = p.Masked()
	a := p.Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n += uint32(10 + i)
	ip := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	if !p.Contains(ip) || !p.Contains(ip.Next()) {
		return "", fmt.Errorf("subnet %s is too small for node %d", subnet, i)
	}
	return ip.String(), nil
}

func gatewayIP(subnet string) string {
	p, _ := netip.ParsePrefix(subnet)
	return p.Masked().Addr().Next().String()
}

func networkName(name string) string         { return name + "-net" }
func containerName(name, node string) string { return name + "-" + node }

// Up starts the cluster (building the image if needed) and waits until
// every node accepts SSH with the cluster key. It is idempotent: running
// nodes of the same image are kept.
func Up(ctx context.Context, opts Options) (*Info, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if opts.Driver == DriverQEMU {
		return upQEMU(ctx, opts)
	}
	if err := Ping(ctx, opts.Docker); err != nil {
		return nil, err
	}
	d := docker{bin: opts.Docker}
	log := opts.Log
	start := time.Now()

	image := opts.Image
	if image == "" {
		var err error
		if image, err = EnsureImage(ctx, opts.Docker, log); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	info := &Info{
		Name: opts.Name, Driver: DriverDocker, Network: networkName(opts.Name), Subnet: opts.Subnet,
		Gateway: gatewayIP(opts.Subnet), Image: image, Dir: opts.Dir,
		NodesFile:      filepath.Join(opts.Dir, NodesFileName),
		KeyFile:        filepath.Join(opts.Dir, KeyFileName),
		KnownHostsFile: filepath.Join(opts.Dir, KnownHostsFileName),
		SSHConfigFile:  filepath.Join(opts.Dir, SSHConfigFileName),
	}
	for i := 1; i <= opts.Nodes; i++ {
		ip, err := NodeIP(opts.Subnet, i)
		if err != nil {
			return nil, err
		}
		n := fmt.Sprintf("n%d", i)
		info.Nodes = append(info.Nodes, Node{Name: n, Container: containerName(opts.Name, n), IP: ip})
	}

	authorized, err := ensureKey(info.KeyFile)
	if err != nil {
		return nil, err
	}
	if !opts.Recreate {
		if err := checkOwner(ctx, d, opts); err != nil {
			return nil, err
		}
	}
	if opts.Recreate {
		if err := removeContainers(ctx, d, opts.Name, nil); err != nil {
			return nil, err
		}
	}
	// Nodes beyond the requested count (a previous, bigger Up) would
	// otherwise linger outside the nodes file.
	if err := removeContainers(ctx, d, opts.Name, info.Nodes); err != nil {
		return nil, err
	}
	if err := ensureNetwork(ctx, d, info); err != nil {
		return nil, err
	}

	var hosts []string
	for _, n := range info.Nodes {
		hosts = append(hosts, "--add-host", n.Name+":"+n.IP)
	}
	granted := privileges
	for idx, n := range info.Nodes {
		state, img, env, _ := inspectContainer(ctx, d, n.Container)
		// Reuse a node only if it runs the same image and trusts the
		// current key (the state directory may have been deleted).
		if state != "" && img == image && contains(env, "JPLAN_AUTHORIZED_KEY="+authorized) {
			if state != "running" {
				fmt.Fprintf(log, "starting %s\n", n.Container)
				if _, err := d.run(ctx, "start", n.Container); err != nil {
					return nil, err
				}
			}
			continue
		}
		if state != "" {
			fmt.Fprintf(log, "replacing %s (image or key changed)\n", n.Container)
			if _, err := d.run(ctx, "rm", "-f", n.Container); err != nil {
				return nil, err
			}
		}
		base := []string{"run", "-d", "--name", n.Container, "--hostname", n.Name,
			"--network", info.Network, "--ip", n.IP, "--network-alias", n.Name,
			"--label", labelCluster + "=" + opts.Name, "--label", labelNode + "=" + n.Name, "--label", labelOwner + "=" + opts.Dir,
			"-e", "JPLAN_AUTHORIZED_KEY=" + authorized, "-e", "JPLAN_REGEN_HOST_KEYS=1",
		}
		base = append(base, hosts...)
		// Work out on the first node which privileges the engine grants;
		// the others get the same set.
		for {
			args := append([]string(nil), base...)
			for _, p := range granted {
				args = append(args, p.args...)
			}
			args = append(args, image)
			_, err := d.run(ctx, args...)
			if err == nil {
				fmt.Fprintf(log, "started %s (%s)\n", n.Container, n.IP)
				break
			}
			_, _ = d.run(ctx, "rm", "-f", n.Container)
			if idx > 0 {
				return nil, err
			}
			drop := -1
			for i, p := range granted {
				for _, b := range p.blame {
					if strings.Contains(err.Error(), b) {
						drop = i
					}
				}
			}
			if drop < 0 {
				return nil, err
			}
			p := granted[drop]
			fmt.Fprintf(log, "warning: the Docker engine refused %s (%v); continuing without it: %s\n", p.name, err, privilegeWhy[p.name])
			info.Refused = append(info.Refused, p.name)
			granted = append(append([]privilege(nil), granted[:drop]...), granted[drop+1:]...)
		}
	}
	if state, err := readInfo(opts.Dir); err == nil && len(info.Refused) == 0 {
		// Reused containers: keep what the run that created them learned.
		info.Refused = state.Refused
	}
	for _, p := range privileges {
		if !contains(info.Refused, p.name) {
			info.Granted = append(info.Granted, p.name)
		}
	}

	if err := writeKnownHosts(ctx, d, info); err != nil {
		return nil, err
	}
	return finishUp(ctx, info, opts, start, nil)
}

// finishUp is the end of Up for every driver, once the nodes run and
// known_hosts is written: the nodes file and ssh_config, a wait until
// every node answers SSH with them, prepare (driver-specific set-up over
// SSH; may be nil), the feature probes and cluster.json.
func finishUp(ctx context.Context, info *Info, opts Options, start time.Time, prepare func(context.Context, *Info) error) (*Info, error) {
	if err := writeNodesFile(info); err != nil {
		return nil, err
	}
	if err := writeSSHConfig(info); err != nil {
		return nil, err
	}
	if err := waitSSH(ctx, info, opts.SSHTimeout); err != nil {
		return nil, err
	}
	if prepare != nil {
		if err := prepare(ctx, info); err != nil {
			return nil, err
		}
	}
	info.Features = probeFeatures(ctx, info)
	for _, f := range []string{"iptables", "tc-netem", "set-clock", "fuse", "device-mapper"} {
		if !info.Features[f] {
			fmt.Fprintf(opts.Log, "note: %s does not work on the nodes (%s); faults that need it will fail\n", f, featureBlame[info.Driver])
		}
	}
	if err := writeInfo(info); err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Log, "cluster %s up: %d nodes (%s) in %.1fs; nodes file %s\n", opts.Name, len(info.Nodes), info.Driver, time.Since(start).Seconds(), info.NodesFile)
	return info, nil
}

// featureBlame says where a missing feature comes from, per driver.
var featureBlame = map[string]string{
	DriverDocker: "containers share the host's kernel; or the engine refused a privilege; VM nodes (--driver qemu) have their own kernel",
	DriverQEMU:   "the VMs' kernel",
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func writeInfo(info *Info) error {
	data, _ := json.MarshalIndent(info, "", "  ")
	return os.WriteFile(filepath.Join(info.Dir, StateFileName), append(data, '\n'), 0o600)
}

// driverOf is the driver opts names, else the one the state directory
// records, else docker.
func driverOf(opts Options) string {
	if opts.Driver != "" {
		return opts.Driver
	}
	if info, err := readInfo(opts.Dir); err == nil && info.Driver != "" {
		return info.Driver
	}
	return DriverDocker
}

func readInfo(dir string) (*Info, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFileName))
	if err != nil {
		return nil, err
	}
	var info Info
	return &info, json.Unmarshal(data, &info)
}

// keyComment ends the cluster's public key line. It must be the same on
// every Up: containers are reused only if they trust the exact same line.
const keyComment = " jplan-cluster"

// ensureKey creates the cluster's SSH key pair unless it exists and returns
// the public key in authorized_keys format.
func ensureKey(path string) (string, error) {
	if data, err := os.ReadFile(path); err == nil {
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return "", fmt.Errorf("cluster key %s: %w (delete it to make a new one)", path, err)
		}
		return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + keyComment, nil
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "jplan cluster")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", fmt.Errorf("writing cluster key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + keyComment
	if err := os.WriteFile(path+".pub", []byte(line+"\n"), 0o644); err != nil {
		return "", err
	}
	return line, nil
}

func ensureNetwork(ctx context.Context, d docker, info *Info) error {
	out, err := d.run(ctx, "network", "inspect", "--format", "{{.Internal}} {{range .IPAM.Config}}{{.Subnet}}{{end}}", info.Network)
	if err == nil {
		f := strings.Fields(out)
		if len(f) == 2 && f[0] == "true" && f[1] == info.Subnet {
			return nil
		}
		return fmt.Errorf("network %s exists but is %q, not internal with subnet %s; run `jplan cluster down` first or pick another name", info.Network, out, info.Subnet)
	}
	// --internal: no route out, no NAT. Nodes talk to each other and to the
	// control machine (the bridge's gateway address), nothing else, so a
	// test can never touch the outside world.
	_, err = d.run(ctx, "network", "create", "--driver", "bridge", "--internal",
		"--subnet", info.Subnet, "--gateway", info.Gateway,
		"--label", labelCluster+"="+info.Name, info.Network)
	if err != nil {
		if strings.Contains(err.Error(), "overlap") {
			return fmt.Errorf("%w\nthe subnet %s collides with an existing network; choose another with --subnet", err, info.Subnet)
		}
		return err
	}
	return nil
}

// inspectContainer returns the container's state, image and environment
// (state is "" if the container does not exist).
func inspectContainer(ctx context.Context, d docker, name string) (state, image string, env []string, err error) {
	out, err := d.run(ctx, "container", "inspect", "--format", "{{json .State.Status}} {{json .Config.Image}} {{json .Config.Env}}", name)
	if err != nil {
		return "", "", nil, err
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := errors.Join(dec.Decode(&state), dec.Decode(&image), dec.Decode(&env)); err != nil {
		return "", "", nil, fmt.Errorf("inspect %s: %w", name, err)
	}
	return state, image, env, nil
}

// removeContainers removes the cluster's containers, except those in keep.
func removeContainers(ctx context.Context, d docker, name string, keep []Node) error {
	out, err := d.run(ctx, "ps", "-a", "--filter", "label="+labelCluster+"="+name, "--format", "{{.Names}}")
	if err != nil {
		return err
	}
	var rm []string
	for _, c := range strings.Fields(out) {
		kept := false
		for _, n := range keep {
			kept = kept || n.Container == c
		}
		if !kept {
			rm = append(rm, c)
		}
	}
	if len(rm) == 0 {
		return nil
	}
	_, err = d.run(ctx, append([]string{"rm", "-f", "-v"}, rm...)...)
	return err
}

// writeKnownHosts records each node's host key, read through docker exec
// rather than over the network, so the first SSH connection is already
// verified (no trust-on-first-use).
func writeKnownHosts(ctx context.Context, d docker, info *Info) error {
	var b strings.Builder
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range info.Nodes {
		for {
			// The init script regenerates host keys before starting sshd and
			// marks completion; reading earlier could record a stale key.
			out, err := d.run(ctx, "exec", n.Container, "sh", "-c",
				"test -e /etc/ssh/.jplan-host-keys && cat /etc/ssh/ssh_host_ed25519_key.pub")
			if err == nil {
				key, _, _, _, perr := ssh.ParseAuthorizedKey([]byte(out))
				if perr != nil {
					return fmt.Errorf("%s: host key: %w", n.Name, perr)
				}
				b.WriteString(knownhosts.Line([]string{n.IP, n.Name}, key) + "\n")
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s: reading host key: %w", n.Name, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return os.WriteFile(info.KnownHostsFile, []byte(b.String()), 0o644)
}

func writeNodesFile(info *Info) error {
	nf := &control.NodesFile{Cluster: info.Name}
	for _, n := range info.Nodes {
		nf.Nodes = append(nf.Nodes, control.NodeSpec{
			Name: n.Name, Host: n.IP, Port: 22, User: "root",
			KeyFile: info.KeyFile, KnownHostsFile: info.KnownHostsFile,
			Container: n.Container,
		})
	}
	return control.WriteNodesFile(info.NodesFile, nf)
}

// writeSSHConfig lets people log in by hand: ssh -F .cluster/ssh_config n1.
func writeSSHConfig(info *Info) error {
	var b strings.Builder
	for _, n := range info.Nodes {
		fmt.Fprintf(&b, "Host %s %s\n  HostName %s\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n\n",
			n.Name, n.Container, n.IP, info.KeyFile, info.KnownHostsFile)
	}
	return os.WriteFile(info.SSHConfigFile, []byte(b.String()), 0o644)
}

// waitSSH waits until every node runs a command over SSH with the files Up
// wrote, which proves the nodes file works end to end.
func waitSSH(ctx context.Context, info *Info, timeout time.Duration) error {
	nf, err := control.ReadNodesFile(info.NodesFile)
	if err != nil {
		return err
	}
	rs, err := nf.OpenAll(control.OpenOptions{ConnectTimeout: 3 * time.Second})
	if err != nil {
		return err
	}
	defer control.CloseAll(rs)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return control.OnNodes(ctx, rs, func(ctx context.Context, r control.Remote) error {
		for {
			_, err := r.Exec(ctx, control.Command{Argv: []string{"true"}})
			if err == nil {
				return nil
			}
			// Only "not up yet" is worth waiting for; a wrong key or host
			// key will not fix itself.
			if errors.Is(err, control.ErrAuth) || errors.Is(err, control.ErrHostKey) || ctx.Err() != nil {
				return fmt.Errorf("waiting for sshd: %w", err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for sshd: %w", err)
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
}

func probeFeatures(ctx context.Context, info *Info) map[string]bool {
	out := map[string]bool{}
	nf, err := control.ReadNodesFile(info.NodesFile)
	if err != nil {
		return out
	}
	r, err := nf.Nodes[0].Open(control.OpenOptions{})
	if err != nil {
		return out
	}
	defer r.Close()
	for name, script := range featureProbes {
		_, err := r.Exec(ctx, control.Command{Script: script + " >/dev/null 2>&1", Timeout: 10 * time.Second})
		out[name] = err == nil
	}
	return out
}

// Down removes the cluster's containers and network, and the state files
// that describe them (the key is kept, so a later Up reuses it).
func Down(ctx context.Context, opts Options) error {
	if err := opts.defaults(); err != nil {
		return err
	}
	if driverOf(opts) == DriverQEMU {
		if err := downQEMU(ctx, opts); err != nil {
			return err
		}
	} else if err := downDocker(ctx, opts); err != nil {
		return err
	}
	for _, f := range []string{NodesFileName, KnownHostsFileName, SSHConfigFileName, StateFileName} {
		if err := os.Remove(filepath.Join(opts.Dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func downDocker(ctx context.Context, opts Options) error {
	if err := Ping(ctx, opts.Docker); err != nil {
		return err
	}
	d := docker{bin: opts.Docker}
	if err := removeContainers(ctx, d, opts.Name, nil); err != nil {
		return err
	}
	if _, err := d.run(ctx, "network", "inspect", networkName(opts.Name)); err == nil {
		if _, err := d.run(ctx, "network", "rm", networkName(opts.Name)); err != nil {
			return err
		}
	}
	return nil
}

// NodeStatus is one node as Status sees it.
type NodeStatus struct {
	Name      string `json:"name"`
	Container string `json:"container,omitempty"`
	PID       int    `json:"pid,omitempty"` // qemu driver
	IP        string `json:"ip"`
	State     string `json:"state"` // docker's: running, exited, ... or "missing"
	SSH       bool   `json:"ssh"`   // a command ran over SSH
	SSHError  string `json:"ssh_error,omitempty"`
}

// Status lists the cluster's nodes, whether their containers run, and
// whether sshd answers (using the nodes file in the state directory).
func Status(ctx context.Context, opts Options) ([]NodeStatus, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	var byNode map[string]*NodeStatus
	var order []string
	if driverOf(opts) == DriverQEMU {
		byNode, order = vmStatuses(opts.Name)
	} else {
		var err error
		if byNode, order, err = containerStatuses(ctx, opts); err != nil {
			return nil, err
		}
	}
	var remotes []control.Remote
	if nf, err := control.ReadNodesFile(filepath.Join(opts.Dir, NodesFileName)); err == nil {
		for _, spec := range nf.Nodes {
			st, ok := byNode[spec.Name]
			if !ok {
				st = &NodeStatus{Name: spec.Name, Container: spec.Container, State: "missing"}
				byNode[spec.Name] = st
				order = append(order, spec.Name)
			}
			st.IP = spec.Host
			if r, err := spec.Open(control.OpenOptions{ConnectTimeout: 2 * time.Second}); err == nil {
				remotes = append(remotes, r)
			} else {
				st.SSHError = err.Error()
			}
		}
	}
	defer control.CloseAll(remotes)
	sshOK, _ := control.OnNodesMap(ctx, remotes, func(ctx context.Context, r control.Remote) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := r.Exec(ctx, control.Command{Argv: []string{"true"}})
		if err != nil {
			byNodeErr(byNode, r.Node(), err)
		}
		return err == nil, err
	})
	statuses := make([]NodeStatus, 0, len(order))
	sortNodes(order)
	for _, n := range order {
		st := byNode[n]
		st.SSH = sshOK[n]
		if st.SSH {
			st.SSHError = ""
		}
		statuses = append(statuses, *st)
	}
	return statuses, nil
}

func containerStatuses(ctx context.Context, opts Options) (map[string]*NodeStatus, []string, error) {
	if err := Ping(ctx, opts.Docker); err != nil {
		return nil, nil, err
	}
	d := docker{bin: opts.Docker}
	out, err := d.run(ctx, "ps", "-a", "--filter", "label="+labelCluster+"="+opts.Name,
		"--format", `{{.Names}} {{.Label "`+labelNode+`"}} {{.State}}`)
	if err != nil {
		return nil, nil, err
	}
	byNode := map[string]*NodeStatus{}
	var order []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		byNode[f[1]] = &NodeStatus{Name: f[1], Container: f[0], State: f[2]}
		order = append(order, f[1])
	}
	return byNode, order, nil
}

// byNodeErr records an SSH error; OnNodesMap runs concurrently, but each
// goroutine writes only its own node's entry, which was created before.
func byNodeErr(m map[string]*NodeStatus, node string, err error) {
	if st := m[node]; st != nil {
		st.SSHError = err.Error()
	}
}

// sortNodes orders n1, n2, ..., n10 numerically rather than as strings.
func sortNodes(names []string) {
	num := func(s string) int {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "n"))
		if err != nil {
			return 1 << 30
		}
		return n
	}
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && (num(names[j]) < num(names[j-1]) || num(names[j]) == num(names[j-1]) && names[j] < names[j-1]); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// A cluster's name is global on the machine (containers are <name>-n1...),
// but its key, known_hosts and nodes file live in one state directory. Two
// checkouts running `jplan cluster up` with the default name would each
// replace the other's nodes, and the first one's nodes file would then fail
// with a host key mismatch on every node. So each container is labelled
// with the state directory that created it (its owner): Up from another
// directory refuses while the owner's nodes run, naming the owner, unless
// told to recreate them; NodesFile writes a working nodes file for running
// nodes into any directory.

// labelOwner records the absolute state directory that created a node.
const labelOwner = "org.jplan.owner"

// ErrOwned is returned (wrapped) by Up when the cluster's nodes belong to
// another state directory.
var ErrOwned = errors.New("cluster belongs to another state directory")

// clusterContainer is one container of a cluster, as docker ps lists it.
type clusterContainer struct {
	name, node, owner, state string
}

func listContainers(ctx context.Context, d docker, name string) ([]clusterContainer, error) {
	out, err := d.run(ctx, "ps", "-a", "--filter", "label="+labelCluster+"="+name,
		"--format", `{{.Names}}	{{.Label "`+labelNode+`"}}	{{.Label "`+labelOwner+`"}}	{{.State}}`)
	if err != nil {
		return nil, err
	}
	var cs []clusterContainer
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		cs = append(cs, clusterContainer{name: f[0], node: f[1], owner: f[2], state: f[3]})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	return cs, nil
}

// checkOwner refuses to touch running nodes another state directory
// created. Nodes from before owners were recorded (no label), stopped
// nodes, and nodes whose owner directory is gone are fair game.
func checkOwner(ctx context.Context, d docker, opts Options) error {
	cs, err := listContainers(ctx, d, opts.Name)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.owner == "" || c.owner == opts.Dir || c.state != "running" {
			continue
		}
		if _, err := os.Stat(filepath.Join(c.owner, KeyFileName)); err != nil {
			continue // the owner's key is gone: nobody can use these nodes
		}
		return fmt.Errorf("%w: cluster %q is running and belongs to %s (its nodes file is %s). "+
			"Use that nodes file; or run `jplan cluster nodes-file --dir %s` for a nodes file of these nodes here; "+
			"or choose another cluster with --name; or pass --recreate to take the nodes over (the nodes file in %s then stops working)",
			ErrOwned, opts.Name, c.owner, filepath.Join(c.owner, NodesFileName), opts.Dir, c.owner)
	}
	return nil
}

// NodesFile writes a nodes file, known_hosts and ssh_config into opts.Dir
// for the cluster's running nodes, whichever state directory created them:
// the host keys are read afresh from the nodes (through docker exec, so
// they are trusted without trust-on-first-use), and the key is the owner's.
// It is the remedy for a stale nodes file. opts.Nodes is ignored: every
// running node is included.
func NodesFile(ctx context.Context, opts Options) (*Info, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if driverOf(opts) == DriverQEMU {
		return nil, errors.New("cluster nodes-file: VM clusters keep their nodes file in the state directory that started them; run `jplan cluster up --driver qemu` there")
	}
	if err := Ping(ctx, opts.Docker); err != nil {
		return nil, err
	}
	d := docker{bin: opts.Docker}
	cs, err := listContainers(ctx, d, opts.Name)
	if err != nil {
		return nil, err
	}
	var running []clusterContainer
	for _, c := range cs {
		if c.state == "running" {
			running = append(running, c)
		}
	}
	if len(running) == 0 {
		return nil, fmt.Errorf("cluster %q has no running nodes; start them with `jplan cluster up`", opts.Name)
	}
	owner := running[0].owner
	if owner == "" {
		owner = opts.Dir
	}
	for _, c := range running[1:] {
		if c.owner != running[0].owner {
			return nil, fmt.Errorf("cluster %q: nodes %s and %s were created from different state directories (%q, %q); recreate it with `jplan cluster up --recreate`",
				opts.Name, running[0].node, c.node, running[0].owner, c.owner)
		}
	}
	keyFile := filepath.Join(owner, KeyFileName)
	if _, err := os.Stat(keyFile); err != nil {
		return nil, fmt.Errorf("cluster %q: the key of its nodes (%s) is gone; recreate the cluster with `jplan cluster up --recreate`", opts.Name, keyFile)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	info := &Info{Name: opts.Name, Driver: DriverDocker, Network: networkName(opts.Name), Dir: opts.Dir,
		NodesFile:      filepath.Join(opts.Dir, NodesFileName),
		KeyFile:        keyFile,
		KnownHostsFile: filepath.Join(opts.Dir, KnownHostsFileName),
		SSHConfigFile:  filepath.Join(opts.Dir, SSHConfigFileName),
	}
	if st, err := readInfo(owner); err == nil {
		info.Subnet, info.Gateway, info.Image = st.Subnet, st.Gateway, st.Image
		info.Granted, info.Refused, info.Features = st.Granted, st.Refused, st.Features
	}
	for _, c := range running {
		ip, err := d.run(ctx, "container", "inspect", "--format",
			`{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}`, c.name)
		if err != nil {
			return nil, err
		}
		addrs := strings.Fields(ip)
		if len(addrs) == 0 {
			return nil, fmt.Errorf("node %s (%s) has no network address", c.node, c.name)
		}
		info.Nodes = append(info.Nodes, Node{Name: c.node, Container: c.name, IP: addrs[0]})
	}
	names := make([]string, len(info.Nodes))
	byName := map[string]Node{}
	for i, n := range info.Nodes {
		names[i], byName[n.Name] = n.Name, n
	}
	sortNodes(names)
	for i, n := range names {
		info.Nodes[i] = byName[n]
	}
	if err := writeKnownHosts(ctx, d, info); err != nil {
		return nil, err
	}
	if err := writeNodesFile(info); err != nil {
		return nil, err
	}
	if err := writeSSHConfig(info); err != nil {
		return nil, err
	}
	if err := waitSSH(ctx, info, 30*time.Second); err != nil {
		return nil, err
	}
	return info, nil
}

package cluster_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/cluster"
	"github.com/jplan/jplan/cluster/clustertest"
	"github.com/jplan/jplan/control"
)

var env = clustertest.New("jplan-cltest", "10.213.59.0/24", 3)

func TestMain(m *testing.M) { os.Exit(env.Main(m)) }

func TestNodeIP(t *testing.T) {
	ip, err := cluster.NodeIP("10.213.57.0/24", 3)
	if err != nil || ip != "10.213.57.13" {
		t.Fatalf("%s %v", ip, err)
	}
	if _, err := cluster.NodeIP("10.0.0.0/28", 5); err == nil {
		t.Fatal("a /28 cannot hold node 5 at .15 plus broadcast")
	}
	if _, err := cluster.NodeIP("nonsense", 1); err == nil {
		t.Fatal("bad subnet accepted")
	}
}

func TestImageTagIsStable(t *testing.T) {
	tag := cluster.ImageTag()
	if !strings.HasPrefix(tag, cluster.ImageRepo+":r") || len(tag) != len(cluster.ImageRepo)+2+12 {
		t.Fatalf("tag %q", tag)
	}
	// The script, run directly, must agree with the Go package.
	out, err := exec.Command("bash", "image/build-image.sh", "--print-tag").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != tag {
		t.Fatalf("script says %s, package says %s", got, tag)
	}
	out, err = exec.Command("bash", "../scripts/cluster/build-image.sh", "--print-tag").Output()
	if err != nil || strings.TrimSpace(string(out)) != tag {
		t.Fatalf("scripts/cluster/build-image.sh says %q (%v), want %s", out, err, tag)
	}
}

// Up wrote a nodes file that opens SSH remotes to every node, each with the
// expected hostname, all on an internal network.
func TestUpWritesWorkingNodesFile(t *testing.T) {
	info := env.Need(t)
	nf, err := control.ReadNodesFile(info.NodesFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(nf.Nodes) != 3 {
		t.Fatalf("%d nodes", len(nf.Nodes))
	}
	for i, n := range nf.Nodes {
		if n.Name != info.Nodes[i].Name || n.Host != info.Nodes[i].IP || n.Port != 22 || n.User != "root" ||
			n.KeyFile != info.KeyFile || n.KnownHostsFile != info.KnownHostsFile {
			t.Errorf("node %d: %+v", i, n)
		}
	}
	rs, err := nf.OpenAll(control.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer control.CloseAll(rs)
	names, err := control.OnNodesMap(context.Background(), rs, func(ctx context.Context, r control.Remote) (string, error) {
		// Every node resolves every other by name.
		res, err := r.Exec(ctx, control.Command{Script: "hostname; for h in n1 n2 n3; do getent hosts $h | head -n1; done | wc -l"})
		return strings.Join(strings.Fields(res.Stdout), " "), err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range info.Nodes {
		if names[n.Name] != n.Name+" 3" {
			t.Errorf("%s: %q", n.Name, names[n.Name])
		}
	}
	out, err := exec.Command("docker", "network", "inspect", "--format", "{{.Internal}}", info.Network).Output()
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		t.Fatalf("network %s internal: %q %v", info.Network, out, err)
	}
	if len(info.Refused) > 0 {
		t.Logf("engine refused: %v", info.Refused)
	}
	t.Logf("node kernel features: %v", info.Features)
	if !info.Features["iptables"] {
		t.Error("iptables does not work on the nodes")
	}
}

func TestStatus(t *testing.T) {
	env.Need(t)
	sts, err := cluster.Status(context.Background(), env.Options())
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 3 {
		t.Fatalf("%+v", sts)
	}
	for i, st := range sts {
		if st.Name != "n"+string(rune('1'+i)) || st.State != "running" || !st.SSH {
			t.Errorf("%+v", st)
		}
	}
}

// Partitions are iptables rules on the nodes; prove they cut traffic
// between nodes and that removing them heals it.
func TestIptablesPartition(t *testing.T) {
	info := env.Need(t)
	nf, _ := control.ReadNodesFile(info.NodesFile)
	rs, err := nf.OpenAll(control.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer control.CloseAll(rs)
	ctx := context.Background()
	n1, n2, n3 := rs[0], rs[1], rs[2]
	reach := func(from control.Remote, to string) bool {
		_, err := from.Exec(ctx, control.Command{Argv: []string{"nc", "-z", "-w", "1", to, "22"}})
		return err == nil
	}
	run := func(r control.Remote, argv ...string) {
		t.Helper()
		if _, err := r.Exec(ctx, control.Command{Argv: argv}); err != nil {
			t.Fatal(err)
		}
	}
	if !reach(n1, "n2") || !reach(n3, "n2") {
		t.Fatal("nodes cannot reach each other before the partition")
	}
	// n2 drops everything from n1.
	run(n2, "iptables", "-A", "INPUT", "-s", info.Nodes[0].IP, "-j", "DROP")
	defer n2.Exec(ctx, control.Command{Argv: []string{"iptables", "-F", "INPUT"}})
	if reach(n1, "n2") {
		t.Fatal("n1 still reaches n2 through the partition")
	}
	if !reach(n3, "n2") {
		t.Fatal("n3 lost n2, but only n1 was cut off")
	}
	// ICMP is cut too, not only TCP.
	if _, err := n1.Exec(ctx, control.Command{Argv: []string{"ping", "-c", "1", "-W", "1", "n2"}}); err == nil {
		t.Fatal("ping crosses the partition")
	}
	// The control machine still reaches n2: partitions must not cut jplan
	// off from the node it is healing.
	if _, err := n2.Exec(ctx, control.Command{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	run(n2, "iptables", "-D", "INPUT", "-s", info.Nodes[0].IP, "-j", "DROP")
	if !reach(n1, "n2") {
		t.Fatal("partition did not heal")
	}
}

// The containers hold the privileges fault injection needs.
func TestNodePrivileges(t *testing.T) {
	info := env.Need(t)
	nf, _ := control.ReadNodesFile(info.NodesFile)
	r, err := nf.Nodes[0].Open(control.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	checks := map[string]string{
		"/dev/fuse": "test -c /dev/fuse",
		"NET_ADMIN": "iptables -w -L INPUT -n >/dev/null",
		// Check the capability rather than set the clock: the container
		// shares the host's clock, and date -s would move it.
		"SYS_TIME": `cap=$(awk '/^CapEff/ {print $2}' /proc/self/status) && [ $(( (0x$cap >> 25) & 1 )) = 1 ]`,
	}
	for priv, script := range checks {
		refused := false
		for _, r := range info.Refused {
			refused = refused || r == priv
		}
		_, err := r.Exec(ctx, control.Command{Script: script})
		switch {
		case refused && err == nil:
			t.Errorf("%s reported refused but works", priv)
		case !refused && err != nil:
			t.Errorf("%s granted but: %v", priv, err)
		}
	}
}

func TestDownRemovesEverything(t *testing.T) {
	env.Need(t) // Docker is needed; a separate one-node cluster is used
	opts := cluster.Options{Name: "jplan-downtest", Nodes: 1, Subnet: "10.213.60.0/24", Dir: t.TempDir(), Recreate: true}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	info, err := cluster.Up(ctx, opts)
	if err != nil {
		cluster.Down(ctx, opts)
		t.Fatal(err)
	}
	if err := cluster.Down(ctx, opts); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("docker", "ps", "-a", "--filter", "label=org.jplan.cluster=jplan-downtest", "--format", "{{.Names}}").Output()
	if strings.TrimSpace(string(out)) != "" {
		t.Fatalf("containers left: %s", out)
	}
	if err := exec.Command("docker", "network", "inspect", info.Network).Run(); err == nil {
		t.Fatal("network left behind")
	}
	if _, err := os.Stat(info.NodesFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("nodes file left behind")
	}
	sts, err := cluster.Status(ctx, opts)
	if err != nil || len(sts) != 0 {
		t.Fatalf("status after down: %+v %v", sts, err)
	}
}

// An engine that refuses a privilege: Up reports it and carries on. The
// refusal is simulated by a docker wrapper that rejects --device /dev/fuse
// with the engine's own wording.
func TestUpContinuesWhenEngineRefusesPrivilege(t *testing.T) {
	env.Need(t)
	dir := t.TempDir()
	real, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal(err)
	}
	fake := dir + "/docker"
	script := `#!/bin/sh
for a; do
	if [ "$a" = /dev/fuse ]; then
		echo 'docker: Error response from daemon: error gathering device information while adding custom device "/dev/fuse": no such file or directory.' >&2
		exit 125
	fi
done
exec ` + real + ` "$@"
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	opts := cluster.Options{Name: "jplan-refusetest", Nodes: 2, Subnet: "10.213.61.0/24", Dir: dir + "/state",
		Docker: fake, Recreate: true, Log: &log}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	defer cluster.Down(context.Background(), opts)
	info, err := cluster.Up(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(info.Refused, ",") != "/dev/fuse" {
		t.Fatalf("refused %v, want [/dev/fuse]", info.Refused)
	}
	if !strings.Contains(log.String(), "refused /dev/fuse") || !strings.Contains(log.String(), "FUSE") {
		t.Errorf("log does not explain the refusal:\n%s", log.String())
	}
	if info.Features["fuse"] || !info.Features["iptables"] {
		t.Errorf("features %v", info.Features)
	}
	if len(info.Nodes) != 2 {
		t.Fatalf("%d nodes", len(info.Nodes))
	}
}

// TestClusterOwnership: a second state directory cannot take over running
// nodes by accident (Up refuses, naming the owner), nodes-file gives it a
// working nodes file for them, and the owner's nodes file keeps working.
func TestClusterOwnership(t *testing.T) {
	info := env.Need(t)
	ctx := context.Background()
	other := env.Options()
	other.Dir = t.TempDir()
	other.Recreate = false // the shared test cluster's options recreate
	_, err := cluster.Up(ctx, other)
	if !errors.Is(err, cluster.ErrOwned) {
		t.Fatalf("up from another directory: %v, want ErrOwned", err)
	}
	for _, want := range []string{info.Dir, "jplan cluster nodes-file", "--recreate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	got, err := cluster.NodesFile(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if got.NodesFile != filepath.Join(other.Dir, cluster.NodesFileName) || got.KeyFile != info.KeyFile || len(got.Nodes) != len(info.Nodes) {
		t.Fatalf("nodes-file wrote %+v", got)
	}
	for _, path := range []string{got.NodesFile, info.NodesFile} {
		nf, err := control.ReadNodesFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := nf.OpenAll(control.OpenOptions{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		names, err := control.OnNodesMap(ctx, rs, func(ctx context.Context, r control.Remote) (string, error) {
			res, err := r.Exec(ctx, control.Command{Script: "hostname"})
			return strings.TrimSpace(res.Stdout), err
		})
		control.CloseAll(rs)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, n := range info.Nodes {
			if names[n.Name] != n.Name {
				t.Errorf("%s: node %s answers %q", path, n.Name, names[n.Name])
			}
		}
	}
}

package lifecycle_test

// Integration tests on a real 3-node cluster (Docker containers running
// sshd; see cluster/). Skipped without Docker unless JPLAN_REQUIRE_DOCKER=1.

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/cluster"
	"github.com/jplan/jplan/cluster/clustertest"
	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lifecycle"
)

var env = clustertest.New("jplan-lc", "10.231.51.0/24", 3)

func TestMain(m *testing.M) { os.Exit(env.Main(m)) }

type testCluster struct {
	info    *cluster.Info
	remotes []control.Remote
	byName  map[string]control.Remote
	nodes   []eval.Node
}

func setup(t *testing.T) *testCluster {
	t.Helper()
	info := env.Need(t)
	nf, err := control.ReadNodesFile(info.NodesFile)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := nf.OpenAll(control.OpenOptions{ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { control.CloseAll(rs) })
	c := &testCluster{info: info, remotes: rs, byName: map[string]control.Remote{}}
	for _, r := range rs {
		c.byName[r.Node()] = r
	}
	for i, n := range info.Nodes {
		c.nodes = append(c.nodes, eval.Node{Name: n.Name, Host: n.IP, Index: i})
	}
	return c
}

// sh runs script on node and returns its trimmed stdout, failing the test
// on error.
func (c *testCluster) sh(t *testing.T, node, script string) string {
	t.Helper()
	res, err := c.byName[node].Exec(context.Background(), control.Command{Script: script, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("%s: %v", node, err)
	}
	return strings.TrimSpace(res.Stdout)
}

func TestOSSetupPackagesHostsCommands(t *testing.T) {
	c := setup(t)
	ctx := context.Background()
	// A stand-in apt-get earlier in PATH records any call: the cluster's
	// network is internal, and installed packages must not reach apt.
	for _, n := range c.nodes {
		c.sh(t, n.Name, `printf '#!/bin/sh\necho "$@" >>/tmp/apt-called\necho "E: no network here" >&2\nexit 100\n' >/usr/local/sbin/apt-get
chmod +x /usr/local/sbin/apt-get; rm -f /tmp/apt-called /tmp/os-setup-ran /tmp/os-teardown-ran`)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.sh(t, n.Name, "rm -f /usr/local/sbin/apt-get /tmp/apt-called")
		}
	})
	cfg := eval.OSConfig{Packages: []string{"iptables", "procps", "python3"}, Hosts: true,
		Setup: []string{"echo ran >>/tmp/os-setup-ran"}, Teardown: []string{"touch /tmp/os-teardown-ran"}}
	cfgs := map[string]eval.OSConfig{}
	for _, n := range c.nodes {
		cfgs[n.Name] = cfg
	}
	for i := 0; i < 2; i++ {
		if err := lifecycle.OSSetup(ctx, c.remotes, c.nodes, cfgs, lifecycle.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.nodes {
		if out := c.sh(t, n.Name, "cat /tmp/apt-called 2>/dev/null; true"); out != "" {
			t.Errorf("%s: apt-get was called for installed packages: %s", n.Name, out)
		}
		if got := c.sh(t, n.Name, "wc -l </tmp/os-setup-ran"); got != "2" {
			t.Errorf("%s: setup ran %s times, want 2", n.Name, got)
		}
		hosts := c.sh(t, n.Name, "cat /etc/hosts")
		if strings.Count(hosts, "# BEGIN jplan") != 1 {
			t.Fatalf("%s: want one jplan block after two runs:\n%s", n.Name, hosts)
		}
		for _, m := range c.nodes {
			if !strings.Contains(hosts, m.Host+" "+m.Name+"\n") {
				t.Errorf("%s: /etc/hosts lacks %s %s:\n%s", n.Name, m.Host, m.Name, hosts)
			}
		}
		// The names resolve on the node, through the file we wrote.
		if got := c.sh(t, n.Name, "getent hosts n3 | awk '{print $1}' | head -n1"); got != c.nodes[2].Host {
			t.Errorf("%s: n3 resolves to %q", n.Name, got)
		}
	}

	// A missing package does reach apt, and the error names node and step.
	cfgs["n2"] = eval.OSConfig{Packages: []string{"procps", "jplan-no-such-package"}}
	err := lifecycle.OSSetup(ctx, c.remotes, c.nodes, cfgs, lifecycle.Options{})
	var se *lifecycle.StepError
	if !errors.As(err, &se) || se.Node != "n2" {
		t.Fatalf("want a StepError for n2, got %v", err)
	}
	for _, want := range []string{"n2: os: packages: apt-get install", "exit 100", "E: no network here"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if got := c.sh(t, "n2", "cat /tmp/apt-called"); !strings.Contains(got, "install") || !strings.Contains(got, "jplan-no-such-package") || strings.Contains(got, "procps") {
		t.Errorf("apt-get called with %q; want only the missing package", got)
	}
	var ne *control.NodesError
	if !errors.As(err, &ne) || len(ne.Failures) != 1 {
		t.Errorf("want exactly n2 to fail: %v", err)
	}

	if err := lifecycle.OSTeardown(ctx, c.remotes, cfgs, lifecycle.Options{}); err != nil {
		t.Fatal(err)
	}
	if hosts := c.sh(t, "n1", "cat /etc/hosts"); strings.Contains(hosts, "jplan") || !strings.Contains(hosts, "localhost") {
		t.Errorf("teardown left /etc/hosts as:\n%s", hosts)
	}
	c.sh(t, "n1", "test -e /tmp/os-teardown-ran")
}

// webTarball makes a .tar.gz with one top-level directory, as releases do.
func webTarball(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "web-1.0.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{"web-1.0/index.html": "hello from the archive\n", "web-1.0/sub/x.txt": "x\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Now()})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	f.Close()
	return p
}

func webDB(node eval.Node, archive string) eval.DBConfig {
	return eval.DBConfig{
		Name:       "web",
		Packages:   []string{"python3", "curl"},
		Archive:    filepath.Base(archive),
		ArchiveDir: "/opt/jplan/web",
		Strip:      1,
		Install:    []string{"mkdir -p /var/lib/jplan-web"},
		Files: []eval.FileConfig{
			{Path: "/etc/jplan-web/conf/node.txt", Content: "I am " + node.Name + "\n", Mode: "0640", Owner: "nobody:nogroup"},
		},
		Daemons: []eval.DaemonConfig{{
			Name: "http", Command: "python3", Args: []string{"-m", "http.server", "8080", "--directory", "/opt/jplan/web"},
			User: "nobody", Env: map[string]string{"PYTHONUNBUFFERED": "1"},
			Pidfile: "/var/run/jplan-web-http.pid", Logfile: "/var/log/jplan-web-http.log",
			ReadyPort: 8080, ReadyTimeout: 20 * time.Second, ReadyInterval: 100 * time.Millisecond,
		}},
		Setup:        []string{"curl -fsS http://127.0.0.1:8080/index.html >/var/lib/jplan-web/setup.out"},
		PrimarySetup: []string{"touch /var/lib/jplan-web/primary"},
		Teardown:     []string{"rm -rf /opt/jplan/web /var/lib/jplan-web /etc/jplan-web"},
		LogFiles:     []string{"/var/lib/jplan-web/setup.out", "/var/log/jplan-does-not-exist.log"},
		SetupRetries: 0,
	}
}

func TestDBCycleDaemonFilesLogsTeardown(t *testing.T) {
	c := setup(t)
	ctx := context.Background()
	archive := webTarball(t)
	dbs := lifecycle.DBs{}
	for _, n := range c.nodes {
		dbs[n.Name] = []eval.DBConfig{webDB(n, archive)}
	}
	opts := lifecycle.Options{BaseDir: filepath.Dir(archive), StopGrace: 2 * time.Second, Logf: t.Logf}
	t.Cleanup(func() { lifecycle.DBTeardown(context.Background(), c.remotes, dbs, opts) })

	start := time.Now()
	if err := lifecycle.DBCycle(ctx, c.remotes, c.nodes, dbs, opts); err != nil {
		t.Fatal(err)
	}
	t.Logf("db cycle on 3 nodes: %s", time.Since(start).Round(time.Millisecond))

	d := dbs["n1"][0].Daemons[0]
	for _, n := range c.nodes {
		st, err := lifecycle.DaemonStatus(ctx, c.byName[n.Name], d)
		if err != nil || !st.Running {
			t.Fatalf("%s: daemon not running: %+v %v", n.Name, st, err)
		}
		// The pidfile names the daemon itself, running as the configured user.
		if got := c.sh(t, n.Name, fmt.Sprintf("ps -o user=,comm= -p %d", st.PID)); got != "nobody   python3" && strings.Join(strings.Fields(got), " ") != "nobody python3" {
			t.Errorf("%s: pid %d is %q", n.Name, st.PID, got)
		}
		if got := c.sh(t, n.Name, "stat -c '%a %U %G' /etc/jplan-web/conf/node.txt; cat /etc/jplan-web/conf/node.txt"); got != "640 nobody nogroup\nI am "+n.Name {
			t.Errorf("%s: file: %q", n.Name, got)
		}
		// Archive unpacked with the top directory stripped; setup ran after
		// the daemon was ready.
		if got := c.sh(t, n.Name, "cat /opt/jplan/web/sub/x.txt /var/lib/jplan-web/setup.out"); got != "x\nhello from the archive" {
			t.Errorf("%s: archive/setup: %q", n.Name, got)
		}
		primary := c.sh(t, n.Name, "test -e /var/lib/jplan-web/primary && echo yes || echo no")
		if want := map[bool]string{true: "yes", false: "no"}[n.Name == "n1"]; primary != want {
			t.Errorf("%s: primary marker %s, want %s", n.Name, primary, want)
		}
	}
	// The daemons serve other nodes, over the real network.
	if got := c.sh(t, "n2", "curl -fsS http://"+c.nodes[0].Host+":8080/index.html"); got != "hello from the archive" {
		t.Errorf("n2 → n1: %q", got)
	}
	// Starting a second copy is refused.
	if _, err := lifecycle.StartDaemon(ctx, c.byName["n1"], d); !errors.Is(err, lifecycle.ErrAlreadyRunning) {
		t.Errorf("second start: %v", err)
	}

	// An archive given as a URL is fetched on the node (from n1's server).
	if err := control.UploadFile(ctx, c.byName["n1"], archive, "/opt/jplan/web/web.tar.gz"); err != nil {
		t.Fatal(err)
	}
	fetched := []eval.DBConfig{{Name: "fetched", Archive: "http://" + c.nodes[0].Host + ":8080/web.tar.gz",
		ArchiveDir: "/opt/jplan/fetched", Strip: 1, Teardown: []string{"rm -rf /opt/jplan/fetched /var/cache/jplan/archives"}}}
	if err := lifecycle.SetupNode(ctx, c.byName["n2"], fetched, opts); err != nil {
		t.Fatal(err)
	}
	if got := c.sh(t, "n2", "cat /opt/jplan/fetched/index.html; ls /var/cache/jplan/archives"); !strings.HasPrefix(got, "hello from the archive\n") || !strings.Contains(got, "-web.tar.gz\n") && !strings.HasSuffix(got, "-web.tar.gz") {
		t.Errorf("fetched archive: %q", got)
	}
	if err := lifecycle.TeardownNode(ctx, c.byName["n2"], fetched, opts); err != nil {
		t.Fatal(err)
	}
	bad := []eval.DBConfig{{Name: "fetched", Archive: "http://" + c.nodes[0].Host + ":8080/nope.tar.gz"}}
	if err := lifecycle.SetupNode(ctx, c.byName["n2"], bad, opts); err == nil || !strings.Contains(err.Error(), "n2: db fetched: install: archive http://") || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing archive: %v", err)
	}

	dir := t.TempDir()
	files, err := lifecycle.DownloadLogs(ctx, c.remotes, dbs, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	var missing int
	for _, f := range files {
		if f.Err != nil {
			if f.Remote != "/var/log/jplan-does-not-exist.log" {
				t.Errorf("%s:%s: %v", f.Node, f.Remote, f.Err)
			}
			missing++
		}
	}
	if missing != 3 || len(files) != 9 {
		t.Errorf("want 9 entries, 3 missing; got %d, %d missing: %+v", len(files), missing, files)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "n3", "var/lib/jplan-web/setup.out")); string(b) != "hello from the archive\n" {
		t.Errorf("downloaded setup.out: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "n2", "var/log/jplan-web-http.log")); !strings.Contains(string(b), "jplan: starting python3") || !strings.Contains(string(b), "GET /index.html") {
		t.Errorf("daemon log: %q", b)
	}

	pids := map[string]int{}
	for _, n := range c.nodes {
		pids[n.Name], _, _ = lifecycle.DaemonRunning(ctx, c.byName[n.Name], d)
	}
	if err := lifecycle.DBTeardown(ctx, c.remotes, dbs, opts); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		if got := c.sh(t, n.Name, fmt.Sprintf("test -d /proc/%d && echo alive; test -e %s && echo pidfile; test -e /opt/jplan/web && echo data; true", pids[n.Name], d.Pidfile)); got != "" {
			t.Errorf("%s after teardown: %s", n.Name, got)
		}
	}
	// Teardown again is fine, and logs can still be collected (all missing
	// now but the daemon log).
	if err := lifecycle.DBTeardown(ctx, c.remotes, dbs, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := lifecycle.DownloadLogs(ctx, c.remotes, dbs, t.TempDir(), 0); err != nil {
		t.Fatal(err)
	}
}

func TestDBSetupFailures(t *testing.T) {
	c := setup(t)
	ctx := context.Background()
	opts := lifecycle.Options{StopGrace: time.Second}

	t.Run("not ready: error names node and daemon, carries log tail, retried", func(t *testing.T) {
		dbs := lifecycle.DBs{}
		for _, n := range c.nodes {
			dbs[n.Name] = []eval.DBConfig{{Name: "broken", SetupRetries: 1, Daemons: []eval.DaemonConfig{{
				Name: "bad", Command: "sh", Args: []string{"-c", "echo 'config error: no quorum in sight'; sleep 301; true"},
				Pidfile: "/var/run/jplan-broken.pid", Logfile: "/var/log/jplan-broken.log",
				ReadyPort: 9999, ReadyTimeout: time.Second, ReadyInterval: 100 * time.Millisecond,
			}}}}
		}
		for _, n := range c.nodes {
			c.sh(t, n.Name, "rm -f /var/log/jplan-broken.log")
		}
		t.Cleanup(func() { lifecycle.DBTeardown(context.Background(), c.remotes, dbs, opts) })
		err := lifecycle.DBSetup(ctx, c.remotes, c.nodes, dbs, opts)
		if err == nil {
			t.Fatal("setup succeeded")
		}
		for _, want := range []string{"n1: db broken: daemon bad: not ready after 1s (waiting for tcp port 9999)", "config error: no quorum in sight", "/var/log/jplan-broken.log"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if !errors.Is(err, lifecycle.ErrNotReady) {
			t.Error("not ErrNotReady")
		}
		// Two attempts, with a teardown between: two starts in the log, and
		// only one process alive (the second attempt's).
		if got := c.sh(t, "n3", "grep -c 'jplan: starting' /var/log/jplan-broken.log"); got != "2" {
			t.Errorf("starts: %s, want 2", got)
		}
		if got := c.sh(t, "n3", "pgrep -fc 'no quorum[ ]in sight' || true"); got != "1" {
			t.Errorf("processes: %s, want 1", got)
		}
		if err := lifecycle.DBTeardown(ctx, c.remotes, dbs, opts); err != nil {
			t.Fatal(err)
		}
		// The daemon's child (sleep) went with it: teardown kills the group.
		if got := c.sh(t, "n3", "pgrep -fc 'no quorum[ ]in sight|sleep 30[1]' || true"); got != "0" {
			t.Errorf("processes after teardown: %s", got)
		}
	})

	t.Run("install fails on one node: named; others torn down on request", func(t *testing.T) {
		dbs := lifecycle.DBs{}
		for _, n := range c.nodes {
			cfg := eval.DBConfig{Name: "web", Daemons: []eval.DaemonConfig{{
				Name: "sleeper", Command: "sleep", Args: []string{"600"},
				Pidfile: "/var/run/jplan-sleeper.pid", Logfile: "/var/log/jplan-sleeper.log",
			}}}
			if n.Name == "n2" {
				cfg.Install = []string{"true", "echo unpacking; echo 'E: disk on fire' >&2; exit 3"}
			}
			dbs[n.Name] = []eval.DBConfig{cfg}
		}
		err := lifecycle.DBSetup(ctx, c.remotes, c.nodes, dbs, opts)
		want := "n2: db web: install command 2: echo unpacking; echo 'E: disk on fire' >&2; exit 3: exit 3: E: disk on fire"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v\nwant %s", err, want)
		}
		var ne *control.NodesError
		if !errors.As(err, &ne) || strings.Join(ne.Failed(), ",") != "n2" {
			t.Fatalf("want only n2 failed: %v", err)
		}
		d := dbs["n1"][0].Daemons[0]
		if _, running, _ := lifecycle.DaemonRunning(ctx, c.byName["n1"], d); !running {
			t.Fatal("n1's daemon should be up before teardown")
		}
		if err := lifecycle.DBTeardown(ctx, c.remotes, dbs, opts); err != nil {
			t.Fatal(err)
		}
		for _, n := range c.nodes {
			if _, running, _ := lifecycle.DaemonRunning(ctx, c.byName[n.Name], d); running {
				t.Errorf("%s: still running after teardown", n.Name)
			}
		}
	})
}

package nemesis

// Integration tests on a real 3-node cluster: iptables partitions, kills
// and pauses of a real daemon, checked from the nodes themselves. Skipped
// without Docker unless JPLAN_REQUIRE_DOCKER=1.

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jplan/jplan/cluster/clustertest"
	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lifecycle"
)

var env = clustertest.New("jplan-nem", "10.231.52.0/24", 3)

func TestMain(m *testing.M) { os.Exit(clustertest.MainAll(m, env, vmEnv)) }

const webPort = 7000

type testCluster struct {
	env     *clustertest.Env
	remotes []control.Remote
	byName  map[string]control.Remote
	nodes   []eval.Node
	host    map[string]string
	dbs     lifecycle.DBs
}

// setup opens the cluster and starts a small HTTP daemon on every node
// through lifecycle, torn down when the test ends.
func setup(t *testing.T) *testCluster {
	t.Helper()
	return setupOn(t, env)
}

func setupOn(t *testing.T, env *clustertest.Env) *testCluster {
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
	c := &testCluster{env: env, remotes: rs, byName: map[string]control.Remote{}, host: map[string]string{}, dbs: lifecycle.DBs{}}
	for _, r := range rs {
		c.byName[r.Node()] = r
	}
	for i, n := range info.Nodes {
		c.nodes = append(c.nodes, eval.Node{Name: n.Name, Host: n.IP, Index: i})
		c.host[n.Name] = n.IP
		c.dbs[n.Name] = []eval.DBConfig{{Name: "web", Daemons: []eval.DaemonConfig{{
			Name: "http", Command: "python3", Args: []string{"-m", "http.server", strconv.Itoa(webPort), "--directory", "/tmp"},
			Pidfile: "/var/run/jplan-nem-http.pid", Logfile: "/var/log/jplan-nem-http.log",
			ReadyPort: webPort, ReadyTimeout: 20 * time.Second, ReadyInterval: 100 * time.Millisecond,
		}}}}
	}
	opts := lifecycle.Options{StopGrace: time.Second}
	if err := lifecycle.DBCycle(context.Background(), rs, c.nodes, c.dbs, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lifecycle.DBTeardown(context.Background(), rs, c.dbs, opts)
		control.CloseAll(rs)
	})
	return c
}

func (c *testCluster) nemesis(t *testing.T, faults ...eval.FaultConfig) *Nemesis {
	t.Helper()
	n, err := New(c.remotes, c.nodes, faults, DaemonsOf(c.dbs), Options{Seed: 1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Teardown(context.Background()); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	return n
}

func (c *testCluster) sh(t *testing.T, node, script string) string {
	t.Helper()
	res, err := c.byName[node].Exec(context.Background(), control.Command{Script: script, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("%s: %v", node, err)
	}
	return strings.TrimSpace(res.Stdout)
}

// connects reports whether from can open a TCP connection to to's daemon:
// a handshake needs packets both ways, so a drop in either direction fails
// it.
func (c *testCluster) connects(t *testing.T, from, to string) bool {
	t.Helper()
	out := c.sh(t, from, fmt.Sprintf("timeout 1 bash -c 'exec 3<>/dev/tcp/%s/%d' 2>/dev/null && echo yes || echo no", c.host[to], webPort))
	return out == "yes"
}

// matrix is the set of "a>b" pairs that connect. The probes run in
// parallel: each blocked pair costs its whole timeout.
func (c *testCluster) matrix(t *testing.T) map[string]bool {
	t.Helper()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		m    = map[string]bool{}
		errs []error
	)
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a.Name == b.Name {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := c.byName[a.Name].Exec(context.Background(), control.Command{Timeout: 30 * time.Second,
					Script: fmt.Sprintf("timeout 1 bash -c 'exec 3<>/dev/tcp/%s/%d' 2>/dev/null && echo yes || echo no", c.host[b.Name], webPort)})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if strings.TrimSpace(res.Stdout) == "yes" {
					m[a.Name+">"+b.Name] = true
				}
			}()
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return m
}

func (c *testCluster) fullyConnected(t *testing.T) {
	t.Helper()
	if m := c.matrix(t); len(m) != len(c.nodes)*(len(c.nodes)-1) {
		t.Fatalf("not fully connected: only %v", keys(m))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// expected is the connectivity a grudge allows.
func expected(g map[string]any, nodes []eval.Node) map[string]bool {
	drops := func(a, b string) bool {
		l, _ := g[a].([]any)
		for _, x := range l {
			if x == b {
				return true
			}
		}
		return false
	}
	m := map[string]bool{}
	for _, a := range nodes {
		for _, b := range nodes {
			if a.Name != b.Name && !drops(a.Name, b.Name) && !drops(b.Name, a.Name) {
				m[a.Name+">"+b.Name] = true
			}
		}
	}
	return m
}

func invoke(t *testing.T, n *Nemesis, f string) history.Op {
	t.Helper()
	op, err := n.Invoke(context.Background(), history.Op{Process: history.NemesisProcess, Type: history.Invoke, F: f})
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	if op.Type != history.Info || op.Error != "" || op.F != f {
		t.Fatalf("%s: completion %+v", f, op)
	}
	return op
}

func TestPartitionBlocksTrafficAndHeals(t *testing.T) {
	c := setup(t)
	// A rule of the user's own (for an address nobody has) must survive
	// every heal.
	userRule := "-A INPUT -s 10.231.52.250/32 -j DROP"
	c.sh(t, "n1", "iptables -w "+userRule)
	t.Cleanup(func() { c.sh(t, "n1", "iptables -w -D INPUT -s 10.231.52.250/32 -j DROP || true") })

	n := c.nemesis(t,
		eval.FaultConfig{Name: "split", Type: "partition", Groups: [][]string{{"n1"}, {"n2", "n3"}}},
		eval.FaultConfig{Name: "ring", Type: "partition", Topology: "majorities-ring"},
	)
	c.fullyConnected(t)

	op := invoke(t, n, "start-split")
	want := map[string]any{"n1": []any{"n2", "n3"}, "n2": []any{"n1"}, "n3": []any{"n1"}}
	if !reflect.DeepEqual(op.Value, want) {
		t.Fatalf("grudge %v, want %v", op.Value, want)
	}
	if got := c.matrix(t); !reflect.DeepEqual(got, map[string]bool{"n2>n3": true, "n3>n2": true}) {
		t.Fatalf("during split: %v", keys(got))
	}
	if rules := c.sh(t, "n2", "iptables -w -S JPLAN-split"); !strings.Contains(rules, "-s "+c.host["n1"]+"/32") || !strings.Contains(rules, "-j DROP") {
		t.Fatalf("n2's rules:\n%s", rules)
	}
	op = invoke(t, n, "stop-split")
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": "healed", "n2": "healed", "n3": "healed"}) {
		t.Fatalf("stop value %v", op.Value)
	}
	c.fullyConnected(t)

	// majorities-ring on three nodes: the real connectivity is exactly what
	// the recorded grudge allows.
	op = invoke(t, n, "start-ring")
	g := op.Value.(map[string]any)
	if got, want := c.matrix(t), expected(g, c.nodes); !reflect.DeepEqual(got, want) {
		t.Fatalf("ring %v: connectivity %v, want %v", g, keys(got), keys(want))
	}
	invoke(t, n, "stop-ring")
	c.fullyConnected(t)

	// Start without stop: Teardown heals, removes every jplan chain, and
	// leaves the user's rule alone.
	invoke(t, n, "start-split")
	if c.connects(t, "n2", "n1") {
		t.Fatal("split did not cut n2 from n1")
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.fullyConnected(t)
	for _, node := range c.nodes {
		if rules := c.sh(t, node.Name, "iptables -w -S"); strings.Contains(rules, "JPLAN") {
			t.Errorf("%s: jplan rules left:\n%s", node.Name, rules)
		}
	}
	if rules := c.sh(t, "n1", "iptables -w -S INPUT"); !strings.Contains(rules, userRule) {
		t.Errorf("user's rule gone:\n%s", rules)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
}

func (c *testCluster) status(t *testing.T, node string) lifecycle.DaemonState {
	t.Helper()
	d, _ := DaemonsOf(c.dbs)(node, "web", "http")
	st, err := lifecycle.DaemonStatus(context.Background(), c.byName[node], d)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestKillAndRestart(t *testing.T) {
	c := setup(t)
	n := c.nemesis(t, eval.FaultConfig{Name: "crash", Type: "kill", DB: "web", Daemon: "http", Signal: "KILL", Targets: eval.Targets{Nodes: []string{"n2"}}})
	before := c.status(t, "n2")
	op := invoke(t, n, "start-crash")
	if !reflect.DeepEqual(op.Value, map[string]any{"n2": "killed"}) {
		t.Fatalf("value %v", op.Value)
	}
	// Gone from the process table, not just unresponsive.
	waitUntil(t, "the process is gone", func() bool {
		return c.sh(t, "n2", fmt.Sprintf("test -d /proc/%d && echo alive || echo gone", before.PID)) == "gone"
	})
	if c.connects(t, "n1", "n2") {
		t.Fatal("n2's port still answers")
	}
	if st := c.status(t, "n1"); !st.Running {
		t.Fatal("n1's daemon was hit too")
	}

	op = invoke(t, n, "stop-crash")
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": "running", "n2": "restarted", "n3": "running"}) {
		t.Fatalf("stop value %v", op.Value)
	}
	after := c.status(t, "n2")
	if !after.Running || after.PID == before.PID {
		t.Fatalf("after restart: %+v (before %d)", after, before.PID)
	}
	if pf := c.sh(t, "n2", "cat /var/run/jplan-nem-http.pid"); pf != strconv.Itoa(after.PID) {
		t.Fatalf("pidfile %s, process %d", pf, after.PID)
	}
	waitUntil(t, "the restarted daemon answers", func() bool { return c.connects(t, "n1", "n2") })
	// A second stop finds nothing to do.
	op = invoke(t, n, "stop-crash")
	if op.Value.(map[string]any)["n2"] != "running" {
		t.Fatalf("second stop %v", op.Value)
	}
}

func TestPauseAndResume(t *testing.T) {
	c := setup(t)
	n := c.nemesis(t, eval.FaultConfig{Name: "freeze", Type: "pause", DB: "web", Daemon: "http", Targets: eval.Targets{Selection: "primaries"}})
	pid := c.status(t, "n1").PID
	op := invoke(t, n, "start-freeze")
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": "paused"}) {
		t.Fatalf("value %v", op.Value)
	}
	if stat := c.sh(t, "n1", fmt.Sprintf("ps -o stat= -p %d", pid)); !strings.HasPrefix(stat, "T") {
		t.Fatalf("stat %q, want T", stat)
	}
	// A paused server accepts connections (the kernel does that) but never
	// answers.
	if out := c.sh(t, "n2", fmt.Sprintf("curl -s -m 1 -o /dev/null -w '%%{http_code}' http://%s:%d/ || true", c.host["n1"], webPort)); out != "000" {
		t.Fatalf("paused daemon answered: %s", out)
	}
	op = invoke(t, n, "stop-freeze")
	if v := op.Value.(map[string]any); v["n1"] != "resumed" || v["n2"] != "running" {
		t.Fatalf("stop value %v", v)
	}
	if stat := c.sh(t, "n1", fmt.Sprintf("ps -o stat= -p %d", pid)); strings.HasPrefix(stat, "T") {
		t.Fatalf("stat %q after resume", stat)
	}
	if st := c.status(t, "n1"); st.PID != pid {
		t.Fatalf("resume changed the process: %d → %d", pid, st.PID)
	}
}

func TestTeardownHealsEverything(t *testing.T) {
	c := setup(t)
	n := c.nemesis(t,
		eval.FaultConfig{Name: "part", Type: "partition", Topology: "one"},
		eval.FaultConfig{Name: "crash", Type: "kill", DB: "web", Daemon: "http", Signal: "KILL", Targets: eval.Targets{Nodes: []string{"n2"}}},
		eval.FaultConfig{Name: "freeze", Type: "pause", DB: "web", Daemon: "http", Targets: eval.Targets{Nodes: []string{"n3"}}},
		eval.FaultConfig{Name: "mark", Type: "custom", Targets: eval.Targets{Nodes: []string{"n1"}},
			Start: []string{"touch /tmp/jplan-custom-fault; echo marked"}, Stop: []string{"rm -f /tmp/jplan-custom-fault"}},
	)
	killed := c.status(t, "n2").PID
	invoke(t, n, "start-part")
	invoke(t, n, "start-crash")
	invoke(t, n, "start-freeze")
	if op := invoke(t, n, "start-mark"); !reflect.DeepEqual(op.Value, map[string]any{"n1": "marked"}) {
		t.Fatalf("custom value %v", op.Value)
	}
	if len(c.matrix(t)) == 6 {
		t.Fatal("partition had no effect")
	}
	if !c.status(t, "n3").Paused() || c.status(t, "n2").Running {
		t.Fatal("faults not in place")
	}

	start := time.Now()
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("teardown healed partition, kill, pause and custom in %s", time.Since(start).Round(time.Millisecond))
	if st := c.status(t, "n3"); !st.Running || st.Paused() {
		t.Fatalf("n3 still paused: %+v", st)
	}
	if st := c.status(t, "n2"); !st.Running || st.PID == killed {
		t.Fatalf("n2 not restarted: %+v", st)
	}
	if c.sh(t, "n1", "test -e /tmp/jplan-custom-fault && echo left || echo gone") != "gone" {
		t.Fatal("custom fault not stopped")
	}
	waitUntil(t, "n2's daemon answers", func() bool { return c.connects(t, "n1", "n2") })
	c.fullyConnected(t)
	// Idempotent: nothing left to do.
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := c.status(t, "n2"); !st.Running {
		t.Fatal("second teardown broke n2")
	}
}

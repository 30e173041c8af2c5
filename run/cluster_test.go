package run_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/cluster/clustertest"
	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/run"
	"github.com/jplan/jplan/verdict"
)

// One real cluster (Docker containers running sshd) for this package's
// integration tests; they skip without Docker unless JPLAN_REQUIRE_DOCKER=1.
var env = clustertest.New("jplan-runtest", "10.231.60.0/24", 3)

func TestMain(m *testing.M) { os.Exit(clustertest.MainAll(m, env, vmEnv)) }

// runExample runs one of the examples on the cluster as a user would, with
// a shorter main phase, and fails the test if the run itself fails.
func runExample(t *testing.T, nodesFile, path, duration string) *run.Outcome {
	t.Helper()
	out, err := run.Run(context.Background(), run.Options{
		Path: path, NodesFile: nodesFile, Store: t.TempDir(),
		Inputs: eval.InputOptions{Vars: []string{"duration=" + duration}},
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

func remotes(t *testing.T, nodesFile string) map[string]control.Remote {
	t.Helper()
	nf, err := control.ReadNodesFile(nodesFile)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := nf.OpenAll(control.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { control.CloseAll(rs) })
	out := map[string]control.Remote{}
	for _, r := range rs {
		out[r.Node()] = r
	}
	return out
}

func sh(t *testing.T, r control.Remote, script string) string {
	t.Helper()
	res, _ := r.Exec(context.Background(), control.Command{Script: script, Timeout: 30 * time.Second})
	return strings.TrimSpace(string(res.Stdout))
}

// TestEtcdExampleOnCluster runs examples/etcd.hcl as a user would, with a
// shorter main phase: real etcd, partitions and crashes, judged
// linearizable, with the nodes' logs in the run directory.
func TestEtcdExampleOnCluster(t *testing.T) {
	info := env.Need(t)
	out := runExample(t, info.NodesFile, "../examples/etcd.hcl", "25s")
	if out.Result.Valid != checker.True {
		t.Fatalf("verdict %v: %+v", out.Result.Valid, out.Result.Results["linearizable"])
	}
	h, _, err := verdict.ReadHistory(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	fs := map[string]int{}
	for _, op := range h {
		if op.Type == history.OK || op.Process == history.NemesisProcess {
			fs[op.F]++
		}
	}
	for _, f := range []string{"read", "write", "cas", "start-partition", "stop-partition", "start-crash", "stop-crash"} {
		if fs[f] == 0 {
			t.Errorf("no %s in the history: %v", f, fs)
		}
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if _, err := os.Stat(filepath.Join(out.Dir, "nodes", n, "var/log/etcd.log")); err != nil {
			t.Errorf("no etcd log for %s: %v", n, err)
		}
	}
	if rep, _ := os.ReadFile(filepath.Join(out.Dir, "report.html")); !strings.Contains(string(rep), `href="nodes/n1/var/log/etcd.log"`) {
		t.Error("report.html does not link the nodes' logs")
	}
	for n, r := range remotes(t, info.NodesFile) {
		if got := sh(t, r, "pgrep -x etcd || true"); got != "" {
			t.Errorf("%s: etcd still running after teardown (pid %s)", n, got)
		}
	}
}

// TestRedisReplicasAreNotLinearizable: Redis with asynchronous replicas
// serves stale reads in a real run, and jplan reports it.
func TestRedisReplicasAreNotLinearizable(t *testing.T) {
	info := env.Need(t)
	out := runExample(t, info.NodesFile, "../examples/redis.hcl", "15s")
	if out.Result.Valid != checker.False {
		t.Fatalf("verdict %v, want false: %+v", out.Result.Valid, out.Result.Results["linearizable"])
	}
}

// webPlan runs a small web server as the database; install can be made to
// fail on one node.
func webPlan(t *testing.T, installFailsOn string, nemesis string) string {
	t.Helper()
	src := `
test "web" {
  concurrency = "1n"
  seed        = 1
}

os "debian" {
  packages = ["python3", "iptables"]
}

db "web" {
  install {
    commands = [node.name == "` + installFailsOn + `" ? "echo disk on fire >&2; exit 3" : "mkdir -p /tmp/jplan-web"]
  }
  daemon "web" {
    command = "python3"
    args    = ["-m", "http.server", "18081", "--directory", "/tmp/jplan-web"]
    ready {
      tcp_port = 18081
    }
  }
  teardown = ["rm -rf /tmp/jplan-web"]
}

client "http" {
  base_url = "http://${node.host}:18081"
  timeout  = "1s"
}

operation "read" {
  request {
    path = "/"
  }
}

fault "part" {
  type = "partition"
  topology = "halves"
}

fault "crash" {
  type    = "kill"
  daemon  = db.web.daemon.web
  targets = "all"
}

phase "main" {
  clients = stagger("50ms", operation.read)
  nemesis = ` + nemesis + `
}

checker "stats" {}
`
	p := filepath.Join(t.TempDir(), "web.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func noWebServer(t *testing.T, rs map[string]control.Remote) {
	t.Helper()
	for n, r := range rs {
		if got := sh(t, r, "pgrep -f 'http[.]server 18081' || true"); got != "" {
			t.Errorf("%s: the web server is still running (pid %s): the node was not torn down", n, got)
		}
	}
}

// TestFailingInstallStep: one node's install fails; the error names the
// node and the step, nothing runs, and every node is torn down.
func TestFailingInstallStep(t *testing.T) {
	info := env.Need(t)
	plan := webPlan(t, "n2", `[sleep("1s"), fault.part.start, sleep("1s"), fault.part.stop]`)
	out, err := run.Run(context.Background(), run.Options{Path: plan, NodesFile: info.NodesFile, Store: t.TempDir()})
	if err == nil {
		t.Fatal("run succeeded with a failing install step")
	}
	for _, want := range []string{"n2", "install", "exit 3", "disk on fire"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if out.Checked {
		t.Error("a run whose setup failed was checked")
	}
	log, _ := os.ReadFile(filepath.Join(out.Dir, "jplan.log"))
	if !strings.Contains(string(log), "n2") {
		t.Errorf("jplan.log does not name n2:\n%s", log)
	}
	noWebServer(t, remotes(t, info.NodesFile))
}

// nodesFileWith writes a copy of the cluster's nodes file with one node
// changed.
func nodesFileWith(t *testing.T, src string, change func(*control.NodesFile)) string {
	t.Helper()
	nf, err := control.ReadNodesFile(src)
	if err != nil {
		t.Fatal(err)
	}
	change(nf)
	data, _ := json.Marshal(nf)
	p := filepath.Join(t.TempDir(), "nodes.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUnreachableNode: a node nobody answers for gives an error naming it,
// and the reachable nodes are left torn down.
func TestUnreachableNode(t *testing.T) {
	info := env.Need(t)
	nodes := nodesFileWith(t, info.NodesFile, func(nf *control.NodesFile) {
		ghost := nf.Nodes[0]
		ghost.Name, ghost.Host = "n9", "10.231.60.99"
		nf.Nodes = append(nf.Nodes, ghost)
	})
	plan := webPlan(t, "", `sleep("1s")`)
	start := time.Now()
	_, err := run.Run(context.Background(), run.Options{Path: plan, NodesFile: nodes, Store: t.TempDir()})
	if err == nil {
		t.Fatal("run succeeded with an unreachable node")
	}
	if !strings.Contains(err.Error(), "n9") || !strings.Contains(err.Error(), "10.231.60.99") {
		t.Errorf("error does not name the node and its address: %v", err)
	}
	if el := time.Since(start); el > 2*time.Minute {
		t.Errorf("took %v to give up", el)
	}
	noWebServer(t, remotes(t, info.NodesFile))
}

// TestWrongPassword: a login refused for a wrong password is an error
// naming the node and the user.
func TestWrongPassword(t *testing.T) {
	info := env.Need(t)
	nodes := nodesFileWith(t, info.NodesFile, func(nf *control.NodesFile) {
		n := &nf.Nodes[1]
		n.User, n.KeyFile, n.Password = "jplan", "", "not-the-password"
	})
	t.Setenv("SSH_AUTH_SOCK", "")
	plan := webPlan(t, "", `sleep("1s")`)
	_, err := run.Run(context.Background(), run.Options{Path: plan, NodesFile: nodes, Store: t.TempDir()})
	if err == nil {
		t.Fatal("run succeeded with a wrong password")
	}
	if !strings.Contains(err.Error(), "n2") || !strings.Contains(err.Error(), "jplan@") {
		t.Errorf("error does not name the node and user: %v", err)
	}
	noWebServer(t, remotes(t, info.NodesFile))
}

// TestInterruptMidPartition cancels a run (as Ctrl-C does) while the
// network is partitioned and the daemon killed everywhere: every node must
// be healed (no jplan iptables rules, nodes reach each other) and every
// daemon running again, and the history recorded so far must be stored.
func TestInterruptMidPartition(t *testing.T) {
	info := env.Need(t)
	plan := webPlan(t, "", `[sleep("1s"), fault.part.start, fault.crash.start, sleep("300s")]`)
	ctx, cancel := context.WithCancel(context.Background())
	store := t.TempDir()
	rs := remotes(t, info.NodesFile)
	go func() {
		// Cancel (as Ctrl-C does) once the history shows the partition and
		// the crash in place.
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			h, _ := os.ReadFile(filepath.Join(store, "web", "latest", "history.jsonl"))
			if strings.Contains(string(h), `"type":"info","process":"nemesis","f":"start-crash"`) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second)
		cancel()
	}()
	out, _ := run.Run(ctx, run.Options{Path: plan, NodesFile: info.NodesFile, Store: store, LeaveDBRunning: true})
	t.Cleanup(func() {
		for _, r := range rs {
			sh(t, r, "pkill -f 'http[.]server 18081' || true")
		}
	})
	if !out.Interrupted {
		t.Error("run not marked interrupted")
	}
	h, _, err := verdict.ReadHistory(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	started := false
	for _, op := range h {
		if op.F == "start-crash" && op.Type != history.Invoke {
			started = true
		}
	}
	if !started {
		t.Fatal("the faults never started; the test proves nothing")
	}
	for n, r := range rs {
		if rules := sh(t, r, "iptables -S | grep -i jplan || true"); rules != "" {
			t.Errorf("%s: jplan's iptables rules left after interrupt:\n%s", n, rules)
		}
		if pid := sh(t, r, "pgrep -f 'http[.]server 18081' || true"); pid == "" {
			t.Errorf("%s: the killed daemon was not restarted", n)
		}
		if st := sh(t, r, "for p in $(pgrep -f 'http[.]server 18081'); do ps -o stat= -p $p; done"); strings.Contains(st, "T") {
			t.Errorf("%s: the daemon is still stopped (state %s)", n, st)
		}
		for _, peer := range []string{"n1", "n2", "n3"} {
			if peer == n {
				continue
			}
			if got := sh(t, r, "timeout 3 bash -c 'echo > /dev/tcp/"+peer+"/18081' && echo ok || echo cut"); got != "ok" {
				t.Errorf("%s cannot reach %s after the interrupt: %s", n, peer, got)
			}
		}
	}
}

// TestPostgresExampleOnCluster: PostgreSQL (fsync on) keeps every committed
// write through a kill of its server and a partition: linearizable.
func TestPostgresExampleOnCluster(t *testing.T) {
	info := env.Need(t)
	out := runExample(t, info.NodesFile, "../examples/postgres.hcl", "20s")
	if out.Result.Valid != checker.True {
		t.Fatalf("verdict %v: %+v", out.Result.Valid, out.Result.Results["linearizable"])
	}
	if out.Summary.OK < 50 {
		t.Errorf("only %d ok ops: the clients barely reached PostgreSQL", out.Summary.OK)
	}
}

// TestEtcdChaosOnCluster runs examples/etcd-chaos.hcl: a fault package of
// partitions, crashes, pauses and packet loss, overlapping at random;
// every listed fault is started and healed, and etcd stays linearizable.
func TestEtcdChaosOnCluster(t *testing.T) {
	info := env.Need(t)
	out := runExample(t, info.NodesFile, "../examples/etcd-chaos.hcl", "30s")
	if out.Result.Valid != checker.True {
		t.Fatalf("verdict %v: %+v", out.Result.Valid, out.Result.Results["linearizable"])
	}
	h, _, err := verdict.ReadHistory(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	started := map[string]bool{}
	for _, op := range h {
		if op.Process == history.NemesisProcess && op.Type != history.Invoke && strings.HasPrefix(op.F, "start-") {
			started[op.F] = true
		}
	}
	if len(started) < 2 {
		t.Errorf("the package started only %v in 30 s", started)
	}
	for n, r := range remotes(t, info.NodesFile) {
		if rules := sh(t, r, "iptables -S | grep -i jplan || true"); rules != "" {
			t.Errorf("%s: fault rules left after the run:\n%s", n, rules)
		}
	}
}

package nemesis

// Integration tests for the clock, packet and file faults on the real
// cluster of integration_test.go, observed from the nodes themselves.

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lifecycle"
)

// hostClock checks that the control machine's wall clock runs with its
// monotonic clock: if anything set the (shared) clock, they would part.
type hostClock struct{ t0 time.Time }

func watchHostClock() hostClock { return hostClock{time.Now()} }

func (h hostClock) check(t *testing.T) {
	t.Helper()
	mono := time.Since(h.t0)
	wall := time.Now().Round(0).Sub(h.t0.Round(0))
	if d := wall - mono; d > 500*time.Millisecond || d < -500*time.Millisecond {
		t.Fatalf("the control machine's clock moved by %s during the test", d)
	}
}

const tickerFile = "/tmp/jplan-nem-ticker"

// addTicker adds db "clk" with a daemon that writes the time it sees
// (through date, a dynamically linked program) every 50ms, and starts it
// on every node.
func (c *testCluster) addTicker(t *testing.T) {
	t.Helper()
	for _, node := range c.nodes {
		d := eval.DaemonConfig{Name: "ticker", Command: "sh",
			Args:    []string{"-c", "while :; do date +%s.%N >" + tickerFile + ".tmp && mv " + tickerFile + ".tmp " + tickerFile + "; sleep 0.05; done"},
			Env:     map[string]string{"TICKER": "1"},
			Pidfile: "/var/run/jplan-nem-ticker.pid", Logfile: "/var/log/jplan-nem-ticker.log"}
		c.dbs[node.Name] = append(c.dbs[node.Name], eval.DBConfig{Name: "clk", Daemons: []eval.DaemonConfig{d}})
		r := c.byName[node.Name]
		lifecycle.StopDaemon(context.Background(), r, d, time.Second)
		if _, err := lifecycle.StartDaemon(context.Background(), r, d); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lifecycle.StopDaemon(context.Background(), r, d, time.Second) })
	}
}

// tickerSkew is how far the ticker's time is ahead of the node's real
// time, and how far the node's real time is from the control machine's.
func (c *testCluster) tickerSkew(t *testing.T, node string) (skew, nodeVsControl float64) {
	t.Helper()
	before := time.Now()
	out := c.sh(t, node, "cat "+tickerFile+"; date +%s.%N")
	after := time.Now()
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("%s: ticker output %q", node, out)
	}
	seen, err1 := strconv.ParseFloat(f[0], 64)
	now, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: ticker output %q", node, out)
	}
	control := float64(before.Add(after.Sub(before)/2).UnixNano()) / 1e9
	return seen - now, now - control
}

func (c *testCluster) tickerPID(t *testing.T, node string) int {
	t.Helper()
	d, _ := DaemonsOf(c.dbs)(node, "clk", "ticker")
	st, err := lifecycle.DaemonStatus(context.Background(), c.byName[node], d)
	if err != nil || !st.Running {
		t.Fatalf("%s: ticker %+v %v", node, st, err)
	}
	return st.PID
}

// waitSkew waits until the ticker on node is about want seconds off.
func (c *testCluster) waitSkew(t *testing.T, node string, want float64) {
	t.Helper()
	var skew, nvc float64
	deadline := time.Now().Add(10 * time.Second)
	for {
		skew, nvc = c.tickerSkew(t, node)
		// The ticker writes every 50ms; its file is at most that stale.
		if skew >= want-0.5 && skew <= want+0.5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the daemon's clock is %.3fs off, want %gs", node, skew, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if math.Abs(nvc) > 1 {
		t.Fatalf("%s: the node's real clock is %.3fs from the control machine's", node, nvc)
	}
}

func TestClockFaketimeBumpStopAndHeal(t *testing.T) {
	host := watchHostClock()
	c := setup(t)
	c.addTicker(t)
	n := c.nemesis(t, eval.FaultConfig{Name: "skew", Type: "clock", Mode: "bump", Method: "faketime", Delta: time.Hour,
		DB: "clk", Daemon: "ticker", Targets: eval.Targets{Nodes: []string{"n1"}}})
	c.waitSkew(t, "n1", 0)
	pid := c.tickerPID(t, "n1")

	op := invoke(t, n, "start-skew")
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": 3600.0}) {
		t.Fatalf("start value %v", op.Value)
	}
	c.waitSkew(t, "n1", 3600)
	c.waitSkew(t, "n2", 0)
	faked := c.tickerPID(t, "n1")
	if faked == pid {
		t.Fatal("the daemon was not restarted under libfaketime")
	}
	if env := c.sh(t, "n1", fmt.Sprintf("tr '\\0' '\\n' </proc/%d/environ | grep -E '^(TICKER|FAKETIME_TIMESTAMP_FILE)=' | sort", faked)); env != "FAKETIME_TIMESTAMP_FILE=/var/lib/jplan/faketime/clk.ticker\nTICKER=1" {
		t.Fatalf("restarted daemon's environment: %q", env)
	}

	// Bumps add up, without another restart.
	op = invoke(t, n, "start-skew")
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": 7200.0}) {
		t.Fatalf("second start value %v", op.Value)
	}
	c.waitSkew(t, "n1", 7200)
	if c.tickerPID(t, "n1") != faked {
		t.Fatal("a second bump restarted the daemon")
	}

	op = invoke(t, n, "stop-skew")
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": 0.0}) {
		t.Fatalf("stop value %v", op.Value)
	}
	c.waitSkew(t, "n1", 0)
	if c.tickerPID(t, "n1") != faked {
		t.Fatal("stop restarted the daemon")
	}

	// A bump left in place is healed by teardown, which also takes the
	// daemon out from under libfaketime.
	invoke(t, n, "start-skew")
	c.waitSkew(t, "n1", 3600)
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.waitSkew(t, "n1", 0)
	healed := c.tickerPID(t, "n1")
	if healed == faked {
		t.Fatal("teardown did not restart the daemon")
	}
	if env := c.sh(t, "n1", fmt.Sprintf("tr '\\0' '\\n' </proc/%d/environ | grep -c FAKETIME || true", healed)); env != "0" {
		t.Fatalf("the healed daemon still has %s FAKETIME variables", env)
	}
	if out := c.sh(t, "n1", "ls /var/lib/jplan/faketime 2>/dev/null | wc -l"); out != "0" {
		t.Fatalf("offset files left: %s", out)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
	if c.tickerPID(t, "n1") != healed {
		t.Fatal("a second teardown restarted the daemon")
	}
	host.check(t)
}

func TestClockFaketimeStrobe(t *testing.T) {
	host := watchHostClock()
	c := setup(t)
	c.addTicker(t)
	n := c.nemesis(t, eval.FaultConfig{Name: "strobe", Type: "clock", Mode: "strobe", Method: "faketime",
		Delta: 30 * time.Second, Period: 300 * time.Millisecond, Duration: 3 * time.Second,
		DB: "clk", Daemon: "ticker", Targets: eval.Targets{Nodes: []string{"n2"}}})
	// Sample what the daemon sees while the strobe runs.
	var mu sync.Mutex
	seen := map[int]int{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			res, err := c.byName["n2"].Exec(context.Background(), control.Command{Script: "cat " + tickerFile + "; date +%s.%N", Timeout: 10 * time.Second})
			if f := strings.Fields(res.Stdout); err == nil && len(f) == 2 {
				a, _ := strconv.ParseFloat(f[0], 64)
				b, _ := strconv.ParseFloat(f[1], 64)
				mu.Lock()
				seen[int(math.Round((a-b)/10))*10]++
				mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	t0 := time.Now()
	op := invoke(t, n, "start-strobe")
	took := time.Since(t0)
	close(done)
	wg.Wait()
	if !reflect.DeepEqual(op.Value, map[string]any{"n2": 0.0}) {
		t.Fatalf("strobe value %v", op.Value)
	}
	if took < 3*time.Second {
		t.Fatalf("the strobe op completed after %s, before its duration", took)
	}
	t.Logf("offsets the daemon saw while strobing (rounded to 10s): %v", seen)
	if seen[30] == 0 || seen[0] == 0 {
		t.Fatalf("the daemon did not see its clock flip between +30s and 0: %v", seen)
	}
	c.waitSkew(t, "n2", 0)
	host.check(t)
}

func TestClockSettimeRefusedOnSharedClock(t *testing.T) {
	host := watchHostClock()
	c := setup(t)
	n := c.nemesis(t, eval.FaultConfig{Name: "skew", Type: "clock", Mode: "bump", Method: "settime", Delta: time.Hour,
		Targets: eval.Targets{Selection: "all"}})
	_, err := n.Invoke(context.Background(), history.Op{Process: history.NemesisProcess, Type: history.Invoke, F: "start-skew"})
	if err == nil || !strings.Contains(err.Error(), `method = "faketime"`) || !strings.Contains(err.Error(), "boot_id") {
		t.Fatalf("settime in containers: %v", err)
	}
	t.Logf("refused: %v", err)
	if nvc := c.nodeVsControl(t, "n1"); math.Abs(nvc) > 1 {
		t.Fatalf("n1's clock is %.3fs off", nvc)
	}
	if out := c.sh(t, "n1", "test -e "+ntpStopped+" && echo touched || echo untouched"); out != "untouched" {
		t.Fatal("NTP was touched before the refusal")
	}
	host.check(t)
}

// nodeVsControl is how far the node's clock is from the control machine's.
func (c *testCluster) nodeVsControl(t *testing.T, node string) float64 {
	t.Helper()
	before := time.Now()
	out := c.sh(t, node, "date +%s.%N")
	after := time.Now()
	now, err := strconv.ParseFloat(out, 64)
	if err != nil {
		t.Fatal(out)
	}
	return now - float64(before.Add(after.Sub(before)/2).UnixNano())/1e9
}

func invokeErr(t *testing.T, n *Nemesis, f string) history.Op {
	t.Helper()
	op, err := n.Invoke(context.Background(), history.Op{Process: history.NemesisProcess, Type: history.Invoke, F: f})
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return op
}

// pingLoss pings to's address from from and returns the loss percentage.
func (c *testCluster) pingLoss(t *testing.T, from, to string) float64 {
	t.Helper()
	out := c.sh(t, from, fmt.Sprintf("ping -n -q -c 40 -i 0.05 -W 1 %s 2>&1 | sed -n 's/.* \\([0-9.]*\\)%% packet loss.*/\\1/p'", c.host[to]))
	f, err := strconv.ParseFloat(out, 64)
	if err != nil {
		t.Fatalf("ping %s → %s: %q", from, to, out)
	}
	return f
}

// jplanNetState lists jplan's qdiscs and packet chains on a node.
func (c *testCluster) jplanNetState(t *testing.T, node string) string {
	t.Helper()
	return c.sh(t, node, "tc qdisc show | grep '"+qdiscHandle+"' || true; iptables -w -S | grep -- '"+packetChainPrefix+"' || true")
}

func TestPacketDelayWithoutNetem(t *testing.T) {
	c := setup(t)
	if c.features(t)["tc-netem"] {
		t.Skip("this host's kernel has sch_netem; see TestPacketDelayWithNetem")
	}
	n := c.nemesis(t, eval.FaultConfig{Name: "slow", Type: "packet", Netem: map[string]string{"delay": "100ms", "loss": "5%"},
		Targets: eval.Targets{Nodes: []string{"n1"}}})
	op := invokeErr(t, n, "start-slow")
	t.Logf("error: %s", op.Error)
	if !strings.Contains(op.Error, "n1: the kernel lacks sch_netem") || !strings.Contains(op.Error, "packet delay cannot be applied") {
		t.Fatalf("start without netem: value %v, error %q", op.Value, op.Error)
	}
	if s := c.jplanNetState(t, "n1"); s != "" {
		t.Fatalf("a failed start left %q", s)
	}
}

func TestPacketDelayWithNetem(t *testing.T) {
	c := setup(t)
	if !c.features(t)["tc-netem"] {
		t.Skip("this host's kernel has no sch_netem (tc qdisc … netem fails in the containers): the netem path cannot be tested here")
	}
	n := c.nemesis(t, eval.FaultConfig{Name: "slow", Type: "packet", Netem: map[string]string{"delay": "100ms"},
		Targets: eval.Targets{Nodes: []string{"n1"}}})
	rtt := func() float64 {
		out := c.sh(t, "n1", fmt.Sprintf("ping -n -q -c 5 -i 0.2 %s | sed -n 's|.* = [0-9.]*/\\([0-9.]*\\)/.*|\\1|p'", c.host["n2"]))
		f, err := strconv.ParseFloat(out, 64)
		if err != nil {
			t.Fatalf("ping: %q", out)
		}
		return f
	}
	if r := rtt(); r > 50 {
		t.Fatalf("rtt %g ms before the fault", r)
	}
	op := invoke(t, n, "start-slow")
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": "netem delay 100000us"}) {
		t.Fatalf("start value %v", op.Value)
	}
	if r := rtt(); r < 95 {
		t.Fatalf("average rtt %g ms with a 100ms delay", r)
	}
	invoke(t, n, "stop-slow")
	if r := rtt(); r > 50 {
		t.Fatalf("rtt %g ms after stop", r)
	}
}

// features reads what the cluster found the host can do.
func (c *testCluster) features(t *testing.T) map[string]bool {
	t.Helper()
	return c.env.Need(t).Features
}

func TestPacketLossFallback(t *testing.T) {
	c := setup(t)
	n := c.nemesis(t, eval.FaultConfig{Name: "lossy", Type: "packet", Netem: map[string]string{"loss": "50%"},
		Targets: eval.Targets{Nodes: []string{"n1"}}})
	if l := c.pingLoss(t, "n1", "n2"); l != 0 {
		t.Fatalf("%g%% loss before the fault", l)
	}
	op := invoke(t, n, "start-lossy")
	want := "iptables loss 50%"
	if c.features(t)["tc-netem"] {
		want = "netem loss 50%"
	}
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": want}) {
		t.Fatalf("start value %v", op.Value)
	}
	// Each echo request n1 sends is dropped with probability 0.5: 40 pings
	// lose 20 on average, fewer than 8 or more than 32 once in 10⁴ runs.
	l := c.pingLoss(t, "n1", "n2")
	t.Logf("n1 → n2: %g%% loss", l)
	if l < 20 || l > 80 {
		t.Fatalf("n1 → n2: %g%% loss, want about 50%%", l)
	}
	if l := c.pingLoss(t, "n2", "n3"); l != 0 {
		t.Fatalf("n2 → n3 (not targeted): %g%% loss", l)
	}
	op = invoke(t, n, "stop-lossy")
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": "healed"}) {
		t.Fatalf("stop value %v", op.Value)
	}
	if l := c.pingLoss(t, "n1", "n2"); l != 0 {
		t.Fatalf("%g%% loss after stop", l)
	}
	if s := c.jplanNetState(t, "n1"); s != "" {
		t.Fatalf("left after stop: %q", s)
	}
}

// transferTime sends size bytes from one node to another over TCP and
// returns how long the receiver took to get them all.
func (c *testCluster) transferTime(t *testing.T, from, to string, size int) time.Duration {
	t.Helper()
	const port = 7091
	recv := fmt.Sprintf(`python3 - <<'PY'
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", %d)); s.listen(1); s.settimeout(60)
open("/tmp/jplan-recv-ready", "w").close()
conn, _ = s.accept()
t0 = time.monotonic(); n = 0
while True:
    b = conn.recv(65536)
    if not b: break
    n += len(b)
print(n, time.monotonic() - t0)
PY`, port)
	var wg sync.WaitGroup
	var out string
	wg.Add(1)
	c.sh(t, to, "rm -f /tmp/jplan-recv-ready")
	go func() {
		defer wg.Done()
		res, err := c.byName[to].Exec(context.Background(), control.Command{Script: recv, Timeout: 90 * time.Second})
		if err != nil {
			t.Errorf("receiver: %v", err)
		}
		out = res.Stdout
	}()
	waitUntil(t, "the receiver listens", func() bool {
		return c.sh(t, to, "test -e /tmp/jplan-recv-ready && echo y || echo n") == "y"
	})
	c.sh(t, from, fmt.Sprintf(`python3 -c 'import socket; s = socket.create_connection(("%s", %d)); s.sendall(b"x" * %d); s.close()'`, c.host[to], port, size))
	wg.Wait()
	f := strings.Fields(out)
	if len(f) != 2 || f[0] != strconv.Itoa(size) {
		t.Fatalf("receiver output %q", out)
	}
	secs, _ := strconv.ParseFloat(f[1], 64)
	return time.Duration(secs * float64(time.Second))
}

func TestPacketRateLimit(t *testing.T) {
	c := setup(t)
	n := c.nemesis(t, eval.FaultConfig{Name: "thin", Type: "packet", Netem: map[string]string{"rate": "1mbit"},
		Targets: eval.Targets{Nodes: []string{"n1"}}})
	const size = 500_000 // 4 s at 1 mbit/s
	if d := c.transferTime(t, "n1", "n2", size); d > time.Second {
		t.Fatalf("unlimited transfer took %s", d)
	}
	op := invoke(t, n, "start-thin")
	t.Logf("start: %v", op.Value)
	d := c.transferTime(t, "n1", "n2", size)
	t.Logf("500 kB from n1 at 1mbit: %s", d)
	if d < 3*time.Second || d > 8*time.Second {
		t.Fatalf("500 kB at 1 mbit/s took %s, want about 4s", d)
	}
	// Only n1's outgoing traffic is limited.
	if d := c.transferTime(t, "n2", "n1", size); d > time.Second {
		t.Fatalf("n2 → n1 took %s", d)
	}
	invoke(t, n, "stop-thin")
	if d := c.transferTime(t, "n1", "n2", size); d > time.Second {
		t.Fatalf("after stop the transfer took %s", d)
	}
}

func TestPacketTeardownRemovesEverything(t *testing.T) {
	c := setup(t)
	n := c.nemesis(t,
		eval.FaultConfig{Name: "both", Type: "packet", Netem: map[string]string{"loss": "30%", "rate": "10mbit"}, Targets: eval.Targets{Selection: "all"}},
		eval.FaultConfig{Name: "part", Type: "partition", Topology: "one"})
	op := invoke(t, n, "start-both")
	if len(op.Value.(map[string]any)) != 3 {
		t.Fatalf("start value %v", op.Value)
	}
	// Starting again replaces rather than stacks.
	invoke(t, n, "start-both")
	invoke(t, n, "start-part")
	for _, node := range c.nodes {
		s := c.jplanNetState(t, node.Name)
		if !strings.Contains(s, "jplan-pkt-both") || (!c.features(t)["tc-netem"] && strings.Count(s, "-A jplan-pkt-both") != 2) {
			t.Fatalf("%s: %q", node.Name, s)
		}
		if !strings.Contains(s, "qdisc htb 4a50:") {
			t.Fatalf("%s: no qdisc: %q", node.Name, s)
		}
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, node := range c.nodes {
		if s := c.jplanNetState(t, node.Name); s != "" {
			t.Fatalf("%s: left after teardown: %q", node.Name, s)
		}
		if s := c.sh(t, node.Name, "iptables -w -S | grep -c JPLAN || true"); s != "0" {
			t.Fatalf("%s: partition rules left", node.Name)
		}
	}
	if l := c.pingLoss(t, "n1", "n2"); l != 0 {
		t.Fatalf("%g%% loss after teardown", l)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
}

func TestFileBitflipEveryByte(t *testing.T) {
	c := setup(t)
	const f = "/tmp/jplan-nem-flip/data"
	c.sh(t, "n2", "mkdir -p /tmp/jplan-nem-flip && head -c 100000 /dev/urandom >"+f+" && cp "+f+" /tmp/jplan-nem-flip.orig")
	t.Cleanup(func() { c.sh(t, "n2", "rm -rf /tmp/jplan-nem-flip /tmp/jplan-nem-flip.orig") })
	before := c.sh(t, "n2", "sha256sum <"+f)
	n := c.nemesis(t, eval.FaultConfig{Name: "flip", Type: "file", Action: "bitflip", Path: f, Prob: 1,
		Targets: eval.Targets{Nodes: []string{"n2"}}})
	op := invoke(t, n, "start-flip")
	v := op.Value.(map[string]any)["n2"].(map[string]any)
	if v["files"] != 1.0 || v["bytes"] != 100000.0 || v["flipped"] != 100000.0 || v["seed"] == "" {
		t.Fatalf("start value %v", op.Value)
	}
	if after := c.sh(t, "n2", "sha256sum <"+f); after == before {
		t.Fatal("checksum unchanged")
	}
	// Compare byte by byte on the node: every byte differs, by one bit.
	cmp := c.sh(t, "n2", `python3 -c '
import sys
a = open("/tmp/jplan-nem-flip.orig", "rb").read(); b = open("`+f+`", "rb").read()
diff = [bin(x ^ y).count("1") for x, y in zip(a, b)]
print(len(a), len(b), sum(1 for d in diff if d), max(diff))'`)
	if cmp != "100000 100000 100000 1" {
		t.Fatalf("size before, size after, bytes differing, most bits flipped in a byte: %s", cmp)
	}
	if op := invoke(t, n, "stop-flip"); op.Value != "nothing to undo" {
		t.Fatalf("stop value %v", op.Value)
	}
}

func TestFileTruncate(t *testing.T) {
	c := setup(t)
	const f = "/tmp/jplan-nem-trunc"
	c.sh(t, "n1", "head -c 5000 /dev/urandom >"+f)
	t.Cleanup(func() { c.sh(t, "n1", "rm -f "+f) })
	prefix := c.sh(t, "n1", "head -c 4000 "+f+" | sha256sum")
	n := c.nemesis(t, eval.FaultConfig{Name: "cut", Type: "file", Action: "truncate", Path: f, Bytes: 1000,
		Targets: eval.Targets{Nodes: []string{"n1"}}})
	op := invoke(t, n, "start-cut")
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": map[string]any{"files": 1.0, "before": 5000.0, "after": 4000.0}}) {
		t.Fatalf("start value %v", op.Value)
	}
	if size := c.sh(t, "n1", "stat -c %s "+f); size != "4000" {
		t.Fatalf("size %s after cutting 1000 of 5000 bytes", size)
	}
	if got := c.sh(t, "n1", "sha256sum <"+f); got != prefix {
		t.Fatal("the bytes that remain changed")
	}
}

func TestFileSnapshotStopRestores(t *testing.T) {
	c := setup(t)
	const dir = "/tmp/jplan-nem-data"
	c.sh(t, "n1", "rm -rf "+dir+" && mkdir -p "+dir+"/wal && echo one >"+dir+"/wal/1 && head -c 20000 /dev/urandom >"+dir+"/state && chmod 600 "+dir+"/state")
	t.Cleanup(func() { c.sh(t, "n1", "rm -rf "+dir) })
	sum := func() string {
		return c.sh(t, "n1", "cd "+dir+" && find . -type f | sort | xargs sha256sum; stat -c '%a %n' state")
	}
	orig := sum()
	n := c.nemesis(t,
		eval.FaultConfig{Name: "rewind", Type: "file", Action: "snapshot", Path: dir, Targets: eval.Targets{Nodes: []string{"n1"}}},
		eval.FaultConfig{Name: "back", Type: "file", Action: "restore", Path: dir, Targets: eval.Targets{Nodes: []string{"n1"}}})
	if op := invoke(t, n, "stop-rewind"); op.Value != "not started" {
		t.Fatalf("stop before start: %v", op.Value)
	}
	op := invoke(t, n, "start-rewind")
	if !reflect.DeepEqual(op.Value, map[string]any{"n1": map[string]any{"files": 2.0, "bytes": 20004.0}}) {
		t.Fatalf("start value %v", op.Value)
	}
	// The database moves on.
	c.sh(t, "n1", "echo two >"+dir+"/wal/2 && echo changed >"+dir+"/state && rm "+dir+"/wal/1")
	if sum() == orig {
		t.Fatal("modification had no effect")
	}
	op = invoke(t, n, "stop-rewind")
	if v := op.Value.(map[string]any)["n1"].(map[string]any); v["files"] != 2.0 || v["from"] != "/var/lib/jplan/snapshots/rewind" {
		t.Fatalf("stop value %v", op.Value)
	}
	if got := sum(); got != orig {
		t.Fatalf("after stop:\n%s\nwant\n%s", got, orig)
	}
	// A restore fault finds the same snapshot, which stays until heal.
	c.sh(t, "n1", "echo again >"+dir+"/state")
	invoke(t, n, "start-back")
	if got := sum(); got != orig {
		t.Fatalf("after restore:\n%s\nwant\n%s", got, orig)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out := c.sh(t, "n1", "ls /var/lib/jplan/snapshots 2>/dev/null | wc -l"); out != "0" {
		t.Fatalf("%s snapshots left after teardown", out)
	}
	if op := invokeErr(t, n, "start-back"); !strings.Contains(op.Error, "no snapshot of "+dir) {
		t.Fatalf("restore without a snapshot: %+v", op)
	}
}

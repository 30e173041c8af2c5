package nemesis

// Integration tests on a 2-node cluster of QEMU VMs (cluster driver
// "qemu"): faults that containers cannot have because they share the
// host's kernel and clock — netem qdiscs, setting the system clock with
// NTP stopped and restored. Skipped without Docker (the VM image is made
// from the node image) or root, unless JPLAN_REQUIRE_DOCKER=1.

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jplan/jplan/cluster/clustertest"
	"github.com/jplan/jplan/eval"
)

var vmEnv = clustertest.NewQEMU("jplan-nemvm", "10.231.53.0/24", 2)

// setupVM is setup on the VM cluster.
func setupVM(t *testing.T) *testCluster {
	t.Helper()
	return setupOn(t, vmEnv)
}

// pings pings to from from and returns each reply's round-trip time in
// milliseconds and the number of duplicate replies.
func (c *testCluster) pings(t *testing.T, from, to string, count int) (rtts []float64, dups int) {
	t.Helper()
	out := c.sh(t, from, fmt.Sprintf("ping -n -c %d -i 0.05 -W 2 %s 2>&1 || true", count, c.host[to]))
	re := regexp.MustCompile(`time=([0-9.]+) ms`)
	for _, line := range strings.Split(out, "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if strings.Contains(line, "DUP!") {
			dups++
			continue
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		rtts = append(rtts, f)
	}
	return rtts, dups
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestVMPacketNetem applies each netem effect to n1's traffic for n2 and
// observes it with ping from n1: replies come back late, duplicated, out
// of order, not at all.
func TestVMPacketNetem(t *testing.T) {
	c := setupVM(t)
	if !c.features(t)["tc-netem"] {
		t.Fatal("the VMs' kernel has no sch_netem")
	}
	base, _ := c.pings(t, "n1", "n2", 10)
	if len(base) < 9 || mean(base) > 50 {
		t.Fatalf("before any fault: %d replies of 10, mean rtt %.1f ms", len(base), mean(base))
	}
	cases := []struct {
		name  string
		netem map[string]string
		check func(t *testing.T, rtts []float64, dups int)
	}{
		{"delay", map[string]string{"delay": "100ms"}, func(t *testing.T, rtts []float64, dups int) {
			if len(rtts) < 18 || mean(rtts) < 95 {
				t.Fatalf("%d replies, mean rtt %.1f ms with a 100ms delay", len(rtts), mean(rtts))
			}
		}},
		{"jitter", map[string]string{"delay": "100ms", "jitter": "50ms"}, func(t *testing.T, rtts []float64, dups int) {
			lo, hi := math.Inf(1), 0.0
			for _, r := range rtts {
				lo, hi = math.Min(lo, r), math.Max(hi, r)
			}
			if len(rtts) < 18 || hi-lo < 20 || lo < 45 {
				t.Fatalf("rtts %v: want spread around 100ms by ±50ms", rtts)
			}
		}},
		{"duplicate", map[string]string{"duplicate": "100%"}, func(t *testing.T, rtts []float64, dups int) {
			// Every echo request reaches n2 twice, so n2 answers twice.
			if dups < 15 {
				t.Fatalf("%d duplicate replies of 20 with duplicate 100%%", dups)
			}
		}},
		{"corrupt", map[string]string{"corrupt": "100%"}, func(t *testing.T, rtts []float64, dups int) {
			// A flipped bit fails a checksum and n2 drops the request.
			if len(rtts) > 10 {
				t.Fatalf("%d replies of 20 with corrupt 100%%", len(rtts))
			}
		}},
		{"loss", map[string]string{"loss": "50%"}, func(t *testing.T, rtts []float64, dups int) {
			if len(rtts) < 2 || len(rtts) > 18 {
				t.Fatalf("%d replies of 20 with loss 50%%", len(rtts))
			}
		}},
		{"reorder", map[string]string{"delay": "200ms", "reorder": "50%"}, func(t *testing.T, rtts []float64, dups int) {
			// Reordered packets skip the delay, so some replies are fast
			// and others 200 ms late.
			fast, slow := 0, 0
			for _, r := range rtts {
				if r < 100 {
					fast++
				} else if r >= 190 {
					slow++
				}
			}
			if fast < 2 || slow < 2 {
				t.Fatalf("rtts %v: want some immediate and some delayed", rtts)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := c.nemesis(t, eval.FaultConfig{Name: "net-" + tc.name, Type: "packet", Netem: tc.netem,
				Targets: eval.Targets{Nodes: []string{"n1"}}})
			op := invoke(t, n, "start-net-"+tc.name)
			v, _ := op.Value.(map[string]any)
			if s, _ := v["n1"].(string); !strings.HasPrefix(s, "netem ") {
				t.Fatalf("start value %v: want netem on n1", op.Value)
			}
			if q := c.sh(t, "n1", "tc qdisc show | grep netem || true"); !strings.Contains(q, "netem") {
				t.Fatalf("no netem qdisc on n1: %q", q)
			}
			rtts, dups := c.pings(t, "n1", "n2", 20)
			t.Logf("%s: %d replies, %d duplicates, rtts %v", tc.name, len(rtts), dups, rtts)
			tc.check(t, rtts, dups)
			// jplan's own SSH to n1 is untouched: this command answers.
			c.sh(t, "n1", "true")
			invoke(t, n, "stop-net-"+tc.name)
			if s := c.jplanNetState(t, "n1"); s != "" {
				t.Fatalf("after stop: %q", s)
			}
			after, dups := c.pings(t, "n1", "n2", 10)
			if len(after) < 9 || dups > 0 || mean(after) > 50 {
				t.Fatalf("after stop: %d replies, %d duplicates, mean rtt %.1f ms", len(after), dups, mean(after))
			}
		})
	}
}

// ntpRunning reports whether chronyd (the VM image's NTP daemon) runs.
func (c *testCluster) ntpRunning(t *testing.T, node string) bool {
	t.Helper()
	return c.sh(t, node, "service chrony status >/dev/null 2>&1 && echo yes || echo no") == "yes"
}

// TestVMClockSettimeBump moves n1's system clock an hour ahead with NTP
// stopped, leaves n2 and the control machine alone, sets it back on stop
// and starts NTP again at teardown.
func TestVMClockSettimeBump(t *testing.T) {
	host := watchHostClock()
	c := setupVM(t)
	for _, node := range []string{"n1", "n2"} {
		if !c.ntpRunning(t, node) {
			t.Fatalf("%s: chronyd is not running before the test", node)
		}
	}
	before1, before2 := c.nodeVsControl(t, "n1"), c.nodeVsControl(t, "n2")
	n := c.nemesis(t, eval.FaultConfig{Name: "skew", Type: "clock", Mode: "bump", Method: "settime", Delta: time.Hour,
		Targets: eval.Targets{Nodes: []string{"n1"}}})
	op := invoke(t, n, "start-skew")
	v, _ := op.Value.(map[string]any)
	if off, _ := v["n1"].(float64); math.Abs(off-before1-3600) > 2 {
		t.Fatalf("start value %v: want n1 ≈ %.3f + 3600", op.Value, before1)
	}
	if d := c.nodeVsControl(t, "n1") - before1; math.Abs(d-3600) > 2 {
		t.Fatalf("n1's clock moved by %.3fs, want 3600", d)
	}
	if d := c.nodeVsControl(t, "n2") - before2; math.Abs(d) > 1 {
		t.Fatalf("n2's clock moved by %.3fs; only n1 was a target", d)
	}
	if c.ntpRunning(t, "n1") {
		t.Fatal("chronyd still runs on n1 while its clock is bumped")
	}
	if !c.ntpRunning(t, "n2") {
		t.Fatal("chronyd was stopped on n2, which is not a target")
	}
	host.check(t)

	op = invoke(t, n, "stop-skew")
	v, _ = op.Value.(map[string]any)
	if off, _ := v["n1"].(float64); math.Abs(off) > 1 {
		t.Fatalf("stop value %v: want n1 ≈ 0", op.Value)
	}
	if d := c.nodeVsControl(t, "n1"); math.Abs(d) > 1 {
		t.Fatalf("after stop n1's clock is %.3fs from the control machine's", d)
	}
	if err := n.Teardown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !c.ntpRunning(t, "n1") {
		t.Fatal("teardown did not start chronyd again on n1")
	}
	if out := c.sh(t, "n1", "test -e "+ntpStopped+" && echo left || echo gone"); out != "gone" {
		t.Fatal("teardown left the NTP state file")
	}
	host.check(t)
}

// TestVMClockSettimeStrobe flips n2's clock by 10 s every 200 ms for 3 s
// and samples it meanwhile; teardown after a bump left in place resets it.
func TestVMClockSettimeStrobe(t *testing.T) {
	host := watchHostClock()
	c := setupVM(t)
	before := c.nodeVsControl(t, "n2")
	n := c.nemesis(t, eval.FaultConfig{Name: "strobe", Type: "clock", Mode: "strobe", Method: "settime",
		Delta: 10 * time.Second, Period: 200 * time.Millisecond, Duration: 3 * time.Second,
		Targets: eval.Targets{Nodes: []string{"n2"}}})
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
			d := c.nodeVsControl(t, "n2") - before
			mu.Lock()
			seen[int(math.Round(d/5))*5]++
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	t0 := time.Now()
	op := invoke(t, n, "start-strobe")
	took := time.Since(t0)
	close(done)
	wg.Wait()
	t.Logf("n2's offsets while strobing (rounded to 5 s): %v", seen)
	if took < 3*time.Second {
		t.Fatalf("the strobe completed after %s, before its duration", took)
	}
	if seen[10] == 0 || seen[0] == 0 {
		t.Fatalf("n2's clock did not flip between +10s and 0: %v", seen)
	}
	// A strobe leaves the clock where it began.
	v, _ := op.Value.(map[string]any)
	if off, _ := v["n2"].(float64); math.Abs(off-before) > 1 {
		t.Fatalf("strobe value %v: want n2 back near its offset before, %.3f", op.Value, before)
	}
	if d := c.nodeVsControl(t, "n2") - before; math.Abs(d) > 1 {
		t.Fatalf("after the strobe n2's clock moved by %.3fs", d)
	}
	host.check(t)
}

// TestVMClockTeardownResets leaves a bump in place and checks that the
// nemesis teardown (what every exit path of a run calls) puts the clock
// back and restarts NTP.
func TestVMClockTeardownResets(t *testing.T) {
	c := setupVM(t)
	n := c.nemesis(t, eval.FaultConfig{Name: "skew2", Type: "clock", Mode: "bump", Method: "settime", Delta: -30 * time.Minute,
		Targets: eval.Targets{Selection: "all"}})
	invoke(t, n, "start-skew2")
	for _, node := range []string{"n1", "n2"} {
		if d := c.nodeVsControl(t, node); math.Abs(d+1800) > 2 {
			t.Fatalf("%s: clock %.3fs off, want -1800", node, d)
		}
	}
	if err := n.Teardown(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"n1", "n2"} {
		if d := c.nodeVsControl(t, node); math.Abs(d) > 1 {
			t.Fatalf("%s: after teardown the clock is %.3fs off", node, d)
		}
		if !c.ntpRunning(t, node) {
			t.Fatalf("%s: chronyd not running after teardown", node)
		}
	}
}

// transferSeconds sends size bytes over TCP from from to to and returns how
// long it took, measured on from.
func (c *testCluster) transferSeconds(t *testing.T, from, to string, size int) float64 {
	t.Helper()
	const port = 7411
	c.sh(t, to, fmt.Sprintf("pkill -x nc || true; (timeout 60 nc -l %d >/dev/null 2>&1 &) ; sleep 0.5", port))
	// nc -N half-closes after the data and exits when the receiver has
	// it all and closes: the time covers delivery, not just sending.
	out := c.sh(t, from, fmt.Sprintf("s=$(date +%%s%%N); head -c %d /dev/zero | nc -N -w 30 %s %d; e=$(date +%%s%%N); echo $(( (e - s) / 1000000 ))", size, c.host[to], port))
	ms, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("transfer %s → %s: %q", from, to, out)
	}
	return float64(ms) / 1000
}

// TestVMPacketRate limits n1's traffic to n2 to 1 mbit/s with netem's
// rate and times a 256 KiB transfer: about 2 s instead of a blink.
func TestVMPacketRate(t *testing.T) {
	c := setupVM(t)
	const size = 256 << 10 // 2.1 s at 1 mbit/s
	if d := c.transferSeconds(t, "n1", "n2", size); d > 1 {
		t.Fatalf("%d bytes took %.2fs before any fault", size, d)
	}
	n := c.nemesis(t, eval.FaultConfig{Name: "thin", Type: "packet", Netem: map[string]string{"rate": "1mbit"},
		Targets: eval.Targets{Nodes: []string{"n1"}}})
	op := invoke(t, n, "start-thin")
	v, _ := op.Value.(map[string]any)
	if s, _ := v["n1"].(string); !strings.Contains(s, "netem") || !strings.Contains(s, "rate") {
		t.Fatalf("start value %v: want netem rate on n1", op.Value)
	}
	d := c.transferSeconds(t, "n1", "n2", size)
	t.Logf("%d bytes at 1mbit: %.2fs", size, d)
	if d < 1.7 || d > 6 {
		t.Fatalf("%d bytes took %.2fs at 1mbit/s, want about 2.1s", size, d)
	}
	invoke(t, n, "stop-thin")
	if d := c.transferSeconds(t, "n1", "n2", size); d > 1 {
		t.Fatalf("%d bytes took %.2fs after stop", size, d)
	}
}

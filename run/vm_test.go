package run_test

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/cluster/clustertest"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/verdict"
)

// A cluster of QEMU VMs for the plans that need nodes with their own
// kernel and clock.
var vmEnv = clustertest.NewQEMU("jplan-runvm", "10.231.61.0/24", 3)

// TestEtcdVMExample runs examples/etcd-vm.hcl as its header says, on VM
// nodes: etcd with system clocks bumped and strobed (NTP stopped) and
// netem delaying and reordering packets. The register stays linearizable,
// the faults are in the history with their effects, and afterwards every
// clock is right, NTP runs and no qdisc is left.
func TestEtcdVMExample(t *testing.T) {
	info := vmEnv.Need(t)
	out := runExample(t, info.NodesFile, "../examples/etcd-vm.hcl", "45s")
	if out.Result.Valid != checker.True {
		t.Fatalf("verdict %v: %+v", out.Result.Valid, out.Result.Results["linearizable"])
	}
	h, _, err := verdict.ReadHistory(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, op := range h {
		if op.Process != history.NemesisProcess || op.Type == history.Invoke {
			continue
		}
		v, _ := op.Value.(map[string]any)
		switch op.F {
		case "start-skew":
			// One node's clock went 90 s back.
			for _, off := range v {
				if f, _ := off.(float64); math.Abs(f+90) < 2 {
					seen[op.F] = true
				}
			}
		case "start-slow-net":
			for _, s := range v {
				if str, _ := s.(string); strings.HasPrefix(str, "netem delay 50000us 25000us reorder 20%") {
					seen[op.F] = true
				}
			}
		case "start-strobe":
			seen[op.F] = len(v) > 0
		}
	}
	for _, f := range []string{"start-skew", "start-slow-net", "start-strobe"} {
		if !seen[f] {
			t.Errorf("no %s with its effect in the history", f)
		}
	}
	if _, err := os.Stat(filepath.Join(out.Dir, "clock", "clock.svg")); err != nil {
		t.Errorf("no clock plot: %v", err)
	}
	for n, r := range remotes(t, info.NodesFile) {
		before := time.Now()
		now, err := strconv.ParseFloat(sh(t, r, "date +%s.%N"), 64)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if d := now - float64(before.Add(time.Since(before)/2).UnixNano())/1e9; math.Abs(d) > 1 {
			t.Errorf("%s: clock %.3fs off after the run", n, d)
		}
		if got := sh(t, r, "service chrony status >/dev/null 2>&1 && echo running"); got != "running" {
			t.Errorf("%s: chronyd not running after the run", n)
		}
		if got := sh(t, r, "tc qdisc show | grep -e netem -e 4a50: || true"); got != "" {
			t.Errorf("%s: qdiscs left: %s", n, got)
		}
		if got := sh(t, r, "pgrep -x etcd || true"); got != "" {
			t.Errorf("%s: etcd still running after teardown (pid %s)", n, got)
		}
	}
}

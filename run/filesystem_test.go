package run_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/verdict"
)

// TestRedisLosesAcknowledgedWrites runs examples/redis-lost-writes.hcl:
// Redis acknowledges writes it has not fsynced, the filesystem fault
// simulates power failures that lose them, reads go back in time, and
// jplan reports the history invalid. Afterwards nothing of faultfs is
// left on the nodes.
func TestRedisLosesAcknowledgedWrites(t *testing.T) {
	info := env.Need(t)
	out := runExample(t, info.NodesFile, "../examples/redis-lost-writes.hcl", "20s")
	h, _, err := verdict.ReadHistory(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	losses, lostBytes := 0, 0
	for _, op := range h {
		if op.Process != history.NemesisProcess || op.F != "start-power-loss" || op.Type != history.Info {
			continue
		}
		if op.Error != "" {
			t.Errorf("%s: %s", op.F, op.Error)
		}
		v, _ := op.Value.(map[string]any)
		s, _ := v["n1"].(string)
		var b, files int
		if _, err := fmt.Sscanf(s, "lost %d unsynced bytes in %d files", &b, &files); err != nil || !strings.HasSuffix(s, "daemon restarted") {
			t.Errorf("%s value %v", op.F, op.Value)
		}
		losses++
		lostBytes += b
	}
	if losses < 3 || lostBytes == 0 {
		t.Errorf("%d power losses losing %d bytes; want at least 3 losing some", losses, lostBytes)
	}
	set := out.Result.Results["set"]
	if out.Result.Valid != checker.False || set.Valid != checker.False {
		t.Fatalf("verdict %v (set %v: %s), want false: acknowledged adds must be lost", out.Result.Valid, set.Valid, set.Summary)
	}
	if !strings.Contains(set.Summary, "acknowledged adds lost") {
		t.Errorf("set checker summary %q does not report lost adds", set.Summary)
	}
	for n, r := range remotes(t, info.NodesFile) {
		if got := sh(t, r, "grep faultfs /proc/mounts; ls -d /var/lib/jplan/redis-lost-writes* 2>/dev/null; pgrep -x jplan-faultfs"); got != "" {
			t.Errorf("%s: left after the run: %q", n, got)
		}
	}
}

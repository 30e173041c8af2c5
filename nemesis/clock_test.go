package nemesis

import (
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/eval"
)

func TestSettableError(t *testing.T) {
	cfg := eval.FaultConfig{Name: "skew"}
	nodes := []string{"n1", "n2", "n3"}
	if err := settableError(cfg, "local", map[string]any{"n1": "a\n", "n2": "b", "n3": "c"}, nodes); err != nil {
		t.Errorf("distinct machines refused: %v", err)
	}
	err := settableError(cfg, "local", map[string]any{"n1": "a", "n2": "local\n", "n3": "c"}, nodes)
	if err == nil || !strings.Contains(err.Error(), "node n2 shares its kernel") || !strings.Contains(err.Error(), `method = "faketime"`) {
		t.Errorf("container on the control machine: %v", err)
	}
	err = settableError(cfg, "", map[string]any{"n1": "a", "n2": "b", "n3": "a"}, nodes)
	if err == nil || !strings.Contains(err.Error(), "nodes n1 and n3 share one kernel") {
		t.Errorf("two nodes on one kernel: %v", err)
	}
	// No boot ids anywhere (not Linux): nothing to compare.
	if err := settableError(cfg, "", map[string]any{"n1": "", "n2": "", "n3": ""}, nodes); err != nil {
		t.Errorf("unknown boot ids: %v", err)
	}
}

func TestFakedDaemonEnvironment(t *testing.T) {
	c := &clockFault{cfg: eval.FaultConfig{DB: "kv", Daemon: "server"}}
	d := eval.DaemonConfig{Name: "server", Env: map[string]string{"A": "1", "LD_PRELOAD": "/lib/mine.so"}}
	f := c.fakedDaemon(d, "/usr/lib/x/libfaketimeMT.so.1")
	want := map[string]string{
		"A":                            "1",
		"LD_PRELOAD":                   "/usr/lib/x/libfaketimeMT.so.1:/lib/mine.so",
		"FAKETIME_TIMESTAMP_FILE":      "/var/lib/jplan/faketime/kv.server",
		"FAKETIME_NO_CACHE":            "1",
		"FAKETIME_DONT_FAKE_MONOTONIC": "1",
	}
	if len(f.Env) != len(want) {
		t.Fatalf("env %v", f.Env)
	}
	for k, v := range want {
		if f.Env[k] != v {
			t.Errorf("%s=%q, want %q", k, f.Env[k], v)
		}
	}
	if d.Env["LD_PRELOAD"] != "/lib/mine.so" || len(d.Env) != 2 {
		t.Errorf("the daemon's own config was changed: %v", d.Env)
	}
}

func TestBuildClockChecks(t *testing.T) {
	n := &Nemesis{nodes: []string{"n1"}}
	none := func(string, string, string) (eval.DaemonConfig, bool) { return eval.DaemonConfig{}, false }
	for _, tc := range []struct {
		fc   eval.FaultConfig
		want string
	}{
		{eval.FaultConfig{Mode: "bump", Method: "faketime"}, "needs daemon"},
		{eval.FaultConfig{Mode: "bump", Method: "faketime", DB: "kv", Daemon: "x"}, "not defined on any node"},
		{eval.FaultConfig{Mode: "strobe", Method: "settime"}, "positive period"},
		{eval.FaultConfig{Mode: "wobble"}, "unknown clock mode"},
	} {
		if _, err := buildClock(n, tc.fc, none); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.fc, err, tc.want)
		}
	}
	if _, err := buildClock(n, eval.FaultConfig{Mode: "strobe", Period: time.Millisecond}, none); err != nil {
		t.Error(err)
	}
}

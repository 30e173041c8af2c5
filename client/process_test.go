package client

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/txn"
)

var processNodes = []eval.Node{{Name: "n1", Host: "10.0.0.11", Port: 22}, {Name: "n2", Host: "10.0.0.12"}}

// helperConfig is testdata/process.hcl with the test binary as the program,
// in the given mode, plus env.
func helperConfig(t *testing.T, mode string, env map[string]string) (Config, *logs) {
	t.Helper()
	ev := loadPlan(t, "process.hcl", processNodes...)
	return configFor(t, ev, func(nc *eval.ClientConfig) {
		nc.Command = []string{os.Args[0], "-test.run=^$"}
		// The race runtime otherwise sleeps a second at every exit.
		nc.Env = map[string]string{helperEnv: mode, "GORACE": "atexit_sleep_ms=0"}
		for k, v := range env {
			nc.Env[k] = v
		}
	})
}

func TestProcessProtocol(t *testing.T) {
	transcript := filepath.Join(t.TempDir(), "transcript")
	cfg, lg := helperConfig(t, "good", map[string]string{transcriptEnv: transcript})
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	c := NewFactory(cfg)()
	ctx := t.Context()
	if err := c.Open(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	op, err := invoke(t, c, "read", nil)
	wantType(t, op, err, history.OK)
	if op.Value != nil {
		t.Errorf("first read = %#v, want nil", op.Value)
	}
	op, err = invoke(t, c, "write", int64(3))
	wantType(t, op, err, history.OK)
	if op.Value != int64(3) {
		t.Errorf("write value = %#v, want its own 3 kept", op.Value)
	}
	op, err = invoke(t, c, "cas", []any{int64(1), int64(2)})
	wantType(t, op, err, history.Fail)
	if op.Error != "mismatch" {
		t.Errorf("cas error = %q", op.Error)
	}
	op, err = invoke(t, c, "cas", []any{int64(3), int64(4)})
	wantType(t, op, err, history.OK)
	op, err = invoke(t, c, "read", nil)
	wantType(t, op, err, history.OK)
	if op.Value != int64(4) {
		t.Errorf("read = %#v (%T), want int64 4", op.Value, op.Value)
	}
	// A result expression maps a reply of the program's own shape.
	op, err = invoke(t, c, "mapped", nil)
	wantType(t, op, err, history.OK)
	if want := map[string]any{"x": []any{int64(1), 2.5, "s"}}; !reflect.DeepEqual(op.Value, want) {
		t.Errorf("mapped value = %#v, want %#v", op.Value, want)
	}
	if err := c.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(transcript)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	var reqs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("request %q: %v", l, err)
		}
		reqs = append(reqs, m)
		types = append(types, m["type"].(string))
	}
	if got := strings.Join(types, " "); got != "open setup invoke invoke invoke invoke invoke invoke teardown close" {
		t.Errorf("requests: %s", got)
	}
	wantOpen := map[string]any{
		"type": "open", "node": "n1", "host": "10.0.0.11", "port": float64(22), "index": float64(0),
		"nodes": []any{
			map[string]any{"name": "n1", "host": "10.0.0.11", "port": float64(22), "index": float64(0)},
			map[string]any{"name": "n2", "host": "10.0.0.12", "port": float64(0), "index": float64(1)},
		},
	}
	if !reflect.DeepEqual(reqs[0], wantOpen) {
		t.Errorf("open request\n got %v\nwant %v", reqs[0], wantOpen)
	}
	wantInvoke := map[string]any{"type": "invoke", "f": "cas", "value": []any{float64(3), float64(4)}, "process": float64(3), "node": "n1"}
	if !reflect.DeepEqual(reqs[5], wantInvoke) {
		t.Errorf("invoke request\n got %v\nwant %v", reqs[5], wantInvoke)
	}
	// Stderr reaches the log, prefixed.
	if l := lg.String(); !strings.Contains(l, "process client on n1 (pid ") || !strings.Contains(l, "opened on n1") {
		t.Errorf("log:\n%s", l)
	}
}

func TestProcessCrashMidOp(t *testing.T) {
	cfg, lg := helperConfig(t, "good", nil)
	c := open(t, NewFactory(cfg), "n1").(*Process)
	_, err := invoke(t, c, "crash", nil)
	if err == nil {
		t.Fatal("a crashed program gave no error")
	}
	t.Log(err)
	for _, want := range []string{"n1", "crash", "exit status 3", "crashes on purpose"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The client is broken: no further op reaches a program.
	if _, err := invoke(t, c, "read", nil); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("invoke on a broken client: %v", err)
	}
	if err := c.Close(t.Context()); err != nil {
		t.Errorf("close after a crash: %v", err)
	}
	if !strings.Contains(lg.String(), "process 3 on n1 (pid") {
		t.Errorf("log lines are not prefixed with the process:\n%s", lg)
	}
}

func TestProcessGarbage(t *testing.T) {
	for _, f := range []string{"garbage", "number"} {
		t.Run(f, func(t *testing.T) {
			cfg, _ := helperConfig(t, "good", nil)
			c := open(t, NewFactory(cfg), "n1").(*Process)
			pid := c.pgid
			_, err := invoke(t, c, f, nil)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if f == "garbage" && !strings.Contains(err.Error(), "malformed reply") {
				t.Errorf("error = %v", err)
			}
			// The program is killed at once, not at Close.
			waitGone(t, pid)
		})
	}
}

func TestProcessTimeoutKillsGroup(t *testing.T) {
	childFile := filepath.Join(t.TempDir(), "child")
	cfg, _ := helperConfig(t, "good", map[string]string{childPIDEnv: childFile})
	c := open(t, NewFactory(cfg), "n1").(*Process)
	start := time.Now()
	_, err := invoke(t, c, "slow", nil) // op timeout 300ms; the helper takes 2s
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	b, err := os.ReadFile(childFile)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(string(b))
	waitGone(t, c.pgid)
	waitGone(t, child)
}

func TestProcessCanceledContext(t *testing.T) {
	cfg, _ := helperConfig(t, "good", nil)
	c := open(t, NewFactory(cfg), "n1").(*Process)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Invoke(ctx, history.Op{Process: 1, F: "slow"})
	if err == nil {
		t.Fatal("no error")
	}
	waitGone(t, c.pgid)
}

func TestProcessCloseKillsStubbornProgram(t *testing.T) {
	t.Parallel() // waits out two grace periods
	childFile := filepath.Join(t.TempDir(), "child")
	cfg, _ := helperConfig(t, "stubborn", map[string]string{childPIDEnv: childFile})
	c := NewFactory(cfg)().(*Process)
	if err := c.Open(t.Context(), "n1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Stdin closed, SIGTERM ignored: SIGKILL after two grace periods.
	if d := time.Since(start); d > 3*closeGrace {
		t.Errorf("close took %v", d)
	}
	b, _ := os.ReadFile(childFile)
	child, _ := strconv.Atoi(string(b))
	waitGone(t, c.pgid)
	waitGone(t, child)
}

func TestProcessOpenFailures(t *testing.T) {
	cfg, _ := helperConfig(t, "badopen", nil)
	c := NewFactory(cfg)().(*Process)
	err := c.Open(t.Context(), "n2")
	if err == nil || !strings.Contains(err.Error(), "no database") || !strings.Contains(err.Error(), "n2") {
		t.Fatalf("open: %v", err)
	}
	waitGone(t, c.pgid)

	cfg, _ = helperConfig(t, "good", nil)
	nc := cfg.PerNode["n1"]
	nc.Command = []string{"/nonexistent/jplan-client"}
	cfg.PerNode["n1"] = nc
	if err := NewFactory(cfg)().Open(t.Context(), "n1"); err == nil || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("open with a missing program: %v", err)
	}

	nc.Command = nil
	cfg.PerNode["n1"] = nc
	if cfg.Check() == nil {
		t.Error("Check accepted an empty command")
	}
}

// TestProcessManyClientsNoLeak opens and closes clients repeatedly, as
// workers do after crashes, and checks nothing is left behind.
func TestProcessManyClientsNoLeak(t *testing.T) {
	cfg, _ := helperConfig(t, "good", nil)
	f := NewFactory(cfg)
	var pids []int
	for i := range 10 {
		c := f().(*Process)
		if err := c.Open(t.Context(), "n1"); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, c.pgid)
		if i%2 == 0 {
			op, err := invoke(t, c, "write", int64(i))
			wantType(t, op, err, history.OK)
		} else {
			_, _ = invoke(t, c, "garbage", nil)
		}
		if err := c.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
}

func TestProcessPythonExample(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	file := filepath.Join(t.TempDir(), "register.json")
	os.WriteFile(file, []byte("17"), 0o644) // setup must clear it
	cfg, lg := helperConfig(t, "", nil)
	for name, nc := range cfg.PerNode {
		nc.Command = []string{py, "../examples/clients/register.py", "--file", file}
		nc.Env = nil
		cfg.PerNode[name] = nc
	}
	f := NewFactory(cfg)
	a := open(t, f, "n1")
	b := open(t, f, "n2")
	if err := a.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	op, err := invoke(t, a, "read", nil)
	wantType(t, op, err, history.OK)
	if op.Value != nil {
		t.Fatalf("read after setup = %#v, want nil", op.Value)
	}
	op, err = invoke(t, a, "write", int64(2))
	wantType(t, op, err, history.OK)
	op, err = invoke(t, b, "cas", []any{int64(1), int64(3)})
	wantType(t, op, err, history.Fail)
	op, err = invoke(t, b, "cas", []any{int64(2), int64(3)})
	wantType(t, op, err, history.OK)
	op, err = invoke(t, a, "read", nil)
	wantType(t, op, err, history.OK)
	if op.Value != int64(3) {
		t.Fatalf("read = %#v, want 3 written through the other client", op.Value)
	}
	// An f the program does not know is its fail.
	op, err = invoke(t, a, "slow", nil)
	wantType(t, op, err, history.Fail)
	if !strings.Contains(lg.String(), "opened on n2 (10.0.0.12)") {
		t.Errorf("log:\n%s", lg)
	}
}

// TestProcessTxnRoundTrip: a txn value (micro-ops [f key value]) reaches
// the program as JSON arrays, and the program's answer, reads filled in,
// becomes the completed op's value in the shape package txn parses.
func TestProcessTxnRoundTrip(t *testing.T) {
	transcript := filepath.Join(t.TempDir(), "transcript")
	cfg, _ := helperConfig(t, "good", map[string]string{transcriptEnv: transcript})
	c := open(t, NewFactory(cfg), "n1")
	value := []any{[]any{"append", int64(1), int64(5)}, []any{"append", int64(1), int64(6)}, []any{"r", int64(1), nil}, []any{"r", int64(2), nil}}
	op, err := invoke(t, c, "txn", value)
	wantType(t, op, err, history.OK)
	want := []any{[]any{"append", int64(1), int64(5)}, []any{"append", int64(1), int64(6)}, []any{"r", int64(1), []any{int64(5), int64(6)}}, []any{"r", int64(2), nil}}
	if !reflect.DeepEqual(op.Value, want) {
		t.Errorf("completed value %#v, want %#v", op.Value, want)
	}
	mops, err := txn.Parse(op.Value)
	if err != nil {
		t.Fatalf("the completed value does not parse as a txn: %v", err)
	}
	if got := fmt.Sprint(mops); got != "[[:append 1 5] [:append 1 6] [:r 1 [5 6]] [:r 2 nil]]" {
		t.Errorf("micro-ops %s", got)
	}
	b, err := os.ReadFile(transcript)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"value":[["append",1,5],["append",1,6],["r",1,null],["r",2,null]]`) {
		t.Errorf("the request did not carry the micro-ops as JSON arrays:\n%s", b)
	}
}

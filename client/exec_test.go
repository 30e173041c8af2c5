package client

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
)

func execClient(t *testing.T, adjust func(*Config)) *Exec {
	t.Helper()
	ev := loadPlan(t, "exec.hcl", eval.Node{Name: "n1", Host: "127.0.0.1"})
	cfg, _ := configFor(t, ev, nil)
	if adjust != nil {
		adjust(&cfg)
	}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	return open(t, NewFactory(cfg), "n1").(*Exec)
}

func TestExecStdoutAndJSON(t *testing.T) {
	c := execClient(t, nil)
	op, err := invoke(t, c, "json", int64(5))
	wantType(t, op, err, history.OK)
	if op.Value != int64(5) {
		t.Errorf("value = %#v, want 5 from the JSON stdout", op.Value)
	}
	op, err = invoke(t, c, "env", nil)
	wantType(t, op, err, history.OK)
	if op.Value != "hello on n1" {
		t.Errorf("value = %#v, want the client env and the node name", op.Value)
	}
	op, err = invoke(t, c, "stdin", "up")
	wantType(t, op, err, history.OK)
	if op.Value != "SHOUT UP" {
		t.Errorf("value = %#v, want stdin upper-cased", op.Value)
	}
}

func TestExecExitCodes(t *testing.T) {
	c := execClient(t, nil)
	op, err := invoke(t, c, "exit", int64(0))
	wantType(t, op, err, history.OK)
	if op.Value != int64(0) {
		t.Errorf("value = %#v, want the op's own", op.Value)
	}
	// Default result: a non-zero exit is info, with stderr in the error.
	op, err = invoke(t, c, "exit", int64(3))
	wantType(t, op, err, history.Info)
	if !strings.Contains(op.Error, "exit status 3") || !strings.Contains(op.Error, "oops") {
		t.Errorf("error = %q", op.Error)
	}
	// A program that ran and exited 127 itself is not "not found".
	op, err = invoke(t, c, "exit", int64(127))
	wantType(t, op, err, history.Info)
}

func TestExecNotFoundIsFail(t *testing.T) {
	c := execClient(t, nil)
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{
		{"jplan-no-such-program", "x"},
		{"/nonexistent/prog"},
		{noexec},
		{dir}, // a directory is not a program
	} {
		op, err := invoke(t, c, "argv", toAny(argv))
		wantType(t, op, err, history.Fail)
		if !strings.Contains(op.Error, "not found") {
			t.Errorf("%v: error = %q", argv, op.Error)
		}
	}
	// A program that exists runs with its arguments verbatim.
	op, err := invoke(t, c, "argv", toAny([]string{"sh", "-c", `test "$1" = "a b;c"`, "sh", "a b;c"}))
	wantType(t, op, err, history.OK)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestExecTimeoutKillsCommand(t *testing.T) {
	c := execClient(t, nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	op, err := invoke(t, c, "hang", pidFile) // the op's timeout: 300ms
	wantType(t, op, err, history.Info)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if !strings.Contains(op.Error, "timed out") {
		t.Errorf("error = %q", op.Error)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
}

// waitGone fails unless pid disappears within a few seconds.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if err == syscall.ESRCH {
			return
		}
		if isZombie(pid) {
			return // dead, waiting for a parent that is not us to reap it
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may hold spaces, so look after the ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestExecOutputCap(t *testing.T) {
	c := execClient(t, nil)
	op, err := invoke(t, c, "bigout", nil)
	wantType(t, op, err, history.Info)
	if !strings.Contains(op.Error, "larger than 16 MiB") {
		t.Errorf("error = %q", op.Error)
	}
}

func TestExecOnNode(t *testing.T) {
	c := execClient(t, func(cfg *Config) {
		nc := cfg.PerNode["n1"]
		nc.On = "node"
		cfg.PerNode["n1"] = nc
		cfg.Remotes = map[string]control.Remote{"n1": control.NewLocal("n1")}
	})
	if c.remote.Node() != "n1" {
		t.Fatalf("runs on %s, want the node's remote", c.remote.Node())
	}
	op, err := invoke(t, c, "env", nil)
	wantType(t, op, err, history.OK)
	op, err = invoke(t, c, "argv", toAny([]string{"jplan-no-such-program"}))
	wantType(t, op, err, history.Fail)
}

func TestExecOnNodeWithoutRemote(t *testing.T) {
	ev := loadPlan(t, "exec.hcl", eval.Node{Name: "n1", Host: "127.0.0.1"})
	cfg, _ := configFor(t, ev, func(nc *eval.ClientConfig) { nc.On = "node" })
	if err := cfg.Check(); err == nil {
		t.Error("Check accepted on = node without remotes")
	}
	err := NewFactory(cfg)().Open(t.Context(), "n1")
	if err == nil || !strings.Contains(err.Error(), "n1") {
		t.Fatalf("open: %v", err)
	}
}

// unreachable is a Remote whose node cannot be reached.
type unreachable struct{ control.Remote }

func (unreachable) Node() string { return "n1" }
func (unreachable) Exec(_ context.Context, cmd control.Command) (control.Result, error) {
	return control.Result{}, &control.NodeError{Node: "n1", Kind: control.ErrUnreachable, Err: syscall.ECONNREFUSED}
}

// lost is a Remote whose connection drops while the command runs.
type lost struct{ control.Remote }

func (lost) Node() string { return "n1" }
func (lost) Exec(_ context.Context, cmd control.Command) (control.Result, error) {
	return control.Result{}, &control.NodeError{Node: "n1", Kind: control.ErrConnLost, Err: syscall.ECONNRESET}
}

func TestExecNodeErrors(t *testing.T) {
	for _, tc := range []struct {
		remote control.Remote
		want   history.Type
	}{
		{unreachable{}, history.Fail},
		{lost{}, history.Info},
	} {
		c := execClient(t, func(cfg *Config) {
			nc := cfg.PerNode["n1"]
			nc.On = "node"
			cfg.PerNode["n1"] = nc
			cfg.Remotes = map[string]control.Remote{"n1": tc.remote}
		})
		op, err := invoke(t, c, "env", nil)
		wantType(t, op, err, tc.want)
	}
}

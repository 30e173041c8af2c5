package lifecycle

// Tests that run the node-side shell scripts on this machine through
// control.Local: quick, no Docker, and the same scripts the cluster runs.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func localDaemon(t *testing.T, name string, argv ...string) eval.DaemonConfig {
	dir := t.TempDir()
	return eval.DaemonConfig{
		Name: name, Command: argv[0], Args: argv[1:],
		Pidfile: filepath.Join(dir, "run", name+".pid"), Logfile: filepath.Join(dir, "log", name+".log"),
		ReadyTimeout: 10 * time.Second, ReadyInterval: 50 * time.Millisecond,
	}
}

func TestLocalDaemonLifecycle(t *testing.T) {
	ctx := context.Background()
	r := control.NewLocal("local")
	port := freePort(t)
	d := localDaemon(t, "web", "python3", "-m", "http.server", "--bind", "127.0.0.1", fmt.Sprint(port))
	d.Env = map[string]string{"JPLAN_TEST": "it's \"quoted\" $HOME"}
	d.Dir = t.TempDir()
	d.ReadyPort = port
	t.Cleanup(func() { StopDaemon(context.Background(), r, d, time.Second) })

	pid, err := StartDaemon(ctx, r, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitReady(ctx, r, d); err != nil {
		t.Fatal(err)
	}
	// The pidfile holds the daemon itself, not a wrapper shell.
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if !strings.HasPrefix(string(comm), "python3") {
		t.Fatalf("pidfile's process is %q, want python3", comm)
	}
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if !strings.Contains(string(env), "JPLAN_TEST=it's \"quoted\" $HOME\x00") {
		t.Errorf("environment not passed verbatim")
	}
	cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if cwd != d.Dir {
		t.Errorf("cwd %q, want %q", cwd, d.Dir)
	}
	if _, err := StartDaemon(ctx, r, d); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second start: want ErrAlreadyRunning, got %v", err)
	}

	if got, err := SignalDaemon(ctx, r, d, "STOP"); err != nil || got != pid {
		t.Fatalf("STOP: pid %d err %v", got, err)
	}
	st, err := DaemonStatus(ctx, r, d)
	if err != nil || !st.Paused() {
		t.Fatalf("after STOP: %+v %v", st, err)
	}
	if _, err := SignalDaemon(ctx, r, d, "CONT"); err != nil {
		t.Fatal(err)
	}
	if st, _ := DaemonStatus(ctx, r, d); st.Paused() || !st.Running {
		t.Fatalf("after CONT: %+v", st)
	}

	// StopDaemon also stops a paused daemon (it sends CONT after TERM).
	SignalDaemon(ctx, r, d, "STOP")
	if got, err := StopDaemon(ctx, r, d, 2*time.Second); err != nil || got != pid {
		t.Fatalf("stop: pid %d err %v", got, err)
	}
	if _, running, _ := DaemonRunning(ctx, r, d); running {
		t.Fatal("still running after stop")
	}
	if _, err := os.Stat(d.Pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile left behind: %v", err)
	}
	// Stopping again, and signalling a stopped daemon, are no-ops.
	if got, err := StopDaemon(ctx, r, d, time.Second); err != nil || got != 0 {
		t.Fatalf("second stop: %d %v", got, err)
	}
	if got, err := SignalDaemon(ctx, r, d, "KILL"); err != nil || got != 0 {
		t.Fatalf("signal stopped daemon: %d %v", got, err)
	}
	log, _ := os.ReadFile(d.Logfile)
	if !strings.Contains(string(log), "jplan: starting python3") {
		t.Errorf("logfile lacks the start line: %q", log)
	}
}

func TestLocalDaemonKillAndRestartUpdatesPidfile(t *testing.T) {
	ctx := context.Background()
	r := control.NewLocal("local")
	d := localDaemon(t, "sleeper", "sleep", "300")
	t.Cleanup(func() { StopDaemon(context.Background(), r, d, time.Second) })
	pid1, err := StartDaemon(ctx, r, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SignalDaemon(ctx, r, d, "KILL"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, running, _ := DaemonRunning(ctx, r, d); return !running })
	pid2, err := StartDaemon(ctx, r, d) // stale pidfile: allowed
	if err != nil {
		t.Fatal(err)
	}
	if pid2 == pid1 {
		t.Fatal("restart kept the old pid")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met within 5s")
}

func TestLocalReadyFailuresCarryLogTail(t *testing.T) {
	ctx := context.Background()
	r := control.NewLocal("n9")

	crash := localDaemon(t, "crashy", "sh", "-c", "echo 'fatal: bad config line 3' >&2; exit 1")
	crash.ReadyPort = freePort(t)
	if _, err := StartDaemon(ctx, r, crash); err != nil {
		t.Fatal(err)
	}
	err := WaitReady(ctx, r, crash)
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("want ErrNotReady, got %v", err)
	}
	for _, want := range []string{"n9: daemon crashy: exited before it was ready", "fatal: bad config line 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	slow := localDaemon(t, "slow", "sh", "-c", "echo still warming up; exec sleep 60")
	slow.ReadyCommand = "echo not yet; exit 1"
	slow.ReadyTimeout = time.Second
	t.Cleanup(func() { StopDaemon(context.Background(), r, slow, time.Second) })
	if _, err := StartDaemon(ctx, r, slow); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = WaitReady(ctx, r, slow)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("timeout of 1s took %s", el)
	}
	for _, want := range []string{"n9: daemon slow: not ready after 1s", "ready command", "not yet", "still warming up"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestLocalStopEscalatesToKill(t *testing.T) {
	ctx := context.Background()
	r := control.NewLocal("local")
	d := localDaemon(t, "stubborn", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done")
	pid, err := StartDaemon(ctx, r, d)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := StopDaemon(ctx, r, d, 500*time.Millisecond)
	if err != nil || got != pid {
		t.Fatalf("stop: %d %v", got, err)
	}
	if el := time.Since(start); el < 400*time.Millisecond || el > 5*time.Second {
		t.Errorf("stop took %s; want the grace period then SIGKILL", el)
	}
	if _, running, _ := DaemonRunning(ctx, r, d); running {
		t.Fatal("survived")
	}
}

func TestLocalHostsBlockIdempotent(t *testing.T) {
	ctx := context.Background()
	r := control.NewLocal("local")
	f := filepath.Join(t.TempDir(), "hosts")
	orig := "127.0.0.1 localhost\n::1 localhost\n"
	if err := os.WriteFile(f, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	old := hostsFile
	hostsFile = f
	defer func() { hostsFile = old }()
	nodes := []eval.Node{{Name: "n2", Host: "10.0.0.2", Index: 1}, {Name: "n1", Host: "10.0.0.1", Index: 0}, {Name: "n3", Host: "n3", Index: 2}}
	for i := 0; i < 2; i++ {
		if err := WriteHosts(ctx, r, nodes); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(f)
	want := orig + hostsBegin + "\n10.0.0.1 n1\n10.0.0.2 n2\n" + hostsEnd + "\n"
	if string(got) != want {
		t.Fatalf("hosts:\n%s\nwant:\n%s", got, want)
	}
	// New addresses replace the block; the user's lines stay.
	nodes[0].Host = "10.0.0.22"
	if err := WriteHosts(ctx, r, nodes); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(f)
	if strings.Count(string(got), hostsBegin) != 1 || !strings.Contains(string(got), "10.0.0.22 n2\n") || strings.Contains(string(got), "10.0.0.2 n2") {
		t.Fatalf("block not replaced:\n%s", got)
	}
	if err := RemoveHosts(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(f)
	if string(got) != orig {
		t.Fatalf("after RemoveHosts:\n%s", got)
	}
}

func TestStepErrorFormat(t *testing.T) {
	ee := &control.ExitError{Node: "n3", Command: "apt-get install -y etcd-server", ExitStatus: 100,
		StderrTail: "Reading package lists...\nE: Unable to locate package etcd-server\n"}
	err := &StepError{Node: "n3", DB: "etcd", Step: "install", What: "apt-get install etcd-server", Err: ee}
	want := "n3: db etcd: install: apt-get install etcd-server: exit 100: Reading package lists...\nE: Unable to locate package etcd-server"
	if err.Error() != want {
		t.Fatalf("got  %q\nwant %q", err.Error(), want)
	}
	if !errors.As(err, &ee) {
		t.Fatal("ExitError not unwrapped")
	}
	os := &StepError{Node: "n1", Step: "setup", What: "false", Err: &control.ExitError{Node: "n1", ExitStatus: 1}}
	if os.Error() != "n1: os: setup: false: exit 1" {
		t.Fatalf("got %q", os.Error())
	}
}

func TestStartScriptRejectsBadConfig(t *testing.T) {
	for _, d := range []eval.DaemonConfig{
		{Name: "x", Pidfile: "/p", Logfile: "/l"},
		{Name: "x", Command: "c", Logfile: "/l"},
		{Name: "x", Command: "c", Pidfile: "/p", Logfile: "/l", Env: map[string]string{"A=B": "x"}},
	} {
		if _, err := startScript(d); err == nil {
			t.Errorf("%+v: no error", d)
		}
	}
}

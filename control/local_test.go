package control

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLocalExecArgvEnvDirStdin(t *testing.T) {
	l := NewLocal("ctl")
	ctx := context.Background()
	dir := t.TempDir()
	res, err := l.Exec(ctx, Command{
		Script: `printf '%s|%s|' "$A" "$(pwd)"; cat`,
		Env:    map[string]string{"A": "it's $(x)"},
		Dir:    dir,
		Stdin:  strings.NewReader("from stdin"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "it's $(x)|" + dir + "|from stdin"
	if res.Stdout != want {
		t.Fatalf("stdout %q, want %q", res.Stdout, want)
	}
	res, err = l.Exec(ctx, Command{Argv: append([]string{"printf", "%s\\n"}, hostile...)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != strings.Join(hostile, "\n")+"\n" {
		t.Fatalf("argv round trip: %q", res.Stdout)
	}
}

func TestOutput(t *testing.T) {
	out, err := Output(context.Background(), NewLocal("ctl"), "printf", "%s\\n\\n", "v a l")
	if err != nil || out != "v a l" {
		t.Fatalf("%q %v", out, err)
	}
}

func TestLocalExitError(t *testing.T) {
	l := NewLocal("ctl")
	res, err := l.Exec(context.Background(), Command{Script: "echo out; echo boom >&2; exit 3"})
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want ExitError, got %v", err)
	}
	if ee.ExitStatus != 3 || res.ExitStatus != 3 || ee.Node != "ctl" || !strings.Contains(ee.StderrTail, "boom") {
		t.Fatalf("bad error %+v", ee)
	}
	if res.Stdout != "out\n" {
		t.Fatalf("stdout %q", res.Stdout)
	}
	msg := err.Error()
	for _, w := range []string{"ctl", "exit 3", "status 3", "boom"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
}

// The timeout must kill the whole process group, including a background
// grandchild, not only the shell.
func TestLocalTimeoutKillsGroup(t *testing.T) {
	l := NewLocal("ctl")
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	_, err := l.Exec(context.Background(), Command{
		Script:  "sleep 300 & echo $! > " + Quote(pidFile) + "; wait",
		Timeout: 500 * time.Millisecond,
	})
	var ee *ExitError
	if !errors.As(err, &ee) || !ee.TimedOut {
		t.Fatalf("want timed-out ExitError, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}
	pid, _ := os.ReadFile(pidFile)
	waitGone(t, l, strings.TrimSpace(string(pid)))
}

func waitGone(t *testing.T, r Remote, pid string) {
	t.Helper()
	if pid == "" {
		t.Fatal("no pid recorded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := r.Exec(context.Background(), Command{Argv: []string{"kill", "-0", pid}})
		if err != nil {
			return // gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: process %s still alive", r.Node(), pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestLocalCancel(t *testing.T) {
	l := NewLocal("ctl")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := l.Exec(ctx, Command{Argv: []string{"sleep", "30"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
}

func TestLocalUploadDownload(t *testing.T) {
	l := NewLocal("ctl")
	ctx := context.Background()
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	dir := t.TempDir()
	remote := filepath.Join(dir, "it's a file")
	if err := l.Upload(ctx, bytes.NewReader(data), remote, 0o640); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(remote)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %o", st.Mode().Perm())
	}
	local := filepath.Join(dir, "back")
	if err := DownloadFile(ctx, l, remote, local); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(local)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("download differs")
	}
	err = DownloadFile(ctx, l, filepath.Join(dir, "missing"), filepath.Join(dir, "x"))
	if err == nil || !strings.Contains(err.Error(), "No such file") {
		t.Fatalf("want a not-found error, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Fatal("failed download left a file")
	}
	// A failed upload leaves neither the target nor a temporary file.
	err = l.Upload(ctx, strings.NewReader("x"), filepath.Join(dir, "nodir", "f"), 0o644)
	if err == nil {
		t.Fatal("upload into a missing directory succeeded")
	}
}

func TestOnNodesGathersErrors(t *testing.T) {
	rs := []Remote{NewLocal("n1"), NewLocal("n2"), NewLocal("n3")}
	vals, err := OnNodesMap(context.Background(), rs, func(ctx context.Context, r Remote) (string, error) {
		if r.Node() == "n2" {
			_, err := r.Exec(ctx, Command{Script: "echo nope >&2; exit 7"})
			return "", err
		}
		if r.Node() == "n3" {
			panic("kaboom")
		}
		return r.Node() + "!", nil
	})
	var ne *NodesError
	if !errors.As(err, &ne) {
		t.Fatalf("want NodesError, got %v", err)
	}
	if got := strings.Join(ne.Failed(), ","); got != "n2,n3" {
		t.Fatalf("failed nodes %s", got)
	}
	if vals["n1"] != "n1!" || len(vals) != 1 {
		t.Fatalf("values %v", vals)
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitStatus != 7 {
		t.Fatalf("ExitError not reachable through NodesError: %v", err)
	}
	msg := err.Error()
	for _, w := range []string{"2 of 3 nodes failed", "n2: command", "nope", "n3: panic: kaboom"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
	if err := OnNodes(context.Background(), rs, func(context.Context, Remote) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 10}
	tb.Write([]byte("hello\nworld\nagain"))
	if got := tb.String(); got != "again" {
		t.Fatalf("%q", got)
	}
	tb = &tailBuffer{max: 100}
	tb.Write([]byte("a"))
	tb.Write([]byte("b"))
	if tb.String() != "ab" {
		t.Fatal(tb.String())
	}
}

func TestPIDSniffer(t *testing.T) {
	var out bytes.Buffer
	s := newPIDSniffer(&out)
	for _, c := range []byte(pidMarker + "123\nreal stderr") {
		s.Write([]byte{c}) // byte at a time: the line may arrive split
	}
	s.finish()
	if pid := <-s.pidCh; pid != "123" {
		t.Fatalf("pid %q", pid)
	}
	if out.String() != "real stderr" {
		t.Fatalf("passed through %q", out.String())
	}
	out.Reset()
	s = newPIDSniffer(&out)
	s.Write([]byte("sudo: a password is required\n"))
	s.finish()
	if _, ok := <-s.pidCh; ok {
		t.Fatal("found a pid in plain stderr")
	}
	if out.String() != "sudo: a password is required\n" {
		t.Fatalf("%q", out.String())
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

// A source that fails half-way must not leave a truncated file in place
// (nor a temporary one).
func TestUploadSourceErrorLeavesNothing(t *testing.T) {
	l := NewLocal("ctl")
	dir := t.TempDir()
	target := filepath.Join(dir, "f")
	os.WriteFile(target, []byte("old"), 0o644)
	err := l.Upload(context.Background(), &failingReader{n: 100000}, target, 0o644)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("want the source's error, got %v", err)
	}
	if got, _ := os.ReadFile(target); string(got) != "old" {
		t.Fatalf("target changed to %d bytes", len(got))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

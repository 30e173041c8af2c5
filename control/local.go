package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Local runs commands on the control machine through /bin/sh. It is the
// Remote for "nodes" that are the local host (tests, local tools) and
// needs no timeout(1): it kills the command's process group itself.
type Local struct {
	e execer
}

// NewLocal returns a Remote for the control machine, named node in errors.
func NewLocal(node string) *Local {
	if node == "" {
		node = "local"
	}
	l := &Local{}
	l.e = execer{node: node, r: localRunner{}, selfTimed: true}
	return l
}

func (l *Local) Node() string { return l.e.node }

func (l *Local) Exec(ctx context.Context, cmd Command) (Result, error) { return l.e.exec(ctx, cmd) }

func (l *Local) Upload(ctx context.Context, src io.Reader, remotePath string, mode fs.FileMode) error {
	return uploadVia(ctx, l.Exec, l.Node(), src, remotePath, mode)
}

func (l *Local) Download(ctx context.Context, remotePath string, dst io.Writer) error {
	return downloadVia(ctx, l.Exec, remotePath, dst)
}

func (l *Local) Close() error { return nil }

type localRunner struct{}

func (localRunner) run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer, onCancel func()) (int, string, error) {
	c := exec.Command("/bin/sh", "-c", script)
	c.Stdout, c.Stderr = stdout, stderr
	// Its own process group, so cancelling kills what the script started.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := startWithStdin(c, stdin); err != nil {
		return -1, "", fmt.Errorf("start /bin/sh: %w", err)
	}
	pgid := c.Process.Pid
	done := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		onCancel()
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(KillGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}()
	err := c.Wait()
	close(done)
	<-killed
	if ctx.Err() != nil {
		return -1, "", ctx.Err()
	}
	return waitStatus(c, err)
}

// waitStatus converts os/exec's outcome into (status, signal, error), with
// signal names spelled as SSH spells them ("TERM", "KILL").
func waitStatus(c *exec.Cmd, err error) (int, string, error) {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return -1, "", err
	}
	ws, ok := c.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return -1, strings.TrimPrefix(unix.SignalName(ws.Signal()), "SIG"), nil
	}
	return c.ProcessState.ExitCode(), "", nil
}

package control

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strings"
	"time"
)

// DockerConfig describes a node that is a container on a Docker engine the
// docker CLI can reach (DOCKER_HOST and contexts apply as usual).
type DockerConfig struct {
	Node      string // name in errors; defaults to Container
	Container string // container name or ID
	User      string // user inside the container; empty means the image's
	Docker    string // docker CLI binary; default "docker"
	// SudoPassword is the default password for commands run with Sudo.
	SudoPassword string
}

// Docker runs commands with `docker exec` and moves files through
// `docker exec -i` streams (which carry bytes verbatim, so binary files and
// sudo work exactly as over SSH). It needs no SSH server in the container.
type Docker struct {
	cfg DockerConfig
	e   execer
}

// NewDocker returns a Remote for a container.
func NewDocker(cfg DockerConfig) (*Docker, error) {
	if cfg.Container == "" {
		return nil, fmt.Errorf("docker remote: no container given")
	}
	if cfg.Node == "" {
		cfg.Node = cfg.Container
	}
	if cfg.Docker == "" {
		cfg.Docker = "docker"
	}
	d := &Docker{cfg: cfg}
	d.e = execer{node: cfg.Node, r: dockerRunner{cfg: cfg}, sudoPassword: cfg.SudoPassword}
	return d, nil
}

func (d *Docker) Node() string { return d.cfg.Node }

func (d *Docker) Exec(ctx context.Context, cmd Command) (Result, error) { return d.e.exec(ctx, cmd) }

func (d *Docker) Upload(ctx context.Context, src io.Reader, remotePath string, mode fs.FileMode) error {
	return uploadVia(ctx, d.Exec, d.Node(), src, remotePath, mode)
}

func (d *Docker) Download(ctx context.Context, remotePath string, dst io.Writer) error {
	return downloadVia(ctx, d.Exec, remotePath, dst)
}

func (d *Docker) Close() error { return nil }

type dockerRunner struct{ cfg DockerConfig }

func (r dockerRunner) run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer, onCancel func()) (int, string, error) {
	args := []string{"exec"}
	if stdin != nil {
		args = append(args, "-i")
	}
	if r.cfg.User != "" {
		args = append(args, "-u", r.cfg.User)
	}
	args = append(args, r.cfg.Container, "/bin/sh", "-c", script)
	c := exec.Command(r.cfg.Docker, args...)
	// The first bytes of stderr tell a docker failure ("Error response
	// from daemon: ... is not running") from the command's own output:
	// wrapped commands always print their PID line first.
	head := &headBuffer{max: 512}
	c.Stdout, c.Stderr = stdout, io.MultiWriter(head, stderr)
	if err := startWithStdin(c, stdin); err != nil {
		return -1, "", &NodeError{Node: r.cfg.Container, Addr: "container " + r.cfg.Container, Err: fmt.Errorf("docker exec: %w", err)}
	}
	done := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		// Killing the docker CLI does not kill the process in the
		// container, so kill that first (onCancel), then the CLI.
		onCancel()
		select {
		case <-done:
		case <-time.After(KillGrace + time.Second):
			_ = c.Process.Kill()
		}
	}()
	err := c.Wait()
	close(done)
	<-killed
	if ctx.Err() != nil {
		return -1, "", ctx.Err()
	}
	status, signal, err := waitStatus(c, err)
	if err != nil {
		return status, signal, &NodeError{Node: r.cfg.Node, Addr: "container " + r.cfg.Container, Err: fmt.Errorf("docker exec: %w", err)}
	}
	if status != 0 {
		h := head.buf.String()
		if strings.HasPrefix(h, "Error response from daemon") || strings.HasPrefix(h, "Error: No such container") {
			return status, signal, &NodeError{Node: r.cfg.Node, Addr: "container " + r.cfg.Container, Kind: ErrUnreachable,
				Err: fmt.Errorf("%s", strings.TrimSpace(firstLine(h)))}
		}
	}
	return status, signal, nil
}

type headBuffer struct {
	max int
	buf bytes.Buffer
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - h.buf.Len(); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		h.buf.Write(p[:room])
	}
	return len(p), nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

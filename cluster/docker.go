package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrNoDocker means no Docker engine answered. Tests skip on it.
var ErrNoDocker = errors.New("no Docker engine reachable")

// docker runs the docker CLI. The CLI (rather than the engine's HTTP API)
// keeps jplan free of the Docker SDK and honours DOCKER_HOST and contexts
// exactly as the user's shell does.
type docker struct{ bin string }

func (d docker) run(ctx context.Context, args ...string) (string, error) {
	return execCmd(ctx, orDefault(d.bin, "docker"), "docker", args, redact(args))
}

// runCmd runs a host command (ip, iptables, qemu-img) for the qemu driver.
func runCmd(ctx context.Context, name string, args ...string) (string, error) {
	return execCmd(ctx, name, name, args, args)
}

// execCmd runs bin with args and returns its trimmed stdout; its error
// shows the command as label and shown (args with secrets hidden) and
// the command's stderr.
func execCmd(ctx context.Context, bin, label string, args, shown []string) (string, error) {
	var out, errb bytes.Buffer
	c := exec.CommandContext(ctx, bin, args...)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.String(), fmt.Errorf("%s %s: %s", label, strings.Join(shown, " "), msg)
	}
	return strings.TrimSpace(out.String()), nil
}

// redact hides environment values (the authorized key is long and noisy)
// from error messages.
func redact(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if i > 0 && args[i-1] == "-e" {
			if k, _, ok := strings.Cut(a, "="); ok {
				a = k + "=…"
			}
		}
		out[i] = a
	}
	return out
}

// Ping checks that a Docker engine answers, returning ErrNoDocker
// (wrapped, with the CLI's reason) if not.
func Ping(ctx context.Context, dockerBin string) error {
	d := docker{bin: dockerBin}
	if _, err := exec.LookPath(orDefault(dockerBin, "docker")); err != nil {
		return fmt.Errorf("%w: docker CLI not found", ErrNoDocker)
	}
	if _, err := d.run(ctx, "version", "--format", "{{.Server.Version}}"); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Package agent puts jplan's helper programs on nodes. Some faults need a
// program on the node — setting the clock, flipping bits in a file, a fault
// injecting filesystem — and nodes need not have a compiler, so jplan ships
// static Linux binaries and uploads them. A binary is found next to the
// jplan executable (bin/ after `make build`), in $JPLAN_AGENT_DIR, or, when
// jplan runs from its source tree (tests, `go run`), built from
// ./cmd/<name> with CGO disabled into a cache directory.
package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/jplan/jplan/control"
)

// RemoteDir is where agents are installed on nodes.
const RemoteDir = "/usr/local/lib/jplan"

// DirEnv names a directory holding prebuilt agents.
const DirEnv = "JPLAN_AGENT_DIR"

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// Local returns the path of a static linux/amd64 (or the host's
// architecture) build of cmd/<name>.
func Local(name string) (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if _, err := os.Stat(p); err == nil && runtime.GOOS == "linux" {
			return p, nil
		}
	}
	return buildFromSource(name)
}

// buildFromSource builds cmd/<name> of the jplan module found above the
// working directory. Once per process per name.
func buildFromSource(name string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("agent %s: no prebuilt binary next to jplan or in $%s, and %w", name, DirEnv, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "jplan", "agents")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("agent %s: building from source: %v: %s", name, err, strings.TrimSpace(string(msg)))
	}
	built[name] = out
	return out, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/jplan/jplan\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("jplan's source tree is not above the working directory")
		}
		dir = parent
	}
}

// Install uploads the agent to a node unless the same build is already
// there, and returns its path on the node. The path holds a hash of the
// binary, so nodes never run a stale agent.
func Install(ctx context.Context, r control.Remote, name string) (string, error) {
	local, err := Local(name)
	if err != nil {
		return "", err
	}
	f, err := os.Open(local)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	remote := fmt.Sprintf("%s/%s-%s", RemoteDir, name, sum)
	if _, err := r.Exec(ctx, control.Command{Argv: []string{"test", "-x", remote}}); err == nil {
		return remote, nil
	}
	if _, err := r.Exec(ctx, control.Command{Argv: []string{"mkdir", "-p", RemoteDir}}); err != nil {
		return "", fmt.Errorf("%s: installing agent %s: %w", r.Node(), name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if err := r.Upload(ctx, f, remote, 0o755); err != nil {
		return "", fmt.Errorf("%s: installing agent %s: %w", r.Node(), name, err)
	}
	return remote, nil
}

// Package clustertest gives a test package one local cluster shared by all
// its tests: started on first use, torn down when the tests end (also when
// they fail), skipped when there is no Docker engine unless
// JPLAN_REQUIRE_DOCKER=1 demands one.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jplan/jplan/cluster"
)

// RequireDockerEnv, set to 1, turns "no Docker" from a skip into a failure
// (for CI machines that must run the integration tests).
const RequireDockerEnv = "JPLAN_REQUIRE_DOCKER"

var errNotRoot = errors.New("a QEMU cluster needs root (bridge and tap devices)")

// Env is a lazily started cluster.
type Env struct {
	opts    cluster.Options
	once    sync.Once
	mu      sync.Mutex // guards started against a concurrent teardown
	info    *cluster.Info
	err     error
	started bool
	start   time.Duration
	vmLock  *os.File
}

// vmLockPath serializes VM clusters across test packages: `go test ./...`
// runs packages in parallel, and several emulated clusters at once on a
// small machine slow each other down until timing-sensitive databases
// misbehave. One package's VMs run at a time; the others wait.
const vmLockPath = "/tmp/jplan-vm-tests.lock"

func lockVMs() (*os.File, error) {
	f, err := os.OpenFile(vmLockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", vmLockPath, err)
	}
	return f, nil
}

// LockVMs holds the VM lock (see vmLockPath) until t ends, for tests that
// start VMs themselves.
func LockVMs(t testing.TB) {
	t.Helper()
	f, err := lockVMs()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}

// New describes a test cluster. Each test package needs its own name and
// subnet, since `go test ./...` runs packages in parallel.
func New(name, subnet string, nodes int) *Env {
	return &Env{opts: cluster.Options{Name: name, Subnet: subnet, Nodes: nodes, Recreate: true}}
}

// NewQEMU describes a test cluster of QEMU VMs (cluster.DriverQEMU): nodes
// with their own kernels and clocks, for faults containers cannot have.
// Such tests also skip without Docker (the VM image is made from the node
// image) and without root (taps and a bridge), unless
// JPLAN_REQUIRE_DOCKER=1.
func NewQEMU(name, subnet string, nodes int) *Env {
	e := New(name, subnet, nodes)
	e.opts.Driver = cluster.DriverQEMU
	return e
}

// Main runs the tests and then removes the cluster if one was started. Use
// it as: func TestMain(m *testing.M) { os.Exit(env.Main(m)) }.
// Containers left behind by a run that died anyway (go test's -timeout
// panic, SIGKILL) are removed by the next run, which recreates the cluster.
func (e *Env) Main(m *testing.M) int { return MainAll(m, e) }

// MainAll is Main for a package with several clusters.
func MainAll(m *testing.M, envs ...*Env) int {
	// Ctrl-C would otherwise kill the test binary before teardown.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		for _, e := range envs {
			fmt.Fprintf(os.Stderr, "clustertest: interrupted; removing %s\n", e.opts.Name)
			e.teardown()
		}
		os.Exit(1)
	}()
	code := m.Run()
	signal.Stop(sigs)
	for _, e := range envs {
		if err := e.teardown(); err != nil && code == 0 {
			code = 1
		}
	}
	return code
}

func (e *Env) teardown() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		return nil
	}
	e.started = false
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := cluster.Down(ctx, e.opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: tearing down %s: %v\n", e.opts.Name, err)
	}
	os.RemoveAll(e.opts.Dir)
	if e.vmLock != nil {
		e.vmLock.Close()
		e.vmLock = nil
	}
	return err
}

// Need returns the cluster, starting it on first call. Without a Docker
// engine it skips the test (fails it under JPLAN_REQUIRE_DOCKER=1); with
// -short it skips.
func (e *Env) Need(t testing.TB) *cluster.Info {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs a Docker cluster; skipped with -short")
	}
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := cluster.Ping(ctx, ""); err != nil {
			e.err = err
			return
		}
		if e.opts.Driver == cluster.DriverQEMU {
			if os.Geteuid() != 0 {
				e.err = errNotRoot
				return
			}
			if e.vmLock, e.err = lockVMs(); e.err != nil {
				return
			}
		}
		dir, err := os.MkdirTemp("", "jplan-"+e.opts.Name+"-")
		if err != nil {
			e.err = err
			return
		}
		e.opts.Dir = dir
		e.opts.Log = os.Stderr
		e.mu.Lock()
		e.started = true // tear down even a half-started cluster
		e.mu.Unlock()
		t0 := time.Now()
		e.info, e.err = cluster.Up(ctx, e.opts)
		e.start = time.Since(t0)
		if e.err == nil {
			fmt.Fprintf(os.Stderr, "clustertest: %s up in %s\n", e.opts.Name, e.start.Round(100*time.Millisecond))
		}
	})
	if errors.Is(e.err, cluster.ErrNoDocker) || errors.Is(e.err, errNotRoot) {
		if os.Getenv(RequireDockerEnv) == "1" {
			t.Fatalf("%s=1 but %v", RequireDockerEnv, e.err)
		}
		t.Skipf("skipping integration test: %v (set %s=1 to make this a failure)", e.err, RequireDockerEnv)
	}
	if e.err != nil {
		t.Fatalf("starting test cluster: %v", e.err)
	}
	return e.info
}

// Options returns the options the cluster was started with.
func (e *Env) Options() cluster.Options { return e.opts }

package nemesis

// The filesystem fault puts a directory (a database's data directory) on
// faultfs, jplan's fault-injecting FUSE filesystem (cmd/jplan-faultfs),
// and makes it misbehave.
//
// Mount lifecycle, per node (every node that has the fault's daemon, or
// every node when the fault names none):
//
//   - setup (Nemesis.Setup, or the fault's first start or stop if Setup
//     did not do it): install jplan-faultfs, stop the daemon (gracefully,
//     so it flushes what it wants to), rename dir to dir + ".faultfs" (the
//     backing directory), create an empty dir with the same owner and
//     mode, mount faultfs there, and start the daemon again (waiting until
//     it is ready) if it was running. From then on every write the daemon
//     makes passes through faultfs.
//   - heal (Nemesis.Teardown): switch every behaviour off, stop the
//     daemon, unmount (faultfs writes what it still buffers to the
//     backing directory, as a clean shutdown would), rename the backing
//     directory back to dir, and start the daemon again. Dir is a plain
//     directory once more and nothing of faultfs stays mounted.
//
// A mount left behind by an interrupted run is unmounted and its backing
// directory put back before mounting again.
//
// mode "lose-unfsynced" is Jepsen's lose-unfsynced-writes: start kills the
// daemon (SIGKILL), waits for it to die, makes faultfs forget every write
// not fsynced, and restarts the daemon (waiting until it is ready), as
// after a power failure; stop has nothing to undo. The other modes switch
// the matching faultfs behaviour on at start (with the fault's
// probability) and off at stop.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/nemesis/agent"
)

func init() { registerBuilder("filesystem", buildFilesystem) }

const fsTimeout = 2 * time.Minute

// fsModes maps the plan's modes to faultfs behaviours ("" for the loss).
var fsModes = map[string]string{
	"lose-unfsynced": "",
	"drop-writes":    "drop-writes",
	"error-writes":   "error-writes",
	"error-reads":    "error-reads",
	"corrupt":        "corrupt",
	"torn-writes":    "torn-writes",
}

type filesystem struct {
	n       *Nemesis
	cfg     eval.FaultConfig
	daemons DaemonLookup
	m       *fsMount
}

// fsMount is one directory on faultfs, shared by the faults naming it.
// Its id names the control socket, pidfile and log on the nodes.
type fsMount struct {
	*dirMount[*fsNode]
}

type fsNode struct {
	dirNode
	bin string // jplan-faultfs on the node
}

var (
	fsMountsMu sync.Mutex
	fsMounts   = map[*Nemesis]map[string]*fsMount{}
)

func buildFilesystem(n *Nemesis, fc eval.FaultConfig, daemons DaemonLookup) (fault, error) {
	if fc.Dir == "" || !path.IsAbs(fc.Dir) || path.Clean(fc.Dir) == "/" {
		return nil, fmt.Errorf("dir must be an absolute path other than /, got %q", fc.Dir)
	}
	if _, ok := fsModes[fc.Mode]; !ok {
		return nil, fmt.Errorf("unknown filesystem mode %q", fc.Mode)
	}
	if fc.Prob < 0 || fc.Prob > 1 {
		return nil, fmt.Errorf("probability %g is not between 0 and 1", fc.Prob)
	}
	if err := checkFaultDaemon(n, fc, daemons); err != nil {
		return nil, err
	}
	dir := path.Clean(fc.Dir)
	fsMountsMu.Lock()
	defer fsMountsMu.Unlock()
	m := sharedDir(fsMounts, n, dir, func() *fsMount {
		return &fsMount{newDirMount(n, dir, func() *fsNode { return &fsNode{} })}
	})
	m.addDaemon(fc)
	return &filesystem{n: n, cfg: fc, daemons: daemons, m: m}, nil
}

// setup mounts faultfs on every node of the mount (see the top of the
// file). It is safe to call again.
func (f *filesystem) setup(ctx context.Context) error {
	return f.m.ensure(ctx, f.daemons)
}

func (f *filesystem) start(ctx context.Context) (any, error) {
	if err := f.setup(ctx); err != nil {
		return nil, err
	}
	return f.m.onTargets(ctx, f.cfg.Targets, func(ctx context.Context, r control.Remote, nm *fsNode) (string, error) {
		if nm == nil || !nm.isMounted() {
			return "not mounted", nil
		}
		if f.cfg.Mode == "lose-unfsynced" {
			return f.lose(ctx, r, nm)
		}
		prob := f.cfg.Prob
		if prob <= 0 {
			prob = 1
		}
		mode := fsModes[f.cfg.Mode]
		if _, err := f.m.ctl(ctx, r, nm, "set", mode, "p="+strconv.FormatFloat(prob, 'g', -1, 64)); err != nil {
			return "", err
		}
		return mode + " on", nil
	})
}

// lose is a power failure: the daemon dies, unsynced writes vanish, the
// daemon comes back.
func (f *filesystem) lose(ctx context.Context, r control.Remote, nm *fsNode) (string, error) {
	p, err := cutPower(ctx, r, f.cfg, f.daemons)
	if err != nil {
		return "", err
	}
	out, err := f.m.ctl(ctx, r, nm, "lose")
	if err != nil {
		return "", err
	}
	var rep struct {
		Files int   `json:"files"`
		Bytes int64 `json:"bytes"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return "", fmt.Errorf("%s: faultfs lose: unexpected reply %q", r.Node(), out)
	}
	msg := fmt.Sprintf("lost %d unsynced bytes in %d files", rep.Bytes, rep.Files)
	return p.restore(ctx, r, msg, nm.ran(f.cfg.DB+"."+f.cfg.Daemon))
}

func (f *filesystem) stop(ctx context.Context) (any, error) {
	if err := f.setup(ctx); err != nil {
		return nil, err
	}
	nodes := f.m.mountedNodes()
	if f.cfg.Mode == "lose-unfsynced" {
		return nothingToUndo(nodes), nil
	}
	mode := fsModes[f.cfg.Mode]
	return f.n.onNodes(ctx, nodes, func(ctx context.Context, r control.Remote) (string, error) {
		if _, err := f.m.ctl(ctx, r, f.m.node(r.Node(), false), "clear", mode); err != nil {
			return "", err
		}
		return mode + " off", nil
	})
}

// heal unmounts faultfs and puts the directory back (see the top of the
// file). The first fault of a shared mount does it; the rest find nothing
// left to do.
func (f *filesystem) heal(ctx context.Context) error {
	return f.m.heal(ctx, f.daemons)
}

// ran says whether a daemon ran when the mount was set up. lose runs
// without the node's lock; this takes it.
func (nm *fsNode) ran(daemon string) bool {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	return nm.wasRunning[daemon]
}

func (m *fsMount) paths() (back, sock, pid, log string) {
	return m.dir + ".faultfs", "/run/jplan-faultfs/" + m.id + ".sock", "/run/jplan-faultfs/" + m.id + ".pid", "/var/log/jplan-faultfs-" + m.id + ".log"
}

// isFaultfs is a shell function: is $1 a faultfs mountpoint?
const isFaultfsFn = `is_faultfs() { awk -v d="$1" '$2 == d && $3 == "fuse.faultfs" { f = 1 } END { exit !f }' /proc/mounts; }
`

// restoreScript unmounts dir (if faultfs is mounted there) and renames the
// backing directory back. bin may be empty (then plain umount).
func (m *fsMount) restoreScript(bin string) string {
	back, sock, pid, _ := m.paths()
	return isFaultfsFn + fmt.Sprintf(`dir=%s; back=%s; bin=%s; sock=%s; pid=%s
if is_faultfs "$dir"; then
	if [ -n "$bin" ] && [ -x "$bin" ]; then
		"$bin" unmount --mount "$dir" --control "$sock" --pidfile "$pid"
	else
		umount "$dir" || fusermount3 -u "$dir"
	fi
fi
if is_faultfs "$dir"; then echo "faultfs still mounted at $dir" >&2; exit 1; fi
if [ -d "$back" ]; then
	if [ -d "$dir" ] && ! rmdir "$dir"; then
		echo "both $dir and $back hold data; leaving both" >&2; exit 1
	fi
	mv "$back" "$dir"
fi
`, control.Quote(m.dir), control.Quote(back), control.Quote(bin), control.Quote(sock), control.Quote(pid))
}

func (m *fsMount) mountScript(bin string) string {
	_, _, _, log := m.paths()
	// restoreScript sets dir, back, bin, sock and pid.
	return m.restoreScript(bin) + fmt.Sprintf(`mkdir -p /run/jplan-faultfs "$dir"
mv "$dir" "$back"
mkdir "$dir"
chown --reference="$back" "$dir"
chmod --reference="$back" "$dir"
"$bin" mount --backing "$back" --mount "$dir" --control "$sock" --pidfile "$pid" --log %s --seed %d >/dev/null
`, control.Quote(log), m.seed()) + `is_faultfs "$dir"
`
}

func (m *fsMount) seed() uint64 {
	m.n.rngMu.Lock()
	defer m.n.rngMu.Unlock()
	return m.n.rng.Uint64()>>1 + 1
}

func sh(ctx context.Context, r control.Remote, script string) (string, error) {
	res, err := r.Exec(ctx, control.Command{Script: "set -e\n" + script, Timeout: fsTimeout})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(res.Stdout), nil
}

// ensure mounts faultfs on every node of the mount where it is not yet.
func (m *fsMount) ensure(ctx context.Context, lookup DaemonLookup) error {
	todo, err := m.setUp(ctx, lookup, func(ctx context.Context, r control.Remote, nm *fsNode) error {
		return m.mountOn(ctx, r, nm, lookup)
	})
	if err != nil {
		return fmt.Errorf("mounting faultfs at %s: %w", m.dir, err)
	}
	if len(todo) > 0 {
		m.n.logf("nemesis: faultfs mounted at %s on %s", m.dir, strings.Join(todo, ", "))
	}
	return nil
}

// mountOn mounts faultfs on a node. Called with the node's lock held.
func (m *fsMount) mountOn(ctx context.Context, r control.Remote, nm *fsNode, lookup DaemonLookup) error {
	bin, err := agent.Install(ctx, r, "jplan-faultfs")
	if err != nil {
		return err
	}
	nm.bin = bin
	daemons := m.daemonsOn(r.Node(), lookup)
	if err := nm.stopForSetup(ctx, r, daemons); err != nil {
		return err
	}
	if _, err := sh(ctx, r, m.mountScript(bin)); err != nil {
		return err
	}
	nm.mounted = true
	// Not startAgain: here the first daemon that fails to start fails the
	// setup at once, as it always has, without trying the others.
	for name, d := range daemons {
		if nm.wasRunning[name] {
			if err := startReady(ctx, r, d); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *fsMount) ctl(ctx context.Context, r control.Remote, nm *fsNode, args ...string) (string, error) {
	if nm == nil {
		return "", fmt.Errorf("%s: faultfs is not mounted at %s", r.Node(), m.dir)
	}
	_, sock, _, _ := m.paths()
	nm.mu.Lock()
	bin := nm.bin
	nm.mu.Unlock()
	res, err := r.Exec(ctx, control.Command{Argv: append([]string{bin, "ctl", sock}, args...), Timeout: fsTimeout})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(res.Stdout), nil
}

// heal restores every node the mount was (or may have been) set up on.
func (m *fsMount) heal(ctx context.Context, lookup DaemonLookup) error {
	err := m.dirMount.heal(ctx, func(ctx context.Context, r control.Remote, nm *fsNode) error {
		daemons := m.daemonsOn(r.Node(), lookup)
		running, err := nm.stopForHeal(ctx, r, daemons)
		if err != nil {
			return err
		}
		if _, err := sh(ctx, r, m.restoreScript(nm.bin)); err != nil {
			return err
		}
		nm.mounted, nm.touched = false, false
		return errors.Join(startAgain(ctx, r, daemons, running)...)
	})
	if err != nil {
		return fmt.Errorf("unmounting faultfs at %s: %w", m.dir, err)
	}
	return nil
}

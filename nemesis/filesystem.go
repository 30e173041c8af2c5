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
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/jplan/jplan/lifecycle"
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
type fsMount struct {
	n   *Nemesis
	dir string
	id  string // names the control socket, pidfile and log on the nodes

	mu      sync.Mutex
	daemons [][2]string // (db, daemon) of the faults that share the mount
	nodes   map[string]*fsNode
}

type fsNode struct {
	mu         sync.Mutex
	bin        string // jplan-faultfs on the node
	touched    bool   // set up (maybe partly) and not yet healed
	mounted    bool
	wasRunning map[string]bool // daemon → running when we mounted
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
	if fc.Daemon != "" {
		found := false
		for _, node := range n.nodes {
			if _, ok := daemons(node, fc.DB, fc.Daemon); ok {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("daemon %s of db %s is not defined on any node", fc.Daemon, fc.DB)
		}
	}
	dir := path.Clean(fc.Dir)
	fsMountsMu.Lock()
	defer fsMountsMu.Unlock()
	if fsMounts[n] == nil {
		fsMounts[n] = map[string]*fsMount{}
	}
	m := fsMounts[n][dir]
	if m == nil {
		sum := sha256.Sum256([]byte(dir))
		m = &fsMount{n: n, dir: dir, id: hex.EncodeToString(sum[:6]), nodes: map[string]*fsNode{}}
		fsMounts[n][dir] = m
	}
	if fc.Daemon != "" {
		m.daemons = append(m.daemons, [2]string{fc.DB, fc.Daemon})
	}
	return &filesystem{n: n, cfg: fc, daemons: daemons, m: m}, nil
}

// setup mounts faultfs on every node of the mount (see the top of the
// file). It is safe to call again.
func (f *filesystem) setup(ctx context.Context) error {
	_, err := f.m.ensure(ctx, f.daemons)
	return err
}

func (f *filesystem) daemon(node string) (eval.DaemonConfig, bool) {
	if f.cfg.Daemon == "" {
		return eval.DaemonConfig{}, false
	}
	return f.daemons(node, f.cfg.DB, f.cfg.Daemon)
}

func (f *filesystem) start(ctx context.Context) (any, error) {
	if err := f.setup(ctx); err != nil {
		return nil, err
	}
	targets, err := f.n.targets(f.cfg.Targets)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return map[string]any{}, nil
	}
	return f.n.onNodes(ctx, targets, func(ctx context.Context, r control.Remote) (string, error) {
		nm := f.m.node(r.Node(), false)
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
	d, hasDaemon := f.daemon(r.Node())
	killed := false
	if hasDaemon {
		pid, err := lifecycle.SignalDaemon(ctx, r, d, "KILL")
		if err != nil {
			return "", err
		}
		killed = pid > 0
		if killed {
			if err := waitDead(ctx, r, d); err != nil {
				return "", err
			}
		}
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
	if !hasDaemon {
		return msg, nil
	}
	if !killed && !nm.ran(f.cfg.DB+"."+f.cfg.Daemon) {
		return msg + "; daemon not running", nil
	}
	if err := startReady(ctx, r, d); err != nil {
		return "", fmt.Errorf("%s (restarting the daemon: %w)", msg, err)
	}
	return msg + "; daemon restarted", nil
}

func (f *filesystem) stop(ctx context.Context) (any, error) {
	if err := f.setup(ctx); err != nil {
		return nil, err
	}
	nodes := f.m.mountedNodes()
	if f.cfg.Mode == "lose-unfsynced" {
		out := map[string]any{}
		for _, node := range nodes {
			out[node] = "nothing to undo"
		}
		return out, nil
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

// node returns the state of a node of the mount, creating it if asked.
func (m *fsMount) node(node string, create bool) *fsNode {
	m.mu.Lock()
	defer m.mu.Unlock()
	nm := m.nodes[node]
	if nm == nil && create {
		nm = &fsNode{wasRunning: map[string]bool{}}
		m.nodes[node] = nm
	}
	return nm
}

func (nm *fsNode) isMounted() bool {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	return nm.mounted
}

func (nm *fsNode) ran(daemon string) bool {
	nm.mu.Lock()
	defer nm.mu.Unlock()
	return nm.wasRunning[daemon]
}

func (m *fsMount) mountedNodes() []string {
	var out []string
	for _, node := range m.n.nodes {
		if nm := m.node(node, false); nm != nil && nm.isMounted() {
			out = append(out, node)
		}
	}
	return out
}

// daemonsOn are the daemons running on dir on a node.
func (m *fsMount) daemonsOn(node string, lookup DaemonLookup) map[string]eval.DaemonConfig {
	m.mu.Lock()
	refs := append([][2]string(nil), m.daemons...)
	m.mu.Unlock()
	out := map[string]eval.DaemonConfig{}
	for _, ref := range refs {
		if d, ok := lookup(node, ref[0], ref[1]); ok {
			out[ref[0]+"."+ref[1]] = d
		}
	}
	return out
}

// mountNodes are the nodes the directory is mounted on: those with one of
// the faults' daemons, or every node when no fault names a daemon.
func (m *fsMount) mountNodes(lookup DaemonLookup) []string {
	m.mu.Lock()
	none := len(m.daemons) == 0
	m.mu.Unlock()
	if none {
		return m.n.nodes
	}
	var out []string
	for _, node := range m.n.nodes {
		if len(m.daemonsOn(node, lookup)) > 0 {
			out = append(out, node)
		}
	}
	return out
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
func (m *fsMount) ensure(ctx context.Context, lookup DaemonLookup) (map[string]any, error) {
	var todo []string
	for _, node := range m.mountNodes(lookup) {
		if nm := m.node(node, true); !nm.isMounted() {
			todo = append(todo, node)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	vals, err := m.n.onNodes(ctx, todo, func(ctx context.Context, r control.Remote) (string, error) {
		return m.mountOn(ctx, r, lookup)
	})
	if err != nil {
		return vals, fmt.Errorf("mounting faultfs at %s: %w", m.dir, err)
	}
	m.n.logf("nemesis: faultfs mounted at %s on %s", m.dir, strings.Join(todo, ", "))
	return vals, nil
}

func (m *fsMount) mountOn(ctx context.Context, r control.Remote, lookup DaemonLookup) (string, error) {
	nm := m.node(r.Node(), true)
	nm.mu.Lock()
	defer nm.mu.Unlock()
	if nm.mounted {
		return "mounted", nil
	}
	bin, err := agent.Install(ctx, r, "jplan-faultfs")
	if err != nil {
		return "", err
	}
	nm.bin = bin
	nm.touched = true
	daemons := m.daemonsOn(r.Node(), lookup)
	for name, d := range daemons {
		pid, err := lifecycle.StopDaemon(ctx, r, d, 0)
		if err != nil {
			return "", err
		}
		nm.wasRunning[name] = pid > 0
	}
	if _, err := sh(ctx, r, m.mountScript(bin)); err != nil {
		return "", err
	}
	nm.mounted = true
	for name, d := range daemons {
		if nm.wasRunning[name] {
			if err := startReady(ctx, r, d); err != nil {
				return "", err
			}
		}
	}
	return "mounted", nil
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
	m.mu.Lock()
	var nodes []string
	for _, node := range m.n.nodes {
		if nm := m.nodes[node]; nm != nil {
			nm.mu.Lock()
			if nm.touched {
				nodes = append(nodes, node)
			}
			nm.mu.Unlock()
		}
	}
	m.mu.Unlock()
	if len(nodes) == 0 {
		return nil
	}
	_, err := m.n.onNodes(ctx, nodes, func(ctx context.Context, r control.Remote) (string, error) {
		nm := m.node(r.Node(), true)
		nm.mu.Lock()
		defer nm.mu.Unlock()
		if !nm.touched {
			return "restored", nil
		}
		daemons := m.daemonsOn(r.Node(), lookup)
		running := map[string]bool{}
		for name, d := range daemons {
			pid, err := lifecycle.StopDaemon(ctx, r, d, 0)
			if err != nil {
				return "", err
			}
			running[name] = pid > 0 || nm.wasRunning[name]
		}
		if _, err := sh(ctx, r, m.restoreScript(nm.bin)); err != nil {
			return "", err
		}
		nm.mounted, nm.touched = false, false
		var errs []error
		for name, d := range daemons {
			if running[name] {
				if err := startReady(ctx, r, d); err != nil {
					errs = append(errs, err)
				}
			}
		}
		return "restored", errors.Join(errs...)
	})
	if err != nil {
		return fmt.Errorf("unmounting faultfs at %s: %w", m.dir, err)
	}
	return nil
}

// startReady starts a daemon and waits until it is ready.
func startReady(ctx context.Context, r control.Remote, d eval.DaemonConfig) error {
	if _, err := lifecycle.StartDaemon(ctx, r, d); err != nil && !errors.Is(err, lifecycle.ErrAlreadyRunning) {
		return err
	}
	return lifecycle.WaitReady(ctx, r, d)
}

// waitDead waits for a killed daemon's process to be gone, so that nothing
// it had in flight reaches the filesystem after the loss.
func waitDead(ctx context.Context, r control.Remote, d eval.DaemonConfig) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := lifecycle.DaemonStatus(ctx, r, d)
		if err != nil {
			return err
		}
		if !st.Running {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: daemon %s (pid %d) still alive 30s after SIGKILL", r.Node(), d.Name, st.PID)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

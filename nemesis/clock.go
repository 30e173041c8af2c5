package nemesis

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lifecycle"
	"github.com/jplan/jplan/nemesis/agent"
)

// Clock faults move time, as Jepsen's clock nemesis does, in one of two
// ways:
//
//   - settime: jplan-agent shifts the node's CLOCK_REALTIME (adjtimex
//     ADJ_SETOFFSET) and sets it back to the control machine's time on stop.
//     NTP daemons are stopped before the first change and started again by
//     heal. It is refused on a node that shares its kernel, and so its
//     clock, with the control machine or with another node (containers).
//   - faketime: the fault's daemon is restarted under libfaketime, reading
//     its offset from a per-daemon file that jplan-agent rewrites; only that
//     daemon (and the programs it starts) sees the skew.
//
// Every completion maps each node to its clock's offset in seconds.

func init() { registerBuilder("clock", buildClock) }

const (
	faketimeDir   = "/var/lib/jplan/faketime"
	ntpStopped    = "/var/lib/jplan/clock/ntp-stopped"
	clockTimeout  = 2 * time.Minute
	bootIDPath    = "/proc/sys/kernel/random/boot_id"
	faketimeLibs  = "/usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketime.so.1 /usr/lib64/faketime/libfaketimeMT.so.1 /usr/lib64/faketime/libfaketime.so.1 /usr/local/lib/faketime/libfaketimeMT.so.1 /usr/local/lib/faketime/libfaketime.so.1"
	faketimeFileV = "FAKETIME_TIMESTAMP_FILE"
)

type clockFault struct {
	n       *Nemesis
	cfg     eval.FaultConfig
	daemons DaemonLookup
	agents  *nodeAgents

	mu      sync.Mutex
	touched map[string]bool // nodes whose clock this fault moved and did not reset
	ntpDone map[string]bool // settime: nodes where NTP was stopped
	shared  error           // settime: why the clocks cannot be set, once known
	checked bool
	libs    map[string]string // faketime: node → libfaketime path
}

func buildClock(n *Nemesis, fc eval.FaultConfig, daemons DaemonLookup) (fault, error) {
	switch fc.Mode {
	case "bump", "strobe":
	default:
		return nil, fmt.Errorf("unknown clock mode %q (bump or strobe)", fc.Mode)
	}
	if fc.Mode == "strobe" && fc.Period <= 0 {
		return nil, errors.New("a clock strobe needs a positive period")
	}
	switch fc.Method {
	case "", "settime":
	case "faketime":
		if fc.DB == "" || fc.Daemon == "" {
			return nil, errors.New(`method = "faketime" needs daemon = db.<db>.daemon.<daemon>`)
		}
		found := false
		for _, node := range n.nodes {
			if _, ok := daemons(node, fc.DB, fc.Daemon); ok {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("daemon %s of db %s is not defined on any node", fc.Daemon, fc.DB)
		}
	default:
		return nil, fmt.Errorf("unknown clock method %q (settime or faketime)", fc.Method)
	}
	return &clockFault{n: n, cfg: fc, daemons: daemons, agents: newNodeAgents(),
		touched: map[string]bool{}, ntpDone: map[string]bool{}, libs: map[string]string{}}, nil
}

func (c *clockFault) faketime() bool { return c.cfg.Method == "faketime" }

// offsetFile is where the faketime daemon reads its offset: one file per
// daemon, shared by the clock faults that skew it, so their bumps add up.
func (c *clockFault) offsetFile() string {
	return fmt.Sprintf("%s/%s.%s", faketimeDir, c.cfg.DB, c.cfg.Daemon)
}

func (c *clockFault) setTouched(node string, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.touched[node] = true
	} else {
		delete(c.touched, node)
	}
}

func (c *clockFault) touchedNodes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, node := range c.n.nodes {
		if c.touched[node] {
			out = append(out, node)
		}
	}
	return out
}

// start moves the clocks of freshly chosen targets: a bump adds delta to
// whatever offset they already have; a strobe flips them by delta every
// period for duration (the op completes when the strobe ends) and leaves
// them where they were. Value: node → offset in seconds afterwards;
// "not running" or "no daemon" for faketime nodes without the daemon.
func (c *clockFault) start(ctx context.Context) (any, error) {
	targets, err := c.n.targets(c.cfg.Targets)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return map[string]any{}, nil
	}
	if !c.faketime() {
		if err := c.checkSettable(ctx); err != nil {
			return nil, err
		}
	}
	return c.onNodesAny(ctx, targets, func(ctx context.Context, r control.Remote) (any, error) {
		if c.faketime() {
			return c.startFaketime(ctx, r)
		}
		if err := c.stopNTP(ctx, r); err != nil {
			return nil, err
		}
		c.setTouched(r.Node(), true)
		return c.move(ctx, r, "")
	})
}

// move runs the bump or strobe on r; file is the faketime offset file, or
// "" for the system clock.
func (c *clockFault) move(ctx context.Context, r control.Remote, file string) (any, error) {
	args := []string{"clock", c.cfg.Mode, "--delta", c.cfg.Delta.String()}
	timeout := clockTimeout
	if c.cfg.Mode == "strobe" {
		args = append(args, "--period", c.cfg.Period.String(), "--duration", c.cfg.Duration.String())
		timeout += c.cfg.Duration
	}
	if file != "" {
		args = append(args, "--file", file)
	} else {
		args = append(args, "--ref-stdin")
	}
	res, err := c.agents.call(ctx, r, timeout, args...)
	if err != nil {
		return nil, err
	}
	if f, ok := res["flips"].(float64); ok {
		c.n.logf("nemesis: %s: %s: strobed %g times", c.cfg.Name, r.Node(), f)
	}
	return res["offset"], nil
}

// stop puts the clocks this fault moved back to the right time. Value:
// node → offset afterwards (0, or the few milliseconds the command took
// to arrive with settime).
func (c *clockFault) stop(ctx context.Context) (any, error) {
	nodes := c.touchedNodes()
	return c.onNodesAny(ctx, nodes, func(ctx context.Context, r control.Remote) (any, error) {
		v, err := c.reset(ctx, r)
		if err == nil {
			c.setTouched(r.Node(), false)
		}
		return v, err
	})
}

func (c *clockFault) reset(ctx context.Context, r control.Remote) (any, error) {
	var res map[string]any
	var err error
	if c.faketime() {
		res, err = c.agents.call(ctx, r, clockTimeout, "clock", "reset", "--file", c.offsetFile())
	} else {
		res, err = c.agents.call(ctx, r, clockTimeout, "clock", "reset", "--ref-stdin")
	}
	if err != nil {
		return nil, err
	}
	return res["offset"], nil
}

// heal resets every clock this fault moved. With settime it starts the
// NTP daemons it stopped; with faketime it restarts the daemon normally,
// without libfaketime, wherever it still runs under it (checked on every
// node with the daemon, so a heal after a crashed run finds them too).
func (c *clockFault) heal(ctx context.Context) error {
	if c.faketime() {
		_, err := c.onNodesAny(ctx, c.daemonNodes(), func(ctx context.Context, r control.Remote) (any, error) {
			return nil, c.healFaketime(ctx, r)
		})
		return err
	}
	var errs []error
	if nodes := c.touchedNodes(); len(nodes) > 0 {
		if _, err := c.stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	c.mu.Lock()
	var ntp []string
	for _, node := range c.n.nodes {
		if c.ntpDone[node] {
			ntp = append(ntp, node)
		}
	}
	c.mu.Unlock()
	_, err := c.onNodesAny(ctx, ntp, func(ctx context.Context, r control.Remote) (any, error) {
		script := fmt.Sprintf(`f=%s
[ -f "$f" ] || exit 0
for s in $(cat "$f"); do
	if command -v systemctl >/dev/null 2>&1 && systemctl start "$s" 2>/dev/null; then continue; fi
	service "$s" start >/dev/null 2>&1 || echo "could not start $s" >&2
done
rm -f "$f"`, ntpStopped)
		if _, err := r.Exec(ctx, control.Command{Script: script, Timeout: clockTimeout}); err != nil {
			return nil, fmt.Errorf("restarting NTP: %w", err)
		}
		c.mu.Lock()
		delete(c.ntpDone, r.Node())
		c.mu.Unlock()
		return nil, nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkSettable refuses settime where setting a node's clock would set
// another's: a node whose boot_id (a random ID per kernel boot) is the
// control machine's is a container on this machine, and two nodes with
// one boot_id share a kernel. Checked once, on every node, before any
// clock moves.
func (c *clockFault) checkSettable(ctx context.Context) error {
	c.mu.Lock()
	if c.checked {
		defer c.mu.Unlock()
		return c.shared
	}
	c.mu.Unlock()
	local, _ := os.ReadFile(bootIDPath)
	ids, err := c.n.onNodes(ctx, c.n.nodes, func(ctx context.Context, r control.Remote) (string, error) {
		return control.Output(ctx, r, "cat", bootIDPath)
	})
	if err != nil {
		return fmt.Errorf("reading boot ids to check that clocks can be set: %w", err)
	}
	shared := settableError(c.cfg, strings.TrimSpace(string(local)), ids, c.n.nodes)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked, c.shared = true, shared
	return shared
}

func settableError(cfg eval.FaultConfig, local string, ids map[string]any, nodes []string) error {
	advice := `use nodes with clocks of their own (jplan cluster up --driver qemu makes VMs), or method = "faketime" with daemon = db.<db>.daemon.<daemon> to skew one daemon's clock instead`
	byID := map[string]string{}
	for _, node := range nodes {
		id, _ := ids[node].(string)
		id = strings.TrimSpace(id)
		if id == "" {
			continue // no boot_id (not Linux): nothing to compare
		}
		if id == local {
			return fmt.Errorf(`clock fault %s: method "settime" refused: node %s shares its kernel, and so its clock, with the machine jplan runs on (same boot_id %s); setting its clock would move jplan's own clock and every container's; %s`, cfg.Name, node, id, advice)
		}
		if other, ok := byID[id]; ok {
			return fmt.Errorf(`clock fault %s: method "settime" refused: nodes %s and %s share one kernel, and so one clock (same boot_id %s); setting one would move both; %s`, cfg.Name, other, node, id, advice)
		}
		byID[id] = node
	}
	return nil
}

// stopNTP stops the NTP daemons running on r, once, recording which in a
// file on the node so heal can start them again.
func (c *clockFault) stopNTP(ctx context.Context, r control.Remote) error {
	c.mu.Lock()
	done := c.ntpDone[r.Node()]
	c.ntpDone[r.Node()] = true // heal looks even if this fails half way
	c.mu.Unlock()
	if done {
		return nil
	}
	script := fmt.Sprintf(`f=%s
mkdir -p "$(dirname "$f")"
touch "$f"
for s in systemd-timesyncd chrony chronyd ntp ntpd ntpsec openntpd; do
	grep -qx "$s" "$f" && continue
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$s" 2>/dev/null; then
		systemctl stop "$s" || exit 1
	elif command -v service >/dev/null 2>&1 && service "$s" status >/dev/null 2>&1; then
		service "$s" stop >/dev/null || exit 1
	else
		continue
	fi
	echo "$s" >>"$f"
	echo "$s"
done`, ntpStopped)
	res, err := r.Exec(ctx, control.Command{Script: script, Timeout: clockTimeout})
	if err != nil {
		return fmt.Errorf("stopping NTP: %w", err)
	}
	if s := strings.Fields(res.Stdout); len(s) > 0 {
		c.n.logf("nemesis: %s: %s: stopped %s", c.cfg.Name, r.Node(), strings.Join(s, ", "))
	}
	return nil
}

// daemonNodes are the nodes where the faketime daemon is configured.
func (c *clockFault) daemonNodes() []string {
	var out []string
	for _, node := range c.n.nodes {
		if _, ok := c.daemons(node, c.cfg.DB, c.cfg.Daemon); ok {
			out = append(out, node)
		}
	}
	return out
}

// startFaketime makes sure the daemon runs under libfaketime on r
// (restarting it under the library if it runs without), then moves its
// offset.
func (c *clockFault) startFaketime(ctx context.Context, r control.Remote) (any, error) {
	d, ok := c.daemons(r.Node(), c.cfg.DB, c.cfg.Daemon)
	if !ok {
		return "no daemon", nil
	}
	st, faked, err := c.faketimeStatus(ctx, r, d)
	if err != nil {
		return nil, err
	}
	if !st.Running {
		return "not running", nil
	}
	c.setTouched(r.Node(), true)
	if !faked {
		lib, err := c.faketimeLib(ctx, r)
		if err != nil {
			return nil, err
		}
		// The daemon restarts on the right time and then jumps, as it
		// would if its machine's clock moved.
		if _, err := c.agents.call(ctx, r, clockTimeout, "clock", "reset", "--file", c.offsetFile()); err != nil {
			return nil, err
		}
		if err := restartDaemon(ctx, r, d, c.fakedDaemon(d, lib)); err != nil {
			return nil, fmt.Errorf("restarting %s under libfaketime: %w", d.Name, err)
		}
		c.n.logf("nemesis: %s: %s: restarted %s under libfaketime", c.cfg.Name, r.Node(), d.Name)
	}
	return c.move(ctx, r, c.offsetFile())
}

// fakedDaemon is d with libfaketime preloaded, reading its offset from the
// offset file at every call (no cache). Only CLOCK_REALTIME and friends
// are faked: a system clock change does not move the monotonic clock
// either.
func (c *clockFault) fakedDaemon(d eval.DaemonConfig, lib string) eval.DaemonConfig {
	env := make(map[string]string, len(d.Env)+4)
	for k, v := range d.Env {
		env[k] = v
	}
	if pre := env["LD_PRELOAD"]; pre != "" {
		lib += ":" + pre
	}
	env["LD_PRELOAD"] = lib
	env[faketimeFileV] = c.offsetFile()
	env["FAKETIME_NO_CACHE"] = "1"
	env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
	d.Env = env
	return d
}

// faketimeStatus reports whether the daemon runs, and whether it runs
// under this fault's offset file (read from its environment).
func (c *clockFault) faketimeStatus(ctx context.Context, r control.Remote, d eval.DaemonConfig) (lifecycle.DaemonState, bool, error) {
	st, err := lifecycle.DaemonStatus(ctx, r, d)
	if err != nil || !st.Running {
		return st, false, err
	}
	script := fmt.Sprintf(`tr '\0' '\n' </proc/%d/environ 2>/dev/null | grep -qxF %s && echo yes || echo no`,
		st.PID, control.Quote(faketimeFileV+"="+c.offsetFile()))
	res, err := r.Exec(ctx, control.Command{Script: script, Timeout: clockTimeout})
	if err != nil {
		return st, false, err
	}
	return st, strings.TrimSpace(res.Stdout) == "yes", nil
}

// faketimeLib finds libfaketime on r, once.
func (c *clockFault) faketimeLib(ctx context.Context, r control.Remote) (string, error) {
	c.mu.Lock()
	lib, ok := c.libs[r.Node()]
	c.mu.Unlock()
	if ok {
		return lib, nil
	}
	script := fmt.Sprintf(`for f in %s; do [ -f "$f" ] && { echo "$f"; exit 0; }; done; exit 0`, faketimeLibs)
	res, err := r.Exec(ctx, control.Command{Script: script, Timeout: clockTimeout})
	if err != nil {
		return "", err
	}
	lib = strings.TrimSpace(res.Stdout)
	if lib == "" {
		return "", fmt.Errorf(`%s: libfaketime is not installed (no libfaketime.so.1 under /usr/lib/*/faketime, /usr/lib/faketime, /usr/lib64/faketime or /usr/local/lib/faketime); install the "faketime" (Debian, Ubuntu) or "libfaketime" (Fedora, Arch) package, e.g. with os { packages = ["faketime"] }`, r.Node())
	}
	c.mu.Lock()
	c.libs[r.Node()] = lib
	c.mu.Unlock()
	return lib, nil
}

// healFaketime sets the offset back to zero and restarts the daemon
// without libfaketime if it runs under it.
func (c *clockFault) healFaketime(ctx context.Context, r control.Remote) error {
	d, _ := c.daemons(r.Node(), c.cfg.DB, c.cfg.Daemon)
	script := fmt.Sprintf(`f=%s; if [ -f "$f" ]; then echo +0 >"$f.tmp" && mv "$f.tmp" "$f"; fi`, control.Quote(c.offsetFile()))
	if _, err := r.Exec(ctx, control.Command{Script: script, Timeout: clockTimeout}); err != nil {
		return err
	}
	st, faked, err := c.faketimeStatus(ctx, r, d)
	if err != nil {
		return err
	}
	if st.Running && faked {
		if err := restartDaemon(ctx, r, d, d); err != nil {
			return fmt.Errorf("restarting %s without libfaketime: %w", d.Name, err)
		}
		c.n.logf("nemesis: %s: %s: restarted %s without libfaketime", c.cfg.Name, r.Node(), d.Name)
	}
	c.setTouched(r.Node(), false)
	_, err = r.Exec(ctx, control.Command{Argv: []string{"rm", "-f", c.offsetFile()}, Timeout: clockTimeout})
	return err
}

// restartDaemon stops old (found by its pidfile) and starts d, waiting
// until d is ready.
func restartDaemon(ctx context.Context, r control.Remote, old, d eval.DaemonConfig) error {
	if _, err := lifecycle.StopDaemon(ctx, r, old, 0); err != nil {
		return err
	}
	if _, err := lifecycle.StartDaemon(ctx, r, d); err != nil {
		return err
	}
	return lifecycle.WaitReady(ctx, r, d)
}

func (c *clockFault) onNodesAny(ctx context.Context, nodes []string, fn func(ctx context.Context, r control.Remote) (any, error)) (map[string]any, error) {
	rs := make([]control.Remote, 0, len(nodes))
	for _, node := range nodes {
		rs = append(rs, c.n.remotes[node])
	}
	return control.OnNodesMap(ctx, rs, fn)
}

// nodeAgents installs jplan-agent on nodes, once per node, and runs it.
type nodeAgents struct {
	mu    sync.Mutex
	paths map[string]string
}

func newNodeAgents() *nodeAgents { return &nodeAgents{paths: map[string]string{}} }

func (a *nodeAgents) path(ctx context.Context, r control.Remote) (string, error) {
	a.mu.Lock()
	p, ok := a.paths[r.Node()]
	a.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := agent.Install(ctx, r, "jplan-agent")
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.paths[r.Node()] = p
	a.mu.Unlock()
	return p, nil
}

// call runs jplan-agent with args on r and decodes its JSON line.
func (a *nodeAgents) call(ctx context.Context, r control.Remote, timeout time.Duration, args ...string) (map[string]any, error) {
	p, err := a.path(ctx, r)
	if err != nil {
		return nil, err
	}
	cmd := control.Command{Argv: append([]string{p}, args...), Timeout: timeout}
	var stdout string
	if slices.Contains(args, "--ref-stdin") {
		stdout, err = execWithTime(ctx, r, cmd)
	} else {
		var res control.Result
		res, err = r.Exec(ctx, cmd)
		stdout = res.Stdout
	}
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		return nil, fmt.Errorf("%s: jplan-agent %s: unexpected output %q", r.Node(), args[0], stdout)
	}
	return out, nil
}

// execWithTime runs a jplan-agent command given --ref-stdin: when the
// agent says "ready" it gets this machine's time, fresh, on stdin (see
// cmd/jplan-agent/clock.go for why). It returns what the agent printed
// after "ready".
func execWithTime(ctx context.Context, r control.Remote, cmd control.Command) (string, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	cmd.Stdin, cmd.Stdout = inR, outW
	done := make(chan error, 1)
	go func() {
		_, err := r.Exec(ctx, cmd)
		outW.Close()
		inR.Close()
		done <- err
	}()
	br := bufio.NewReader(outR)
	line, rerr := br.ReadString('\n')
	if rerr == nil && line == "ready\n" {
		fmt.Fprintf(inW, "%d\n", time.Now().UnixNano())
	}
	inW.Close()
	rest, _ := io.ReadAll(br)
	if err := <-done; err != nil {
		return "", err
	}
	if line != "ready\n" {
		return "", fmt.Errorf("%s: jplan-agent did not ask for the time: %q", r.Node(), line+string(rest))
	}
	return string(rest), nil
}

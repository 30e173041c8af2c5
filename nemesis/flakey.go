package nemesis

// The flakey fault puts a directory (a database's data directory) on a
// real device-mapper dm-flakey device and makes the device misbehave. It
// is the kernel's own block-level fault injection, below a real ext4 and
// the real page cache; the filesystem fault (faultfs, FUSE) is its
// userspace relative and works where device-mapper does not (containers).
//
// Device lifecycle, per node (every node that has the fault's daemon, or
// every node when the fault names none):
//
//   - setup (Nemesis.Setup, or the fault's first start or stop if Setup
//     did not do it): check that the kernel has device-mapper, dm-flakey
//     and loop devices; stop the daemon (gracefully); put back whatever an
//     interrupted run left (see restoreScript); create a backing file
//     /var/lib/jplan-flakey/<id>.img, attach a loop device to it, create
//     the device-mapper device jplan-<fault> with a healthy (linear)
//     table, make an ext4 filesystem on it, rename dir to dir.flakey,
//     mount the device on an empty dir (same owner and mode), copy
//     dir.flakey's contents onto it (cp -a), and start the daemon again,
//     waiting until it is ready. Each fault's dm-flakey table is loaded
//     once into the device's inactive slot and cleared, so a table the
//     kernel rejects (an old kernel without error_reads) fails the setup,
//     not the first start; so does a kernel whose dm-flakey takes the
//     corrupt-reads table and corrupts nothing (flakeyCorruptsReads).
//   - start: load the mode's dm-flakey table and swap it in (dmsetup
//     suspend --nolockfs, resume: nolockfs, or suspending would first
//     flush the dirty page cache to the device).
//   - stop: swap the healthy table back in. If the filesystem has failed
//     meanwhile (ext4 aborts its journal when a journal write fails and
//     refuses writes from then on), stop the daemon, unmount, e2fsck,
//     mount again. The daemon is started if it is not running.
//   - heal (Nemesis.Teardown): healthy table, stop the daemon, copy the
//     device's contents into dir.flakey-out (a damaged filesystem is
//     checked with e2fsck and copied again), unmount, put dir.flakey-out
//     in dir's place, remove dir.flakey, remove the device-mapper device,
//     detach the loop device, delete the backing file, and start the
//     daemon again. Nothing of the fault is left.
//
// Mode "lose-unfsynced" is a power failure on a real kernel: start kills
// the daemon (SIGKILL), swaps in a drop_writes table, unmounts (ext4
// writes what it still caches, into the void), swaps the healthy table
// back, mounts (ext4 replays its journal) and starts the daemon again.
// What was fsynced before the kill survives; what was only in the page
// cache is lost. Stop has nothing to undo.
//
// Faults naming the same dir share one device; the device is named after
// the first of them.

import (
	"context"
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
)

func init() { registerBuilder("flakey", buildFlakey) }

const (
	// flakeySetupTimeout bounds a setup or heal script, which copies the
	// directory.
	flakeySetupTimeout = 15 * time.Minute
	// flakeyTimeout bounds everything else.
	flakeyTimeout = 2 * time.Minute
	// flakeyStateDir holds the backing files and the markers that let an
	// interrupted run be put back.
	flakeyStateDir = "/var/lib/jplan-flakey"
)

// flakeyFeatures are the dm-flakey feature arguments of each mode; ""
// is none, dm-flakey's default: every read and write fails.
var flakeyFeatures = map[string]string{
	"lose-unfsynced": "1 drop_writes",
	"drop-writes":    "1 drop_writes",
	"error-writes":   "1 error_writes",
	"error-reads":    "1 error_reads",
	"error-all":      "",
	"corrupt-reads":  "5 corrupt_bio_byte %d r %d 0",
	"corrupt-writes": "5 corrupt_bio_byte %d w %d 0",
}

type flakeyFault struct {
	n       *Nemesis
	cfg     eval.FaultConfig
	fl      eval.FlakeyConfig
	daemons DaemonLookup
	d       *flakeyDev
}

// flakeyDev is one directory on a dm-flakey device, shared by the faults
// naming it. Its id names the backing file and the markers.
type flakeyDev struct {
	*dirMount[*flakeyNode]
	dm   string // device-mapper name: jplan-<first fault>
	size int64

	faults []*flakeyFault // guarded by mu
}

type flakeyNode struct {
	dirNode
	loop    string // the loop device under the device-mapper device
	sectors int64
	active  string // the fault whose table is loaded; "" for healthy
	kernel  string // uname -r
}

var (
	flakeyDevsMu sync.Mutex
	flakeyDevs   = map[*Nemesis]map[string]*flakeyDev{}
)

func buildFlakey(n *Nemesis, fc eval.FaultConfig, daemons DaemonLookup) (fault, error) {
	if err := eval.CheckFlakeyDir(fc.Dir); err != nil {
		return nil, err
	}
	if _, ok := flakeyFeatures[fc.Mode]; !ok {
		return nil, fmt.Errorf("unknown flakey mode %q (want one of %s)", fc.Mode, strings.Join(eval.FlakeyModes, ", "))
	}
	fl := eval.DefaultFlakey()
	if fc.Flakey != nil {
		fl = *fc.Flakey
	}
	if err := checkFlakeyConfig(fc.Mode, fl); err != nil {
		return nil, err
	}
	if err := checkFaultDaemon(n, fc, daemons); err != nil {
		return nil, err
	}
	dir := path.Clean(fc.Dir)
	if err := flakeyConflict(n, dir); err != nil {
		return nil, err
	}
	flakeyDevsMu.Lock()
	defer flakeyDevsMu.Unlock()
	d := sharedDir(flakeyDevs, n, dir, func() *flakeyDev {
		return &flakeyDev{dirMount: newDirMount(n, dir, func() *flakeyNode { return &flakeyNode{} }), dm: "jplan-" + fc.Name, size: fl.Size}
	})
	if d.size != fl.Size {
		return nil, fmt.Errorf("fault %s puts %s on a %s device, this fault on a %s one: faults on one directory share a device, so give them the same size",
			d.faults[0].cfg.Name, dir, eval.FormatSize(d.size), eval.FormatSize(fl.Size))
	}
	f := &flakeyFault{n: n, cfg: fc, fl: fl, daemons: daemons, d: d}
	d.mu.Lock()
	d.faults = append(d.faults, f)
	d.mu.Unlock()
	d.addDaemon(fc)
	return f, nil
}

// checkFlakeyConfig repeats the plan checks of package eval, for
// configurations made in Go.
func checkFlakeyConfig(mode string, fl eval.FlakeyConfig) error {
	switch {
	case fl.Size < eval.MinFlakeySize || fl.Size > eval.MaxFlakeySize:
		return fmt.Errorf("size %s is out of range: expected 16MiB to 1TiB", eval.FormatSize(fl.Size))
	case fl.Up < 0 || fl.Down < 0 || fl.Up%time.Second != 0 || fl.Down%time.Second != 0:
		return fmt.Errorf("up_interval %s and down_interval %s must be whole seconds", fl.Up, fl.Down)
	case fl.Up > 0 && fl.Down == 0:
		return fmt.Errorf("up_interval %s needs a down_interval", fl.Up)
	case (fl.Up+fl.Down)/time.Second > 1<<32-1:
		return fmt.Errorf("up_interval and down_interval together must be under 2^32 seconds")
	case mode == "lose-unfsynced" && fl.Up+fl.Down > 0:
		return fmt.Errorf(`mode "lose-unfsynced" is one power failure: it takes no intervals`)
	case fl.CorruptByte < 1 || fl.CorruptValue < 0 || fl.CorruptValue > 255:
		return fmt.Errorf("corrupt_byte %d must be at least 1 and corrupt_value %d between 0 and 255", fl.CorruptByte, fl.CorruptValue)
	}
	return nil
}

// flakeyConflict refuses a directory a filesystem fault mounts faultfs on:
// the two would each move it away from under the other.
func flakeyConflict(n *Nemesis, dir string) error {
	fsMountsMu.Lock()
	defer fsMountsMu.Unlock()
	if fsMounts[n][dir] != nil {
		return fmt.Errorf("a filesystem fault mounts faultfs on %s already; a directory can be on faultfs or on a flakey device, not both", dir)
	}
	return nil
}

// flakeySeconds is d in whole seconds, as dm-flakey counts.
func flakeySeconds(d time.Duration) int64 { return int64(d / time.Second) }

// linearTable is the device-mapper table of the healthy device: sectors
// sectors of dev, unchanged.
func linearTable(sectors int64, dev string) string {
	return fmt.Sprintf("0 %d linear %s 0", sectors, dev)
}

// flakeyTable is the dm-flakey table of mode over dev (see the kernel's
// Documentation/admin-guide/device-mapper/dm-flakey.rst): <dev> <offset>
// <up> <down> [<#feature args> <feature args>...]. With up 0 the device
// misbehaves all the time, whatever down is (but up + down must not be 0).
func flakeyTable(sectors int64, dev, mode string, fl eval.FlakeyConfig) string {
	up, down := flakeySeconds(fl.Up), flakeySeconds(fl.Down)
	if mode == "lose-unfsynced" {
		up, down = 0, 0
	}
	if down == 0 {
		down = 1
	}
	t := fmt.Sprintf("0 %d flakey %s 0 %d %d", sectors, dev, up, down)
	feat := flakeyFeatures[mode]
	if strings.Contains(feat, "%d") {
		feat = fmt.Sprintf(feat, fl.CorruptByte, fl.CorruptValue)
	}
	if feat != "" {
		t += " " + feat
	}
	return t
}

// describe is a start's value on a node.
func (f *flakeyFault) describe() string {
	s := f.cfg.Mode + " on"
	if up := flakeySeconds(f.fl.Up); up > 0 {
		s += fmt.Sprintf(", cycling: up %ds, down %ds", up, flakeySeconds(f.fl.Down))
	}
	if strings.HasPrefix(f.cfg.Mode, "corrupt-") {
		s += fmt.Sprintf(" (byte %d := %d)", f.fl.CorruptByte, f.fl.CorruptValue)
	}
	return s
}

// setup puts the directory on the device on every node (see the top of
// the file). It is safe to call again.
func (f *flakeyFault) setup(ctx context.Context) error {
	if err := flakeyConflict(f.n, f.d.dir); err != nil {
		return err
	}
	return f.d.ensure(ctx, f.daemons)
}

func (f *flakeyFault) start(ctx context.Context) (any, error) {
	if err := f.setup(ctx); err != nil {
		return nil, err
	}
	return f.d.onTargets(ctx, f.cfg.Targets, func(ctx context.Context, r control.Remote, nm *flakeyNode) (string, error) {
		if nm == nil {
			return "not mounted", nil
		}
		nm.mu.Lock()
		defer nm.mu.Unlock()
		if !nm.mounted {
			return "not mounted", nil
		}
		if f.cfg.Mode == "lose-unfsynced" {
			return f.powerFailure(ctx, r, nm)
		}
		// Marked first: if the swap fails half way, stop and heal still
		// put the healthy table back.
		nm.active = f.cfg.Name
		if err := f.d.swap(ctx, r, flakeyTable(nm.sectors, nm.loop, f.cfg.Mode, f.fl), f.cfg.Mode); err != nil {
			return "", err
		}
		return f.describe(), nil
	})
}

// powerFailure is mode lose-unfsynced's start. Called with nm.mu held.
func (f *flakeyFault) powerFailure(ctx context.Context, r control.Remote, nm *flakeyNode) (string, error) {
	// The daemon dies first: were the writes dropped first, it could
	// fsync, be told the data is safe, and lose it, which no disk does.
	// Between the kill and the drop the kernel may write back some of
	// what the daemon left in the page cache, as it may before a real
	// power failure.
	p, err := cutPower(ctx, r, f.cfg, f.daemons)
	if err != nil {
		return "", err
	}
	out, err := flakeyRun(ctx, r, "power failure on "+f.d.dir, f.d.powerFailureScript(nm, flakeyTable(nm.sectors, nm.loop, "lose-unfsynced", f.fl)), flakeyTimeout)
	if err != nil {
		if p.killed {
			if err2 := startReady(ctx, r, p.d); err2 != nil {
				err = errors.Join(err, err2)
			}
		}
		return "", err
	}
	sectors, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%s: power failure on %s: unexpected output %q", r.Node(), f.d.dir, out)
	}
	msg := fmt.Sprintf("power failure: lost %d bytes of writes not yet on the device", sectors*512)
	return p.restore(ctx, r, msg, nm.wasRunning[f.cfg.DB+"."+f.cfg.Daemon])
}

func (f *flakeyFault) stop(ctx context.Context) (any, error) {
	if err := f.setup(ctx); err != nil {
		return nil, err
	}
	nodes := f.d.mountedNodes()
	if f.cfg.Mode == "lose-unfsynced" {
		return nothingToUndo(nodes), nil
	}
	return f.n.onNodes(ctx, nodes, func(ctx context.Context, r control.Remote) (string, error) {
		nm := f.d.node(r.Node(), false)
		nm.mu.Lock()
		defer nm.mu.Unlock()
		if nm.active != f.cfg.Name {
			if nm.active != "" {
				return fmt.Sprintf("%s not on (fault %s's table is)", f.cfg.Mode, nm.active), nil
			}
			return f.cfg.Mode + " off", nil
		}
		if err := f.d.swap(ctx, r, linearTable(nm.sectors, nm.loop), "healthy"); err != nil {
			return "", err
		}
		nm.active = ""
		msg := f.cfg.Mode + " off"
		more, err := f.d.afterFault(ctx, r, nm, f.daemons)
		if more != "" {
			msg += "; " + more
		}
		return msg, err
	})
}

// heal puts the directory back on every node (see the top of the file).
// The first fault of a shared device does it; the rest find nothing left.
func (f *flakeyFault) heal(ctx context.Context) error {
	return f.d.heal(ctx, f.daemons)
}

// ensure sets the device up on every node where it is not yet.
func (d *flakeyDev) ensure(ctx context.Context, lookup DaemonLookup) error {
	todo, err := d.setUp(ctx, lookup, func(ctx context.Context, r control.Remote, nm *flakeyNode) error {
		return d.setupOn(ctx, r, nm, lookup)
	})
	if err != nil {
		return fmt.Errorf("putting %s on a dm-flakey device: %w", d.dir, err)
	}
	if len(todo) > 0 {
		d.n.logf("nemesis: %s on dm-flakey device %s on %s", d.dir, d.dm, strings.Join(todo, ", "))
	}
	return nil
}

// setupOn sets the device up on a node. Called with the node's lock held.
func (d *flakeyDev) setupOn(ctx context.Context, r control.Remote, nm *flakeyNode, lookup DaemonLookup) error {
	kernel, err := flakeyProbe(ctx, r)
	if err != nil {
		return err
	}
	nm.kernel = kernel
	daemons := d.daemonsOn(r.Node(), lookup)
	if err := nm.stopForSetup(ctx, r, daemons); err != nil {
		return err
	}
	out, err := flakeyRun(ctx, r, "setting up "+d.dm+" for "+d.dir, d.setupScript(), flakeySetupTimeout)
	if err != nil {
		return err
	}
	// The last line is "<loop device> <sectors>"; before it, what was put
	// back of an interrupted run.
	lines := strings.Split(out, "\n")
	var sectors int64
	fields := strings.Fields(lines[len(lines)-1])
	if len(fields) == 2 {
		sectors, err = strconv.ParseInt(fields[1], 10, 64)
	}
	if len(fields) != 2 || err != nil || !strings.HasPrefix(fields[0], "/dev/loop") {
		return fmt.Errorf("%s: setting up %s: unexpected output %q", r.Node(), d.dm, out)
	}
	for _, l := range lines[:len(lines)-1] {
		d.n.logf("nemesis: %s: %s", r.Node(), l)
	}
	nm.loop, nm.sectors, nm.mounted, nm.active = fields[0], sectors, true, ""
	// Every fault's table, tried now: the kernel checks a table when it
	// is loaded, and a rejected one should fail the setup, not a start.
	d.mu.Lock()
	faults := append([]*flakeyFault(nil), d.faults...)
	d.mu.Unlock()
	for _, f := range faults {
		if f.cfg.Mode == "corrupt-reads" {
			if err := flakeyCorruptsReads(ctx, r, nm.kernel, f.cfg.Name); err != nil {
				return err
			}
		}
		t := flakeyTable(sectors, nm.loop, f.cfg.Mode, f.fl)
		script := flakeyFns + fmt.Sprintf("load %s %s %s\ndmsetup clear %[1]s\n", control.Quote(d.dm), control.Quote(t), control.Quote(f.cfg.Mode))
		if _, err := flakeyRun(ctx, r, "checking fault "+f.cfg.Name+"'s table", script, flakeyTimeout); err != nil {
			if f.cfg.Mode == "error-reads" {
				err = fmt.Errorf("%w (dm-flakey's error_reads came in Linux 6.4; %s runs %s: use mode \"error-all\", which fails reads and writes, or a newer kernel)", err, r.Node(), nm.kernel)
			}
			return err
		}
	}
	return errors.Join(startAgain(ctx, r, daemons, nm.wasRunning)...)
}

// swap loads table and swaps it in. Called with the node's lock held.
func (d *flakeyDev) swap(ctx context.Context, r control.Remote, table, what string) error {
	script := flakeyFns + fmt.Sprintf("load %s %s %s\nswap %[1]s\n", control.Quote(d.dm), control.Quote(table), control.Quote(what))
	_, err := flakeyRun(ctx, r, "loading the "+what+" table of "+d.dm, script, flakeyTimeout)
	return err
}

// afterFault checks, with the healthy table back, that the filesystem
// still works, and repairs it if not: ext4 stops writing for good when a
// write to its journal fails. Then the daemons run again if they ran at
// setup. Called with the node's lock held.
func (d *flakeyDev) afterFault(ctx context.Context, r control.Remote, nm *flakeyNode, lookup DaemonLookup) (string, error) {
	var done []string
	daemons := d.daemonsOn(r.Node(), lookup)
	out, err := flakeyRun(ctx, r, "checking "+d.dir, flakeyFns+d.vars()+"if writable; then echo ok; else echo failed; fi\n", flakeyTimeout)
	if err != nil {
		return "", err
	}
	if out != "ok" {
		for _, dc := range daemons {
			if _, err := lifecycle.StopDaemon(ctx, r, dc, 0); err != nil {
				return "", err
			}
		}
		if _, err := flakeyRun(ctx, r, "repairing the filesystem on "+d.dm, flakeyFns+d.vars()+d.repairScript(), flakeySetupTimeout); err != nil {
			return "", err
		}
		done = append(done, "the filesystem had failed: e2fsck and mounted again")
	}
	restarted := false
	var errs []error
	for name, dc := range daemons {
		if !nm.wasRunning[name] {
			continue
		}
		_, running, err := lifecycle.DaemonRunning(ctx, r, dc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if running {
			continue
		}
		if err := startReady(ctx, r, dc); err != nil {
			errs = append(errs, err)
			continue
		}
		restarted = true
	}
	if restarted {
		done = append(done, "daemon restarted")
	}
	return strings.Join(done, "; "), errors.Join(errs...)
}

// heal restores every node the device was (or may have been) set up on.
func (d *flakeyDev) heal(ctx context.Context, lookup DaemonLookup) error {
	err := d.dirMount.heal(ctx, func(ctx context.Context, r control.Remote, nm *flakeyNode) error {
		var errs []error
		// Healthy before the daemon stops, so what it writes as it shuts
		// down reaches the device.
		if nm.mounted && nm.active != "" {
			if err := d.swap(ctx, r, linearTable(nm.sectors, nm.loop), "healthy"); err != nil {
				errs = append(errs, err)
			}
		}
		daemons := d.daemonsOn(r.Node(), lookup)
		running, err := nm.stopForHeal(ctx, r, daemons)
		if err != nil {
			return err
		}
		out, err := flakeyRun(ctx, r, "putting "+d.dir+" back", d.restoreScript()+"[ -z \"$warn\" ] || { echo \"$warn\" >&2; exit 3; }\n", flakeySetupTimeout)
		var ee *control.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.ExitStatus == 3:
			// Put back, but not as the device had it.
			errs = append(errs, err)
		default:
			return err
		}
		for _, l := range strings.Split(out, "\n") {
			if l != "" {
				d.n.logf("nemesis: %s: %s", r.Node(), l)
			}
		}
		nm.mounted, nm.touched, nm.active, nm.loop = false, false, "", ""
		errs = append(errs, startAgain(ctx, r, daemons, running)...)
		return errors.Join(errs...)
	})
	if err != nil {
		return fmt.Errorf("putting %s back from dm-flakey device %s: %w", d.dir, d.dm, err)
	}
	return nil
}

// flakeyRun runs a script (with set -e) and returns its trimmed stdout.
// A failure names the node and what was being done, with the script's
// stderr rather than its text.
func flakeyRun(ctx context.Context, r control.Remote, what, script string, timeout time.Duration) (string, error) {
	res, err := r.Exec(ctx, control.Command{Script: "set -e\n" + script, Timeout: timeout})
	out := strings.TrimSpace(res.Stdout)
	if err == nil {
		return out, nil
	}
	var ee *control.ExitError
	if !errors.As(err, &ee) {
		return out, err
	}
	msg := strings.Join(strings.Fields(strings.TrimSpace(res.Stderr)), " ")
	if msg == "" {
		msg = strings.TrimSpace(ee.StderrTail)
	}
	switch {
	case ee.TimedOut:
		msg = fmt.Sprintf("timed out after %s; %s", ee.Timeout, msg)
	case ee.Signal != "":
		msg = fmt.Sprintf("killed by signal %s; %s", ee.Signal, msg)
	case msg == "":
		msg = fmt.Sprintf("exited with status %d", ee.ExitStatus)
	}
	return out, &flakeyError{node: r.Node(), what: what, msg: msg, exit: ee}
}

type flakeyError struct {
	node, what, msg string
	exit            *control.ExitError
}

func (e *flakeyError) Error() string { return fmt.Sprintf("%s: %s: %s", e.node, e.what, e.msg) }
func (e *flakeyError) Unwrap() error { return e.exit }

// flakeyProbe checks that a node can have a dm-flakey device: the tools,
// device-mapper (/dev/mapper/control), the flakey target and loop devices,
// loading the modules first where they are modules.
func flakeyProbe(ctx context.Context, r control.Remote) (kernel string, err error) {
	script := `for m in dm_mod dm_flakey loop; do modprobe "$m" 2>/dev/null || true; done
miss=''
for c in dmsetup losetup blockdev mkfs.ext4 e2fsck mount umount cp du; do
	command -v "$c" >/dev/null 2>&1 || miss="$miss $c"
done
if [ -n "$miss" ]; then echo "tools$miss"; exit 0; fi
[ -e /dev/mapper/control ] || [ ! -e /sys/class/misc/device-mapper ] || dmsetup mknodes >/dev/null 2>&1 || true
if [ ! -e /dev/mapper/control ]; then
	if [ -e /sys/class/misc/device-mapper ]; then echo "nodm the kernel has device-mapper but /dev/mapper/control is missing (a container without the device?)"
	else echo "nodm /dev/mapper/control is missing and modprobe dm_mod did not add it"; fi
	exit 0
fi
if ! t=$(dmsetup targets 2>&1); then echo "nodm dmsetup targets: $t"; exit 0; fi
if ! echo "$t" | grep -q '^flakey '; then echo "noflakey $(echo "$t" | awk '{ print $1 }' | tr '\n' ' ')"; exit 0; fi
if [ ! -e /dev/loop-control ] && ! ls /dev/loop[0-9]* >/dev/null 2>&1; then echo "noloop"; exit 0; fi
echo "ok $(uname -r)"
`
	res, err := r.Exec(ctx, control.Command{Script: script, Timeout: flakeyTimeout})
	if err != nil {
		return "", fmt.Errorf("probing for dm-flakey: %w", err)
	}
	out := strings.TrimSpace(res.Stdout)
	kind, why, _ := strings.Cut(out, " ")
	const vm = "containers share the host's kernel and devices; VM nodes (jplan cluster up --driver qemu) have their own"
	switch kind {
	case "ok":
		return why, nil
	case "tools":
		return "", fmt.Errorf("%s: a flakey fault needs%s on the node (packages dmsetup, util-linux, e2fsprogs, coreutils)", r.Node(), " "+why)
	case "nodm":
		return "", fmt.Errorf("%s: the kernel has no usable device-mapper (%s), so a flakey fault cannot run there; %s", r.Node(), why, vm)
	case "noflakey":
		return "", fmt.Errorf("%s: the kernel lacks dm-flakey (dmsetup targets lists no flakey after modprobe dm_flakey; it lists: %s), so a flakey fault cannot run there", r.Node(), why)
	case "noloop":
		return "", fmt.Errorf("%s: the kernel has no loop devices (/dev/loop-control is missing after modprobe loop), so a flakey fault has no device to put its backing file on; %s", r.Node(), vm)
	}
	return "", fmt.Errorf("%s: probing for dm-flakey: unexpected output %q", r.Node(), out)
}

// flakeyCorruptsReads checks that the kernel's dm-flakey does corrupt
// reads: some kernels (Debian 12's 6.1) accept corrupt_bio_byte with
// direction r and then change nothing, as the bio's data is looked for
// after the read has consumed its iterator. It reads a zeroed scratch
// device through a corrupting table, so no data is at risk.
func flakeyCorruptsReads(ctx context.Context, r control.Remote, kernel, fault string) error {
	script := `f=$(mktemp /tmp/jplan-flakey-probe.XXXXXX)
p=jplan-probe-$$
l=''
cleanup() {
	dmsetup remove --retry "$p" >/dev/null 2>&1 || true
	dmsetup mknodes "$p" 2>/dev/null || true
	[ -z "$l" ] || losetup -d "$l" || true
	rm -f "$f"
}
trap cleanup EXIT
head -c 4096 /dev/zero >"$f"
l=$(losetup -f --show "$f")
dmsetup create "$p" --table "0 8 flakey $l 0 0 1 5 corrupt_bio_byte 1 r 255 0"
dmsetup mknodes "$p"
dd if="/dev/mapper/$p" iflag=direct bs=4096 count=1 2>/dev/null | od -An -tx1 -N1 | tr -d ' \n'
`
	out, err := flakeyRun(ctx, r, "checking that dm-flakey corrupts reads", script, flakeyTimeout)
	if err != nil {
		return err
	}
	switch out {
	case "ff":
		return nil
	case "00":
		return fmt.Errorf("%s: fault %s: the kernel's dm-flakey (%s) takes corrupt_bio_byte for reads but does not change them (fixed in later kernels), so corrupt-reads would do nothing; use corrupt-writes, or a newer kernel", r.Node(), fault, kernel)
	}
	return fmt.Errorf("%s: checking that dm-flakey corrupts reads: unexpected output %q", r.Node(), out)
}

// flakeyFns are the shell functions of the scripts.
//
//   - load NAME TABLE WHAT loads TABLE into NAME's inactive slot; when the
//     kernel refuses it, the error says why (dmesg) and which table;
//   - swap NAME makes the inactive table live: suspend without lockfs
//     (freezing the filesystem would flush the page cache first), resume;
//     a failed suspend still resumes, so the device never stays blocked;
//   - healthy NAME swaps in a linear table over whatever the current table
//     maps, if it is not linear already.
const flakeyFns = `load() {
	if ! out=$(dmsetup load "$1" --table "$2" 2>&1); then
		why=$(dmesg 2>/dev/null | grep 'device-mapper: table' | tail -n 1 | sed 's/^\[[^]]*\] *//')
		out=$(echo $out | sed 's/ *Command failed\.//')
		echo "dm-flakey refused the $3 table \"$2\": $out${why:+ (kernel: $why)}" >&2
		return 1
	fi
}
swap() {
	if ! dmsetup suspend --nolockfs "$1" || ! dmsetup resume "$1"; then
		dmsetup resume "$1" 2>/dev/null || true
		echo "swapping the table of $1 failed" >&2
		return 1
	fi
}
healthy() {
	set -- "$1" $(dmsetup table "$1")
	# $1 name; then start, length, target, device, offset
	[ "$4" != linear ] || return 0
	load "$1" "0 $3 linear $5 $6" healthy
	swap "$1"
}
dm_exists() { dmsetup info "$1" >/dev/null 2>&1; }
mnt_src() { awk -v d="$dir" '$2 == d { s = $1 } END { print s }' /proc/mounts; }
# holders: the processes with a file, working directory or root in dir
# (one find: a loop of readlinks takes seconds on a slow VM).
holders() {
	find /proc/[0-9]*/cwd /proc/[0-9]*/root /proc/[0-9]*/fd/ -maxdepth 1 \( -lname "$dir" -o -lname "$dir/*" \) 2>/dev/null |
		cut -d/ -f3 | sort -u | while read -r p; do
			c=$(cat "/proc/$p/comm" 2>/dev/null) && printf '%s (%s) ' "$p" "$c"
		done
}
unmount() {
	i=0
	until umount "$dir" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge 50 ]; then
			echo "cannot unmount $dir: in use by $(holders)" >&2
			return 1
		fi
		sleep 0.1
	done
}
# writable: can a file be made in dir? (Not with ": >file": dash exits
# when a redirection of a special builtin fails.)
writable() {
	probe="$dir/.jplan-flakey-probe"
	touch "$probe" 2>/dev/null && rm -f "$probe"
}
img_loops() { [ ! -e "$img" ] || losetup -j "$img" | cut -d: -f1; }
img_dms() {
	for l in $(img_loops); do
		for h in /sys/block/${l#/dev/}/holders/*; do
			[ ! -e "$h/dm/name" ] || cat "$h/dm/name"
		done
	done
}
mount_dev() { mount -o errors=continue "/dev/mapper/$1" "$dir"; }
# fsck_mount NAME: e2fsck, then mount; lost+found goes again if e2fsck
# made it and put nothing in it.
fsck_mount() {
	rc=0
	e2fsck -fy "/dev/mapper/$1" >/dev/null 2>&1 || rc=$?
	if [ $rc -ge 4 ]; then
		echo "e2fsck could not repair the filesystem on $1 (exit status $rc)" >&2
		return 1
	fi
	mount_dev "$1"
	rmdir "$dir/lost+found" 2>/dev/null || true
}
`

// vars sets the scripts' variables.
func (d *flakeyDev) vars() string {
	back, stage, img, live, staged := d.paths()
	return fmt.Sprintf("dir=%s; back=%s; stage=%s; img=%s; live=%s; staged=%s; dm=%s; size=%d\n",
		control.Quote(d.dir), control.Quote(back), control.Quote(stage), control.Quote(img),
		control.Quote(live), control.Quote(staged), control.Quote(d.dm), d.size)
}

// paths are, on a node: the directory's contents from before the fault
// (dir.flakey), the device's contents copied out at the end
// (dir.flakey-out), the backing file, and two markers: live (the device
// holds the directory's contents: the copy onto it completed) and staged
// (dir.flakey-out is complete).
func (d *flakeyDev) paths() (back, stage, img, live, staged string) {
	base := flakeyStateDir + "/" + d.id
	return d.dir + ".flakey", d.dir + ".flakey-out", base + ".img", base + ".live", base + ".staged"
}

// restoreScript puts dir back as a plain directory from whatever state a
// setup, a run or an interrupted run left: the device's contents when they
// are complete (live), else the contents from before (dir.flakey). Then
// it removes every device-mapper device on the backing file and the one
// named dm, detaches the loop devices and deletes the backing file. It
// sets warn when the device's contents could not be kept.
func (d *flakeyDev) restoreScript() string {
	return flakeyFns + d.vars() + `warn=''
src=$(mnt_src)
mdm=''
if [ -n "$src" ]; then
	case $src in
	/dev/mapper/*) mdm=${src#/dev/mapper/} ;;
	/dev/dm-*) mdm=$(cat "/sys/block/${src#/dev/}/dm/name" 2>/dev/null || true) ;;
	esac
	case $mdm in
	jplan-*) ;;
	*) echo "$dir is a mount point of $src, not of a jplan device; not touching it" >&2; exit 1 ;;
	esac
elif [ -e "$live" ]; then
	# The device has the data but is not mounted (an interrupted power
	# failure, a reboot): mount it to copy the data off.
	mdm=$dm
	dm_exists "$mdm" || mdm=$(img_dms | head -n 1)
	if [ -z "$mdm" ] && [ -f "$img" ]; then
		loop=$(img_loops | head -n 1)
		[ -n "$loop" ] || loop=$(losetup -f --show "$img")
		mdm=$dm
		dmsetup create "$mdm" --table "0 $(blockdev --getsz "$loop") linear $loop 0"
		dmsetup mknodes "$mdm"
	fi
	if [ -n "$mdm" ]; then
		healthy "$mdm"
		mkdir -p "$dir"
		mount_dev "$mdm" 2>/dev/null || fsck_mount "$mdm" || warn="the filesystem on $mdm could not be mounted"
		src=$(mnt_src)
	fi
fi
# copy_out copies the device's contents to stage; cperr says what failed.
copy_out() {
	rm -rf "$stage"
	mkdir "$stage"
	chown --reference="$dir" "$stage"
	chmod --reference="$dir" "$stage"
	cperr=$(cp -a "$dir/." "$stage/" 2>&1 >/dev/null) && sync -f "$stage" && touch "$staged"
}
if [ -n "$src" ]; then
	healthy "$mdm"
	if [ -e "$live" ] && [ ! -e "$staged" ] && ! copy_out; then
		# A damaged filesystem (what corrupt-writes does): check it and
		# copy again; then keep what could be read.
		unmount
		if fsck_mount "$mdm"; then
			copy_out || true
		fi
		if [ ! -e "$staged" ] && [ -n "$(ls -A "$stage" 2>/dev/null)" ]; then
			sync -f "$stage"
			touch "$staged"
			warn="some of $dir could not be read off $mdm, even after e2fsck: $(echo $cperr | tail -c 300); the rest is back in $dir"
		elif [ ! -e "$staged" ]; then
			rm -rf "$stage"
			warn="nothing could be read off $mdm: $(echo $cperr | tail -c 300)"
		else
			echo "the filesystem on $mdm was damaged; e2fsck repaired it before its contents were copied back"
		fi
	fi
	[ -z "$(mnt_src)" ] || unmount
fi
if [ -e "$staged" ]; then
	if [ -d "$stage" ]; then
		if [ -e "$dir" ] && ! rmdir "$dir" 2>/dev/null; then
			echo "$dir is not empty after unmounting; the device's contents are in $stage" >&2
			exit 1
		fi
		mv "$stage" "$dir"
	fi
	rm -rf "$back"
	rm -f "$staged"
elif [ -d "$back" ]; then
	[ -n "$warn" ] || [ ! -e "$live" ] || warn="the device's contents were lost"
	rm -rf "$stage"
	if [ -e "$dir" ] && ! rmdir "$dir" 2>/dev/null; then
		echo "both $dir and $back hold data; leaving both" >&2
		exit 1
	fi
	mv "$back" "$dir"
	[ -z "$warn" ] || warn="$warn: $dir is as it was before the fault"
fi
rm -f "$live"
for x in $mdm $dm $(img_dms); do
	dm_exists "$x" || continue
	deps=$(dmsetup deps -o devname "$x" | sed 's/.*://' | tr -d '()')
	dmsetup remove --retry "$x" >/dev/null
	dmsetup mknodes "$x" 2>/dev/null || true # without udev, nobody else removes /dev/mapper/$x
	for l in $deps; do
		case $l in loop*) losetup -d "/dev/$l" 2>/dev/null || true ;; esac
	done
	echo "removed device-mapper device $x"
done
for l in $(img_loops); do losetup -d "$l"; done
rm -f "$img"
`
}

// setupScript puts what an interrupted run left back (restoreScript),
// then dir on a fresh device. It prints "<loop device> <sectors>".
func (d *flakeyDev) setupScript() string {
	return d.restoreScript() + `[ -z "$warn" ] || echo "put back what an interrupted run left: $warn"
mkdir -p "$dir" "$(dirname "$img")"
used=$(du -sx --block-size=1 "$dir" | cut -f1)
if [ "$used" -gt $((size / 10 * 8)) ]; then
	echo "$dir holds $used bytes, too much for a $size-byte device: give the fault a larger size" >&2
	exit 1
fi
fallocate -l "$size" "$img" 2>/dev/null || { rm -f "$img"; truncate -s "$size" "$img"; }
loop=$(losetup -f --show "$img")
sectors=$(blockdev --getsz "$loop")
dmsetup create "$dm" --table "0 $sectors linear $loop 0"
dmsetup mknodes "$dm"
mkfs.ext4 -q -F -L jplan-flakey -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "/dev/mapper/$dm" >/dev/null
mv "$dir" "$back"
mkdir "$dir"
chown --reference="$back" "$dir"
chmod --reference="$back" "$dir"
mount_dev "$dm"
chown --reference="$back" "$dir"
chmod --reference="$back" "$dir"
rmdir "$dir/lost+found"
cp -a "$back/." "$dir/"
sync -f "$dir"
touch "$live"
echo "$loop $sectors"
`
}

// powerFailureScript drops writes, unmounts (so what the page cache held
// goes nowhere, and the kernel forgets it), puts the healthy table back
// and mounts again: ext4 replays its journal. It prints how many sectors
// were written to the device while it dropped them.
func (d *flakeyDev) powerFailureScript(nm *flakeyNode, drop string) string {
	return flakeyFns + d.vars() + fmt.Sprintf("drop=%s; good=%s\n", control.Quote(drop), control.Quote(linearTable(nm.sectors, nm.loop))) + `h=$(holders)
if [ -n "$h" ]; then
	echo "processes still use $dir: $h; name the daemon in the fault (daemon = ...) so the power failure kills it" >&2
	exit 1
fi
stat=/sys/block/dm-$(dmsetup info -c --noheadings -o minor "$dm" | tr -d ' ')/stat
writes() { awk '{ print $7 }' "$stat"; }
w0=$(writes)
load "$dm" "$drop" lose-unfsynced
swap "$dm"
if ! unmount; then
	load "$dm" "$good" healthy && swap "$dm"
	exit 1
fi
blockdev --flushbufs "/dev/mapper/$dm"
w1=$(writes)
load "$dm" "$good" healthy
swap "$dm"
mount_dev "$dm" 2>/dev/null || fsck_mount "$dm"
echo $((w1 - w0))
`
}

// repairScript unmounts the failed filesystem, checks it and mounts it
// again, with the healthy table in place.
func (d *flakeyDev) repairScript() string {
	return `healthy "$dm"
unmount
fsck_mount "$dm"
`
}

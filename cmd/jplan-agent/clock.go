//go:build linux

package main

// The clock subcommand moves a clock: the node's system clock
// (CLOCK_REALTIME), or, with --file, a libfaketime offset file read by one
// daemon started under libfaketime.
//
//	jplan-agent clock bump   --delta D [--file F] [--ref NS]
//	jplan-agent clock strobe --delta D --period P --duration T [--file F] [--ref NS]
//	jplan-agent clock reset  [--to NS | --file F]
//	jplan-agent clock offset [--file F] [--ref NS]
//
// --ref and --to are the control machine's time (Unix nanoseconds) when it
// sent the command: the system clock's offset is measured against it, and
// reset sets the system clock to it (plus the time the agent has been
// running). The result is one JSON line: {"offset": <seconds>, "flips": N}.
//
// A time on the command line is stale by however long the node took to
// start the agent: milliseconds on a quick machine, seconds on a loaded
// or emulated one, all of it error in the offset and in a reset. So with
// --ref-stdin the agent first starts, prints "ready", and reads the
// control machine's time as a line on stdin, which the control machine
// sends only then: the error shrinks to one line's trip over an open SSH
// channel.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func init() { register("clock", clockMain) }

// clockDev is a clock the agent can move.
type clockDev interface {
	// offset is how far the clock is ahead of the true time (negative when
	// behind).
	offset() (time.Duration, error)
	// shift moves the clock by d.
	shift(d time.Duration) error
	// reset puts the clock back to the true time.
	reset() error
}

// systemClock is the node's CLOCK_REALTIME, through sys. The true time is
// ref (the control machine's clock when it sent the command) plus the
// time elapsed since the agent started, measured on the monotonic clock,
// which setting the realtime clock does not move.
type systemClock struct {
	sys     realtime
	ref     time.Time // zero: unknown
	started time.Duration
	mono    func() time.Duration
}

// realtime is the kernel's realtime clock; tests substitute a fake.
type realtime interface {
	now() time.Time
	adjust(d time.Duration) error
	set(t time.Time) error
}

func (c *systemClock) truth() (time.Time, error) {
	if c.ref.IsZero() {
		return time.Time{}, errors.New("the control machine's time (--ref or --to) is needed to measure or reset the system clock")
	}
	return c.ref.Add(c.mono() - c.started), nil
}

func (c *systemClock) offset() (time.Duration, error) {
	t, err := c.truth()
	if err != nil {
		return 0, err
	}
	return c.sys.now().Sub(t), nil
}

func (c *systemClock) shift(d time.Duration) error { return c.sys.adjust(d) }

func (c *systemClock) reset() error {
	t, err := c.truth()
	if err != nil {
		return err
	}
	return c.sys.set(t)
}

// kernelClock is the real CLOCK_REALTIME.
type kernelClock struct{}

func (kernelClock) now() time.Time { return time.Now().Round(0) }

// adjust shifts the clock atomically by d with adjtimex(ADJ_SETOFFSET),
// so no time passes between reading and setting it.
func (kernelClock) adjust(d time.Duration) error {
	tx := unix.Timex{Modes: unix.ADJ_SETOFFSET, Time: unix.NsecToTimeval(d.Nanoseconds())}
	if _, err := unix.Adjtimex(&tx); err != nil {
		return fmt.Errorf("adjtimex(ADJ_SETOFFSET %s): %w", d, err)
	}
	return nil
}

func (kernelClock) set(t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("clock_settime: %w", err)
	}
	return nil
}

// fileClock is a libfaketime timestamp file holding a relative offset in
// seconds ("+3600", "-0.25"). A daemon started with
// FAKETIME_TIMESTAMP_FILE pointing at it and FAKETIME_NO_CACHE=1 sees
// the real time plus that offset, re-reading the file at every call.
type fileClock struct{ path string }

func (c fileClock) offset() (time.Duration, error) {
	data, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return parseFakeOffset(string(data))
}

func (c fileClock) shift(d time.Duration) error {
	cur, err := c.offset()
	if err != nil {
		return err
	}
	return c.write(cur + d)
}

func (c fileClock) reset() error { return c.write(0) }

// write replaces the file atomically, so the daemon never reads a
// half-written offset.
func (c fileClock) write(d time.Duration) error {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(formatFakeOffset(d)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, c.path)
}

// formatFakeOffset writes d as libfaketime's relative offset: a sign and
// seconds, with a fraction when needed ("+3600", "-0.25", "+0").
func formatFakeOffset(d time.Duration) string {
	s := strconv.FormatFloat(math.Abs(d.Seconds()), 'f', -1, 64)
	if d < 0 {
		return "-" + s
	}
	return "+" + s
}

// parseFakeOffset reads a relative libfaketime offset: a sign, a number,
// and an optional unit (s, m, h, d, y; seconds by default).
func parseFakeOffset(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if s[0] != '+' && s[0] != '-' {
		return 0, fmt.Errorf("faketime offset %q is not relative (+N or -N)", s)
	}
	unit := 1.0
	switch s[len(s)-1] {
	case 's':
		s = s[:len(s)-1]
	case 'm':
		unit, s = 60, s[:len(s)-1]
	case 'h':
		unit, s = 3600, s[:len(s)-1]
	case 'd':
		unit, s = 86400, s[:len(s)-1]
	case 'y':
		unit, s = 365*86400, s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("faketime offset %q: %w", s, err)
	}
	return time.Duration(math.Round(f * unit * float64(time.Second))), nil
}

// pacer waits on the monotonic clock; tests substitute a fake.
type pacer interface {
	elapsed() time.Duration
	sleepUntil(t time.Duration)
}

type monoPacer struct{ t0 time.Time }

func (p monoPacer) elapsed() time.Duration { return time.Since(p.t0) }
func (p monoPacer) sleepUntil(t time.Duration) {
	if d := t - time.Since(p.t0); d > 0 {
		time.Sleep(d)
	}
}

// strobe flips the clock: +delta at the start, back at period, +delta at
// 2·period, and so on for duration, ending where it began. Flips are
// scheduled against the start, so slow flips do not stretch the strobe.
// It returns the number of flips.
func strobe(c clockDev, p pacer, delta, period, duration time.Duration) (int, error) {
	if period <= 0 {
		return 0, errors.New("strobe period must be positive")
	}
	n := int(duration / period)
	if n < 1 {
		n = 1
	}
	start := p.elapsed()
	flips := 0
	up := false
	for k := 0; k < n; k++ {
		p.sleepUntil(start + time.Duration(k)*period)
		d := delta
		if up {
			d = -delta
		}
		if err := c.shift(d); err != nil {
			return flips, err
		}
		up = !up
		flips++
	}
	if up {
		p.sleepUntil(start + time.Duration(n)*period)
		if err := c.shift(-delta); err != nil {
			return flips, fmt.Errorf("restoring the clock after the strobe (it is still %s off): %w", delta, err)
		}
		flips++
	}
	return flips, nil
}

type clockResult struct {
	Offset float64 `json:"offset"` // seconds
	Flips  int     `json:"flips,omitempty"`
}

// runClock carries out one clock action on c.
func runClock(c clockDev, p pacer, action string, delta, period, duration time.Duration) (clockResult, error) {
	var res clockResult
	var err error
	switch action {
	case "bump":
		err = c.shift(delta)
	case "strobe":
		res.Flips, err = strobe(c, p, delta, period, duration)
	case "reset":
		err = c.reset()
	case "offset":
	default:
		return res, fmt.Errorf("unknown action %q (bump, strobe, reset or offset)", action)
	}
	if err != nil {
		return res, err
	}
	off, err := c.offset()
	if err != nil {
		return res, err
	}
	res.Offset = roundSeconds(off)
	return res, nil
}

// roundSeconds gives d in seconds to the microsecond.
func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Second)
}

func clockMain(args []string) error {
	return clockCommand(args, os.Stdin, os.Stdout, nil)
}

// readRef is the --ref-stdin handshake: say "ready", then read the
// control machine's time (Unix nanoseconds) from in.
func readRef(in io.Reader, out io.Writer) (time.Time, error) {
	if _, err := fmt.Fprintln(out, "ready"); err != nil {
		return time.Time{}, err
	}
	var line []byte
	buf := make([]byte, 1)
	for {
		// One byte at a time: nothing after the line may be consumed.
		n, err := in.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			line = append(line, buf[0])
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("reading the control machine's time: %w", err)
		}
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(line)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("the control machine's time %q: %w", line, err)
	}
	return time.Unix(0, ns), nil
}

// clockCommand parses args and runs them; sys, when non-nil, replaces the
// kernel's clock (tests).
func clockCommand(args []string, in io.Reader, out io.Writer, sys realtime) error {
	if len(args) < 1 {
		return errors.New("usage: clock bump|strobe|reset|offset [flags]")
	}
	t0 := time.Now()
	action := args[0]
	fs := flag.NewFlagSet("clock "+action, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	delta := fs.Duration("delta", 0, "how far to move the clock")
	period := fs.Duration("period", 10*time.Millisecond, "strobe: time between flips")
	duration := fs.Duration("duration", time.Second, "strobe: how long to strobe")
	file := fs.String("file", "", "a libfaketime offset file to move instead of the system clock")
	refNS := fs.Int64("ref", 0, "the control machine's time, Unix nanoseconds")
	to := fs.Int64("to", 0, "reset: the time to set, Unix nanoseconds")
	refStdin := fs.Bool("ref-stdin", false, `print "ready", then read the control machine's time (Unix nanoseconds) as a line on stdin; for --ref and --to`)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var c clockDev
	if *file != "" {
		c = fileClock{path: *file}
	} else {
		if sys == nil {
			sys = kernelClock{}
		}
		sc := &systemClock{sys: sys, mono: func() time.Duration { return time.Since(t0) }}
		sc.started = sc.mono()
		if *refStdin {
			ref, err := readRef(in, out)
			if err != nil {
				return err
			}
			sc.started = sc.mono()
			ns := ref.UnixNano()
			*refNS, *to = ns, ns
		}
		if *to != 0 {
			sc.ref = time.Unix(0, *to)
		} else if *refNS != 0 {
			sc.ref = time.Unix(0, *refNS)
		}
		if action == "reset" && *to == 0 {
			return errors.New("reset of the system clock needs --to")
		}
		c = sc
	}
	res, err := runClock(c, monoPacer{t0: time.Now()}, action, *delta, *period, *duration)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(res)
}

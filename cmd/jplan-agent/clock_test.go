//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeTime is a machine with a realtime clock that can be set and a
// monotonic clock that cannot; nothing here touches the real clock.
type fakeTime struct {
	base  time.Time     // realtime at mono 0, before any skew
	mono  time.Duration // advanced by sleeps
	skew  time.Duration // what adjust/set did to the realtime clock
	trace []time.Duration
}

func (f *fakeTime) now() time.Time { return f.base.Add(f.mono + f.skew) }
func (f *fakeTime) adjust(d time.Duration) error {
	f.skew += d
	f.trace = append(f.trace, f.skew)
	return nil
}
func (f *fakeTime) set(t time.Time) error {
	f.skew = t.Sub(f.base.Add(f.mono))
	f.trace = append(f.trace, f.skew)
	return nil
}
func (f *fakeTime) elapsed() time.Duration { return f.mono }
func (f *fakeTime) sleepUntil(t time.Duration) {
	if t > f.mono {
		f.mono = t
	}
}

func newSystem(f *fakeTime, ref time.Time) *systemClock {
	return &systemClock{sys: f, ref: ref, started: f.mono, mono: func() time.Duration { return f.mono }}
}

func TestSystemClockBumpAndReset(t *testing.T) {
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f := &fakeTime{base: base}
	// The node runs 2ms ahead of the control machine to start with.
	f.skew = 2 * time.Millisecond
	c := newSystem(f, base)
	res, err := runClock(c, f, "bump", -5*time.Second, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Offset != -4.998 {
		t.Errorf("offset after a -5s bump from +2ms: %v, want -4.998", res.Offset)
	}
	res, _ = runClock(c, f, "bump", 90*time.Minute, 0, 0)
	if res.Offset != 5395.002 {
		t.Errorf("bumps add up: %v, want 5395.002", res.Offset)
	}
	// Time passes on the node; reset is measured against ref plus the
	// elapsed monotonic time, so it lands on the true time.
	f.mono += 1500 * time.Millisecond
	res, err = runClock(c, f, "reset", 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Offset != 0 || f.skew != 0 {
		t.Errorf("after reset: offset %v, skew %v; want 0", res.Offset, f.skew)
	}
}

func TestSystemClockNeedsRef(t *testing.T) {
	f := &fakeTime{base: time.Unix(1e9, 0)}
	c := newSystem(f, time.Time{})
	if _, err := runClock(c, f, "reset", 0, 0, 0); err == nil || !strings.Contains(err.Error(), "control machine's time") {
		t.Errorf("reset without a reference: %v", err)
	}
	if len(f.trace) != 0 {
		t.Errorf("clock was touched: %v", f.trace)
	}
}

func TestStrobeFlipsAndEndsWhereItBegan(t *testing.T) {
	for _, tc := range []struct {
		period, duration time.Duration
		flips            int
	}{
		{10 * time.Millisecond, time.Second, 100},
		{10 * time.Millisecond, 35 * time.Millisecond, 4}, // 3 intervals, one more flip back
		{time.Second, 10 * time.Millisecond, 2},           // at least one interval
	} {
		base := time.Unix(2e9, 0)
		f := &fakeTime{base: base}
		c := newSystem(f, base)
		res, err := runClock(c, f, "strobe", 200*time.Millisecond, tc.period, tc.duration)
		if err != nil {
			t.Fatal(err)
		}
		if res.Flips != tc.flips || len(f.trace) != tc.flips {
			t.Errorf("%s/%s: %d flips (trace %d), want %d", tc.period, tc.duration, res.Flips, len(f.trace), tc.flips)
		}
		for i, s := range f.trace {
			want := 200 * time.Millisecond
			if i%2 == 1 {
				want = 0
			}
			if s != want {
				t.Errorf("%s/%s: flip %d left skew %s, want %s", tc.period, tc.duration, i, s, want)
				break
			}
		}
		if f.skew != 0 || res.Offset != 0 {
			t.Errorf("%s/%s: ends %s off (reported %v)", tc.period, tc.duration, f.skew, res.Offset)
		}
		// The last flip happens at n·period (n rounded up to even).
		n := tc.flips
		if want := time.Duration(n-1) * tc.period; f.mono != want {
			t.Errorf("%s/%s: strobe took %s, want %s", tc.period, tc.duration, f.mono, want)
		}
	}
}

func TestFakeOffsetFormat(t *testing.T) {
	for d, s := range map[time.Duration]string{
		3600 * time.Second:      "+3600",
		-250 * time.Millisecond: "-0.25",
		0:                       "+0",
		1500 * time.Microsecond: "+0.0015",
	} {
		if got := formatFakeOffset(d); got != s {
			t.Errorf("format %s: %q, want %q", d, got, s)
		}
		back, err := parseFakeOffset(s + "\n")
		if err != nil || back != d {
			t.Errorf("parse %q: %s %v, want %s", s, back, err, d)
		}
	}
	for s, d := range map[string]time.Duration{"+2h": 2 * time.Hour, "-10m": -10 * time.Minute, "+1d": 24 * time.Hour, "+5s": 5 * time.Second, "": 0} {
		if got, err := parseFakeOffset(s); err != nil || got != d {
			t.Errorf("parse %q: %s %v, want %s", s, got, err, d)
		}
	}
	if _, err := parseFakeOffset("2020-01-01 00:00:00"); err == nil {
		t.Error("an absolute faketime was accepted as an offset")
	}
}

func TestFileClockCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "offset")
	run := func(args ...string) clockResult {
		t.Helper()
		var out bytes.Buffer
		if err := clockCommand(args, nil, &out, nil); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var r clockResult
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%v: output %q: %v", args, out.String(), err)
		}
		return r
	}
	content := func() string {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	if r := run("offset", "--file", file); r.Offset != 0 {
		t.Errorf("missing file: offset %v", r.Offset)
	}
	if r := run("bump", "--file", file, "--delta", "1h"); r.Offset != 3600 || content() != "+3600" {
		t.Errorf("bump: %v, file %q", r.Offset, content())
	}
	if r := run("bump", "--file", file, "--delta", "-3600.5s"); r.Offset != -0.5 || content() != "-0.5" {
		t.Errorf("second bump: %v, file %q", r.Offset, content())
	}
	r := run("strobe", "--file", file, "--delta", "2s", "--period", "1ms", "--duration", "5ms")
	if r.Flips != 6 || r.Offset != -0.5 || content() != "-0.5" {
		t.Errorf("strobe: %+v, file %q", r, content())
	}
	if r := run("reset", "--file", file); r.Offset != 0 || content() != "+0" {
		t.Errorf("reset: %v, file %q", r.Offset, content())
	}
}

func TestSystemResetNeedsTo(t *testing.T) {
	f := &fakeTime{base: time.Unix(1e9, 0)}
	err := clockCommand([]string{"reset", "--ref", "1000000000000000000"}, nil, &bytes.Buffer{}, f)
	if err == nil || !strings.Contains(err.Error(), "--to") {
		t.Errorf("reset without --to: %v", err)
	}
	var out bytes.Buffer
	to := time.Unix(1e9, 0).Add(time.Hour)
	if err := clockCommand([]string{"reset", "--to", strconv.FormatInt(to.UnixNano(), 10)}, nil, &out, f); err != nil {
		t.Fatal(err)
	}
	if f.skew < time.Hour || f.skew > time.Hour+time.Second {
		t.Errorf("reset to an hour ahead left skew %s", f.skew)
	}
}

// handshake answers the agent's "ready" with the control machine's time,
// as nemesis does: only then, so that time is fresh.
type handshake struct {
	bytes.Buffer
	in   *io.PipeWriter
	when func() time.Time
}

func (h *handshake) Write(p []byte) (int, error) {
	n, err := h.Buffer.Write(p)
	if strings.HasPrefix(h.String(), "ready\n") && h.in != nil {
		w := h.in
		h.in = nil
		go fmt.Fprintf(w, "%d\ntrailing input the agent must not read\n", h.when().UnixNano())
	}
	return n, err
}

func TestRefFromStdinAfterReady(t *testing.T) {
	// The node's clock is an hour ahead of the control machine's.
	control := time.Unix(2e9, 0)
	f := &fakeTime{base: control.Add(time.Hour)}
	sent := false
	pr, pw := io.Pipe()
	h := &handshake{in: pw, when: func() time.Time { sent = true; return control }}
	if err := clockCommand([]string{"offset", "--ref-stdin"}, pr, h, f); err != nil {
		t.Fatal(err)
	}
	if !sent {
		t.Fatal("the agent finished without asking for the time")
	}
	lines := strings.Split(strings.TrimSpace(h.String()), "\n")
	if len(lines) != 2 || lines[0] != "ready" {
		t.Fatalf("output %q: want ready, then the result", h.String())
	}
	var res clockResult
	if err := json.Unmarshal([]byte(lines[1]), &res); err != nil {
		t.Fatal(err)
	}
	if res.Offset < 3599.9 || res.Offset > 3600.1 {
		t.Fatalf("offset %v, want 3600", res.Offset)
	}

	// A reset sets the clock to the time read from stdin.
	pr, pw = io.Pipe()
	h = &handshake{in: pw, when: func() time.Time { return control }}
	if err := clockCommand([]string{"reset", "--ref-stdin"}, pr, h, f); err != nil {
		t.Fatal(err)
	}
	if d := f.now().Sub(control); d < -time.Second || d > time.Second {
		t.Fatalf("after reset the clock is %s from the control machine's", d)
	}
	if err := clockCommand([]string{"offset", "--ref-stdin"}, strings.NewReader("not a time\n"), &bytes.Buffer{}, f); err == nil {
		t.Fatal("a bad time on stdin was accepted")
	}
}

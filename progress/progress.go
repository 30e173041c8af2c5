// Package progress reports the progress of long work to a person: on a
// terminal, one status line rewritten in place; in a pipe or a CI log, a
// plain line every Interval, and nothing at all for work quicker than
// that, so logs stay quiet.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// DefaultInterval is how often a line is printed when not on a terminal.
const DefaultInterval = 10 * time.Second

// termEvery throttles a terminal's line.
const termEvery = 100 * time.Millisecond

// Reporter prints status lines to w.
type Reporter struct {
	w        io.Writer
	terminal bool
	// Interval between lines off a terminal; DefaultInterval if zero.
	Interval time.Duration

	mu       sync.Mutex
	start    time.Time
	last     time.Time
	shown    bool   // a terminal line is on screen
	lastLine string // the last line written through Log
}

// New returns a reporter writing to w, which is a terminal or not.
func New(w io.Writer, terminal bool) *Reporter {
	return &Reporter{w: w, terminal: terminal, start: time.Now()}
}

// Update shows a status, prefixed with the time since the reporter
// started, unless one was shown too recently.
func (r *Reporter) Update(format string, args ...any) {
	r.show(func(elapsed time.Duration) string {
		return fmt.Sprintf("%6.1fs  %s", elapsed.Seconds(), fmt.Sprintf(format, args...))
	}, false)
}

// Show shows line as it is, throttled like Update; force shows it in any
// case (a final status).
func (r *Reporter) Show(line string, force bool) {
	r.show(func(time.Duration) string { return line }, force)
}

func (r *Reporter) show(line func(elapsed time.Duration) string, force bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	every := termEvery
	if !r.terminal {
		every = r.Interval
		if every <= 0 {
			every = DefaultInterval
		}
		// Off a terminal, quick work prints nothing.
		if now.Sub(r.start) < every && !force {
			return
		}
	}
	if now.Sub(r.last) < every && !force {
		return
	}
	r.last = now
	text := line(now.Sub(r.start))
	if r.terminal {
		fmt.Fprintf(r.w, "\r\033[K%s", text)
		r.shown = true
		return
	}
	fmt.Fprintln(r.w, text)
}

// Finish leaves the terminal's status line on screen, ending it, so the
// next output starts below it.
func (r *Reporter) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shown {
		fmt.Fprintln(r.w)
		r.shown = false
	}
}

// Done clears the terminal's status line.
func (r *Reporter) Done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shown {
		fmt.Fprint(r.w, "\r\033[K")
		r.shown = false
	}
}

// Every calls status every tick and shows what it returns, until stop is
// called.
func (r *Reporter) Every(tick time.Duration, status func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.Update("%s", status())
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			r.Done()
		})
	}
}

// Reader wraps rd, of total bytes (0: unknown), showing how much of it
// has been read as "label: 45% (120 MB of 266 MB)".
func (r *Reporter) Reader(rd io.Reader, total int64, label string) io.Reader {
	return &reader{rd: rd, total: total, label: label, r: r}
}

type reader struct {
	rd    io.Reader
	n     int64
	total int64
	label string
	r     *Reporter
}

func (x *reader) Read(p []byte) (int, error) {
	n, err := x.rd.Read(p)
	x.n += int64(n)
	if x.total > 0 {
		x.r.Update("%s: %.0f%% (%s of %s)", x.label, 100*float64(x.n)/float64(x.total), size(x.n), size(x.total))
	} else {
		x.r.Update("%s: %s", x.label, size(x.n))
	}
	return n, err
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Log returns a writer for log lines that go to the same place as the
// status: on a terminal it clears the status line first, so log lines
// print above it. Writes should be whole lines.
func (r *Reporter) Log() io.Writer { return logWriter{r} }

type logWriter struct{ r *Reporter }

func (l logWriter) Write(p []byte) (int, error) {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	if l.r.shown {
		fmt.Fprint(l.r.w, "\r\033[K")
		l.r.shown = false
		// Show the status again at the next update, however soon.
		l.r.last = time.Time{}
	}
	if line := strings.TrimSpace(string(p)); line != "" {
		if i := strings.LastIndexByte(line, '\n'); i >= 0 {
			line = line[i+1:]
		}
		l.r.lastLine = line
	}
	return l.r.w.Write(p)
}

// LastLog is the last line written through Log.
func (r *Reporter) LastLog() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastLine
}

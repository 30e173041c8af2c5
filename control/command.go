package control

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Command is one thing to run on a node. Exactly one of Argv and Script is
// set.
type Command struct {
	// Argv is a program and its arguments. Each element reaches the program
	// verbatim: it is quoted, never interpreted by a shell.
	Argv []string
	// Script is POSIX sh source, run as is (pipes, redirections, globbing).
	Script string

	// Stdin, if set, is copied to the command's standard input; otherwise
	// the command sees an empty stdin.
	Stdin io.Reader
	// Stdout and Stderr, if set, receive the command's output as it is
	// produced (useful for large downloads and logs); the corresponding
	// Result field stays empty. Stderr's tail is still kept for errors.
	Stdout io.Writer
	Stderr io.Writer

	// Env holds variables exported to the command (after sudo, so they
	// survive sudo's environment reset). Names must be valid sh names.
	Env map[string]string
	// Dir is the working directory; empty means the login directory.
	Dir string
	// Timeout bounds the command's run time on the node; 0 means none. On
	// expiry the command's whole process group gets SIGTERM, then SIGKILL
	// KillGrace later, and Exec returns an *ExitError with TimedOut set.
	Timeout time.Duration

	// Sudo runs the command through sudo as SudoUser (default root). With a
	// SudoPassword, sudo reads it from stdin (sudo -S) unless the node lets
	// the user run sudo without one; without it, sudo -n fails fast instead
	// of hanging at a prompt.
	Sudo         bool
	SudoUser     string
	SudoPassword string
}

// KillGrace is how long a timed-out or cancelled command has between
// SIGTERM and SIGKILL.
const KillGrace = 2 * time.Second

// Result is what a command did.
type Result struct {
	Node       string
	Command    string // the command as the user wrote it, for display
	Stdout     string // empty when Command.Stdout was set
	Stderr     string // empty when Command.Stderr was set
	ExitStatus int    // -1 if the command died of a signal
	Signal     string // e.g. "KILL", when the command died of a signal
	Duration   time.Duration
}

// ExitError is returned when a command ran but did not succeed: it exited
// non-zero, died of a signal, or ran out of time.
type ExitError struct {
	Node       string
	Command    string
	ExitStatus int
	Signal     string
	TimedOut   bool
	Timeout    time.Duration
	StderrTail string // the last few lines of stderr
}

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: command %s ", e.Node, shorten(e.Command, 200))
	switch {
	case e.TimedOut:
		fmt.Fprintf(&b, "timed out after %s and was killed", e.Timeout)
	case e.Signal != "":
		fmt.Fprintf(&b, "was killed by signal %s", e.Signal)
	default:
		fmt.Fprintf(&b, "exited with status %d", e.ExitStatus)
	}
	if hint := sudoHint(e.StderrTail); hint != "" {
		b.WriteString(" (" + hint + ")")
	}
	if t := strings.TrimSpace(e.StderrTail); t != "" {
		b.WriteString(": ")
		b.WriteString(t)
	}
	return b.String()
}

// sudoHint turns sudo's terse failures into advice, since "exit status 1"
// is all the caller would otherwise see.
func sudoHint(stderr string) string {
	switch {
	case strings.Contains(stderr, "incorrect password attempt"):
		return "sudo rejected the password"
	case strings.Contains(stderr, "sudo: a password is required"):
		return "sudo needs a password and none was given"
	case strings.Contains(stderr, "is not in the sudoers file"), strings.Contains(stderr, "is not allowed to execute"):
		return "user may not use sudo for this"
	}
	return ""
}

func shorten(s string, n int) string {
	q := fmt.Sprintf("%q", s)
	if len(q) <= n {
		return q
	}
	return q[:n-4] + `..."`
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// display is the command as the user wrote it, for results and errors.
func (c Command) display() string {
	var s string
	if c.Argv != nil {
		s, _ = QuoteArgv(c.Argv)
	} else {
		s = c.Script
	}
	if c.Sudo {
		u := c.SudoUser
		if u == "" {
			u = "root"
		}
		s = "sudo -u " + u + " " + s
	}
	return s
}

// body is the sh program the user asked for: the command itself, preceded
// by cd and exports. It runs after sudo, so Dir and Env apply to the
// privileged process.
func (c Command) body() (string, error) {
	var main string
	switch {
	case c.Argv != nil && c.Script != "":
		return "", errors.New("command has both Argv and Script")
	case c.Argv != nil:
		q, err := QuoteArgv(c.Argv)
		if err != nil {
			return "", err
		}
		main = q
	case c.Script != "":
		if strings.IndexByte(c.Script, 0) >= 0 {
			return "", ErrNUL
		}
		main = c.Script
	default:
		return "", errors.New("command has neither Argv nor Script")
	}
	var b strings.Builder
	if c.Dir != "" {
		fmt.Fprintf(&b, "cd %s || exit\n", Quote(c.Dir))
	}
	if len(c.Env) > 0 {
		names := make([]string, 0, len(c.Env))
		for k := range c.Env {
			if !envName.MatchString(k) {
				return "", fmt.Errorf("invalid environment variable name %q", k)
			}
			names = append(names, k)
		}
		sort.Strings(names)
		b.WriteString("export")
		for _, k := range names {
			v := c.Env[k]
			if strings.IndexByte(v, 0) >= 0 {
				return "", fmt.Errorf("environment variable %s: %w", k, ErrNUL)
			}
			b.WriteString(" " + k + "=" + Quote(v))
		}
		b.WriteString("\n")
	}
	b.WriteString(main)
	return b.String(), nil
}

// pidMarker prefixes the line a wrapped command writes to stderr first: the
// PID of the timeout(1) process that leads the command's process group, so
// a cancelled command can be killed from a second session. The line is
// removed from the stderr the caller sees.
const pidMarker = "__jplan_pid__:"

// sudoMode says how to invoke sudo for one command.
type sudoMode int

const (
	sudoNone     sudoMode = iota
	sudoNoPrompt          // sudo -n: fail rather than prompt
	sudoStdin             // sudo -S: the password is the first line of stdin
)

// wrap builds the program a remote transport hands to /bin/sh:
//
//	[sudo ... -- sh -c '] printf marker; exec timeout -k G T sh -c 'body' [']
//
// timeout(1) puts itself and the body in a new process group and, on expiry
// or on SIGTERM/SIGHUP/SIGINT, signals that whole group, which is what makes
// timeouts and cancellation kill grandchildren too. It sits inside sudo so
// it has the privileges to kill what it started.
func wrap(body string, timeout time.Duration, mode sudoMode, sudoUser string) string {
	secs := "0"
	if timeout > 0 {
		secs = fmt.Sprintf("%.3f", timeout.Seconds())
	}
	inner := fmt.Sprintf(`printf '%%s%%s\n' %s "$$" >&2; exec timeout -k %d %s sh -c %s`,
		pidMarker, int(KillGrace.Seconds()), secs, Quote(body))
	if mode == sudoNone {
		return inner
	}
	return "exec " + sudoPrefix(mode, sudoUser) + " sh -c " + Quote(inner)
}

// sudoPrefix is the sudo invocation for mode, ending in "--".
func sudoPrefix(mode sudoMode, user string) string {
	s := "sudo"
	switch mode {
	case sudoNoPrompt:
		s += " -n"
	case sudoStdin:
		// -k ignores cached credentials so sudo always consumes the
		// password line we put in front of stdin; -p '' keeps the prompt
		// out of stderr.
		s += " -S -k -p ''"
	}
	if user != "" {
		s += " -u " + Quote(user)
	}
	return s + " --"
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return n, nil
}

// String returns the kept tail, starting at a line boundary when one is
// available so the message does not begin mid-word.
func (t *tailBuffer) String() string {
	b := t.buf
	if len(b) == t.max {
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// pidSniffer passes a stream through, except for a leading pidMarker line,
// whose PID it records. Anything else (say, sudo's own error before the
// marker was printed) passes through untouched.
type pidSniffer struct {
	w     io.Writer
	done  bool
	head  []byte
	pidCh chan string // receives the PID once, or is closed without one
}

func newPIDSniffer(w io.Writer) *pidSniffer {
	return &pidSniffer{w: w, pidCh: make(chan string, 1)}
}

func (s *pidSniffer) Write(p []byte) (int, error) {
	if s.done {
		return s.w.Write(p)
	}
	n := len(p)
	s.head = append(s.head, p...)
	marker := []byte(pidMarker)
	if len(s.head) < len(marker) && bytes.HasPrefix(marker, s.head) {
		return n, nil // could still become the marker
	}
	if !bytes.HasPrefix(s.head, marker) {
		return n, s.flush()
	}
	nl := bytes.IndexByte(s.head, '\n')
	if nl < 0 {
		if len(s.head) > len(marker)+32 {
			return n, s.flush() // not a PID line after all
		}
		return n, nil
	}
	s.pidCh <- string(s.head[len(marker):nl])
	rest := s.head[nl+1:]
	s.done, s.head = true, nil
	close(s.pidCh)
	if len(rest) > 0 {
		if _, err := s.w.Write(rest); err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *pidSniffer) flush() error {
	s.done = true
	close(s.pidCh)
	h := s.head
	s.head = nil
	_, err := s.w.Write(h)
	return err
}

// finish flushes anything held back once the stream has ended.
func (s *pidSniffer) finish() error {
	if s.done {
		return nil
	}
	return s.flush()
}

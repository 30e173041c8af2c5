package lifecycle

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jplan/jplan/control"
)

// StepError is a failed setup or teardown step on one node.
type StepError struct {
	Node string
	// DB is the database's name; empty for OS steps.
	DB string
	// Step says what was being done: "install", "file /etc/x.conf",
	// "daemon etcd: ready"...
	Step string
	// What is a short description of the command that failed, when a
	// command did ("apt-get install etcd-server").
	What string
	Err  error
}

func (e *StepError) Error() string {
	var b strings.Builder
	b.WriteString(e.Node)
	if e.DB != "" {
		b.WriteString(": db " + e.DB)
	} else {
		b.WriteString(": os")
	}
	b.WriteString(": " + e.Step)
	if e.What != "" {
		b.WriteString(": " + e.What)
	}
	b.WriteString(": " + describe(e.Node, e.Err))
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

// describe renders err without repeating the node name and, for commands
// that ran, as "exit N: <stderr tail>" — the caller already says which
// command it was, and control's message would quote the whole script.
func describe(node string, err error) string {
	var ee *control.ExitError
	if errors.As(err, &ee) {
		var s string
		switch {
		case ee.TimedOut:
			s = fmt.Sprintf("timed out after %s", ee.Timeout)
		case ee.Signal != "":
			s = "killed by signal " + ee.Signal
		default:
			s = fmt.Sprintf("exit %d", ee.ExitStatus)
		}
		if t := tailLines(ee.StderrTail, 8); t != "" {
			s += ": " + t
		}
		return s
	}
	return strings.TrimPrefix(err.Error(), node+": ")
}

// tailLines returns the last n non-empty lines of s, trimmed.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var keep []string
	for i := len(lines) - 1; i >= 0 && len(keep) < n; i-- {
		if l := strings.TrimRight(lines[i], " \t\r"); l != "" {
			keep = append(keep, l)
		}
	}
	for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
		keep[i], keep[j] = keep[j], keep[i]
	}
	return strings.Join(keep, "\n")
}

// short shortens a command for an error message.
func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

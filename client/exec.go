package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
)

// Exec is the exec client: one command per op, run on the control machine
// (on = "control") or on the worker's node (on = "node", through the
// node's control.Remote).
//
// Outcomes:
//   - the command ran and exited, with any status → the operation's result
//     expression, or eval's default (exit 0 ok, else info);
//   - an argv command whose program does not exist or is not executable →
//     fail: nothing ran (checked by the wrapper script, see notFoundMarker);
//   - the node could not be reached or refused our login → fail;
//   - the timeout expired (the command's process group is killed) or the
//     connection was lost while the command ran → info;
//   - stdout or stderr larger than MaxOutput → info.
type Exec struct {
	cfg    *Config
	local  control.Remote
	node   eval.Node
	nc     eval.ClientConfig
	remote control.Remote
}

// Open binds the client to node and picks where its commands run.
func (c *Exec) Open(_ context.Context, node string) error {
	n, nc, err := c.cfg.node(node)
	if err != nil {
		return fmt.Errorf("exec client on %s: %w", node, err)
	}
	switch nc.On {
	case "", "control":
		c.remote = c.local
	case "node":
		c.remote = c.cfg.Remotes[node]
		if c.remote == nil {
			return fmt.Errorf("exec client on %s: on = \"node\" but there is no remote for the node", node)
		}
	default:
		return fmt.Errorf("exec client on %s: on = %q; want \"control\" or \"node\"", node, nc.On)
	}
	c.node, c.nc = n, nc
	return nil
}

// Setup does nothing.
func (c *Exec) Setup(context.Context) error { return nil }

// Teardown does nothing.
func (c *Exec) Teardown(context.Context) error { return nil }

// Close forgets the remote; remotes belong to the caller.
func (c *Exec) Close(context.Context) error {
	c.remote = nil
	return nil
}

// notFoundMarker is what the wrapper around an argv command writes to
// stderr when the program cannot be run. A shell's exit status 127 alone
// cannot tell "no such program" from a program that exits 127 after
// doing its work; the marker can.
const notFoundMarker = "__jplan_exec_not_found__"

// Invoke runs op's command.
func (c *Exec) Invoke(ctx context.Context, op history.Op) (history.Op, error) {
	if c.remote == nil {
		return op, opError(c.node.Name, op, errNotOpen)
	}
	spec, err := c.cfg.spec(op)
	if err != nil {
		return op, opError(c.node.Name, op, err)
	}
	ec, err := spec.Command(c.node, op)
	if err != nil {
		return op, opError(c.node.Name, op, err)
	}
	limit := timeout(spec, c.nc)
	stdout := &capWriter{max: MaxOutput}
	stderr := &capWriter{max: MaxOutput}
	cmd := control.Command{
		Env:     c.nc.Env,
		Timeout: limit,
		Stdout:  stdout,
		Stderr:  stderr,
	}
	if ec.Stdin != "" {
		cmd.Stdin = strings.NewReader(ec.Stdin)
	}
	if ec.Script != "" {
		cmd.Script = ec.Script
	} else {
		script, err := argvScript(ec.Argv)
		if err != nil {
			return fail(op, "invalid command: %v", err), nil
		}
		cmd.Script = script
	}

	_, err = c.remote.Exec(ctx, cmd)
	exit := 0
	if err != nil {
		var ee *control.ExitError
		var ne *control.NodeError
		switch {
		case ctx.Err() != nil:
			return op, opError(c.node.Name, op, ctx.Err())
		case errors.As(err, &ee) && ee.TimedOut:
			return info(op, "timed out after %v; the command was killed (it may have taken effect)", limit), nil
		case errors.As(err, &ee):
			exit = ee.ExitStatus // -1 when killed by a signal
			if exit == 127 && strings.Contains(stderr.String(), notFoundMarker) {
				return fail(op, "command not run: %s: not found or not executable", ec.Argv[0]), nil
			}
		case errors.As(err, &ne) && (errors.Is(err, control.ErrUnreachable) || errors.Is(err, control.ErrAuth) || errors.Is(err, control.ErrHostKey)):
			// Reaching the node failed before any command started there.
			return fail(op, "command not run: %v", err), nil
		default:
			return info(op, "running the command: %v", err), nil
		}
	}
	if stdout.over || stderr.over {
		return info(op, "command output larger than %d MiB; not evaluated", MaxOutput>>20), nil
	}
	out, err := spec.Complete(c.node, op, eval.ExecResponse(exit, stdout.Bytes(), stderr.Bytes()))
	if err != nil {
		return op, opError(c.node.Name, op, err)
	}
	return out, nil
}

// argvScript is the sh script that runs argv after checking that its
// program can be run, so that "not found" is told apart from the
// program's own exit status. exec keeps the program's status and signals
// its own.
func argvScript(argv []string) (string, error) {
	q, err := control.QuoteArgv(argv)
	if err != nil {
		return "", err
	}
	p := control.Quote(argv[0])
	// dash's command -v accepts any existing path, so a path is tested
	// with -f and -x instead.
	check := fmt.Sprintf(`case %s in */*) [ -f %s ] && [ -x %s ] ;; *) command -v %s >/dev/null 2>&1 ;; esac`, p, p, p, p)
	return fmt.Sprintf("if ! { %s; }; then printf '%%s\\n' %s >&2; exit 127; fi\nexec %s", check, notFoundMarker, q), nil
}

// capWriter keeps the first max bytes written to it and notes whether more
// came. It never fails a write: the command keeps running undisturbed and
// the op is judged once it ends.
type capWriter struct {
	mu   sync.Mutex
	max  int
	buf  []byte
	over bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := w.max - len(w.buf)
	if len(p) > room {
		w.over = true
		w.buf = append(w.buf, p[:max(room, 0)]...)
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *capWriter) Bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf
}

func (w *capWriter) String() string { return string(w.Bytes()) }

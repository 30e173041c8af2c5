package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
)

// Process is the process client: one long-running user program per opened
// client, spoken to in JSON lines over its stdin and stdout (the protocol
// is in docs/clients.md). The program runs on the control machine in its
// own process group, which is killed whenever the program is done with,
// so nothing it started outlives the client.
//
// Outcomes:
//   - a reply → the operation's result expression sees it as `response`;
//     without one, the reply's type, value and error are the completion;
//   - a timeout, a reply that is not JSON (or, without a result
//     expression, not a {"type": "ok"|"fail"|"info"} object), the program
//     exiting, or a write to it failing → Invoke returns an error (the
//     runner records info), the program is killed and the client is
//     broken: the runner's next client starts a fresh program.
type Process struct {
	cfg  *Config
	node eval.Node
	nc   eval.ClientConfig

	cmd   *exec.Cmd
	pgid  int
	stdin *os.File
	// stdout and stderr are our ends of the program's pipes; closed on
	// shutdown to release readers stuck behind an escaped grandchild.
	stdout, stderr *os.File
	lines          chan line
	// done is closed on shutdown so the stdout reader never blocks on
	// lines forever.
	done    chan struct{}
	readers sync.WaitGroup

	// mu guards reaping against signalling: once the reaper has waited for
	// the program, its pid may be reused, so no signal may be sent to it.
	mu      sync.Mutex
	reaping bool
	exited  chan struct{} // closed once the program is reaped
	waitErr error         // the program's exit, valid after exited

	label  atomic.Pointer[string] // prefix of log lines
	tail   stderrTail
	broken error
	closed bool
}

// line is one line the program wrote to stdout, or the error that ended
// the stream.
type line struct {
	b   []byte
	err error
}

// LifecycleTimeout is the least time a process client waits for the
// program to start and answer open, setup, teardown and close: these may
// be slower than an operation (connecting, creating tables).
const LifecycleTimeout = 30 * time.Second

// closeGrace is how long a closed program has to exit by itself before its
// process group gets SIGTERM, and then SIGKILL.
const closeGrace = 2 * time.Second

// Open starts the program and sends it the open request.
func (p *Process) Open(ctx context.Context, node string) error {
	if p.cmd != nil {
		return fmt.Errorf("process client on %s: already open", node)
	}
	n, nc, err := p.cfg.node(node)
	if err != nil {
		return fmt.Errorf("process client on %s: %w", node, err)
	}
	if len(nc.Command) == 0 {
		return fmt.Errorf("process client on %s: the client's command is empty", node)
	}
	p.node, p.nc = n, nc
	if err := p.start(); err != nil {
		return fmt.Errorf("process client on %s: starting %s: %w", node, nc.Command[0], err)
	}
	if err := p.lifecycle(ctx, p.openRequest()); err != nil {
		p.shutdown(ctx, false)
		return fmt.Errorf("process client on %s: open: %w", node, err)
	}
	return nil
}

func (p *Process) start() error {
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return err
	}
	argv := p.nc.Command
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.nc.Dir
	cmd.Env = os.Environ()
	for k, v := range p.nc.Env {
		cmd.Env = append(cmd.Env, k+"="+v) // exec.Cmd keeps the last of duplicates
	}
	// Our own pipes rather than StdoutPipe: os/exec closes those in Wait,
	// possibly before the last line was read, and we reap the program
	// while the readers are still draining it.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	// The child has its copies; ours would keep the pipes open forever.
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return err
	}
	p.cmd, p.pgid = cmd, cmd.Process.Pid
	p.stdin, p.stdout, p.stderr = inW, outR, errR
	p.lines = make(chan line)
	p.done = make(chan struct{})
	p.exited = make(chan struct{})
	p.setLabel(fmt.Sprintf("process client on %s (pid %d)", p.node.Name, p.pgid))

	p.readers.Add(2)
	go p.readStdout()
	go p.forwardStderr()
	go p.reap()
	return nil
}

func (p *Process) setLabel(s string) { p.label.Store(&s) }
func (p *Process) labelString() string {
	if s := p.label.Load(); s != nil {
		return *s
	}
	return "process client"
}

// reap waits for the program to exit, kills what is left of its process
// group (children it started and did not wait for), and only then reaps
// it: until reaped, the program's pid, which is the group's id, cannot be
// reused, so the kill cannot hit an unrelated group.
func (p *Process) reap() {
	if !canWaitNoReap {
		// Without waitid's WNOWAIT, reap first and kill the rest of the
		// group right after: a pid is not reused that fast in practice.
		p.waitErr = p.cmd.Wait()
		p.mu.Lock()
		_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
		p.reaping = true
		p.mu.Unlock()
		close(p.exited)
		return
	}
	waitExitNoReap(p.cmd.Process.Pid)
	p.mu.Lock()
	_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	p.reaping = true
	p.mu.Unlock()
	p.waitErr = p.cmd.Wait()
	close(p.exited)
}

// signal sends sig to the program's process group, unless it is already
// being reaped (and so already killed).
func (p *Process) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaping {
		if err := syscall.Kill(-p.pgid, sig); err != nil && err != syscall.ESRCH {
			p.cfg.Logf("%s: sending %v: %v", p.labelString(), sig, err)
		}
	}
}

// readStdout turns the program's stdout into lines.
func (p *Process) readStdout() {
	defer p.readers.Done()
	r := bufio.NewReaderSize(p.stdout, 64<<10)
	for {
		b, err := readLine(r, MaxOutput)
		if len(b) == 0 && err == nil {
			continue // blank lines carry nothing; tolerate them
		}
		select {
		case p.lines <- line{b: b, err: err}:
		case <-p.done:
			return
		}
		if err != nil {
			return
		}
	}
}

var errLineTooLong = fmt.Errorf("reply line longer than %d MiB", MaxOutput>>20)

// readLine reads one line without its newline, at most max bytes. A last
// line without a newline still counts; then io.EOF follows.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) > max+1 {
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return bytes.TrimRight(buf, "\r\n"), nil
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(buf) > 0:
			return bytes.TrimRight(buf, "\r\n"), nil
		default:
			return nil, err
		}
	}
}

// forwardStderr logs each line the program writes to stderr and keeps the
// last few for error messages.
func (p *Process) forwardStderr() {
	defer p.readers.Done()
	r := bufio.NewReaderSize(p.stderr, 64<<10)
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 {
			s := strings.TrimRight(string(chunk), "\r\n")
			p.tail.add(s)
			p.cfg.Logf("%s: %s", p.labelString(), s)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// stderrTail keeps the last lines of the program's stderr: when it dies,
// its last words (a stack trace) are the best explanation.
type stderrTail struct {
	mu    sync.Mutex
	lines []string
}

func (t *stderrTail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	t.lines = append(t.lines, s)
	if len(t.lines) > 5 {
		t.lines = t.lines[len(t.lines)-5:]
	}
}

func (t *stderrTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, " | ")
}

func (p *Process) openRequest() map[string]any {
	nodes := make([]map[string]any, 0, len(p.cfg.Nodes))
	for _, name := range sortedKeys(p.cfg.Nodes) {
		nodes = append(nodes, nodeJSON(p.cfg.Nodes[name]))
	}
	// Keep the nodes in the plan's order.
	for i := 1; i < len(nodes); i++ {
		for j := i; j > 0 && nodes[j]["index"].(int) < nodes[j-1]["index"].(int); j-- {
			nodes[j], nodes[j-1] = nodes[j-1], nodes[j]
		}
	}
	m := nodeJSON(p.node)
	m["type"] = "open"
	m["node"] = p.node.Name
	delete(m, "name")
	m["nodes"] = nodes
	return m
}

func nodeJSON(n eval.Node) map[string]any {
	return map[string]any{"name": n.Name, "host": n.Host, "port": n.Port, "index": n.Index}
}

// lifecycleLimit bounds open, setup, teardown and close.
func (p *Process) lifecycleLimit() time.Duration {
	return max(LifecycleTimeout, p.nc.Timeout)
}

// lifecycle sends a request that expects {"type": "ok"}. Close gets only
// the client's timeout: the program has nothing to do but exit, and a
// stuck one is killed anyway.
func (p *Process) lifecycle(ctx context.Context, req map[string]any) error {
	limit := p.lifecycleLimit()
	if req["type"] == "close" {
		limit = timeout(nil, p.nc)
	}
	reply, err := p.call(ctx, req, limit)
	if err != nil {
		return err
	}
	m, _ := reply.(map[string]any)
	t, _ := m["type"].(string)
	switch t {
	case "ok":
		return nil
	case "fail", "info":
		msg, _ := m["error"].(string)
		if msg == "" {
			msg = "no error given"
		}
		return fmt.Errorf("the program answered %s: %s", t, msg)
	}
	return p.breakWith(fmt.Errorf("the program answered %s to %s; want {\"type\": \"ok\"}", shortJSON(reply), req["type"]))
}

// Setup sends {"type": "setup"}.
func (p *Process) Setup(ctx context.Context) error {
	if err := p.lifecycle(ctx, map[string]any{"type": "setup"}); err != nil {
		return fmt.Errorf("%s: setup: %w", p.labelString(), err)
	}
	return nil
}

// Teardown sends {"type": "teardown"}.
func (p *Process) Teardown(ctx context.Context) error {
	if err := p.lifecycle(ctx, map[string]any{"type": "teardown"}); err != nil {
		return fmt.Errorf("%s: teardown: %w", p.labelString(), err)
	}
	return nil
}

// Invoke sends op to the program and completes it with the reply.
func (p *Process) Invoke(ctx context.Context, op history.Op) (history.Op, error) {
	if p.cmd == nil || p.closed {
		return op, opError(p.node.Name, op, errNotOpen)
	}
	spec, err := p.cfg.spec(op)
	if err != nil {
		return op, opError(p.node.Name, op, err)
	}
	p.setLabel(fmt.Sprintf("process %d on %s (pid %d)", op.Process, p.node.Name, p.pgid))
	req := map[string]any{"type": "invoke", "f": op.F, "value": op.Value, "process": op.Process, "node": p.node.Name}
	limit := timeout(spec, p.nc)
	reply, err := p.call(ctx, req, limit)
	if err != nil {
		return op, opError(p.node.Name, op, err)
	}
	if spec.Op.Result == nil {
		// Without a result expression the reply is the completion, so it
		// must say one; anything else means the program and jplan do not
		// agree on the protocol, and nothing it says can be trusted.
		m, _ := reply.(map[string]any)
		t, _ := m["type"].(string)
		if t != "ok" && t != "fail" && t != "info" {
			return op, opError(p.node.Name, op, p.breakWith(fmt.Errorf(
				"the program answered %s; want {\"type\": \"ok\"|\"fail\"|\"info\", ...}", shortJSON(reply))))
		}
	}
	out, err := spec.Complete(p.node, op, eval.ToCty(reply))
	if err != nil {
		return op, opError(p.node.Name, op, err)
	}
	return out, nil
}

// Close sends {"type": "close"}, lets the program exit, and makes sure it
// and its process group are gone.
func (p *Process) Close(ctx context.Context) error {
	if p.cmd == nil || p.closed {
		return nil
	}
	var err error
	if p.broken == nil {
		if err = p.lifecycle(ctx, map[string]any{"type": "close"}); err != nil {
			err = fmt.Errorf("%s: close: %w", p.labelString(), err)
		}
	}
	p.shutdown(ctx, p.broken == nil)
	return err
}

// shutdown ends the program: politely (stdin closed, then SIGTERM, then
// SIGKILL) or not, and waits until it is reaped and its output drained.
func (p *Process) shutdown(ctx context.Context, polite bool) {
	p.closed = true
	p.stdin.Close()
	if polite {
		select {
		case <-p.exited:
		case <-time.After(closeGrace):
			p.signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(closeGrace):
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}
	p.signal(syscall.SIGKILL)
	<-p.exited // SIGKILL to the group leader cannot be ignored
	// The group is dead; only a child that left it could still hold the
	// output pipes. Give the readers a moment to drain, then cut them off.
	drained := make(chan struct{})
	go func() { p.readers.Wait(); close(drained) }()
	close(p.done)
	select {
	case <-drained:
	case <-time.After(time.Second):
	}
	// Closing unblocks a reader still waiting (these pipes are pollable).
	p.stdout.Close()
	p.stderr.Close()
	<-drained
}

// breakWith marks the client unusable and kills the program: after a
// timeout or a protocol error the program's state is unknown, and a reply
// meant for one request could be read as the answer to the next.
func (p *Process) breakWith(err error) error {
	if p.broken == nil {
		p.broken = err
		p.signal(syscall.SIGKILL)
	}
	return err
}

// call sends one request and waits up to limit for its reply line, decoded.
func (p *Process) call(ctx context.Context, req map[string]any, limit time.Duration) (any, error) {
	if p.broken != nil {
		return nil, fmt.Errorf("client is broken: %w", p.broken)
	}
	if p.closed {
		return nil, errNotOpen
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s request: %w", req["type"], err)
	}
	// A line waiting before we asked anything is a reply to nothing: the
	// program and jplan are out of step.
	select {
	case l := <-p.lines:
		if l.err != nil {
			return nil, p.breakWith(p.exitError(l.err))
		}
		return nil, p.breakWith(fmt.Errorf("the program wrote %q before being asked anything", shorten(l.b)))
	default:
	}
	deadline := time.Now().Add(limit)
	if err := p.stdin.SetWriteDeadline(deadline); err != nil {
		return nil, p.breakWith(fmt.Errorf("writing the %s request: %w", req["type"], err))
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, p.breakWith(fmt.Errorf("timed out after %v writing the %s request (the program does not read its stdin); program killed", limit, req["type"]))
		}
		return nil, p.breakWith(p.exitError(fmt.Errorf("writing the %s request: %w", req["type"], err)))
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case l := <-p.lines:
		if l.err != nil {
			return nil, p.breakWith(p.exitError(l.err))
		}
		v, err := decodeReply(l.b)
		if err != nil {
			return nil, p.breakWith(fmt.Errorf("malformed reply %q: %w", shorten(l.b), err))
		}
		return v, nil
	case <-timer.C:
		return nil, p.breakWith(fmt.Errorf("timed out after %v waiting for the reply to %s (it may have taken effect); program killed", limit, req["type"]))
	case <-ctx.Done():
		return nil, p.breakWith(fmt.Errorf("waiting for the reply to %s: %w; program killed", req["type"], ctx.Err()))
	}
}

// exitError explains a stream that ended: the program exited (with its
// status and last words) or the line was too long.
func (p *Process) exitError(err error) error {
	if err == errLineTooLong {
		return err
	}
	select {
	case <-p.exited:
	case <-time.After(time.Second):
		// Stdout closed but the program lives on: it closed stdout itself.
		return fmt.Errorf("the program closed its stdout (%v)", err)
	}
	status := "exited"
	if p.waitErr != nil {
		status = p.waitErr.Error() // "exit status 1", "signal: killed"
	}
	msg := "the program died: " + status
	if t := p.tail.String(); t != "" {
		msg += "; stderr: " + t
	}
	return errors.New(msg)
}

// decodeReply parses one JSON value; integers become int64 and other
// numbers float64, the shapes history values use.
func decodeReply(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value on the line")
	}
	return plain(v), nil
}

func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = plain(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = plain(x[k])
		}
		return x
	}
	return v
}

func shortJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(shorten(b))
}

func shorten(b []byte) []byte {
	if len(b) > 200 {
		return append(b[:200:200], "..."...)
	}
	return b
}

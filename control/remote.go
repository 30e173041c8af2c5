package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Remote is one node, reached one way. Implementations are safe for
// concurrent use: many commands may run on one node at once.
type Remote interface {
	// Node is the node's name, used in every error.
	Node() string
	// Exec runs cmd and waits for it. A command that ran and failed gives
	// an *ExitError alongside a filled-in Result; a node that could not be
	// reached gives a *NodeError.
	Exec(ctx context.Context, cmd Command) (Result, error)
	// Upload writes src to remotePath with the given permission bits,
	// atomically: the file appears complete or not at all.
	Upload(ctx context.Context, src io.Reader, remotePath string, mode fs.FileMode) error
	// Download copies remotePath's contents to dst.
	Download(ctx context.Context, remotePath string, dst io.Writer) error
	// Close releases connections. The Remote must not be used afterwards.
	Close() error
}

// Output runs argv on r and returns its stdout without the trailing
// newline, for the many commands whose output is one value.
func Output(ctx context.Context, r Remote, argv ...string) (string, error) {
	res, err := r.Exec(ctx, Command{Argv: argv})
	return strings.TrimRight(res.Stdout, "\n"), err
}

// UploadFile uploads the local file at localPath, keeping its permission
// bits.
func UploadFile(ctx context.Context, r Remote, localPath, remotePath string) error {
	f, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("%s: upload: %w", r.Node(), err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: upload: %w", r.Node(), err)
	}
	return r.Upload(ctx, f, remotePath, st.Mode().Perm())
}

// DownloadFile downloads remotePath into localPath, creating or truncating
// it. The local file is written under a temporary name and renamed, so a
// failed download leaves no partial file behind.
func DownloadFile(ctx context.Context, r Remote, remotePath, localPath string) error {
	dir, base := path.Split(localPath)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".jplan-download-*")
	if err != nil {
		return fmt.Errorf("%s: download %s: %w", r.Node(), remotePath, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := r.Download(ctx, remotePath, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: download %s: %w", r.Node(), remotePath, err)
	}
	if err := os.Rename(tmp.Name(), localPath); err != nil {
		return fmt.Errorf("%s: download %s: %w", r.Node(), remotePath, err)
	}
	return nil
}

// execFunc is Remote.Exec, so that file transfer can be written once over
// any Remote's Exec (including the sudo wrapper's).
type execFunc func(ctx context.Context, cmd Command) (Result, error)

// uploadVia streams src into a temporary file next to remotePath and, only
// once the whole stream has arrived, renames it into place. SSH channels
// and docker exec -i both carry arbitrary bytes, so no encoding is needed
// and memory use is constant.
//
// It takes two commands because a failure to read src locally looks, on the
// node, just like the end of the file: the first command reports how many
// bytes it stored, and the rename happens only if that matches what was
// read without error.
func uploadVia(ctx context.Context, run execFunc, node string, src io.Reader, remotePath string, mode fs.FileMode) error {
	if remotePath == "" {
		return fmt.Errorf("%s: upload: empty remote path", node)
	}
	if src == nil {
		src = strings.NewReader("")
	}
	dir := path.Dir(remotePath)
	// On any failure or signal the temporary file is removed.
	receive := fmt.Sprintf(`set -e
tmp=$(mktemp %s)
trap 'rm -f "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
cat >"$tmp"
printf '%%s\n' "$tmp"
wc -c <"$tmp"
trap - EXIT`, Quote(dir+"/.jplan-upload.XXXXXX"))
	cr := &countingReader{r: src}
	res, err := run(ctx, Command{Script: receive, Stdin: cr})
	lines := strings.Fields(res.Stdout)
	if err != nil {
		if len(lines) > 0 && strings.HasPrefix(lines[0], dir+"/.jplan-upload.") {
			_, _ = run(context.WithoutCancel(ctx), Command{Argv: []string{"rm", "-f", lines[0]}})
		}
		return fmt.Errorf("upload to %s: %w", remotePath, err)
	}
	if len(lines) != 2 {
		return fmt.Errorf("%s: upload to %s: unexpected reply %q", node, remotePath, res.Stdout)
	}
	tmp, stored := lines[0], lines[1]
	finish := fmt.Sprintf(`chmod %s %s && mv -f %s %s || { rm -f %s; exit 1; }`,
		strconv.FormatUint(uint64(mode.Perm()), 8), Quote(tmp), Quote(tmp), Quote(remotePath), Quote(tmp))
	if cr.err != nil || stored != strconv.FormatInt(cr.n, 10) {
		_, _ = run(context.WithoutCancel(ctx), Command{Argv: []string{"rm", "-f", tmp}})
		if cr.err != nil {
			return fmt.Errorf("%s: upload to %s: reading source: %w", node, remotePath, cr.err)
		}
		return fmt.Errorf("%s: upload to %s: node stored %s bytes, sent %d", node, remotePath, stored, cr.n)
	}
	if _, err := run(ctx, Command{Script: finish}); err != nil {
		return fmt.Errorf("upload to %s: %w", remotePath, err)
	}
	return nil
}

// countingReader counts bytes and remembers the first read error other
// than EOF.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

func downloadVia(ctx context.Context, run execFunc, remotePath string, dst io.Writer) error {
	if _, err := run(ctx, Command{Argv: []string{"cat", "--", remotePath}, Stdout: dst}); err != nil {
		return fmt.Errorf("download %s: %w", remotePath, err)
	}
	return nil
}

// WithSudo returns a Remote that runs every command, upload and download on
// r through sudo as user (root if empty), with password if the node needs
// one. It is how callers act as root on nodes they log into as someone
// else.
func WithSudo(r Remote, user, password string) Remote {
	return &sudoRemote{Remote: r, user: user, password: password}
}

type sudoRemote struct {
	Remote
	user, password string
}

func (s *sudoRemote) Exec(ctx context.Context, cmd Command) (Result, error) {
	cmd.Sudo = true
	if cmd.SudoUser == "" {
		cmd.SudoUser = s.user
	}
	if cmd.SudoPassword == "" {
		cmd.SudoPassword = s.password
	}
	return s.Remote.Exec(ctx, cmd)
}

func (s *sudoRemote) Upload(ctx context.Context, src io.Reader, remotePath string, mode fs.FileMode) error {
	return uploadVia(ctx, s.Exec, s.Node(), src, remotePath, mode)
}

func (s *sudoRemote) Download(ctx context.Context, remotePath string, dst io.Writer) error {
	return downloadVia(ctx, s.Exec, remotePath, dst)
}

// startWithStdin starts c feeding it stdin through a pipe. os/exec would
// otherwise make Wait fail with any error from reading stdin (or writing to
// a command that exited without reading it all), hiding the exit status;
// the caller judges the source's errors itself (see uploadVia).
func startWithStdin(c *exec.Cmd, stdin io.Reader) error {
	if stdin == nil {
		return c.Start()
	}
	w, err := c.StdinPipe()
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(w, stdin)
		_ = w.Close()
	}()
	return nil
}

// runner starts script under /bin/sh on a node and waits for it. When ctx
// ends first, it calls onCancel (which kills the command on the node) and
// then gives up on the command. status is -1 when signal is set.
type runner interface {
	run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer, onCancel func()) (status int, signal string, err error)
}

// execer implements Exec once for every transport: it turns a Command into
// a wrapped script, handles sudo, timeouts, cancellation and errors.
type execer struct {
	node string
	r    runner
	// selfTimed transports (local) enforce timeouts and kill process groups
	// themselves; the others rely on the timeout(1) wrapper on the node.
	selfTimed bool
	// sudoPassword is used for Sudo commands that carry no password.
	sudoPassword string

	mu sync.Mutex
	// noPasswd caches, per sudo user, whether sudo works without a
	// password, so a password is only fed to sudo when it will be read.
	noPasswd map[string]bool
}

func (e *execer) exec(ctx context.Context, cmd Command) (Result, error) {
	res := Result{Node: e.node, Command: cmd.display()}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%s: command %s not started: %w", e.node, shorten(res.Command, 200), err)
	}
	body, err := cmd.body()
	if err != nil {
		return res, fmt.Errorf("%s: invalid command %s: %w", e.node, shorten(res.Command, 200), err)
	}
	if cmd.Sudo && cmd.SudoPassword == "" {
		cmd.SudoPassword = e.sudoPassword
	}
	mode := sudoNone
	if cmd.Sudo {
		mode = sudoNoPrompt
		if cmd.SudoPassword != "" && !e.sudoWithoutPassword(ctx, cmd.SudoUser) {
			mode = sudoStdin
		}
	}
	var script string
	if e.selfTimed {
		script = body
		if mode != sudoNone {
			script = sudoPrefix(mode, cmd.SudoUser) + " sh -c " + Quote(body)
		}
	} else {
		script = wrap(body, cmd.Timeout, mode, cmd.SudoUser)
	}

	stdin := cmd.Stdin
	if mode == sudoStdin {
		pw := strings.NewReader(cmd.SudoPassword + "\n")
		if stdin == nil {
			stdin = pw
		} else {
			stdin = io.MultiReader(pw, stdin)
		}
	}
	var outBuf, errBuf bytes.Buffer
	stdout, stderr := cmd.Stdout, cmd.Stderr
	if stdout == nil {
		stdout = &outBuf
	}
	if stderr == nil {
		stderr = &errBuf
	}
	tail := &tailBuffer{max: 2048}
	sniff := newPIDSniffer(io.MultiWriter(stderr, tail))

	runCtx := ctx
	if cmd.Timeout > 0 {
		// The node enforces the timeout; this local deadline only catches a
		// node that stops answering, so it leaves room for the kill.
		var cancel context.CancelFunc
		limit := cmd.Timeout + KillGrace + 5*time.Second
		if e.selfTimed {
			limit = cmd.Timeout
		}
		runCtx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	onCancel := func() {
		if e.selfTimed {
			return
		}
		select {
		case pid, ok := <-sniff.pidCh:
			if ok {
				e.kill(pid, cmd, mode)
			}
		default:
			// The command has not announced its PID yet; all we can do is
			// drop the session.
		}
	}

	start := time.Now()
	status, signal, err := e.r.run(runCtx, script, stdin, stdout, sniff, onCancel)
	res.Duration = time.Since(start)
	if ferr := sniff.finish(); ferr != nil && err == nil {
		err = fmt.Errorf("%s: writing stderr: %w", e.node, ferr)
	}
	res.Stdout, res.Stderr = outBuf.String(), errBuf.String()
	res.ExitStatus, res.Signal = status, signal
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("%s: command %s: %w", e.node, shorten(res.Command, 200), ctx.Err())
		}
		if cmd.Timeout > 0 && runCtx.Err() != nil {
			return res, &ExitError{Node: e.node, Command: res.Command, ExitStatus: status, Signal: signal,
				TimedOut: true, Timeout: cmd.Timeout, StderrTail: tail.String()}
		}
		return res, err
	}
	if status == 0 && signal == "" {
		return res, nil
	}
	ee := &ExitError{Node: e.node, Command: res.Command, ExitStatus: status, Signal: signal, StderrTail: tail.String()}
	// timeout(1) exits 124 when it had to send SIGTERM and 137 when it had
	// to follow up with SIGKILL; a command can exit 124 on its own, so also
	// require that the time was actually used up.
	if cmd.Timeout > 0 && (status == 124 || status == 137 || signal != "") && res.Duration >= cmd.Timeout {
		ee.TimedOut, ee.Timeout = true, cmd.Timeout
	}
	return res, ee
}

// sudoWithoutPassword reports whether user may sudo on this node without a
// password. Feeding a password to a sudo that does not ask for one would
// hand it to the command as its first line of input, so we ask once.
func (e *execer) sudoWithoutPassword(ctx context.Context, user string) bool {
	e.mu.Lock()
	v, ok := e.noPasswd[user]
	e.mu.Unlock()
	if ok {
		return v
	}
	probe := sudoPrefix(sudoNoPrompt, user) + " sh -c :"
	var stderr bytes.Buffer
	status, signal, err := e.r.run(ctx, probe, nil, io.Discard, &stderr, func() {})
	if err != nil || signal != "" {
		return false // unknown; try with the password
	}
	v = status == 0
	if v || strings.Contains(stderr.String(), "password is required") {
		e.mu.Lock()
		if e.noPasswd == nil {
			e.noPasswd = map[string]bool{}
		}
		e.noPasswd[user] = v
		e.mu.Unlock()
	}
	return v
}

// kill sends SIGTERM to the timeout(1) process leading a cancelled
// command's process group; timeout passes it on to the whole group and
// follows with SIGKILL after KillGrace. It runs as the same user the
// command ran as, so it has the right to.
func (e *execer) kill(pid string, cmd Command, mode sudoMode) {
	if _, err := strconv.Atoi(pid); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	script := "kill -TERM " + pid
	var stdin io.Reader
	if mode != sudoNone {
		script = sudoPrefix(mode, cmd.SudoUser) + " " + script
		if mode == sudoStdin {
			stdin = strings.NewReader(cmd.SudoPassword + "\n")
		}
	}
	_, _, _ = e.r.run(ctx, script, stdin, io.Discard, io.Discard, func() {})
}

// NodeError is a failure to reach or use a node at all, as opposed to a
// command that ran and failed (ExitError). Kind is one of the Err* values
// below, or nil for other transport failures, and errors.Is matches it.
type NodeError struct {
	Node string
	Addr string // user@host:port, container name, ...
	Kind error
	Err  error
}

// Kinds of NodeError.
var (
	ErrUnreachable = errors.New("node unreachable")
	ErrAuth        = errors.New("authentication failed")
	ErrHostKey     = errors.New("host key verification failed")
	ErrConnLost    = errors.New("connection lost")
)

func (e *NodeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Node)
	if e.Addr != "" && e.Addr != e.Node {
		b.WriteString(" (" + e.Addr + ")")
	}
	if e.Kind != nil {
		b.WriteString(": " + e.Kind.Error())
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *NodeError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

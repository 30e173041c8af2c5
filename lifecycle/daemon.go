package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

// DefaultStopGrace is how long StopDaemon waits after SIGTERM before it
// sends SIGKILL.
const DefaultStopGrace = 10 * time.Second

// ErrAlreadyRunning is matched (errors.Is) by StartDaemon's error when the
// pidfile names a live process: starting a second copy would leave two
// daemons fighting over ports and data, and the pidfile would lose track of
// one of them.
var ErrAlreadyRunning = errors.New("already running")

// ErrNotReady is matched by the error of a daemon that did not become ready
// in time or exited while we waited.
var ErrNotReady = errors.New("daemon not ready")

// alive is sh that defines alive PID: true when the process exists and is
// not a zombie. /proc is used rather than kill -0, which fails with EPERM
// for other users' processes when we are not root.
const aliveFn = `alive() {
	case $1 in ''|*[!0-9]*) return 1 ;; esac
	[ -d "/proc/$1" ] || return 1
	st=$(awk '/^State:/ { print $2; exit }' "/proc/$1/status" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
readpid() { cat "$1" 2>/dev/null | head -n 1 | tr -dc 0-9; }
# target PID: the daemon's whole process group when it still leads one (it
# does: the wrapper starts it with setsid), so workers it forked share its
# fate; otherwise just the process.
target() {
	pg=$(ps -o pgid= -p "$1" 2>/dev/null | tr -dc 0-9)
	if [ "$pg" = "$1" ]; then echo "-$1"; else echo "$1"; fi
}
`

// startScript is the start-stop-daemon-like wrapper. The daemon is started
// by an inner sh that writes its own PID to the pidfile and then execs the
// daemon (through setpriv and env, which exec as well), so the pidfile holds
// the daemon's PID, not a wrapper's. setsid gives it its own session and
// process group: it survives the SSH session, has no controlling terminal
// (so no SIGHUP; nohup is not needed), and its group can be signalled as a
// whole. runuser and su are not used because they fork and wait, which
// would put their PID, not the daemon's, in the pidfile.
func startScript(d eval.DaemonConfig) (string, error) {
	if d.Command == "" {
		return "", errors.New("no command")
	}
	if d.Pidfile == "" || d.Logfile == "" {
		return "", errors.New("pidfile and logfile must be set")
	}
	names := make([]string, 0, len(d.Env))
	for k := range d.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return "", fmt.Errorf("invalid environment variable name %q", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)

	// The inner script gets the user's gid and home as $1 and $2, which
	// keeps them out of the daemon's environment.
	var inner strings.Builder
	inner.WriteString("echo $$ >" + control.Quote(d.Pidfile) + " || exit 1\n")
	if d.Dir != "" {
		inner.WriteString("cd " + control.Quote(d.Dir) + " || exit 1\n")
	}
	inner.WriteString("exec")
	if d.User != "" {
		inner.WriteString(" setpriv --reuid=" + control.Quote(d.User) + ` --regid="$1" --init-groups`)
	}
	inner.WriteString(" env --")
	if d.User != "" {
		inner.WriteString(` HOME="$2" USER=` + control.Quote(d.User) + " LOGNAME=" + control.Quote(d.User))
	}
	for _, k := range names {
		inner.WriteString(" " + control.Quote(k+"="+d.Env[k]))
	}
	argv, err := control.QuoteArgv(append([]string{d.Command}, d.Args...))
	if err != nil {
		return "", err
	}
	inner.WriteString(" " + argv)

	display, _ := control.QuoteArgv(append([]string{d.Command}, d.Args...))
	var s strings.Builder
	s.WriteString(aliveFn)
	fmt.Fprintf(&s, "pidfile=%s\nlogfile=%s\n", control.Quote(d.Pidfile), control.Quote(d.Logfile))
	s.WriteString(`pid=$(readpid "$pidfile")
if alive "$pid"; then
	echo "already running as pid $pid (pidfile $pidfile)" >&2
	exit 17
fi
mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")" || exit 1
rm -f "$pidfile"
gid= home=
`)
	if d.User != "" {
		q := control.Quote(d.User)
		fmt.Fprintf(&s, `gid=$(id -g %[1]s) || { echo "no such user:" %[1]s >&2; exit 1; }
home=$(getent passwd %[1]s | cut -d: -f6)
command -v setpriv >/dev/null || { echo "setpriv (util-linux) is needed to run a daemon as another user" >&2; exit 1; }
`, q)
	}
	fmt.Fprintf(&s, "printf '%%s jplan: starting %%s\\n' \"$(date '+%%F %%T')\" %s >>\"$logfile\" || exit 1\n", control.Quote(display))
	fmt.Fprintf(&s, "setsid sh -c %s jplan-daemon \"$gid\" \"$home\" >>\"$logfile\" 2>&1 </dev/null &\n", control.Quote(inner.String()))
	s.WriteString(`i=0
while [ ! -s "$pidfile" ]; do
	i=$((i + 1))
	if [ $i -gt 200 ]; then echo "the daemon wrote no pidfile within 10s" >&2; exit 1; fi
	sleep 0.05
done
readpid "$pidfile"
`)
	return s.String(), nil
}

// StartDaemon starts d on r in the background and returns its PID. It does
// not wait for readiness (see WaitReady). It fails with ErrAlreadyRunning
// when d's pidfile names a live process.
func StartDaemon(ctx context.Context, r control.Remote, d eval.DaemonConfig) (int, error) {
	script, err := startScript(d)
	if err != nil {
		return 0, fmt.Errorf("%s: daemon %s: %w", r.Node(), d.Name, err)
	}
	res, err := r.Exec(ctx, control.Command{Script: script, Timeout: 30 * time.Second})
	if err != nil {
		var ee *control.ExitError
		if errors.As(err, &ee) && ee.ExitStatus == 17 {
			return 0, fmt.Errorf("%s: daemon %s: %w: %s", r.Node(), d.Name, ErrAlreadyRunning, strings.TrimSpace(ee.StderrTail))
		}
		return 0, fmt.Errorf("%s: daemon %s: start: %s", r.Node(), d.Name, describe(r.Node(), err))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(res.Stdout))
	if err != nil {
		return 0, fmt.Errorf("%s: daemon %s: start: unexpected output %q", r.Node(), d.Name, res.Stdout)
	}
	return pid, nil
}

// DaemonState is what DaemonStatus finds.
type DaemonState struct {
	// PID is the pidfile's process; 0 when there is none.
	PID     int
	Running bool
	// Stat is ps's STAT column ("S", "T", "Ssl"...) while running; a
	// leading T means stopped (paused).
	Stat string
}

// Paused reports whether the daemon is stopped by a signal.
func (s DaemonState) Paused() bool { return s.Running && strings.HasPrefix(s.Stat, "T") }

// DaemonStatus reads d's pidfile on r and checks its process.
func DaemonStatus(ctx context.Context, r control.Remote, d eval.DaemonConfig) (DaemonState, error) {
	script := aliveFn + fmt.Sprintf(`pid=$(readpid %s)
if alive "$pid"; then echo "$pid $(ps -o stat= -p "$pid")"; else echo "0 -"; fi`, control.Quote(d.Pidfile))
	res, err := r.Exec(ctx, control.Command{Script: script, Timeout: 15 * time.Second})
	if err != nil {
		return DaemonState{}, fmt.Errorf("%s: daemon %s: status: %s", r.Node(), d.Name, describe(r.Node(), err))
	}
	f := strings.Fields(res.Stdout)
	if len(f) < 1 {
		return DaemonState{}, fmt.Errorf("%s: daemon %s: status: unexpected output %q", r.Node(), d.Name, res.Stdout)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return DaemonState{}, fmt.Errorf("%s: daemon %s: status: unexpected output %q", r.Node(), d.Name, res.Stdout)
	}
	st := DaemonState{PID: pid, Running: pid > 0}
	if st.Running && len(f) > 1 {
		st.Stat = f[1]
	}
	return st, nil
}

// DaemonRunning reports whether d's pidfile names a live process on r, and
// its PID.
func DaemonRunning(ctx context.Context, r control.Remote, d eval.DaemonConfig) (int, bool, error) {
	st, err := DaemonStatus(ctx, r, d)
	return st.PID, st.Running, err
}

// validSignal accepts signal names (KILL, SIGKILL) and numbers.
func validSignal(sig string) (string, error) {
	s := strings.TrimPrefix(strings.ToUpper(sig), "SIG")
	if s == "" {
		return "", errors.New("empty signal")
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-') {
			return "", fmt.Errorf("invalid signal %q", sig)
		}
	}
	return s, nil
}

// SignalDaemon sends sig (a name like "KILL" or "STOP") to d's process
// group on r and returns the PID it signalled, or 0 when the daemon was not
// running (which is not an error: a fault that finds nothing to hit says
// so in its value).
func SignalDaemon(ctx context.Context, r control.Remote, d eval.DaemonConfig, sig string) (int, error) {
	s, err := validSignal(sig)
	if err != nil {
		return 0, fmt.Errorf("%s: daemon %s: %w", r.Node(), d.Name, err)
	}
	script := aliveFn + fmt.Sprintf(`pid=$(readpid %s)
if ! alive "$pid"; then echo 0; exit 0; fi
kill -s %s -- "$(target "$pid")" && echo "$pid"`, control.Quote(d.Pidfile), s)
	res, err := r.Exec(ctx, control.Command{Script: script, Timeout: 15 * time.Second})
	if err != nil {
		return 0, fmt.Errorf("%s: daemon %s: signal %s: %s", r.Node(), d.Name, s, describe(r.Node(), err))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(res.Stdout))
	if err != nil {
		return 0, fmt.Errorf("%s: daemon %s: signal %s: unexpected output %q", r.Node(), d.Name, s, res.Stdout)
	}
	return pid, nil
}

// StopDaemon stops d on r: SIGTERM (and SIGCONT, so a paused daemon can
// act on it) to its process group, SIGKILL after grace (DefaultStopGrace if
// 0), then SIGKILL to whatever is left of its group, and removes the
// pidfile. A daemon that is not running is not an error, so StopDaemon is
// safe on nodes that were only half set up. It returns the PID it stopped,
// or 0.
func StopDaemon(ctx context.Context, r control.Remote, d eval.DaemonConfig, grace time.Duration) (int, error) {
	if grace <= 0 {
		grace = DefaultStopGrace
	}
	tenths := int(grace / (100 * time.Millisecond))
	script := aliveFn + fmt.Sprintf(`pidfile=%s
pid=$(readpid "$pidfile")
if ! alive "$pid"; then rm -f "$pidfile"; echo 0; exit 0; fi
t=$(target "$pid")
kill -s TERM -- "$t" 2>/dev/null
kill -s CONT -- "$t" 2>/dev/null
i=0
while alive "$pid" && [ $i -lt %d ]; do i=$((i + 1)); sleep 0.1; done
if alive "$pid"; then
	echo "still alive %s after SIGTERM; sending SIGKILL" >&2
	kill -s KILL -- "$t" 2>/dev/null
	i=0
	while alive "$pid" && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
fi
if alive "$pid"; then echo "pid $pid survived SIGKILL (stuck in the kernel?)" >&2; exit 1; fi
# Children the daemon left in its group die with it.
case $t in -*) kill -s KILL -- "$t" 2>/dev/null ;; esac
rm -f "$pidfile"
echo "$pid"`, control.Quote(d.Pidfile), tenths, grace)
	res, err := r.Exec(ctx, control.Command{Script: script, Timeout: grace + 30*time.Second})
	if err != nil {
		return 0, fmt.Errorf("%s: daemon %s: stop: %s", r.Node(), d.Name, describe(r.Node(), err))
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(res.Stdout))
	return pid, nil
}

// WaitReady waits until d is ready on r: its ReadyPort accepts connections
// or its ReadyCommand exits 0, polling every ReadyInterval for up to
// ReadyTimeout. A daemon with neither is ready once it is running. The
// error (matching ErrNotReady) says whether the daemon timed out or exited,
// and carries the tail of its logfile. The whole wait is one remote
// command, so polling costs no SSH round trips.
func WaitReady(ctx context.Context, r control.Remote, d eval.DaemonConfig) error {
	timeout := d.ReadyTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	interval := d.ReadyInterval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	var check, what string
	switch {
	case d.ReadyPort > 0:
		what = fmt.Sprintf("tcp port %d", d.ReadyPort)
		// Connecting to 127.0.0.1 proves the port accepts connections; a
		// daemon bound to one address only is found by ss instead.
		check = fmt.Sprintf(`ready() {
	if command -v bash >/dev/null 2>&1; then
		timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/%[1]d' 2>/dev/null && return 0
	elif command -v nc >/dev/null 2>&1; then
		nc -z -w 2 127.0.0.1 %[1]d 2>/dev/null && return 0
	fi
	command -v ss >/dev/null 2>&1 && ss -Hltn 'sport = :%[1]d' 2>/dev/null | grep -q .
}
`, d.ReadyPort)
	case d.ReadyCommand != "":
		what = "ready command " + strconv.Quote(short(d.ReadyCommand))
		check = fmt.Sprintf(`ready() {
	out=$(timeout 10 sh -c %s 2>&1 </dev/null)
}
`, control.Quote(d.ReadyCommand))
	default:
		what = "running"
		check = "ready() { true; }\n"
	}
	secs := int((timeout + time.Second - 1) / time.Second)
	script := aliveFn + check + fmt.Sprintf(`pidfile=%s
out=
end=$(( $(date +%%s) + %d ))
while :; do
	pid=$(readpid "$pidfile")
	if ! alive "$pid"; then echo exited; exit 3; fi
	if ready; then exit 0; fi
	if [ "$(date +%%s)" -ge "$end" ]; then
		echo timeout
		[ -n "$out" ] && printf '%%s\n' "$out" | tail -n 5
		exit 4
	fi
	sleep %s
done`, control.Quote(d.Pidfile), secs, strconv.FormatFloat(interval.Seconds(), 'f', 3, 64))
	res, err := r.Exec(ctx, control.Command{Script: script, Timeout: timeout + 30*time.Second})
	if err == nil {
		return nil
	}
	var ee *control.ExitError
	if !errors.As(err, &ee) || ee.TimedOut || (ee.ExitStatus != 3 && ee.ExitStatus != 4) {
		return fmt.Errorf("%s: daemon %s: ready: %s", r.Node(), d.Name, describe(r.Node(), err))
	}
	lines := strings.SplitN(strings.TrimSpace(res.Stdout), "\n", 2)
	var msg string
	if ee.ExitStatus == 3 {
		msg = fmt.Sprintf("exited before it was ready (waiting for %s)", what)
	} else {
		msg = fmt.Sprintf("not ready after %s (waiting for %s)", timeout, what)
		if len(lines) > 1 {
			msg += "; the ready command said: " + strings.TrimSpace(lines[1])
		}
	}
	return &daemonError{node: r.Node(), daemon: d.Name, msg: msg, log: logTail(ctx, r, d.Logfile, 20), logfile: d.Logfile}
}

// daemonError is a daemon that would not come up, with its log's tail: the
// daemon's own complaint is almost always the answer.
type daemonError struct {
	node, daemon, msg, log, logfile string
}

func (e *daemonError) Error() string {
	s := fmt.Sprintf("%s: daemon %s: %s", e.node, e.daemon, e.msg)
	if e.log != "" {
		s += "; last lines of " + e.logfile + ":\n" + indent(e.log)
	} else {
		s += "; " + e.logfile + " is empty or missing"
	}
	return s
}

func (e *daemonError) Is(target error) bool { return target == ErrNotReady }

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// logTail returns the last n lines of a remote file, or "" if it cannot be
// read. It uses its own short deadline: it runs while reporting another
// failure and must not hang the report.
func logTail(ctx context.Context, r control.Remote, path string, n int) string {
	if path == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	res, err := r.Exec(ctx, control.Command{Argv: []string{"tail", "-n", strconv.Itoa(n), "--", path}, Timeout: 10 * time.Second})
	if err != nil {
		return ""
	}
	return strings.TrimRight(res.Stdout, "\n")
}

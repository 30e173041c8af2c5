package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

// Options are the settings shared by the lifecycle functions.
type Options struct {
	// BaseDir resolves relative local paths (file sources, local archives);
	// it is the plan's directory. Empty means the working directory.
	BaseDir string
	// StopGrace is how long daemons get between SIGTERM and SIGKILL at
	// teardown; DefaultStopGrace if 0.
	StopGrace time.Duration
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// Timeouts of node commands, so that a hung node fails a step instead of
// hanging the run.
const (
	aptTimeout     = 15 * time.Minute
	commandTimeout = 10 * time.Minute
	shortTimeout   = time.Minute
)

// OSSetup prepares every node: packages installed when missing, /etc/hosts
// entries for all nodes (when cfg.Hosts), then the setup commands, in that
// order. cfgs is keyed by node name; a node without an entry gets the
// defaults (hosts only). Nodes are set up in parallel; the error is a
// *control.NodesError naming every node that failed.
func OSSetup(ctx context.Context, remotes []control.Remote, nodes []eval.Node, cfgs map[string]eval.OSConfig, opts Options) error {
	return control.OnNodes(ctx, remotes, func(ctx context.Context, r control.Remote) error {
		cfg, ok := cfgs[r.Node()]
		if !ok {
			cfg = eval.OSConfig{Hosts: true}
		}
		if err := EnsurePackages(ctx, r, cfg.Packages, opts); err != nil {
			return &StepError{Node: r.Node(), Step: "packages", What: "apt-get install " + strings.Join(cfg.Packages, " "), Err: err}
		}
		if cfg.Hosts {
			if err := WriteHosts(ctx, r, nodes); err != nil {
				return &StepError{Node: r.Node(), Step: "hosts", Err: err}
			}
		}
		return runCommands(ctx, r, "", "setup", cfg.Setup, opts)
	})
}

// OSTeardown runs every node's teardown commands (all of them, even after
// one fails) and removes jplan's /etc/hosts block. Packages stay installed:
// removing them would only slow the next run down.
func OSTeardown(ctx context.Context, remotes []control.Remote, cfgs map[string]eval.OSConfig, opts Options) error {
	return control.OnNodes(ctx, remotes, func(ctx context.Context, r control.Remote) error {
		cfg, ok := cfgs[r.Node()]
		if !ok {
			cfg = eval.OSConfig{Hosts: true}
		}
		var errs []error
		for i, c := range cfg.Teardown {
			if err := runCommand(ctx, r, c); err != nil {
				errs = append(errs, &StepError{Node: r.Node(), Step: fmt.Sprintf("teardown command %d", i+1), What: short(c), Err: err})
			}
		}
		if cfg.Hosts {
			if err := RemoveHosts(ctx, r); err != nil {
				errs = append(errs, &StepError{Node: r.Node(), Step: "hosts", Err: err})
			}
		}
		return errors.Join(errs...)
	})
}

// runCommands runs cmds in order on r, stopping at the first failure.
func runCommands(ctx context.Context, r control.Remote, db, step string, cmds []string, opts Options) error {
	for i, c := range cmds {
		opts.logf("%s: %s: %s", r.Node(), stepName(db, step), short(c))
		if err := runCommand(ctx, r, c); err != nil {
			s := step
			if len(cmds) > 1 {
				s = fmt.Sprintf("%s command %d", step, i+1)
			}
			return &StepError{Node: r.Node(), DB: db, Step: s, What: short(c), Err: err}
		}
	}
	return nil
}

func runCommand(ctx context.Context, r control.Remote, c string) error {
	_, err := r.Exec(ctx, control.Command{Script: c, Timeout: commandTimeout})
	return err
}

func stepName(db, step string) string {
	if db == "" {
		return "os: " + step
	}
	return "db " + db + ": " + step
}

// MissingPackages returns those of pkgs that dpkg does not report as
// installed on r. A package may be pinned as name=version, which counts as
// installed only at that version.
func MissingPackages(ctx context.Context, r control.Remote, pkgs []string) ([]string, error) {
	if len(pkgs) == 0 {
		return nil, nil
	}
	var b strings.Builder
	for _, p := range pkgs {
		name, version, _ := strings.Cut(p, "=")
		if name == "" || strings.HasPrefix(name, "-") {
			return nil, fmt.Errorf("invalid package name %q", p)
		}
		// One dpkg-query per package: asked about several at once, it
		// stops reporting at the first unknown one on some versions.
		fmt.Fprintf(&b, "st=$(dpkg-query -W -f='${db:Status-Status} ${Version}' %s 2>/dev/null)\n", control.Quote(name))
		if version == "" {
			fmt.Fprintf(&b, "case $st in 'installed '*) ;; *) printf '%%s\\n' %s ;; esac\n", control.Quote(p))
		} else {
			fmt.Fprintf(&b, "[ \"$st\" = %s ] || printf '%%s\\n' %s\n", control.Quote("installed "+version), control.Quote(p))
		}
	}
	res, err := r.Exec(ctx, control.Command{Script: b.String(), Timeout: shortTimeout})
	if err != nil {
		return nil, fmt.Errorf("dpkg-query: %w", err)
	}
	return strings.Fields(res.Stdout), nil
}

// EnsurePackages installs those of pkgs that are missing on r. Nothing runs
// apt when every package is installed, which keeps nodes without a package
// mirror usable. A failed install is retried once after apt-get update,
// since stale package lists are the usual cause.
func EnsurePackages(ctx context.Context, r control.Remote, pkgs []string, opts Options) error {
	missing, err := MissingPackages(ctx, r, pkgs)
	if err != nil || len(missing) == 0 {
		return err
	}
	opts.logf("%s: installing %s", r.Node(), strings.Join(missing, " "))
	argv := append([]string{"apt-get", "install", "-y", "--no-install-recommends",
		"-o", "DPkg::Lock::Timeout=120", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"}, missing...)
	env := map[string]string{"DEBIAN_FRONTEND": "noninteractive"}
	if _, err := r.Exec(ctx, control.Command{Argv: argv, Env: env, Timeout: aptTimeout}); err == nil {
		return nil
	}
	if _, err := r.Exec(ctx, control.Command{Argv: []string{"apt-get", "update", "-o", "DPkg::Lock::Timeout=120"}, Env: env, Timeout: aptTimeout}); err != nil {
		return err
	}
	_, err = r.Exec(ctx, control.Command{Argv: argv, Env: env, Timeout: aptTimeout})
	return err
}

// hostsFile is a variable so tests can edit a scratch file locally.
var hostsFile = "/etc/hosts"

// Markers delimit the block of /etc/hosts that jplan owns.
const (
	hostsBegin = "# BEGIN jplan nodes (managed by jplan; edits are overwritten)"
	hostsEnd   = "# END jplan nodes"
)

// hostsScript replaces jplan's block in /etc/hosts (or appends one) with
// block. Node hosts that are not IP addresses are resolved on the node
// itself, since that is the view the database will have. The file is
// replaced atomically when possible; Docker bind-mounts /etc/hosts, which
// cannot be renamed over, so then it is rewritten in place.
func hostsScript(path string, nodes []eval.Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "f=%s\n", control.Quote(path))
	b.WriteString(`set -e
tmp=$(mktemp "$(dirname "$f")/.jplan-hosts.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# Keep everything outside our block.
awk -v b="$BEGIN" -v e="$END" '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip' "$f" >"$tmp"
`)
	if len(nodes) > 0 {
		b.WriteString(`{
	echo "$BEGIN"
`)
		for _, n := range sortedNodes(nodes) {
			host := n.Host
			if host == "" {
				host = n.Name
			}
			if _, err := netip.ParseAddr(host); err == nil {
				fmt.Fprintf(&b, "\tprintf '%%s %%s\\n' %s %s\n", control.Quote(host), control.Quote(n.Name))
				continue
			}
			if host == n.Name {
				// The node is known by its name already; nothing to map.
				continue
			}
			fmt.Fprintf(&b, "\tip=$(getent ahosts %s | awk 'NR == 1 { print $1 }')\n", control.Quote(host))
			fmt.Fprintf(&b, "\tif [ -n \"$ip\" ]; then printf '%%s %%s\\n' \"$ip\" %s; else printf '# %%s: cannot resolve\\n' %s; fi\n",
				control.Quote(n.Name), control.Quote(host))
		}
		b.WriteString(`	echo "$END"
} >>"$tmp"
`)
	}
	b.WriteString(`if cmp -s "$tmp" "$f"; then exit 0; fi
chmod 644 "$tmp"
if ! mv -f "$tmp" "$f" 2>/dev/null; then
	cat "$tmp" >"$f"
fi
`)
	return b.String()
}

func sortedNodes(nodes []eval.Node) []eval.Node {
	out := append([]eval.Node(nil), nodes...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// WriteHosts puts an /etc/hosts entry (host address, then node name) for
// every node into a marked block, replacing the block a previous run left,
// so running it again changes nothing.
func WriteHosts(ctx context.Context, r control.Remote, nodes []eval.Node) error {
	_, err := r.Exec(ctx, control.Command{Script: hostsScript(hostsFile, nodes), Timeout: shortTimeout,
		Env: map[string]string{"BEGIN": hostsBegin, "END": hostsEnd}})
	if err != nil {
		return fmt.Errorf("writing /etc/hosts: %w", err)
	}
	return nil
}

// RemoveHosts removes the block WriteHosts wrote.
func RemoveHosts(ctx context.Context, r control.Remote) error {
	_, err := r.Exec(ctx, control.Command{Script: hostsScript(hostsFile, nil), Timeout: shortTimeout,
		Env: map[string]string{"BEGIN": hostsBegin, "END": hostsEnd}})
	if err != nil {
		return fmt.Errorf("cleaning /etc/hosts: %w", err)
	}
	return nil
}

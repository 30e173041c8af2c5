package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

// DBs maps each node's name to the db blocks evaluated for that node, in
// plan order. Plans evaluate db blocks per node, so each node has its own
// values (its --name flag, its config file), but every node has the same
// databases.
type DBs map[string][]eval.DBConfig

// DBCycle is Jepsen's db cycle: DBTeardown on every node (clearing what a
// previous run left), then DBSetup. Call it after OSSetup.
func DBCycle(ctx context.Context, remotes []control.Remote, nodes []eval.Node, dbs DBs, opts Options) error {
	if err := DBTeardown(ctx, remotes, dbs, opts); err != nil {
		return fmt.Errorf("db teardown before setup: %w", err)
	}
	return DBSetup(ctx, remotes, nodes, dbs, opts)
}

// DBSetup sets up every database on every node in parallel (each node's
// databases in plan order: install, files, daemons started and ready, setup
// commands), then runs primary setup on the primary (the first node). If
// anything fails, every node is torn down and the whole setup is tried
// again, up to SetupRetries more times (the largest of the databases'
// values): databases that form a cluster at startup often fail on one node
// because of another, so retrying only the failed node would not help.
// After the last failure the nodes are left as they are, for the caller's
// DownloadLogs and DBTeardown.
func DBSetup(ctx context.Context, remotes []control.Remote, nodes []eval.Node, dbs DBs, opts Options) error {
	retries := 0
	for _, cfgs := range dbs {
		for _, c := range cfgs {
			retries = max(retries, c.SetupRetries)
		}
	}
	primary := primaryRemote(remotes, nodes)
	var err error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			opts.logf("db setup failed (attempt %d of %d); tearing down and retrying: %v", attempt, retries+1, err)
			if terr := DBTeardown(ctx, remotes, dbs, opts); terr != nil {
				return errors.Join(err, fmt.Errorf("db teardown before retrying: %w", terr))
			}
		}
		err = control.OnNodes(ctx, remotes, func(ctx context.Context, r control.Remote) error {
			return SetupNode(ctx, r, dbs[r.Node()], opts)
		})
		if err == nil && primary != nil {
			err = PrimarySetupNode(ctx, primary, dbs[primary.Node()], opts)
		}
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// primaryRemote is the remote of the first node (Jepsen's primary).
func primaryRemote(remotes []control.Remote, nodes []eval.Node) control.Remote {
	if len(nodes) > 0 {
		first := sortedNodes(nodes)[0].Name
		for _, r := range remotes {
			if r.Node() == first {
				return r
			}
		}
	}
	if len(remotes) > 0 {
		return remotes[0]
	}
	return nil
}

// DBTeardown tears every database down on every node in parallel, in
// reverse plan order: daemons stopped (SIGTERM, SIGKILL after the grace
// period), then teardown commands. Every step runs even when an earlier one
// failed, and none assumes setup got anywhere, so it is safe on half-set-up
// nodes and may run any number of times.
func DBTeardown(ctx context.Context, remotes []control.Remote, dbs DBs, opts Options) error {
	return control.OnNodes(ctx, remotes, func(ctx context.Context, r control.Remote) error {
		return TeardownNode(ctx, r, dbs[r.Node()], opts)
	})
}

// SetupNode sets up cfgs on one node, in order.
func SetupNode(ctx context.Context, r control.Remote, cfgs []eval.DBConfig, opts Options) error {
	for _, c := range cfgs {
		if err := setupDB(ctx, r, c, opts); err != nil {
			return err
		}
	}
	return nil
}

// PrimarySetupNode runs the databases' primary setup commands on the
// primary node.
func PrimarySetupNode(ctx context.Context, r control.Remote, cfgs []eval.DBConfig, opts Options) error {
	for _, c := range cfgs {
		if err := runCommands(ctx, r, c.Name, "primary setup", c.PrimarySetup, opts); err != nil {
			return err
		}
	}
	return nil
}

// TeardownNode tears cfgs down on one node, last database first.
func TeardownNode(ctx context.Context, r control.Remote, cfgs []eval.DBConfig, opts Options) error {
	var errs []error
	for i := len(cfgs) - 1; i >= 0; i-- {
		c := cfgs[i]
		for j := len(c.Daemons) - 1; j >= 0; j-- {
			d := c.Daemons[j]
			pid, err := StopDaemon(ctx, r, d, opts.StopGrace)
			if err != nil {
				errs = append(errs, &StepError{Node: r.Node(), DB: c.Name, Step: "teardown: daemon " + d.Name, Err: unprefix(r.Node(), d.Name, err)})
			} else if pid > 0 {
				opts.logf("%s: db %s: stopped daemon %s (pid %d)", r.Node(), c.Name, d.Name, pid)
			}
		}
		for k, cmd := range c.Teardown {
			if err := runCommand(ctx, r, cmd); err != nil {
				errs = append(errs, &StepError{Node: r.Node(), DB: c.Name, Step: fmt.Sprintf("teardown command %d", k+1), What: short(cmd), Err: err})
			}
		}
	}
	return errors.Join(errs...)
}

// unprefix turns the daemon functions' "n1: daemon x: msg" into "msg", for
// wrapping in a StepError that says both already.
func unprefix(node, daemon string, err error) error {
	msg := strings.TrimPrefix(err.Error(), node+": daemon "+daemon+": ")
	return &wrapped{msg: msg, err: err}
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

func setupDB(ctx context.Context, r control.Remote, c eval.DBConfig, opts Options) error {
	node := r.Node()
	if err := EnsurePackages(ctx, r, c.Packages, opts); err != nil {
		return &StepError{Node: node, DB: c.Name, Step: "install", What: "apt-get install " + strings.Join(c.Packages, " "), Err: err}
	}
	if c.Archive != "" {
		opts.logf("%s: db %s: installing %s into %s", node, c.Name, c.Archive, c.ArchiveDir)
		if err := installArchive(ctx, r, c, opts); err != nil {
			return &StepError{Node: node, DB: c.Name, Step: "install", What: "archive " + c.Archive, Err: err}
		}
	}
	if err := runCommands(ctx, r, c.Name, "install", c.Install, opts); err != nil {
		return err
	}
	for _, f := range c.Files {
		if err := putFile(ctx, r, f, opts); err != nil {
			return &StepError{Node: node, DB: c.Name, Step: "file " + f.Path, Err: err}
		}
	}
	for _, d := range c.Daemons {
		opts.logf("%s: db %s: starting daemon %s", node, c.Name, d.Name)
		if _, err := StartDaemon(ctx, r, d); err != nil {
			return &StepError{Node: node, DB: c.Name, Step: "daemon " + d.Name + ": start", Err: unprefix(node, d.Name, err)}
		}
	}
	// Daemons start together and are then awaited, since one often needs
	// another (or its peers on other nodes) to become ready.
	for _, d := range c.Daemons {
		if err := WaitReady(ctx, r, d); err != nil {
			return &StepError{Node: node, DB: c.Name, Step: "daemon " + d.Name, Err: unprefix(node, d.Name, err)}
		}
	}
	return runCommands(ctx, r, c.Name, "setup", c.Setup, opts)
}

// localPath resolves a plan's local path against the plan's directory.
func localPath(p string, opts Options) string {
	if filepath.IsAbs(p) || opts.BaseDir == "" {
		return p
	}
	return filepath.Join(opts.BaseDir, p)
}

func isURL(s string) bool {
	for _, p := range []string{"http://", "https://", "ftp://", "ftps://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// archiveCache is where archives are kept on nodes, named by a hash of
// their URL or content, so a re-run does not fetch them again.
const archiveCache = "/var/cache/jplan/archives"

// installArchive fetches the archive (curl on the node for URLs; an upload
// for local files), then unpacks it into ArchiveDir, dropping Strip leading
// path components. tar detects the compression. The directory is not
// emptied first: ArchiveDir may be a shared prefix like /usr/local, and
// deleting that would be a disaster; unpacking over an old copy replaces
// its files.
func installArchive(ctx context.Context, r control.Remote, c eval.DBConfig, opts Options) error {
	dir := c.ArchiveDir
	if dir == "" {
		dir = "/opt/jplan/" + c.Name
	}
	var cached string
	if isURL(c.Archive) {
		sum := sha256.Sum256([]byte(c.Archive))
		cached = path.Join(archiveCache, hex.EncodeToString(sum[:])[:16]+"-"+safeBase(c.Archive))
		script := fmt.Sprintf(`set -e
mkdir -p %[1]s
[ -s %[2]s ] && exit 0
tmp=$(mktemp %[1]s/.download.XXXXXX)
trap 'rm -f "$tmp"' EXIT
if command -v curl >/dev/null 2>&1; then
	curl -fsSL --retry 3 -o "$tmp" %[3]s
else
	wget -q -O "$tmp" %[3]s
fi
mv -f "$tmp" %[2]s
trap - EXIT`, archiveCache, control.Quote(cached), control.Quote(c.Archive))
		if _, err := r.Exec(ctx, control.Command{Script: script, Timeout: aptTimeout}); err != nil {
			return fmt.Errorf("download: %w", err)
		}
	} else {
		p := localPath(c.Archive, opts)
		sum, err := fileHash(p)
		if err != nil {
			return err
		}
		cached = path.Join(archiveCache, sum[:16]+"-"+safeBase(p))
		if _, err := r.Exec(ctx, control.Command{Script: fmt.Sprintf("mkdir -p %s && [ -s %s ]", archiveCache, control.Quote(cached)), Timeout: shortTimeout}); err != nil {
			if err := control.UploadFile(ctx, r, p, cached); err != nil {
				return err
			}
		}
	}
	argv := []string{"tar", "-xf", cached, "-C", dir, "--no-same-owner"}
	if c.Strip > 0 {
		argv = append(argv, "--strip-components="+strconv.Itoa(c.Strip))
	}
	q, _ := control.QuoteArgv(argv)
	if _, err := r.Exec(ctx, control.Command{Script: "mkdir -p " + control.Quote(dir) + " && " + q, Timeout: commandTimeout}); err != nil {
		return fmt.Errorf("unpacking into %s: %w", dir, err)
	}
	return nil
}

func safeBase(s string) string {
	b := path.Base(s)
	if i := strings.IndexAny(b, "?#"); i >= 0 {
		b = b[:i]
	}
	out := []byte(b)
	for i, c := range out {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			out[i] = '_'
		}
	}
	if len(out) == 0 {
		return "archive"
	}
	return string(out)
}

func fileHash(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// putFile writes a file block's content (or its local source) to the node
// with its mode and owner. The parent directory is created; Upload writes
// atomically, so a daemon never reads a half-written config.
func putFile(ctx context.Context, r control.Remote, f eval.FileConfig, opts Options) error {
	if !path.IsAbs(f.Path) {
		return fmt.Errorf("path %q is not absolute", f.Path)
	}
	modeStr := f.Mode
	if modeStr == "" {
		modeStr = "0644"
	}
	mode, err := strconv.ParseUint(modeStr, 8, 32)
	if err != nil || mode > 0o7777 {
		return fmt.Errorf("invalid mode %q", f.Mode)
	}
	if _, err := r.Exec(ctx, control.Command{Argv: []string{"mkdir", "-p", "--", path.Dir(f.Path)}, Timeout: shortTimeout}); err != nil {
		return err
	}
	var src io.Reader = strings.NewReader(f.Content)
	if f.Source != "" {
		file, err := os.Open(localPath(f.Source, opts))
		if err != nil {
			return err
		}
		defer file.Close()
		src = file
	}
	// Upload sets the permission bits; setuid/setgid/sticky, if asked for,
	// and the owner are applied afterwards with chmod and chown.
	if err := r.Upload(ctx, src, f.Path, fs.FileMode(mode&0o777)); err != nil {
		return err
	}
	var post []string
	if f.Owner != "" {
		post = append(post, "chown "+control.Quote(f.Owner)+" "+control.Quote(f.Path))
	}
	if mode&0o7000 != 0 {
		post = append(post, fmt.Sprintf("chmod %o %s", mode, control.Quote(f.Path)))
	}
	if len(post) > 0 {
		if _, err := r.Exec(ctx, control.Command{Script: strings.Join(post, " && "), Timeout: shortTimeout}); err != nil {
			return err
		}
	}
	return nil
}

// shortDeadline bounds work done on the way out (log collection after a
// failure), which must not hang on a dead node.
func shortDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
)

// LogFile is one log file DownloadLogs tried to fetch.
type LogFile struct {
	Node   string
	Remote string // path on the node
	Local  string // where it was saved; empty if it was not
	// Err says why it was not saved ("missing", an SSH error...).
	Err error
}

// DownloadLogs copies every database's log_files and every daemon's
// logfile from each node into dir/<node>/<remote path>, keeping the remote
// path so files with the same name cannot collide. A log path that is a
// directory is copied file by file. It runs after failed runs too, so a
// missing file, or a node that cannot be reached, is recorded in the result
// rather than returned as an error; the error is only for a local directory
// that cannot be written. Each node gets at most perNode (5 minutes if 0).
func DownloadLogs(ctx context.Context, remotes []control.Remote, dbs DBs, dir string, perNode time.Duration) ([]LogFile, error) {
	if perNode <= 0 {
		perNode = 5 * time.Minute
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	var (
		mu  sync.Mutex
		out []LogFile
	)
	// OnNodes's error is always nil here: per-file problems go into out.
	_ = control.OnNodes(ctx, remotes, func(ctx context.Context, r control.Remote) error {
		ctx, cancel := shortDeadline(ctx, perNode)
		defer cancel()
		got := downloadNode(ctx, r, logPaths(dbs[r.Node()]), filepath.Join(dir, safeNodeDir(r.Node())))
		mu.Lock()
		out = append(out, got...)
		mu.Unlock()
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Node != out[j].Node {
			return out[i].Node < out[j].Node
		}
		return out[i].Remote < out[j].Remote
	})
	return out, nil
}

// logPaths lists a node's log paths, deduplicated, in plan order.
func logPaths(cfgs []eval.DBConfig) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, c := range cfgs {
		for _, p := range c.LogFiles {
			add(p)
		}
		for _, d := range c.Daemons {
			add(d.Logfile)
		}
	}
	return out
}

func safeNodeDir(n string) string {
	n = strings.ReplaceAll(n, "/", "_")
	if n == "" || n == "." || n == ".." {
		return "_" + n
	}
	return n
}

// downloadNode expands directories and fetches each file.
func downloadNode(ctx context.Context, r control.Remote, paths []string, dir string) []LogFile {
	var out []LogFile
	for _, p := range paths {
		files, err := expand(ctx, r, p)
		if err != nil {
			out = append(out, LogFile{Node: r.Node(), Remote: p, Err: err})
			continue
		}
		for _, f := range files {
			lf := LogFile{Node: r.Node(), Remote: f}
			local := filepath.Join(dir, filepath.FromSlash(strings.TrimLeft(f, "/")))
			if !strings.HasPrefix(local, filepath.Clean(dir)+string(filepath.Separator)) {
				lf.Err = fmt.Errorf("path %q escapes the log directory", f)
			} else if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
				lf.Err = err
			} else if err := control.DownloadFile(ctx, r, f, local); err != nil {
				lf.Err = err
			} else {
				lf.Local = local
			}
			out = append(out, lf)
		}
	}
	return out
}

// errMissing is recorded for log paths that do not exist on the node.
var errMissing = fmt.Errorf("missing")

// expand returns p itself if it is a file, the regular files under it if it
// is a directory, or errMissing.
func expand(ctx context.Context, r control.Remote, p string) ([]string, error) {
	q := control.Quote(p)
	res, err := r.Exec(ctx, control.Command{Script: fmt.Sprintf(
		`if [ -d %[1]s ]; then find %[1]s -type f -print; elif [ -e %[1]s ]; then printf '%%s\n' %[1]s; else echo "__missing__"; fi`, q),
		Timeout: shortTimeout})
	if err != nil {
		return nil, err
	}
	out := strings.Split(strings.TrimRight(res.Stdout, "\n"), "\n")
	if len(out) == 1 && out[0] == "__missing__" {
		return nil, errMissing
	}
	var files []string
	for _, f := range out {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// Package storage is jplan's store: one directory per run, under
// <root>/<test>/<run id>/, holding what a run leaves behind, and "latest"
// links to find the newest run. It writes and finds files; it does not
// interpret results.
//
// A run directory holds:
//
//	plan/          copies of the plan sources, with secrets redacted
//	history.jsonl  the history, streamed while the run goes (flushed ≥ 1/s)
//	history.edn    the history in Jepsen's format, written at the end
//	results.json   the checkers' results
//	jplan.log      the run's log
//	nodes/<node>/  logs and files downloaded from each node
//
// Run ids are UTC timestamps with millisecond precision, e.g.
// 20240501T120000.123Z, which sort in time order as strings. Creating a run
// directory is an exclusive mkdir, so a run never reuses an earlier run's
// directory; a second run in the same millisecond gets a suffix
// (…Z-001), which still sorts after it. docs/storage.md has the details.
package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// IDLayout is the time layout of run ids.
const IDLayout = "20060102T150405.000Z"

// Latest is the name of the links to the newest run, in the store root
// (to <test>/<id>) and in each test directory (to <id>).
const Latest = "latest"

// Store is a directory of runs.
type Store struct {
	Root string
	// now is the clock, replaceable in tests.
	now func() time.Time
}

// Open returns the store rooted at root, creating the directory if needed.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("storage: creating store %s: %w", root, err)
	}
	return &Store{Root: root, now: time.Now}, nil
}

// RunInfo identifies a stored run.
type RunInfo struct {
	Test string
	ID   string
	Dir  string
	// Start is parsed from ID (zero if the id is not a timestamp).
	Start time.Time
}

// ValidateTestName reports whether name can be a test directory: not
// empty, no path separators, not "." or "..", not "latest", no leading dot.
func ValidateTestName(name string) error {
	switch {
	case name == "":
		return errors.New("storage: empty test name")
	case strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0):
		return fmt.Errorf("storage: test name %q contains a path separator", name)
	case name == Latest:
		return fmt.Errorf("storage: test name %q is reserved", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("storage: test name %q starts with a dot", name)
	}
	return nil
}

// newRunDir creates a fresh, empty run directory for test and returns its
// id. The mkdir is exclusive: if the id is taken (same millisecond, maybe
// another process), the next suffix is tried.
func (s *Store) newRunDir(test string) (string, string, error) {
	testDir := filepath.Join(s.Root, test)
	if err := os.MkdirAll(testDir, 0o755); err != nil {
		return "", "", fmt.Errorf("storage: creating %s: %w", testDir, err)
	}
	base := s.now().UTC().Format(IDLayout)
	for i := 0; i < 1000; i++ {
		id := base
		if i > 0 {
			id = fmt.Sprintf("%s-%03d", base, i)
		}
		dir := filepath.Join(testDir, id)
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return id, dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", "", fmt.Errorf("storage: creating run directory: %w", err)
		}
	}
	return "", "", fmt.Errorf("storage: more than 1000 runs of %s in one millisecond", test)
}

// Tests lists the tests that have runs, sorted.
func (s *Store) Tests() ([]string, error) {
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		return nil, fmt.Errorf("storage: listing %s: %w", s.Root, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && ValidateTestName(e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Runs lists a test's runs, oldest first.
func (s *Store) Runs(test string) ([]RunInfo, error) {
	if err := ValidateTestName(test); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.Root, test)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: listing runs of %s: %w", test, err)
	}
	var out []RunInfo
	for _, e := range ents {
		if !e.IsDir() || e.Name() == Latest || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, s.info(test, e.Name()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Store) info(test, id string) RunInfo {
	ri := RunInfo{Test: test, ID: id, Dir: filepath.Join(s.Root, test, id)}
	ts := id
	if i := strings.IndexByte(id, '-'); i > 0 {
		ts = id[:i]
	}
	if t, err := time.Parse(IDLayout, ts); err == nil {
		ri.Start = t
	}
	return ri
}

// ErrNoRuns is returned when there is no run to resolve to.
var ErrNoRuns = errors.New("storage: no runs")

// Resolve finds a run from a reference as a user would type it:
//
//	"" or "latest"             the newest run of any test
//	"<test>" or "<test>/latest" the newest run of test
//	"<test>/<id>"              that run
//
// The latest links are followed when present; if a link is missing or
// dangling, the newest directory by id is used, so a store copied without
// its links still resolves.
func (s *Store) Resolve(ref string) (RunInfo, error) {
	ref = strings.Trim(filepath.ToSlash(ref), "/")
	if ref == "" || ref == Latest {
		if ri, err := s.followLink(filepath.Join(s.Root, Latest)); err == nil {
			return ri, nil
		}
		return s.newestOverall()
	}
	test, id, _ := strings.Cut(ref, "/")
	if err := ValidateTestName(test); err != nil {
		return RunInfo{}, err
	}
	if id == "" || id == Latest {
		if ri, err := s.followLink(filepath.Join(s.Root, test, Latest)); err == nil {
			return ri, nil
		}
		runs, err := s.Runs(test)
		if err != nil {
			return RunInfo{}, err
		}
		if len(runs) == 0 {
			return RunInfo{}, fmt.Errorf("%w of %s", ErrNoRuns, test)
		}
		return runs[len(runs)-1], nil
	}
	if strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return RunInfo{}, fmt.Errorf("storage: bad run id %q", id)
	}
	ri := s.info(test, id)
	if st, err := os.Stat(ri.Dir); err != nil || !st.IsDir() {
		return RunInfo{}, fmt.Errorf("storage: no run %s/%s", test, id)
	}
	return ri, nil
}

// followLink resolves a latest link to a run directory inside the store.
func (s *Store) followLink(link string) (RunInfo, error) {
	target, err := os.Readlink(link)
	if err != nil {
		return RunInfo{}, err
	}
	abs := target
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(filepath.Dir(link), target)
	}
	rel, err := filepath.Rel(s.Root, abs)
	if err != nil {
		return RunInfo{}, err
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if len(parts) != 2 || ValidateTestName(parts[0]) != nil {
		return RunInfo{}, fmt.Errorf("storage: link %s points outside the store", link)
	}
	ri := s.info(parts[0], parts[1])
	if st, err := os.Stat(ri.Dir); err != nil || !st.IsDir() {
		return RunInfo{}, fmt.Errorf("storage: link %s is dangling", link)
	}
	return ri, nil
}

func (s *Store) newestOverall() (RunInfo, error) {
	tests, err := s.Tests()
	if err != nil {
		return RunInfo{}, err
	}
	var best RunInfo
	for _, t := range tests {
		runs, err := s.Runs(t)
		if err != nil {
			return RunInfo{}, err
		}
		if len(runs) > 0 {
			r := runs[len(runs)-1]
			if best.ID == "" || r.ID > best.ID {
				best = r
			}
		}
	}
	if best.ID == "" {
		return RunInfo{}, ErrNoRuns
	}
	return best, nil
}

// updateLinks points <test>/latest and the store's latest at run,
// atomically: each link is made under a temporary name and renamed over the
// old one, so a reader sees the old run or the new one, never no link.
func (s *Store) updateLinks(ri RunInfo) error {
	if err := replaceSymlink(ri.ID, filepath.Join(s.Root, ri.Test, Latest)); err != nil {
		return err
	}
	return replaceSymlink(filepath.Join(ri.Test, ri.ID), filepath.Join(s.Root, Latest))
}

func replaceSymlink(target, link string) error {
	tmp := fmt.Sprintf("%s.tmp-%d-%d", link, os.Getpid(), time.Now().UnixNano())
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("storage: linking %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("storage: linking %s: %w", link, err)
	}
	return nil
}

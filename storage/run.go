package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jplan/jplan/history"
)

// File names inside a run directory.
const (
	PlanDir     = "plan"
	HistoryFile = "history.jsonl"
	EDNFile     = "history.edn"
	ResultsFile = "results.json"
	LogFile     = "jplan.log"
	StatusFile  = "status.json"
	NodesDir    = "nodes"
)

// Redacted replaces secrets in stored files.
const Redacted = "<redacted>"

// Run is an open run directory.
type Run struct {
	RunInfo

	secrets [][]byte

	histFile *os.File
	hist     *history.Writer
	logFile  *os.File
	logMu    sync.Mutex
	closed   bool
}

// Create makes a new run directory for test, opens its history and log
// files, and points the latest links at it (so a run in progress can be
// found and tailed). secrets are replaced by "<redacted>" in everything
// the run writes through SavePlan and Log.
func (s *Store) Create(test string, secrets []string) (*Run, error) {
	if err := ValidateTestName(test); err != nil {
		return nil, err
	}
	id, dir, err := s.newRunDir(test)
	if err != nil {
		return nil, err
	}
	r := &Run{RunInfo: s.info(test, id), secrets: secretList(secrets)}
	r.Dir = dir
	if r.histFile, err = os.OpenFile(filepath.Join(dir, HistoryFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err != nil {
		return nil, fmt.Errorf("storage: creating history: %w", err)
	}
	r.hist = history.NewWriter(r.histFile)
	if r.logFile, err = os.OpenFile(filepath.Join(dir, LogFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		r.Close()
		return nil, fmt.Errorf("storage: creating log: %w", err)
	}
	if err := s.updateLinks(r.RunInfo); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// secretList drops empty secrets (which would match everywhere) and sorts
// longest first, so a secret containing another is redacted whole.
func secretList(secrets []string) [][]byte {
	var out [][]byte
	for _, s := range secrets {
		if s != "" {
			out = append(out, []byte(s))
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// Redact returns data with every occurrence of each non-empty secret
// replaced by "<redacted>".
func Redact(data []byte, secrets []string) []byte { return redact(data, secretList(secrets)) }

func redact(data []byte, secrets [][]byte) []byte {
	for _, s := range secrets {
		if bytes.Contains(data, s) {
			data = bytes.ReplaceAll(data, s, []byte(Redacted))
		}
	}
	return data
}

// History is the streaming JSONL writer for the run's history; it satisfies
// runner.Recorder. It flushes at least every second.
func (r *Run) History() *history.Writer { return r.hist }

// SavePlan copies plan sources into plan/, redacting secrets. Names are
// paths relative to the plan's directory; they may not escape it.
func (r *Run) SavePlan(files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		clean := filepath.Clean(filepath.FromSlash(name))
		if filepath.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return fmt.Errorf("storage: plan file %q is outside the plan directory", name)
		}
		path := filepath.Join(r.Dir, PlanDir, clean)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("storage: saving plan: %w", err)
		}
		if err := os.WriteFile(path, redact(files[name], r.secrets), 0o644); err != nil {
			return fmt.Errorf("storage: saving plan file %s: %w", name, err)
		}
	}
	return nil
}

// Log is the run's log, jplan.log. Writes are redacted; callers should
// write whole lines (a secret split across two writes is not caught).
func (r *Run) Log() io.Writer { return (*logWriter)(r) }

type logWriter Run

func (w *logWriter) Write(p []byte) (int, error) {
	w.logMu.Lock()
	defer w.logMu.Unlock()
	if w.logFile == nil {
		return 0, errors.New("storage: log closed")
	}
	if _, err := w.logFile.Write(redact(p, w.secrets)); err != nil {
		return 0, fmt.Errorf("storage: writing log: %w", err)
	}
	return len(p), nil
}

// NodeDir returns (creating it) the directory for files downloaded from
// node. Characters that can't appear in a file name are replaced by '_'.
func (r *Run) NodeDir(node string) (string, error) {
	name := strings.Map(func(c rune) rune {
		if c == '/' || c == '\\' || c == 0 {
			return '_'
		}
		return c
	}, node)
	if name == "" || name == "." || name == ".." {
		return "", fmt.Errorf("storage: bad node name %q", node)
	}
	dir := filepath.Join(r.Dir, NodesDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("storage: creating node directory: %w", err)
	}
	return dir, nil
}

// WriteResults writes results.json (indented JSON), atomically.
func (r *Run) WriteResults(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("storage: encoding results: %w", err)
	}
	b = append(b, '\n')
	return writeAtomic(filepath.Join(r.Dir, ResultsFile), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// Status is status.json: what a run is doing, for a reader watching the
// store (jplan serve) while it runs. It is rewritten atomically about once
// a second while the generator runs, and at each stage.
type Status struct {
	// State: "setup", "running", "teardown", "checking", "done", or
	// "failed" (it stopped with an error before recording any op). A run
	// whose status says anything else and whose file is no longer
	// updated was killed.
	State string `json:"state"`
	// Updated is when the file was written.
	Updated time.Time `json:"updated"`
	// The live counts, while running and after.
	ElapsedSeconds float64  `json:"elapsed_s"`
	OK             int64    `json:"ok"`
	Fail           int64    `json:"fail"`
	Info           int64    `json:"info"`
	InFlight       int      `json:"in_flight"`
	ActiveFaults   []string `json:"active_faults,omitempty"`
	// Valid is the verdict ("true", "false", "unknown") once done.
	Valid string `json:"valid,omitempty"`
}

// WriteStatus writes status.json atomically.
func (r *Run) WriteStatus(st Status) error {
	if st.Updated.IsZero() {
		st.Updated = time.Now().UTC()
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("storage: encoding status: %w", err)
	}
	return writeAtomic(filepath.Join(r.Dir, StatusFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// WriteEDN writes history.edn, Jepsen's format, atomically. It streams to
// the file rather than building the text in memory: histories can be large.
func (r *Run) WriteEDN(ops []history.Op) error {
	return writeAtomic(filepath.Join(r.Dir, EDNFile), func(w io.Writer) error {
		return history.WriteEDN(w, ops)
	})
}

// writeAtomic writes through a temporary file renamed into place, so a
// reader (or a crash) never sees half a file.
func writeAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("storage: writing %s: %w", filepath.Base(path), err)
	}
	werr := write(f)
	// CreateTemp makes the file 0600; a run's files are meant to be read
	// (by jplan serve, by whoever the run directory is copied to).
	merr := f.Chmod(0o644)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, merr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("storage: writing %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("storage: writing %s: %w", filepath.Base(path), err)
	}
	return nil
}

// Close flushes and closes the history and the log. It is idempotent.
func (r *Run) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	if r.hist != nil {
		errs = append(errs, r.hist.Close())
	}
	if r.histFile != nil {
		errs = append(errs, r.histFile.Sync(), r.histFile.Close())
	}
	r.logMu.Lock()
	if r.logFile != nil {
		errs = append(errs, r.logFile.Close())
		r.logFile = nil
	}
	r.logMu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("storage: closing run %s/%s: %w", r.Test, r.ID, err)
	}
	return nil
}

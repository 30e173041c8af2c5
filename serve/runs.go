package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/storage"
)

// StaleAfter is how long a run's status.json may go without an update
// before the run is taken as killed: a live run rewrites it about once a
// second, and even setup and teardown stages write it at each step.
const StaleAfter = 30 * time.Second

// Verdict labels, as shown in the table and accepted by ?verdict=.
const (
	VerdictValid   = "valid"
	VerdictInvalid = "invalid"
	VerdictUnknown = "unknown"
	VerdictRunning = "running" // setup, running, teardown or checking
	VerdictKilled  = "killed"  // stopped without finishing: stale status, or no status and no results
	VerdictFailed  = "failed"  // stopped with an error before recording any op
)

// Verdicts lists the labels in the order the filter offers them.
var Verdicts = []string{VerdictValid, VerdictInvalid, VerdictUnknown, VerdictRunning, VerdictKilled, VerdictFailed}

// Run is what the UI shows of one stored run: one row of the table, and
// the JSON of /api/runs.
type Run struct {
	Test  string    `json:"test"`
	ID    string    `json:"id"`
	Start time.Time `json:"start"`
	// Verdict is one of the Verdict labels.
	Verdict string `json:"verdict"`
	// State is status.json's state ("" for runs from jplan before it).
	State   string    `json:"state,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
	// Ops counts the history's entries (invocations and completions).
	Ops             int64    `json:"ops"`
	OK              int64    `json:"ok"`
	Fail            int64    `json:"fail"`
	Info            int64    `json:"info"`
	InFlight        int      `json:"in_flight"`
	DurationSeconds float64  `json:"duration_s"`
	Seed            string   `json:"seed,omitempty"`
	Faults          []string `json:"faults"`
	ActiveFaults    []string `json:"active_faults"`
	Summary         string   `json:"summary,omitempty"`
	HasReport       bool     `json:"has_report"`
	HasHistory      bool     `json:"has_history"`
	// DurationText and ProgressText are Duration and Progress, for the
	// pages' script, which writes them as the server would.
	DurationText string `json:"duration"`
	ProgressText string `json:"progress"`
	URL          string `json:"url"`

	dir     string
	results *results
}

// Live reports whether the run is still in progress.
func (r *Run) Live() bool { return r.Verdict == VerdictRunning }

// Duration is the run's duration for display.
func (r *Run) Duration() string {
	if r.DurationSeconds <= 0 {
		return ""
	}
	return (time.Duration(r.DurationSeconds*float64(time.Second)) / time.Millisecond * time.Millisecond).String()
}

// Progress describes a run in progress in a line, for the table and the
// run page (the same text the script writes when it updates them).
func (r *Run) Progress() string {
	if !r.Live() {
		return ""
	}
	s := r.State
	if r.State == "running" {
		s += " " + r.Duration() + ": " + itoa(r.OK) + " ok, " + itoa(r.Fail) + " fail, " + itoa(r.Info) + " info, " + itoa(int64(r.InFlight)) + " in flight"
		if len(r.ActiveFaults) > 0 {
			s += "; faults: " + strings.Join(r.ActiveFaults, ", ")
		}
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// results is the part of results.json the UI shows.
type results struct {
	Valid   checker.Validity   `json:"valid"`
	Summary string             `json:"summary"`
	Error   string             `json:"error"`
	Files   []string           `json:"files"`
	Results map[string]results `json:"results"`
}

// scanner reads the store for the UI. It caches what is costly to read
// (the history's op count and faults, results.json, the seed) per run
// directory, keyed by the files' size and modification time, so a page
// view or a poll of a large store reads only what changed.
type scanner struct {
	store *storage.Store
	now   func() time.Time

	mu      sync.Mutex
	hist    map[string]*histScan
	res     map[string]*resCache
	seeds   map[string]string
	scanBuf []byte
}

func newScanner(root string) *scanner {
	return &scanner{
		store: &storage.Store{Root: root},
		now:   time.Now,
		hist:  map[string]*histScan{},
		res:   map[string]*resCache{},
		seeds: map[string]string{},
	}
}

// runs lists every stored run, newest first.
func (s *scanner) runs() ([]*Run, error) {
	tests, err := s.store.Tests()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Run
	for _, t := range tests {
		infos, err := s.store.Runs(t)
		if err != nil {
			return nil, err
		}
		for _, ri := range infos {
			out = append(out, s.run(ri))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

// run reads one run directory.
func (s *scanner) run(ri storage.RunInfo) *Run {
	r := &Run{Test: ri.Test, ID: ri.ID, Start: ri.Start, dir: ri.Dir,
		URL: "/runs/" + ri.Test + "/" + ri.ID + "/", Faults: []string{}, ActiveFaults: []string{}}
	if r.Start.IsZero() {
		if st, err := os.Stat(ri.Dir); err == nil {
			r.Start = st.ModTime().UTC()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	h := s.history(ri.Dir)
	r.Ops = h.lines
	r.HasHistory = h.info != nil
	for f := range h.faults {
		r.Faults = append(r.Faults, f)
	}
	sort.Strings(r.Faults)
	r.results = s.results(ri.Dir)
	if st, err := os.Stat(filepath.Join(ri.Dir, "report.html")); err == nil && st.Mode().IsRegular() {
		r.HasReport = true
	}
	r.Seed = s.seed(ri.Dir)

	var st storage.Status
	haveStatus := false
	if b, err := os.ReadFile(filepath.Join(ri.Dir, storage.StatusFile)); err == nil && json.Unmarshal(b, &st) == nil {
		haveStatus = true
	}
	if haveStatus {
		r.State, r.Updated = st.State, st.Updated
		r.OK, r.Fail, r.Info, r.InFlight = st.OK, st.Fail, st.Info, st.InFlight
		r.DurationSeconds = st.ElapsedSeconds
		if st.ActiveFaults != nil {
			r.ActiveFaults = st.ActiveFaults
		}
	}
	if r.DurationSeconds == 0 && h.lastTime > 0 {
		r.DurationSeconds = float64(h.lastTime) / 1e9
	}
	switch {
	case haveStatus && st.State == "done":
		r.Verdict = verdictOf(st.Valid, r.results)
	case haveStatus && st.State == "failed":
		r.Verdict = VerdictFailed
	case haveStatus:
		// Also a run copied from another machine mid-run: its status
		// is not updated here, so it shows as killed, which is what it is.
		if s.now().Sub(st.Updated) > StaleAfter {
			r.Verdict = VerdictKilled
		} else {
			r.Verdict = VerdictRunning
		}
	case r.results != nil:
		// A run from jplan before status.json.
		r.Verdict = verdictOf("", r.results)
	case !h.modTime.IsZero() && s.now().Sub(h.modTime) <= StaleAfter:
		r.Verdict, r.State = VerdictRunning, "running"
	default:
		r.Verdict = VerdictKilled
	}
	if r.Verdict == VerdictRunning && r.State == "running" {
		r.ActiveFaults = append([]string{}, r.ActiveFaults...)
	} else {
		r.ActiveFaults = []string{}
	}
	if r.results != nil {
		r.Summary = r.results.Summary
	}
	r.DurationText, r.ProgressText = r.Duration(), r.Progress()
	return r
}

// verdictOf is the label of a finished run: results.json's verdict, or
// status.json's when results.json is missing or unreadable.
func verdictOf(statusValid string, res *results) string {
	v := statusValid
	if res != nil {
		v = res.Valid.String()
	}
	switch v {
	case "true":
		return VerdictValid
	case "false":
		return VerdictInvalid
	}
	return VerdictUnknown
}

// histScan is what the UI knows of a history.jsonl: its entries and the
// faults the nemesis injected. The file only grows while a run records,
// so a scan resumes where the last one stopped.
type histScan struct {
	info     os.FileInfo
	modTime  time.Time
	offset   int64
	lines    int64
	faults   map[string]bool
	lastTime int64
}

var nemesisMark = []byte(`"process":"nemesis"`)

// history returns the scan of dir's history.jsonl, brought up to date.
// Callers hold s.mu.
func (s *scanner) history(dir string) *histScan {
	path := filepath.Join(dir, storage.HistoryFile)
	h := s.hist[dir]
	fi, err := os.Stat(path)
	if err != nil {
		delete(s.hist, dir)
		return &histScan{faults: map[string]bool{}}
	}
	if h == nil || !os.SameFile(h.info, fi) || fi.Size() < h.offset {
		h = &histScan{faults: map[string]bool{}}
		s.hist[dir] = h
	}
	h.info, h.modTime = fi, fi.ModTime()
	if fi.Size() == h.offset {
		return h
	}
	f, err := os.Open(path)
	if err != nil {
		return h
	}
	defer f.Close()
	if _, err := f.Seek(h.offset, io.SeekStart); err != nil {
		return h
	}
	br := bufio.NewReaderSize(f, 1<<16)
	var last []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			// An unterminated last line is still being written: it is
			// read whole by the next scan.
			break
		}
		h.offset += int64(len(line))
		h.lines++
		if bytes.Contains(line, nemesisMark) {
			var op struct {
				F string `json:"f"`
			}
			if json.Unmarshal(line, &op) == nil && op.F != "" {
				h.faults[faultName(op.F)] = true
			}
		}
		last = append(last[:0], line...)
	}
	if len(last) > 0 {
		var op struct {
			Time int64 `json:"time"`
		}
		if json.Unmarshal(last, &op) == nil {
			h.lastTime = op.Time
		}
	}
	return h
}

// faultName is the fault a nemesis f is about: start-partition and
// stop-partition are both "partition".
func faultName(f string) string {
	for _, p := range []string{"start-", "stop-"} {
		if rest, ok := strings.CutPrefix(f, p); ok && rest != "" {
			return rest
		}
	}
	return f
}

type resCache struct {
	size    int64
	modTime time.Time
	res     *results
}

// results returns dir's results.json, nil when there is none or it cannot
// be read. Callers hold s.mu.
func (s *scanner) results(dir string) *results {
	path := filepath.Join(dir, storage.ResultsFile)
	fi, err := os.Stat(path)
	if err != nil {
		delete(s.res, dir)
		return nil
	}
	if c := s.res[dir]; c != nil && c.size == fi.Size() && c.modTime.Equal(fi.ModTime()) {
		return c.res
	}
	c := &resCache{size: fi.Size(), modTime: fi.ModTime()}
	if b, err := os.ReadFile(path); err == nil {
		var r results
		if json.Unmarshal(b, &r) == nil {
			c.res = &r
		}
	}
	s.res[dir] = c
	return c.res
}

// seedRE finds the seed in jplan.log's first line, which run writes as
// "test NAME, run DIR, seed N, ...". The log is the one place every run
// (valid, invalid, failed or killed) records its seed early.
var seedRE = regexp.MustCompile(`, seed (-?[0-9]+)[,\s]`)

// seed returns the run's seed, "" if its log does not say yet. Callers hold
// s.mu.
func (s *scanner) seed(dir string) string {
	if v, ok := s.seeds[dir]; ok {
		return v
	}
	f, err := os.Open(filepath.Join(dir, storage.LogFile))
	if err != nil {
		return ""
	}
	defer f.Close()
	if s.scanBuf == nil {
		s.scanBuf = make([]byte, 8192)
	}
	n, _ := io.ReadFull(f, s.scanBuf)
	m := seedRE.FindSubmatch(s.scanBuf[:n])
	if m == nil {
		return ""
	}
	s.seeds[dir] = string(m[1])
	return s.seeds[dir]
}

// Package verdict turns a history into results: it reads histories in any
// of the formats jplan knows, builds the checkers a plan (or the command
// line) asks for, runs them, and writes results and the report. It is the
// last step of the data flow, shared by `jplan run` and `jplan check`.
package verdict

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/bank"
	"github.com/jplan/jplan/checker/elle"
	"github.com/jplan/jplan/checker/elle/listappend"
	"github.com/jplan/jplan/checker/elle/rwregister"
	"github.com/jplan/jplan/checker/longfork"
	"github.com/jplan/jplan/checker/queue"
	"github.com/jplan/jplan/checker/report"
	"github.com/jplan/jplan/checker/uniqueids"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
)

// History file names inside a run directory.
const (
	HistoryJSONL = "history.jsonl"
	HistoryEDN   = "history.edn"
)

// ReadHistory reads a history from a run directory (its history.jsonl, or
// history.edn when that is all there is), a .jsonl file, or an .edn file.
// dir is the run directory when path was one.
func ReadHistory(path string) (h []history.Op, dir string, err error) {
	return ReadHistoryWatched(path, nil)
}

// ReadHistoryWatched is ReadHistory with watch (when not nil) wrapping the
// file as it is read, with its name and size: for a progress display.
func ReadHistoryWatched(path string, watch func(r io.Reader, name string, size int64) io.Reader) (h []history.Op, dir string, err error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading history: %w", err)
	}
	if info.IsDir() {
		dir = path
		path = filepath.Join(dir, HistoryJSONL)
		if _, err := os.Stat(path); err != nil {
			path = filepath.Join(dir, HistoryEDN)
			if _, err2 := os.Stat(path); err2 != nil {
				return nil, "", fmt.Errorf("%s holds neither %s nor %s: is it a run directory?", dir, HistoryJSONL, HistoryEDN)
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading history: %w", err)
	}
	defer f.Close()
	var rd io.Reader = f
	if watch != nil {
		size := int64(0)
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		rd = watch(f, filepath.Base(path), size)
	}
	if strings.HasSuffix(path, ".edn") {
		h, err = history.ReadEDN(rd)
	} else {
		h, err = history.ReadJSONL(rd)
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading history %s: %w", path, err)
	}
	return h, dir, nil
}

// Models are what `jplan check --model` accepts: the linearizable
// checker's register models, the transactional checkers (Elle's
// list-append and rw-register) and Jepsen's workload checkers, each
// judging a history of that workload; "none" runs only perf and timeline.
var Models = []string{"register", "cas-register", "multi-register", "list-append", "rw-register", "bank", "long-fork", "unique-ids", "queue", "total-queue", "none"}

// CheckOptions are `jplan check`'s choices of checkers.
type CheckOptions struct {
	// Model is one of Models.
	Model string
	// Initial is the register's value before the history (linearizable).
	Initial any
	// Stats adds the stats checker.
	Stats bool
	// StrictNilReads: an ok read of nil means empty (linearizable).
	StrictNilReads bool
	// ConsistencyModels and Anomalies go to the transactional checkers.
	ConsistencyModels []string
	Anomalies         []string
	// Algorithm and MaxMemory go to the linearizable checker.
	Algorithm string
	MaxMemory int64
}

// DefaultCheckers are what `jplan check` runs: the model's checker
// (linearizability for a register model, with the given initial value;
// the transactional or workload checker of that name otherwise; nothing
// for "none"), perf and timeline — the composition Jepsen's tests use —
// and stats when asked: stats calls a history invalid when some f never
// succeeded, which a history Knossos judges linearizable may well be.
func DefaultCheckers(o CheckOptions) []eval.CheckerConfig {
	var out []eval.CheckerConfig
	switch o.Model {
	case "none":
	case "register", "cas-register", "multi-register":
		out = append(out, eval.CheckerConfig{Kind: "linearizable", Model: o.Model, Initial: o.Initial, StrictNilReads: o.StrictNilReads,
			Algorithm: o.Algorithm, MaxMemory: o.MaxMemory})
	default:
		c := eval.CheckerConfig{Kind: o.Model, ConsistencyModels: o.ConsistencyModels, Anomalies: o.Anomalies,
			ReadF: "read", TransferF: "transfer", GenerateF: "generate", EnqueueF: "enqueue", DequeueF: "dequeue", DrainF: "drain"}
		out = append(out, c)
	}
	if o.Stats {
		out = append(out, eval.CheckerConfig{Kind: "stats"})
	}
	return append(out, eval.CheckerConfig{Kind: "perf"}, eval.CheckerConfig{Kind: "timeline"})
}

// The plan side validates consistency model names against the
// transactional checkers' list; it cannot import them (they import it).
func init() { eval.ConsistencyModels = elle.Models() }

// Checkers builds the checkers of a plan. Kinds the checker package does
// not provide yet are reported as errors rather than silently skipped.
func Checkers(cfgs []eval.CheckerConfig) (map[string]checker.Checker, error) {
	out := map[string]checker.Checker{}
	for _, c := range cfgs {
		switch c.Kind {
		case "linearizable":
			out[c.Kind] = checker.Linearizable(checker.LinearizableOptions{Model: checker.Model(c.Model), TimeLimit: c.TimeLimit, Initial: c.Initial, StrictNilReads: c.StrictNilReads,
				Algorithm: c.Algorithm, MaxMemory: c.MaxMemory})
		case "stats":
			out[c.Kind] = checker.Stats()
		case "perf":
			out[c.Kind] = checker.Perf(checker.PerfOptions{})
		case "timeline":
			out[c.Kind] = checker.Timeline(checker.TimelineOptions{})
		case "set":
			out[c.Kind] = checker.Set(checker.SetOptions{AddF: c.AddF, ReadF: c.ReadF})
		case "counter":
			out[c.Kind] = checker.Counter(checker.CounterOptions{AddF: c.AddF, ReadF: c.ReadF})
		case "clock":
			out[c.Kind] = checker.ClockPlot()
		case "list-append", "rw-register":
			eo := elle.Options{ConsistencyModels: c.ConsistencyModels, Anomalies: c.Anomalies, CycleSearchTimeout: c.TimeLimit}
			if err := eo.Validate(); err != nil {
				return nil, fmt.Errorf("checker %q: %w", c.Kind, err)
			}
			if c.Kind == "list-append" {
				out[c.Kind] = listappend.Checker(eo)
			} else {
				out[c.Kind] = rwregister.Checker(eo)
			}
		case "bank":
			out[c.Kind] = bank.Checker(bank.Options{Total: c.Total, Accounts: c.Accounts, NegativeBalances: c.NegativeBalances, ReadF: c.ReadF, TransferF: c.TransferF})
		case "long-fork":
			out[c.Kind] = longfork.Checker(longfork.Options{})
		case "unique-ids":
			out[c.Kind] = uniqueids.Checker(uniqueids.Options{GenerateF: c.GenerateF})
		case "queue":
			out[c.Kind] = queue.Checker(queue.Options{EnqueueF: c.EnqueueF, DequeueF: c.DequeueF, DrainF: c.DrainF})
		case "total-queue":
			out[c.Kind] = queue.Total(queue.Options{EnqueueF: c.EnqueueF, DequeueF: c.DequeueF, DrainF: c.DrainF})
		default:
			return nil, fmt.Errorf("checker %q is not implemented yet", c.Kind)
		}
	}
	return out, nil
}

// Check runs the checkers on h and merges their verdicts (false beats
// unknown beats true). A checker that cannot be built makes the result
// unknown with the reason. When h has clock-fault completions, the clock
// plot (checker.ClockPlot) is added to the checkers asked for.
func Check(ctx context.Context, h []history.Op, cfgs []eval.CheckerConfig, opts checker.Options) checker.Result {
	return CheckTracked(ctx, h, cfgs, opts, nil)
}

// Tracker says which checkers are still running, for a progress display.
type Tracker struct {
	mu      sync.Mutex
	running map[string]bool
	total   int
}

// Running lists the checkers not finished yet, sorted, and how many there
// are in all.
func (t *Tracker) Running() (names []string, total int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for n := range t.running {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, t.total
}

type tracked struct {
	checker.Checker
	t    *Tracker
	name string
}

func (c tracked) Check(ctx context.Context, h []history.Op, opts checker.Options) checker.Result {
	defer func() {
		c.t.mu.Lock()
		delete(c.t.running, c.name)
		c.t.mu.Unlock()
	}()
	return c.Checker.Check(ctx, h, opts)
}

// CheckTracked is Check, recording in t (when not nil) which checkers are
// still running.
func CheckTracked(ctx context.Context, h []history.Op, cfgs []eval.CheckerConfig, opts checker.Options, t *Tracker) checker.Result {
	cs, err := Checkers(cfgs)
	if err != nil {
		return checker.Result{Valid: checker.Unknown, Error: err.Error()}
	}
	if len(cs) == 0 {
		return checker.Result{Valid: checker.Unknown, Summary: "no checkers: add a checker block to the plan"}
	}
	// Clock faults' offsets are plotted whether or not the plan asked.
	if _, ok := cs["clock"]; !ok && checker.HasClockOps(h) {
		cs["clock"] = checker.ClockPlot()
	}
	if t != nil {
		t.mu.Lock()
		t.running, t.total = map[string]bool{}, len(cs)
		for n, c := range cs {
			t.running[n] = true
			cs[n] = tracked{Checker: c, t: t, name: n}
		}
		t.mu.Unlock()
	}
	return checker.Run(ctx, checker.Compose(cs), h, opts)
}

// WriteReport writes report.html into dir, linking the run's own files
// (history, log, plan, node logs) that exist there.
func WriteReport(dir, title string, meta map[string]string, res checker.Result) (string, error) {
	var files []string
	for _, f := range []string{HistoryJSONL, HistoryEDN, "jplan.log", "results.json", "plan/"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			files = append(files, f)
		}
	}
	// Node logs: every file under nodes/, as nodes/<node>/<remote path>.
	filepath.WalkDir(filepath.Join(dir, "nodes"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if rel, err := filepath.Rel(dir, p); err == nil {
				files = append(files, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	return report.Write(dir, report.Input{Title: title, Meta: meta, Files: files, Result: res})
}

// SortedNames lists a composed result's checkers in a stable order.
func SortedNames(m map[string]checker.Result) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

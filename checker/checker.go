// Package checker analyses histories: linearizability (via porcupine),
// statistics, performance plots and timelines. Checkers never talk to
// nodes; they see only the history.
//
// Validity follows Jepsen: a history is valid (true), invalid (false), or
// the checker could not tell (unknown: it timed out, or it failed to run).
// When checkers are composed, false dominates unknown, which dominates true.
package checker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/jplan/jplan/history"
)

// Validity is a checker's verdict.
type Validity int8

const (
	// Unknown: the checker could not decide (time limit, error). It is
	// the zero value so that a Result nobody filled in is never "valid".
	Unknown Validity = iota
	// True: the history satisfies the property.
	True
	// False: the history violates the property.
	False
)

// priority orders verdicts for Merge.
func (v Validity) priority() int {
	switch v {
	case True:
		return 0
	case False:
		return 2
	}
	return 1
}

func (v Validity) String() string {
	switch v {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "unknown"
}

// MarshalJSON writes true, false or "unknown", as Jepsen writes :valid?
// true, false or :unknown.
func (v Validity) MarshalJSON() ([]byte, error) {
	switch v {
	case True:
		return []byte("true"), nil
	case False:
		return []byte("false"), nil
	}
	return []byte(`"unknown"`), nil
}

// UnmarshalJSON accepts what MarshalJSON writes.
func (v *Validity) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*v = True
	case "false":
		*v = False
	case `"unknown"`:
		*v = Unknown
	default:
		return fmt.Errorf("checker: invalid validity %s", b)
	}
	return nil
}

// Merge combines verdicts: false > unknown > true (Jepsen's merge-valid).
// The merge of nothing is true.
func Merge(vs ...Validity) Validity {
	out := True
	for _, v := range vs {
		if v.priority() > out.priority() {
			out = v
		}
	}
	return out
}

// Result is what a checker found.
type Result struct {
	Valid Validity `json:"valid"`
	// Summary is a one-line human description of the verdict.
	Summary string `json:"summary,omitempty"`
	// Error is set when the checker could not run to completion; Valid is
	// then Unknown.
	Error string `json:"error,omitempty"`
	// Details is checker-specific and JSON-encodable.
	Details any `json:"details,omitempty"`
	// Files lists what the checker wrote, relative to Options.Dir.
	Files []string `json:"files,omitempty"`
	// Results holds the sub-results of a composed checker, by name.
	Results map[string]Result `json:"results,omitempty"`
	// Findings explain what an invalid (or unknown) verdict rests on, for
	// a person: the report opens on them. A checker reports a few, the
	// clearest first.
	Findings []Finding `json:"findings,omitempty"`
}

// Finding is one anomaly explained: what happened in plain words, the
// operations that show it, and the faults active while they ran.
type Finding struct {
	// Title names the anomaly: "not linearizable", "G2-item"...
	Title string `json:"title"`
	// Text says what happened in plain words.
	Text string `json:"text"`
	// Ops are the operations involved, each with its role in the anomaly
	// ("could not have happened", "concurrent write", ...).
	Ops []FindingOp `json:"ops,omitempty"`
	// Faults are the fault intervals overlapping the ops.
	Faults []FaultInterval `json:"faults,omitempty"`
}

// FindingOp is one operation of a Finding.
type FindingOp struct {
	Role string `json:"role"`
	OpDesc
}

// FaultsDuring returns the intervals of fs that overlap [from, to].
func FaultsDuring(fs []FaultInterval, from, to int64) []FaultInterval {
	var out []FaultInterval
	for _, f := range fs {
		if f.Start <= to && f.End >= from {
			out = append(out, f)
		}
	}
	return out
}

// Options are given to every Check call.
type Options struct {
	// Dir is where checkers write files (plots, visualizations). Empty
	// means write nothing.
	Dir string
	// TimeLimit bounds the whole check; zero means none. A checker that
	// runs out of time reports Unknown. Individual checkers may have
	// their own, tighter limits.
	TimeLimit time.Duration
}

// Checker analyses a history. Check must not modify h, and must be safe to
// call concurrently with other checkers on the same history.
type Checker interface {
	Name() string
	Check(ctx context.Context, h []history.Op, opts Options) Result
}

// Run calls c.Check, applying opts.TimeLimit and turning a panic into an
// Unknown result, as Jepsen's check-safe turns exceptions into :unknown.
func Run(ctx context.Context, c Checker, h []history.Op, opts Options) (res Result) {
	if opts.TimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.TimeLimit)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			res = Result{Valid: Unknown, Error: fmt.Sprintf("checker %s panicked: %v\n%s", c.Name(), r, debug.Stack())}
		}
	}()
	return c.Check(ctx, h, opts)
}

// Compose returns a checker that runs each checker concurrently on the same
// history and merges their verdicts. Each sub-checker writes its files to
// Dir/<name>/ and its Files are reported relative to Dir.
func Compose(checkers map[string]Checker) Checker {
	return composed(checkers)
}

type composed map[string]Checker

func (composed) Name() string { return "compose" }

func (c composed) Check(ctx context.Context, h []history.Op, opts Options) Result {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	results := make([]Result, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := opts
			sub.TimeLimit = 0 // the parent's deadline is already in ctx
			if opts.Dir != "" {
				sub.Dir = filepath.Join(opts.Dir, name)
			}
			results[i] = prefixFiles(Run(ctx, c[name], h, sub), name)
		}()
	}
	wg.Wait()
	out := Result{Valid: True, Results: make(map[string]Result, len(names))}
	var bad []string
	for i, name := range names {
		out.Results[name] = results[i]
		out.Valid = Merge(out.Valid, results[i].Valid)
		if results[i].Valid != True {
			bad = append(bad, fmt.Sprintf("%s: %s", name, results[i].Valid))
		}
	}
	switch {
	case len(bad) == 0:
		out.Summary = fmt.Sprintf("all %d checkers valid", len(names))
	default:
		out.Summary = fmt.Sprintf("%d of %d checkers not valid (%v)", len(bad), len(names), bad)
	}
	return out
}

// prefixFiles makes r's files, and those of its sub-results, relative to
// the parent directory of dir.
func prefixFiles(r Result, dir string) Result {
	files := make([]string, len(r.Files))
	for j, f := range r.Files {
		files[j] = filepath.ToSlash(filepath.Join(dir, f))
	}
	r.Files = files
	if len(r.Results) > 0 {
		subs := make(map[string]Result, len(r.Results))
		for n, sr := range r.Results {
			subs[n] = prefixFiles(sr, dir)
		}
		r.Results = subs
	}
	return r
}

// AllFiles returns every file of r and its sub-results, relative to the
// top-level Dir.
func (r Result) AllFiles() []string {
	files := append([]string(nil), r.Files...)
	names := make([]string, 0, len(r.Results))
	for n := range r.Results {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		files = append(files, r.Results[n].AllFiles()...)
	}
	return files
}

// writeFile writes data to dir/name, creating dir. It returns name so that
// callers can append it to Result.Files.
func writeFile(dir, name string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("checker: creating %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		return "", fmt.Errorf("checker: writing %s: %w", name, err)
	}
	return name, nil
}

// WriteResults writes r as indented JSON to path.
func WriteResults(path string, r Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("checker: encoding results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("checker: writing results: %w", err)
	}
	return nil
}

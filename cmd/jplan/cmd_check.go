package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fatih/color"
	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/elle"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/progress"
	"github.com/jplan/jplan/verdict"
	"github.com/spf13/pflag"
)

func init() {
	register("check", "judge a recorded history (a run directory, history.jsonl or Jepsen's history.edn)", "check [flags] PATH\n\nChecks a history: PATH is a run directory (its history.jsonl), a\nhistory.jsonl file, or a Jepsen history.edn. Exit status: 0 valid, 1 invalid,\n2 unknown, 3 usage, 4 the history could not be read.", cmdCheck)
}

// Exit codes of commands that judge histories (check, run).
const (
	exitValid   = 0
	exitFalse   = 1
	exitUnknown = 2
	exitBadArgs = exitUsage
	exitFailed  = 4 // the command could not finish: unreadable history, failed setup...
)

func cmdCheck(env *cliEnv, fs *pflag.FlagSet) func([]string) int {
	model := fs.String("model", "cas-register", "what the history is of: register, cas-register, multi-register (linearizability); list-append, rw-register (transactional isolation, Elle); bank, long-fork, unique-ids, queue, total-queue; or none")
	var consistency, anomalies multiFlag
	fs.Var(&consistency, "consistency-model", "list-append/rw-register: an isolation level to check, by Elle's name (repeatable, or comma-separated; default strict-serializable)")
	fs.Var(&anomalies, "anomalies", "list-append/rw-register: further anomaly types to look for (repeatable, or comma-separated)")
	out := fs.String("out", "", "directory for plots, timeline and report (default: PATH/check for a run directory; none for a file)")
	timeLimit := fs.Duration("time-limit", 0, "give up after this long (result: unknown); 0 for no limit")
	initial := fs.String("initial", "", "the register's value before the history, as JSON (default null); for a txn multi-register a map, e.g. '{\"x\":0,\"y\":0}'")
	withStats := fs.Bool("stats", false, "also run the stats checker (invalid when some f never succeeds), as a plan's checker \"stats\" does")
	nilReads := fs.String("nil-reads", "unknown", "what an ok read of nil means: unknown (Knossos: consistent with any state) or empty (the register held nothing)")
	algorithm := fs.String("algorithm", "linsearch", "register models: the linearizability search, linsearch (porcupine's search with a compact memo) or porcupine")
	maxMemory := fs.Int64("max-memory", 0, "register models: linsearch's memory bound in MiB (default 1024); past it the verdict is unknown, never an out-of-memory kill")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	noColor := fs.Bool("no-color", false, "never color the output")
	return func(args []string) int {
		return check(env, args, checkFlags{model: *model, consistency: consistency, anomalies: anomalies, out: *out, timeLimit: *timeLimit,
			initial: *initial, withStats: *withStats, nilReads: *nilReads, asJSON: *asJSON, noColor: *noColor,
			algorithm: *algorithm, maxMemory: *maxMemory})
	}
}

type checkFlags struct {
	model                  string
	consistency, anomalies multiFlag
	out                    string
	timeLimit              time.Duration
	initial                string
	withStats              bool
	nilReads               string
	asJSON, noColor        bool
	algorithm              string
	maxMemory              int64 // MiB
}

func check(env *cliEnv, args []string, f checkFlags) int {
	if len(args) != 1 {
		fmt.Fprintln(env.stderr, "jplan check: want exactly one PATH")
		usageHint(env, "check")
		return exitBadArgs
	}
	path := args[0]
	if !slices.Contains(verdict.Models, f.model) {
		fmt.Fprintf(env.stderr, "jplan check: unknown model %q (want one of %s)\n", f.model, strings.Join(verdict.Models, ", "))
		return exitBadArgs
	}
	if (len(f.consistency) > 0 || len(f.anomalies) > 0) && f.model != "list-append" && f.model != "rw-register" {
		fmt.Fprintf(env.stderr, "jplan check: --consistency-model and --anomalies apply to --model list-append or rw-register, not %s\n", f.model)
		return exitBadArgs
	}
	if err := (elle.Options{ConsistencyModels: splitList(f.consistency), Anomalies: splitList(f.anomalies)}).Validate(); err != nil {
		fmt.Fprintf(env.stderr, "jplan check: %v\n", err)
		return exitBadArgs
	}
	if f.nilReads != "unknown" && f.nilReads != "empty" {
		fmt.Fprintf(env.stderr, "jplan check: --nil-reads %q: want unknown or empty\n", f.nilReads)
		return exitBadArgs
	}
	if f.algorithm != "linsearch" && f.algorithm != "porcupine" {
		fmt.Fprintf(env.stderr, "jplan check: --algorithm %q: want linsearch or porcupine\n", f.algorithm)
		return exitBadArgs
	}
	if f.maxMemory < 0 || f.maxMemory > 1<<30 {
		fmt.Fprintf(env.stderr, "jplan check: --max-memory %d: want a number of MiB\n", f.maxMemory)
		return exitBadArgs
	}
	var init any
	if f.initial != "" {
		v, err := history.ParseJSONValue(f.initial)
		if err != nil {
			fmt.Fprintf(env.stderr, "jplan check: --initial: %v\n", err)
			return exitBadArgs
		}
		init = v
	}
	// Big histories take a while: progress on stderr (a live line on a
	// terminal; elsewhere a line every 10 s, none for quick checks).
	pr := progress.New(env.stderr, isTerminal(env.stderr) && env.getenv("TERM") != "dumb")
	h, dir, err := verdict.ReadHistoryWatched(path, func(r io.Reader, name string, size int64) io.Reader {
		return pr.Reader(r, size, "reading "+name)
	})
	pr.Done()
	if err != nil {
		fmt.Fprintf(env.stderr, "jplan check: %v\n", err)
		return exitFailed
	}
	if f.out == "" && dir != "" {
		f.out = filepath.Join(dir, "check")
	}
	if f.out != "" {
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			fmt.Fprintf(env.stderr, "jplan check: %v\n", err)
			return exitFailed
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfgs := verdict.DefaultCheckers(verdict.CheckOptions{Model: f.model, Initial: init, Stats: f.withStats, StrictNilReads: f.nilReads == "empty",
		ConsistencyModels: splitList(f.consistency), Anomalies: splitList(f.anomalies), Algorithm: f.algorithm, MaxMemory: f.maxMemory << 20})
	var tr verdict.Tracker
	stopProgress := pr.Every(time.Second, func() string {
		running, total := tr.Running()
		return fmt.Sprintf("checking %d ops: %d of %d checkers done; running %s", len(h), total-len(running), total, strings.Join(running, ", "))
	})
	res := verdict.CheckTracked(ctx, h, cfgs, checker.Options{Dir: f.out, TimeLimit: f.timeLimit}, &tr)
	stopProgress()
	if f.out != "" {
		if err := checker.WriteResults(filepath.Join(f.out, "results.json"), res); err != nil {
			fmt.Fprintf(env.stderr, "jplan check: %v\n", err)
		}
		if _, err := verdict.WriteReport(f.out, "jplan check "+path, map[string]string{"history": path, "ops": fmt.Sprint(len(h)), "checked": time.Now().Format(time.RFC3339)}, res); err != nil {
			fmt.Fprintf(env.stderr, "jplan check: report: %v\n", err)
		}
	}
	if f.asJSON {
		writeJSON(env.stdout, withIsolation(res, f.model))
	} else {
		printVerdict(env, res, f.out, useColor(env, env.stdout, f.noColor))
	}
	return exitForValidity(res.Valid)
}

func exitForValidity(v checker.Validity) int {
	switch v {
	case checker.True:
		return exitValid
	case checker.False:
		return exitFalse
	}
	return exitUnknown
}

// printVerdict writes the per-checker verdicts and the overall one.
func printVerdict(env *cliEnv, res checker.Result, out string, colored bool) {
	printVerdictTo(env.stdout, res, out, colored)
}

// printVerdictTo is printVerdict to w.
func printVerdictTo(w io.Writer, res checker.Result, out string, colored bool) {
	green := colorer(colored, color.FgGreen, color.Bold)
	red := colorer(colored, color.FgRed, color.Bold)
	yellow := colorer(colored, color.FgYellow, color.Bold)
	mark := func(v checker.Validity) string {
		switch v {
		case checker.True:
			return green("valid")
		case checker.False:
			return red("INVALID")
		}
		return yellow("unknown")
	}
	for _, name := range verdict.SortedNames(res.Results) {
		r := res.Results[name]
		line := fmt.Sprintf("  %-14s %s", name, mark(r.Valid))
		if r.Summary != "" {
			line += "  " + r.Summary
		}
		if r.Error != "" {
			line += "  (" + r.Error + ")"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "\nVerdict: %s\n", mark(res.Valid))
	if out != "" {
		fmt.Fprintf(w, "Report: %s\n", filepath.Join(out, "report.html"))
	}
}

// isolationJSON is `jplan check -json` for the transactional models: the
// anomaly types found and the consistency models they rule out, at the
// top, as Elle's result map has them, then the whole result.
type isolationJSON struct {
	Valid        checker.Validity `json:"valid"`
	AnomalyTypes []string         `json:"anomaly_types"`
	Not          []string         `json:"not"`
	AlsoNot      []string         `json:"also_not"`
	checker.Result
}

func withIsolation(res checker.Result, model string) any {
	if model != "list-append" && model != "rw-register" {
		return res
	}
	out := isolationJSON{Valid: res.Valid, AnomalyTypes: []string{}, Not: []string{}, AlsoNot: []string{}, Result: res}
	if d, ok := res.Results[model].Details.(elle.Result); ok {
		out.AnomalyTypes = append(out.AnomalyTypes, d.AnomalyTypes...)
		out.Not = append(out.Not, d.Not...)
		out.AlsoNot = append(out.AlsoNot, d.AlsoNot...)
	}
	return out
}

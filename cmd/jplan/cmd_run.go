package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jplan/jplan/batch"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lang"
	"github.com/jplan/jplan/progress"
	"github.com/jplan/jplan/run"
	"github.com/jplan/jplan/runner"
	"github.com/spf13/pflag"
)

func init() {
	register("run", "run a test plan and check its history", "run [flags] PLAN...\n\nRuns the test in each PLAN (a file, or a directory of plans) on its nodes,\nrecords the history in the store and checks it; with --test-count and\n-matrix, many times. Exit status (the worst run's): 0 valid, 1 invalid,\n2 unknown, 3 usage, 4 the test could not be run (bad plan, unreachable\nnode, failed setup), 130 interrupted."+varsHelp, cmdRun)
}

// exitInterrupted is the conventional status of a command stopped by
// SIGINT.
const exitInterrupted = 130

func cmdRun(env *cliEnv, fs *pflag.FlagSet) func([]string) int {
	var vars, varFiles, matrix multiFlag
	fs.Var(&vars, "var", "set a variable: -var `name=value` (repeatable)")
	fs.Var(&varFiles, "var-file", "read variables from an HCL or JSON `file` (repeatable)")
	fs.Var(&matrix, "matrix", "run once per value of a variable: -matrix `name=[v1,v2]` (repeatable: every combination)")
	nodes := fs.String("nodes", "", "the nodes, replacing the plan's: n1,n2,n3 or n1=10.0.0.1:22,...")
	nodesFile := fs.String("nodes-file", "", "a nodes `file` (as written by 'jplan cluster up') saying which nodes exist and how to reach them")
	store := fs.String("store", "store", "the store `directory`; each run gets store/<test>/<time>/")
	seed := fs.Int64("seed", 0, "random seed, replacing the plan's (same seed: same op values and fault schedule)")
	timeLimit := fs.Duration("time-limit", 0, "bound the non-final phases, on top of the plan's limits (final phases still run after it)")
	concurrency := fs.String("concurrency", "", `worker count, replacing the plan's: a number, or "Nn" for N per node`)
	testCount := fs.Int("test-count", 1, "run each plan (and matrix combination) this many times; stops at the first invalid run unless --keep-going")
	keepGoing := fs.Bool("keep-going", false, "with several runs, do them all even after an invalid one")
	junit := fs.String("junit", "", "write a JUnit XML report of the runs to `file` (one testcase per run)")
	jsonOut := fs.Bool("json", false, "print one JSON object per run, then a summary object, on stdout")
	leaveDB := fs.Bool("leave-db-running", false, "do not tear the database down at the end (faults are still healed), to inspect the nodes")
	noColor := fs.Bool("no-color", false, "never color the output")
	// Jepsen's SSH flags, over the plan's ssh block (a nodes file's nodes
	// keep the file's settings: the cluster wrote them for its own keys).
	var ssh eval.SSHOverride
	fs.StringVar(&ssh.User, "username", "", "SSH user on every node, replacing the ssh block's user")
	fs.StringVar(&ssh.Password, "password", "", "SSH password, replacing the ssh block's; never stored (redacted from the run's files and logs). JPLAN_SSH_PASSWORD keeps it out of the process list")
	fs.StringVar(&ssh.PrivateKeyFile, "ssh-private-key", "", "SSH private key `file`, replacing the ssh block's private_key_file")
	strict := fs.Bool("strict-host-key-checking", false, "check host keys (true) or ignore them (false), replacing the ssh block's setting")
	return func(pos []string) int {
		if fs.Changed("strict-host-key-checking") {
			ssh.StrictHostKeyChecking = strict
		}
		if ssh.Password == "" {
			ssh.Password = env.getenv("JPLAN_SSH_PASSWORD")
		}
		return runPlans(env, pos, runFlags{vars: vars, varFiles: varFiles, matrix: matrix, nodes: *nodes, nodesFile: *nodesFile, store: *store,
			seed: *seed, seedSet: fs.Changed("seed"), timeLimit: *timeLimit, concurrency: *concurrency, testCount: *testCount, keepGoing: *keepGoing,
			junit: *junit, jsonOut: *jsonOut, leaveDB: *leaveDB, noColor: *noColor, ssh: ssh})
	}
}

type runFlags struct {
	vars, varFiles, matrix multiFlag
	nodes, nodesFile       string
	store                  string
	seed                   int64
	seedSet                bool
	timeLimit              time.Duration
	concurrency            string
	testCount              int
	keepGoing              bool
	junit                  string
	jsonOut, leaveDB       bool
	noColor                bool
	ssh                    eval.SSHOverride
}

func runPlans(env *cliEnv, pos []string, f runFlags) int {
	if len(pos) == 0 {
		fmt.Fprintln(env.stderr, "jplan run: want a PLAN")
		usageHint(env, "run")
		return exitBadArgs
	}
	if f.testCount < 1 {
		fmt.Fprintf(env.stderr, "jplan run: --test-count %d: want at least 1\n", f.testCount)
		return exitBadArgs
	}
	var axes []batch.Axis
	for _, m := range f.matrix {
		ax, err := batch.ParseAxis(m)
		if err != nil {
			fmt.Fprintf(env.stderr, "jplan run: %v\n", err)
			return exitBadArgs
		}
		axes = append(axes, ax)
	}
	colored := useColor(env, env.stderr, f.noColor)
	parser := lang.NewParser()

	// A directory holding several plans (each file with its own test
	// block) is each of them in turn.
	var plans []string
	for _, p := range pos {
		sources, diags := lang.Find(parser, p)
		if diags.HasErrors() {
			writeDiags(env.stderr, parser.Files(), diags, colored)
			fmt.Fprintf(env.stderr, "jplan run: %s has %d error%s; nothing was run.\n", p, countErrors(diags), plural(countErrors(diags)))
			return exitFailed
		}
		if len(sources) == 1 {
			plans = append(plans, p)
			continue
		}
		for _, src := range sources {
			plans = append(plans, src.Name)
		}
	}
	specs := batch.Expand(plans, axes, f.testCount)
	single := len(specs) == 1

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for range sigs {
			n++
			switch n {
			case 1:
				fmt.Fprintln(env.stderr, "\njplan: interrupted: stopping the workers, healing faults and tearing down (Ctrl-C twice more to abandon the nodes as they are)")
				cancel()
			case 2:
				fmt.Fprintln(env.stderr, "\njplan: still healing and tearing down; Ctrl-C once more abandons the nodes unhealed")
			default:
				fmt.Fprintln(env.stderr, "\njplan: abandoned: nodes may be left partitioned, paused or killed")
				os.Exit(exitInterrupted)
			}
		}
	}()

	// Human output goes to stdout, unless stdout carries JSON lines.
	human := env.stdout
	if f.jsonOut {
		human = env.stderr
	}
	pl := progress.New(env.stderr, isTerminal(env.stderr) && env.getenv("TERM") != "dumb")
	started := time.Now()
	results := batch.Run(ctx, specs, batch.Options{
		Base: run.Options{
			Parser:         parser,
			Inputs:         eval.InputOptions{Vars: f.vars, VarFiles: f.varFiles, Environ: environ(env), SSH: f.ssh},
			Nodes:          f.nodes,
			NodesFile:      f.nodesFile,
			Store:          f.store,
			Seed:           f.seed,
			SeedSet:        f.seedSet,
			TimeLimit:      f.timeLimit,
			Concurrency:    f.concurrency,
			LeaveDBRunning: f.leaveDB,
			Log:            pl.Log(),
			Progress:       func(pr runner.Progress) { pl.Show(progressText(pr), pr.Final) },
		},
		KeepGoing: f.keepGoing,
		Before: func(i int, s batch.Spec) {
			if !single {
				label := s.Label()
				if label != "" {
					label = " [" + label + "]"
				}
				fmt.Fprintf(env.stderr, "\n=== run %d of %d: %s%s\n", i+1, len(specs), s.Plan, label)
			}
		},
		After: func(_ int, r batch.Result) {
			pl.Finish()
			reportRun(env, human, parser, r, colored, useColor(env, human, f.noColor))
			if f.jsonOut {
				json.NewEncoder(env.stdout).Encode(batch.JSONLine(r))
			}
		},
	})
	if !single {
		fmt.Fprintln(human)
		batch.WriteTable(human, results)
		if skipped := len(specs) - len(results); skipped > 0 && ctx.Err() == nil {
			fmt.Fprintf(human, "stopped after %d of %d runs (--keep-going runs them all)\n", len(results), len(specs))
		}
	}
	if f.jsonOut {
		batch.WriteSummaryJSON(env.stdout, results)
	}
	if f.junit != "" {
		if err := writeJUnitFile(f.junit, results, started); err != nil {
			fmt.Fprintf(env.stderr, "jplan run: %v\n", err)
			return exitFailed
		}
	}
	// The worst run's status (one run: its own). A run that failed
	// part-way after its history was checked is "failed" unless invalid:
	// an unknown verdict is the honest summary of an unfinished test.
	switch batch.Worst(results) {
	case "interrupted":
		return exitInterrupted
	case "invalid":
		return exitFalse
	case "failed":
		return exitFailed
	case "unknown":
		return exitUnknown
	}
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return exitValid
}

// reportRun prints one run's verdict, or why it could not run.
func reportRun(env *cliEnv, w io.Writer, parser *lang.Parser, r batch.Result, colored, outColored bool) {
	out, err := r.Outcome, r.Err
	var pe *run.PlanError
	if errors.As(err, &pe) {
		writeDiags(env.stderr, parser.Files(), pe.Diags, colored)
		fmt.Fprintf(env.stderr, "jplan run: the plan has %d error%s; nothing was run.\n", countErrors(pe.Diags), plural(countErrors(pe.Diags)))
		return
	}
	if out != nil && out.Checked {
		fmt.Fprintln(w)
		printVerdictTo(w, out.Result, "", outColored)
		fmt.Fprintf(w, "Run: %s (seed %d)\n", out.Dir, out.Seed)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "jplan run: %v\n", err)
		if out != nil && out.Dir != "" {
			fmt.Fprintf(env.stderr, "jplan run: the log and what was recorded are in %s\n", out.Dir)
		}
	}
}

func writeJUnitFile(path string, rs []batch.Result, started time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := batch.WriteJUnit(f, rs, started); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// progressText is the live line of a run: one on a terminal, rewritten in
// place; a line every ten seconds otherwise, and the last one always.
func progressText(pr runner.Progress) string {
	line := fmt.Sprintf("%8.3fs  %7.0f ops/s  ok %d  fail %d  info %d  in flight %d",
		pr.Elapsed.Seconds(), pr.OpsPerSec, pr.OK, pr.Fail, pr.Info, pr.InFlight)
	if len(pr.ActiveFaults) > 0 {
		line += "  faults: " + strings.Join(pr.ActiveFaults, ", ")
	}
	return line
}

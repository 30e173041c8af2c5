package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lang"
	"github.com/jplan/jplan/run"
	"github.com/jplan/jplan/runner"
)

func init() {
	register("run", "run a test plan and check its history", cmdRun)
}

// exitInterrupted is the conventional status of a command stopped by
// SIGINT.
const exitInterrupted = 130

func cmdRun(env *cliEnv, args []string) int {
	fs := newFlagSet("run", "run [flags] PLAN\n\nRuns the test in PLAN (a file or a directory) on its nodes, records the\nhistory in the store and checks it. Exit status: 0 valid, 1 invalid,\n2 unknown, 3 usage, 4 the test could not be run (bad plan, unreachable\nnode, failed setup), 130 interrupted.", env.stderr)
	var vars, varFiles multiFlag
	fs.Var(&vars, "var", "set a variable: -var name=value (repeatable)")
	fs.Var(&varFiles, "var-file", "read variables from an HCL or JSON file (repeatable)")
	nodes := fs.String("nodes", "", "the nodes, replacing the plan's: n1,n2,n3 or n1=10.0.0.1:22,...")
	nodesFile := fs.String("nodes-file", "", "a nodes file (as written by 'jplan cluster up') saying which nodes exist and how to reach them")
	store := fs.String("store", "store", "the store directory; each run gets store/<test>/<time>/")
	seed := fs.Int64("seed", 0, "random seed, replacing the plan's (same seed: same op values and fault schedule)")
	timeLimit := fs.Duration("time-limit", 0, "bound the non-final phases, on top of the plan's limits (final phases still run after it)")
	leaveDB := fs.Bool("leave-db-running", false, "do not tear the database down at the end (faults are still healed), to inspect the nodes")
	noColor := fs.Bool("no-color", false, "never color the output")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitBadArgs
	}
	if len(pos) != 1 {
		fmt.Fprintln(env.stderr, "jplan run: want exactly one PLAN")
		fs.Usage()
		return exitBadArgs
	}
	seedSet := false
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "seed" {
			seedSet = true
		}
	})
	colored := useColor(env, env.stderr, *noColor)

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

	parser := lang.NewParser()
	pl := newProgressLine(env)
	out, err := run.Run(ctx, run.Options{
		Path:           pos[0],
		Parser:         parser,
		Inputs:         eval.InputOptions{Vars: vars, VarFiles: varFiles, Environ: environ(env)},
		Nodes:          *nodes,
		NodesFile:      *nodesFile,
		Store:          *store,
		Seed:           *seed,
		SeedSet:        seedSet,
		TimeLimit:      *timeLimit,
		LeaveDBRunning: *leaveDB,
		Log:            pl.logWriter(),
		Progress:       pl.update,
	})
	pl.finish()
	var pe *run.PlanError
	if errors.As(err, &pe) {
		writeDiags(env.stderr, parser.Files(), pe.Diags, colored)
		fmt.Fprintf(env.stderr, "jplan run: the plan has %d error%s; nothing was run.\n", countErrors(pe.Diags), plural(countErrors(pe.Diags)))
		return exitFailed
	}
	if out.Checked {
		fmt.Fprintln(env.stdout)
		printVerdict(env, out.Result, "", useColor(env, env.stdout, *noColor))
		fmt.Fprintf(env.stdout, "Run: %s (seed %d)\n", out.Dir, out.Seed)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "jplan run: %v\n", err)
		if out.Dir != "" {
			fmt.Fprintf(env.stderr, "jplan run: the log and what was recorded are in %s\n", out.Dir)
		}
	}
	switch {
	case out.Interrupted:
		return exitInterrupted
	case err != nil && !out.Checked:
		return exitFailed
	case err != nil:
		// The test failed part-way (e.g. teardown) but a verdict exists:
		// an unknown verdict is the honest summary unless it is invalid.
		if code := exitForValidity(out.Result.Valid); code == exitFalse {
			return code
		}
		return exitFailed
	}
	return exitForValidity(out.Result.Valid)
}

// progressLine shows one live status line on a terminal, and a line every
// ten seconds otherwise; log lines are printed above it.
type progressLine struct {
	env      *cliEnv
	terminal bool
	last     time.Time
	shown    bool
}

func newProgressLine(env *cliEnv) *progressLine {
	return &progressLine{env: env, terminal: isTerminal(env.stderr) && env.getenv("TERM") != "dumb"}
}

func (p *progressLine) update(pr runner.Progress) {
	line := fmt.Sprintf("%8.3fs  %7.0f ops/s  ok %d  fail %d  info %d  in flight %d",
		pr.Elapsed.Seconds(), pr.OpsPerSec, pr.OK, pr.Fail, pr.Info, pr.InFlight)
	if len(pr.ActiveFaults) > 0 {
		line += "  faults: " + strings.Join(pr.ActiveFaults, ", ")
	}
	if p.terminal {
		fmt.Fprintf(p.env.stderr, "\r\033[K%s", line)
		p.shown = true
		return
	}
	if time.Since(p.last) >= 10*time.Second || pr.Final {
		p.last = time.Now()
		fmt.Fprintln(p.env.stderr, line)
	}
}

func (p *progressLine) logWriter() *lineWriter { return &lineWriter{p: p} }

func (p *progressLine) finish() {
	if p.terminal && p.shown {
		fmt.Fprintln(p.env.stderr)
		p.shown = false
	}
}

// lineWriter prints log lines, clearing the live line first.
type lineWriter struct{ p *progressLine }

func (w *lineWriter) Write(b []byte) (int, error) {
	if w.p.terminal && w.p.shown {
		fmt.Fprint(w.p.env.stderr, "\r\033[K")
	}
	return w.p.env.stderr.Write(b)
}

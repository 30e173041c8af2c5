package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lang"
	"github.com/spf13/pflag"
)

func init() {
	register("plan", "show what a run would do: nodes, concurrency, phases, the first ops and faults (touches no node)", "plan [flags] PLAN\n\nPrints what 'jplan run PLAN' would do, without touching a node: the\nresolved nodes, the concurrency, the phases, then the first scheduled ops\nand faults for the seed, from the schedule run on a simulated clock (each\nop taking --latency). Real runs interleave differently, since real ops\ntake their own time, but the same seed draws the same values and the same\nfault schedule. Exit status: 0, 1 when the plan is invalid, 3 usage."+varsHelp, cmdPlan)
}

func cmdPlan(env *cliEnv, fs *pflag.FlagSet) func([]string) int {
	var f planFlags
	fs.Var(&f.vars, "var", "set a variable: -var `name=value` (repeatable)")
	fs.Var(&f.varFiles, "var-file", "read variables from an HCL or JSON `file` (repeatable)")
	fs.StringVar(&f.nodes, "nodes", "", "the nodes, replacing the plan's: n1,n2,n3 or n1=10.0.0.1:22,...")
	fs.StringVar(&f.nodesFile, "nodes-file", "", "a nodes `file` (as written by 'jplan cluster up'), replacing the plan's nodes")
	fs.StringVar(&f.username, "username", "", "SSH user, replacing the ssh block's, as jplan run --username does")
	fs.Int64Var(&f.seed, "seed", 0, "random seed, replacing the plan's (default: the plan's, else 0)")
	fs.StringVar(&f.concurrency, "concurrency", "", `worker count, replacing the plan's: a number, or "Nn" for N per node`)
	fs.DurationVar(&f.timeLimit, "time-limit", 0, "bound the non-final phases, as jplan run --time-limit does")
	fs.IntVar(&f.ops, "ops", 20, "how many client ops to show")
	fs.IntVar(&f.faults, "faults", 20, "how many fault (nemesis) ops to show")
	fs.DurationVar(&f.latency, "latency", 10*time.Millisecond, "how long each simulated op takes")
	fs.BoolVar(&f.json, "json", false, "print the plan as JSON")
	noColor := fs.Bool("no-color", false, "never color the output")
	return func(args []string) int {
		if len(args) != 1 {
			fmt.Fprintln(env.stderr, "jplan plan: want exactly one PLAN")
			usageHint(env, "plan")
			return exitUsage
		}
		f.seedSet = fs.Changed("seed")
		if f.ops < 0 || f.faults < 0 || f.latency <= 0 {
			fmt.Fprintln(env.stderr, "jplan plan: --ops and --faults want 0 or more, --latency more than 0")
			return exitUsage
		}
		return showPlan(env, args[0], f, useColor(env, env.stderr, *noColor))
	}
}

type planFlags struct {
	vars, varFiles     multiFlag
	nodes, nodesFile   string
	seed               int64
	seedSet            bool
	concurrency        string
	timeLimit, latency time.Duration
	ops, faults        int
	json               bool
	username           string
}

// planView is what jplan plan shows (and prints with -json).
type planView struct {
	Path        string      `json:"path"`
	Test        string      `json:"test"`
	Nodes       []planNode  `json:"nodes"`
	Concurrency int         `json:"concurrency"`
	Seed        int64       `json:"seed"`
	TimeLimit   string      `json:"time_limit,omitempty"`
	Phases      []planPhase `json:"phases"`
	Ops         []planOp    `json:"ops"`
	Faults      []planOp    `json:"faults"`
	Latency     string      `json:"latency"`
	Remote      string      `json:"remote"`
	Checkers    []string    `json:"checkers"`
}

type planNode struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port,omitempty"`
	User string `json:"user,omitempty"`
}

type planPhase struct {
	Name      string   `json:"name"`
	TimeLimit string   `json:"time_limit,omitempty"`
	Final     bool     `json:"final"`
	Parts     []string `json:"parts"`
}

type planOp struct {
	Time    string `json:"time"`
	Process string `json:"process"`
	F       string `json:"f"`
	Value   any    `json:"value"`
}

func showPlan(env *cliEnv, path string, f planFlags, colored bool) int {
	parser := lang.NewParser()
	v, diags, err := resolvePlan(parser, path, f, environ(env))
	if diags.HasErrors() || err != nil {
		writeDiags(env.stderr, parser.Files(), diags, colored)
		if err != nil {
			fmt.Fprintf(env.stderr, "jplan plan: %v\n", err)
		} else {
			fmt.Fprintf(env.stderr, "jplan plan: %s has %d error%s.\n", path, countErrors(diags), plural(countErrors(diags)))
		}
		return exitInvalid
	}
	writeDiags(env.stderr, parser.Files(), diags, colored) // warnings
	if f.json {
		writeJSON(env.stdout, v)
		return exitOK
	}
	printPlan(env.stdout, v)
	return exitOK
}

// resolvePlan loads, validates and compiles the plan as jplan run does,
// then runs its schedule on the simulator.
func resolvePlan(parser *lang.Parser, path string, f planFlags, environ []string) (*planView, hcl.Diagnostics, error) {
	sources, diags := lang.Find(parser, path)
	if diags.HasErrors() {
		return nil, diags, nil
	}
	if len(sources) != 1 {
		return nil, nil, fmt.Errorf("%s holds %d plans; give one", path, len(sources))
	}
	src := sources[0]
	plan, diags := lang.Decode(src.Files)
	if diags.HasErrors() {
		return nil, diags, nil
	}
	inputs, ds := eval.ReadInputs(parser, eval.InputOptions{Vars: f.vars, VarFiles: f.varFiles, Environ: environ, SSH: eval.SSHOverride{User: f.username}})
	if ds.HasErrors() {
		return nil, ds, nil
	}
	nodes, err := planNodes(f)
	if err != nil {
		return nil, nil, err
	}
	e, ds := eval.New(plan, eval.Options{Dir: src.Dir, Inputs: inputs, Nodes: nodes})
	diags = append(diags, ds...)
	if !ds.HasErrors() {
		diags = append(diags, e.Validate()...)
	}
	if diags.HasErrors() {
		return nil, diags, nil
	}
	v := &planView{Path: path, Test: plan.Test.Name, Phases: []planPhase{}, Ops: []planOp{}, Faults: []planOp{}, Checkers: []string{}, Latency: f.latency.String()}
	for _, n := range e.Nodes() {
		sc, _ := e.SSH(&n)
		pn := planNode{Name: n.Name, Host: n.Host, Port: n.Port, User: n.User}
		if pn.Port == 0 {
			pn.Port = sc.Port
		}
		if pn.User == "" {
			pn.User = sc.User
		}
		v.Nodes = append(v.Nodes, pn)
	}
	if len(v.Nodes) == 0 {
		return nil, diags, errors.New("the test has no nodes: set them in the plan, or give --nodes or --nodes-file")
	}
	v.Remote, _ = e.Remote()
	if v.Remote != "ssh" {
		for i := range v.Nodes {
			v.Nodes[i].Port, v.Nodes[i].User = 0, ""
		}
	}
	v.Concurrency, _ = e.Concurrency()
	if f.concurrency != "" {
		n, err := eval.ParseConcurrency(f.concurrency, len(v.Nodes))
		if err != nil {
			return nil, diags, fmt.Errorf("--concurrency: %w", err)
		}
		v.Concurrency = n
	}
	seed, _, _ := e.Seed()
	if f.seedSet {
		seed = f.seed
	}
	v.Seed = seed
	if tl, _ := e.TimeLimit(); tl > 0 {
		v.TimeLimit = tl.String()
	}
	if f.timeLimit > 0 {
		v.TimeLimit = f.timeLimit.String()
	}
	phases, ds := e.Phases()
	diags = append(diags, ds...)
	for _, p := range phases {
		pp := planPhase{Name: p.Name, Final: p.Final, Parts: p.Parts}
		if p.TimeLimit > 0 {
			pp.TimeLimit = p.TimeLimit.String()
		}
		v.Phases = append(v.Phases, pp)
	}
	for _, c := range plan.Checkers {
		v.Checkers = append(v.Checkers, c.Kind)
	}
	schedule, ds := e.CompileSchedule()
	diags = append(diags, ds...)
	if ds.HasErrors() {
		return nil, diags, nil
	}
	schedule.LimitMain(f.timeLimit)
	// Simulate until enough of both are seen; faults are sparse, so the
	// bound is on history entries, generous enough for minutes of faults.
	h, err := generator.Simulate(schedule.Generator(), generator.SimConfig{
		Concurrency: v.Concurrency, Seed: uint64(seed), MaxOps: 200000,
		Latency: func(history.Op) time.Duration { return f.latency },
	})
	if err != nil {
		return nil, diags, fmt.Errorf("simulating the schedule: %w", err)
	}
	for _, op := range h {
		if op.Type != history.Invoke {
			continue
		}
		po := planOp{Time: fmt.Sprintf("%.3fs", time.Duration(op.Time).Seconds()), Process: fmt.Sprint(op.Process), F: op.F, Value: op.Value}
		switch {
		case op.IsNemesis() && len(v.Faults) < f.faults:
			po.Process = "nemesis"
			v.Faults = append(v.Faults, po)
		case !op.IsNemesis() && len(v.Ops) < f.ops:
			v.Ops = append(v.Ops, po)
		}
		if len(v.Ops) >= f.ops && len(v.Faults) >= f.faults {
			break
		}
	}
	return v, diags, nil
}

// planNodes is --nodes or --nodes-file, read as jplan run reads them.
func planNodes(f planFlags) ([]eval.Node, error) {
	switch {
	case f.nodes != "" && f.nodesFile != "":
		return nil, errors.New("give --nodes or --nodes-file, not both")
	case f.nodesFile != "":
		nf, err := control.ReadNodesFile(f.nodesFile)
		if err != nil {
			return nil, err
		}
		var nodes []eval.Node
		for i, n := range nf.Nodes {
			host := n.Host
			if host == "" {
				host = n.Name
			}
			nodes = append(nodes, eval.Node{Name: n.Name, Host: host, Port: n.Port, User: n.User, Index: i})
		}
		return nodes, nil
	case f.nodes != "":
		nodes, err := eval.ParseNodeList(f.nodes)
		if err != nil {
			return nil, fmt.Errorf("--nodes: %w", err)
		}
		return nodes, nil
	}
	return nil, nil
}

func printPlan(w io.Writer, v *planView) {
	fmt.Fprintf(w, "Test %q (%s); nothing was run and no node touched.\n\n", v.Test, v.Path)
	fmt.Fprintf(w, "Nodes (%d, remote %s):\n", len(v.Nodes), v.Remote)
	for _, n := range v.Nodes {
		where := n.Host
		if n.Port != 0 {
			where = fmt.Sprintf("%s:%d", where, n.Port)
		}
		if n.User != "" {
			where = n.User + "@" + where
		}
		fmt.Fprintf(w, "  %-8s %s\n", n.Name, where)
	}
	fmt.Fprintf(w, "Concurrency: %d workers\n", v.Concurrency)
	fmt.Fprintf(w, "Seed: %d\n", v.Seed)
	if v.TimeLimit != "" {
		fmt.Fprintf(w, "Time limit: %s (final phases run after it)\n", v.TimeLimit)
	}
	fmt.Fprintln(w, "Phases:")
	for i, p := range v.Phases {
		var notes []string
		notes = append(notes, strings.Join(p.Parts, " + "))
		if p.TimeLimit != "" {
			notes = append(notes, "time limit "+p.TimeLimit)
		}
		if p.Final {
			notes = append(notes, "final")
		}
		fmt.Fprintf(w, "  %d. %-12s %s\n", i+1, p.Name, strings.Join(notes, ", "))
	}
	if len(v.Checkers) > 0 {
		fmt.Fprintf(w, "Checkers: %s\n", strings.Join(v.Checkers, ", "))
	}
	fmt.Fprintf(w, "\nFirst %d client ops (simulated clock, %s per op):\n", len(v.Ops), v.Latency)
	writeOps(w, v.Ops)
	if len(v.Faults) == 0 {
		fmt.Fprintln(w, "\nFaults: none scheduled")
		return
	}
	fmt.Fprintf(w, "\nFirst %d faults:\n", len(v.Faults))
	writeOps(w, v.Faults)
}

func writeOps(w io.Writer, ops []planOp) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TIME\tPROCESS\tF\tVALUE")
	for _, op := range ops {
		val, err := json.Marshal(op.Value)
		if err != nil {
			val = []byte(fmt.Sprint(op.Value))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", op.Time, op.Process, op.F, val)
	}
	tw.Flush()
}

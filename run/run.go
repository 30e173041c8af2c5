// Package run performs a whole test from a plan, in the order Jepsen's run!
// uses: load and compile the plan; open the store; set up the OS and the
// database on the nodes; run clients and the nemesis under the generator,
// streaming the history to the store; heal every fault and tear down; fetch
// the nodes' logs; check the history and write the results and report.
// Faults are healed and nodes torn down on every exit path, Ctrl-C
// included, and the history recorded so far is never lost.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lang"
	"github.com/jplan/jplan/runner"
	"github.com/jplan/jplan/storage"
	"github.com/jplan/jplan/verdict"
)

// Options say what to run and how.
type Options struct {
	// Path is the plan: a file or a directory holding one plan.
	Path string
	// Parser reads the plan; its files are what diagnostics render from.
	Parser *lang.Parser
	Inputs eval.InputOptions
	// Nodes (--nodes) or NodesFile (--nodes-file) replace the plan's nodes.
	Nodes     string
	NodesFile string
	// Store is the store's root directory (default "store").
	Store string
	// Concurrency, when set, replaces the plan's worker count: a number,
	// or "Nn" for N per node (Jepsen's --concurrency).
	Concurrency string
	// Seed, when SeedSet, replaces the plan's seed.
	Seed    int64
	SeedSet bool
	// SeedOffset is added to the plan's or Seed's seed (not to a random
	// one): repeated runs of one plan (--test-count) each explore another
	// schedule, and each run's seed is still printed for replaying.
	SeedOffset int64
	// TimeLimit, when positive, bounds the non-final phases on top of the
	// plan's limits; the final phases still run after it.
	TimeLimit time.Duration
	// Log receives the run's log lines as they happen (they also go to
	// jplan.log in the run directory); nil discards them.
	Log io.Writer
	// LeaveDBRunning skips the database teardown at the end (faults are
	// still healed), so the cluster can be inspected after the run, like
	// Jepsen's --leave-db-running. The next run's setup tears it down.
	LeaveDBRunning bool
	// Progress is called about once a second while the test runs.
	Progress func(runner.Progress)
}

// Outcome is what a run produced.
type Outcome struct {
	// Dir is the run directory; empty when the run failed before the
	// store was opened.
	Dir     string
	Test    string
	Seed    int64
	Summary runner.Summary
	// Result is the checkers' verdict; Checked is false when the run
	// ended before checking.
	Result  checker.Result
	Checked bool
	// Interrupted says the run was canceled (Ctrl-C); what was recorded
	// was still checked.
	Interrupted bool
}

// PlanError is a plan that did not load, validate or compile.
type PlanError struct{ Diags hcl.Diagnostics }

func (e *PlanError) Error() string {
	var errs []string
	for _, d := range e.Diags {
		if d.Severity == hcl.DiagError {
			errs = append(errs, d.Error())
		}
	}
	return "plan is invalid: " + strings.Join(errs, "; ")
}

// Run performs the test. It returns an error when the test could not be
// carried out (a plan error, a node that cannot be reached, a failing
// setup); the outcome then still names the run directory if one was made,
// holding whatever was recorded and the log.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	if o.Parser == nil {
		o.Parser = lang.NewParser()
	}
	if o.Store == "" {
		o.Store = "store"
	}
	t, err := prepare(o)
	if err != nil {
		return &Outcome{}, err
	}
	out := &Outcome{Test: t.name, Seed: t.seed}

	store, err := storage.Open(o.Store)
	if err != nil {
		return out, err
	}
	st, err := store.Create(t.name, t.secrets)
	if err != nil {
		return out, err
	}
	out.Dir = st.Dir
	defer st.Close()
	rl := newRunLog(st.Log(), o.Log)
	logf := rl.logf
	// The run's error is returned to the caller, which shows it; the log
	// file gets it too, so the run directory tells the whole story.
	fileLog := newRunLog(st.Log())
	logFileOnly := fileLog.logf
	if err := st.SavePlan(t.sources); err != nil {
		logf("saving the plan: %v", err)
	}
	logf("test %s, run %s, seed %d, %d nodes, concurrency %d", t.name, st.Dir, t.seed, len(t.nodes), t.concurrency)
	// status.json tells a reader of the store (jplan serve) what the run
	// is doing; failing to write it never fails the run.
	var last storage.Status
	status := func(state string, pr *runner.Progress) {
		if pr != nil {
			last = storage.Status{ElapsedSeconds: pr.Elapsed.Seconds(), OK: pr.OK, Fail: pr.Fail, Info: pr.Info,
				InFlight: pr.InFlight, ActiveFaults: pr.ActiveFaults}
		}
		s := last
		s.State = state
		if err := st.WriteStatus(s); err != nil {
			logFileOnly("%v", err)
		}
	}
	status("setup", nil)

	// The history goes to disk as it is recorded (at most a second can be
	// lost if jplan itself is killed) and to memory for the checkers.
	rec := &teeRecorder{w: st.History()}

	sys, err := openSystem(ctx, t, logf)
	if err != nil {
		status("failed", nil)
		logFileOnly("%v", err)
		return out, err
	}
	sys.leaveDB = o.LeaveDBRunning
	// From here on, the nodes must be torn down and their logs fetched
	// whatever happens, with a context Ctrl-C does not cancel.
	cleanup := func() error {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		return sys.teardown(tctx, st, logf)
	}
	runErr := func() error {
		if err := sys.setup(ctx, logf); err != nil {
			return err
		}
		cfg := runner.Config{
			Nodes:       nodeNames(t.nodes),
			Concurrency: t.concurrency,
			Generator:   t.schedule.Generator(),
			Client:      sys.clients,
			Recorder:    rec,
			Seed:        uint64(t.seed),
			OpTimeout:   t.opTimeout,
			Progress: func(pr runner.Progress) {
				status("running", &pr)
				if o.Progress != nil {
					o.Progress(pr)
				}
			},
			Logf: logf,
			Started: func(t time.Time) {
				rl.setOrigin(t)
				fileLog.setOrigin(t)
			},
		}
		if sys.nemesis != nil {
			cfg.Nemesis = sys.nemesis
		}
		logf("running the generator")
		sum, err := runner.Run(ctx, cfg)
		out.Summary = sum
		out.Interrupted = sum.Interrupted || ctx.Err() != nil
		logf("recorded %d ops (%d history entries) in %v (%d ok, %d fail, %d info)", sum.OK+sum.Fail+sum.Info, sum.Entries, sum.Elapsed.Round(time.Millisecond), sum.OK, sum.Fail, sum.Info)
		return err
	}()
	status("teardown", nil)
	if err := cleanup(); err != nil {
		logf("teardown: %v", err)
		runErr = errors.Join(runErr, fmt.Errorf("teardown: %w", err))
	}
	if err := st.History().Flush(); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("writing the history: %w", err))
	}
	h := rec.ops()
	if err := st.WriteEDN(h); err != nil {
		logf("writing history.edn: %v", err)
	}
	if runErr != nil && len(h) == 0 {
		status("failed", nil)
		logFileOnly("run failed: %v", runErr)
		return out, runErr
	}
	// Check what was recorded even after a failure or Ctrl-C: a partial
	// history is still evidence. A second Ctrl-C cancels the check.
	logf("checking %d ops", len(h))
	status("checking", nil)
	res := verdict.Check(context.WithoutCancel(ctx), h, t.checkers, checker.Options{Dir: st.Dir})
	out.Result, out.Checked = res, true
	if err := st.WriteResults(res); err != nil {
		logf("writing results: %v", err)
	}
	meta := map[string]string{
		"plan": o.Path, "seed": fmt.Sprint(t.seed), "nodes": strings.Join(nodeNames(t.nodes), ", "),
		"ops": fmt.Sprint(len(h)), "elapsed": out.Summary.Elapsed.Round(time.Millisecond).String(),
	}
	if out.Interrupted {
		meta["interrupted"] = "yes: the run was canceled; this is what was recorded until then"
	}
	if runErr != nil {
		meta["error"] = runErr.Error()
	}
	if _, err := verdict.WriteReport(st.Dir, "jplan: "+t.name, meta, res); err != nil {
		logf("writing the report: %v", err)
	}
	logf("verdict: %s", res.Valid)
	last.Valid = res.Valid.String()
	status("done", nil)
	return out, runErr
}

// test is a plan compiled for one run.
type test struct {
	name        string
	dir         string
	ev          *eval.Evaluator
	nodes       []eval.Node
	specs       map[string]nodeSpec
	remote      string
	concurrency int
	seed        int64
	opTimeout   time.Duration
	schedule    *eval.Schedule
	checkers    []eval.CheckerConfig
	sources     map[string][]byte
	secrets     []string
}

func prepare(o Options) (*test, error) {
	sources, diags := lang.Find(o.Parser, o.Path)
	if diags.HasErrors() {
		return nil, &PlanError{diags}
	}
	if len(sources) != 1 {
		return nil, fmt.Errorf("%s holds %d plans; run one at a time", o.Path, len(sources))
	}
	src := sources[0]
	plan, diags := lang.Decode(src.Files)
	if diags.HasErrors() {
		return nil, &PlanError{diags}
	}
	inputs, ds := eval.ReadInputs(o.Parser, o.Inputs)
	if ds.HasErrors() {
		return nil, &PlanError{ds}
	}
	t := &test{name: plan.Test.Name, dir: src.Dir, sources: map[string][]byte{}}
	for _, f := range src.Files {
		name := fileName(f)
		if rel, err := filepath.Rel(src.Dir, name); err == nil && !strings.HasPrefix(rel, "..") {
			name = rel
		} else {
			name = filepath.Base(name)
		}
		t.sources[name] = f.Bytes
	}
	nodes, specs, err := resolveNodes(o)
	if err != nil {
		return nil, err
	}
	e, ds := eval.New(plan, eval.Options{Dir: src.Dir, Inputs: inputs, Nodes: nodes})
	diags = append(diags, ds...)
	if !ds.HasErrors() {
		diags = append(diags, e.Validate()...)
	}
	if diags.HasErrors() {
		return nil, &PlanError{diags}
	}
	t.ev, t.nodes, t.specs = e, e.Nodes(), specs
	if len(t.nodes) == 0 {
		return nil, errors.New("the test has no nodes: set them in the plan, or give --nodes or --nodes-file")
	}
	t.remote, _ = e.Remote()
	t.concurrency, _ = e.Concurrency()
	if o.Concurrency != "" {
		n, err := eval.ParseConcurrency(o.Concurrency, len(t.nodes))
		if err != nil {
			return nil, fmt.Errorf("--concurrency: %w", err)
		}
		t.concurrency = n
	}
	t.opTimeout, _ = e.OpTimeout()
	seed, ok, _ := e.Seed()
	switch {
	case o.SeedSet:
		seed = o.Seed + o.SeedOffset
	case !ok:
		seed = rand.Int64N(1 << 53) // printed and stored, so it can be replayed
	default:
		seed += o.SeedOffset
	}
	t.seed = seed
	schedule, ds := e.CompileSchedule()
	if ds.HasErrors() {
		return nil, &PlanError{ds}
	}
	// Like the plan's time_limit, --time-limit bounds the main part only:
	// the final phases (healing, final reads) still run after it.
	schedule.LimitMain(o.TimeLimit)
	t.schedule = schedule
	for _, c := range plan.Checkers {
		cc, _ := e.Checker(c)
		t.checkers = append(t.checkers, cc)
	}
	t.secrets = e.Sensitive()
	for _, n := range t.nodes {
		sc, _ := e.SSH(&n)
		for _, s := range []string{sc.Password, sc.SudoPassword, specs[n.Name].Password, specs[n.Name].SudoPassword} {
			if s != "" {
				t.secrets = append(t.secrets, s)
			}
		}
	}
	return t, nil
}

func fileName(f *hcl.File) string {
	if f.Body == nil {
		return "plan.hcl"
	}
	return f.Body.MissingItemRange().Filename
}

func nodeNames(nodes []eval.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

// teeRecorder streams the history to the store and keeps it for checking,
// in a MemRecorder's chunks: a growing slice would copy the whole history
// at every doubling, on the interpreter's goroutine.
type teeRecorder struct {
	w   runner.Recorder
	mem runner.MemRecorder
}

func (t *teeRecorder) Append(op history.Op) error {
	t.mem.Append(op)
	return t.w.Append(op)
}

// ops is the history in index order (the interpreter records it in that
// order already; the sort is a guard). It is called once, after the run:
// the tee lets go of its copy.
func (t *teeRecorder) ops() []history.Op {
	out := t.mem.Take()
	less := func(i, j int) bool { return out[i].Index < out[j].Index }
	if !sort.SliceIsSorted(out, less) {
		sort.SliceStable(out, less)
	}
	return out
}

// runLog writes timestamped lines to every writer given. Lines before
// the generator starts are stamped "setup" with the time since the run
// began; from then on the stamp is history time — what history.jsonl's
// time field, the timeline, the plots and the checkers' anomaly times
// count (seconds since the first op could be invoked) — so a person
// reading the console and the report reads one clock.
type runLog struct {
	mu     sync.Mutex
	ws     []io.Writer
	start  time.Time
	origin time.Time // zero until the generator starts
}

func newRunLog(ws ...io.Writer) *runLog { return &runLog{ws: ws, start: time.Now()} }

// setOrigin switches the stamps to history time.
func (l *runLog) setOrigin(t time.Time) {
	l.mu.Lock()
	l.origin = t
	l.mu.Unlock()
}

func (l *runLog) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	var line string
	if l.origin.IsZero() {
		line = fmt.Sprintf("setup %.3fs  %s\n", time.Since(l.start).Seconds(), msg)
	} else {
		line = fmt.Sprintf("%8.3fs  %s\n", time.Since(l.origin).Seconds(), msg)
	}
	for _, w := range l.ws {
		if w != nil {
			io.WriteString(w, line)
		}
	}
}

var _ = os.Stderr

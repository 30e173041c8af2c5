// Package batch runs many tests as one command: several plans, each over a
// matrix of variable values, each combination a number of times — Jepsen's
// test-all and --test-count — and sums them up: a table, JUnit XML for CI,
// JSON lines for programs, and the worst verdict as the exit status.
//
// A run of the batch is an ordinary run (package run): its own run
// directory, history, results and report. The batch only decides which
// runs to do, in which order, when to stop, and how to report them.
package batch

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/run"
	"github.com/zclconf/go-cty/cty"
)

// Axis is one dimension of a matrix: a variable and the values it takes,
// each as a -var value (strings raw, other values in HCL syntax).
type Axis struct {
	Name   string
	Values []string
}

// ParseAxis reads a -matrix flag: name=[v1, v2, ...], the list in HCL
// syntax (-matrix 'isolation=["serializable", "read committed"]').
func ParseAxis(s string) (Axis, error) {
	name, list, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || !hclsyntax.ValidIdentifier(name) {
		return Axis{}, fmt.Errorf("-matrix takes name=[values], e.g. -matrix 'isolation=[\"serializable\", \"read committed\"]'; got %q", s)
	}
	expr, diags := hclsyntax.ParseExpression([]byte(list), "-matrix "+name, hcl.InitialPos)
	if diags.HasErrors() {
		return Axis{}, fmt.Errorf("-matrix %s: %s", name, diags.Errs()[0])
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return Axis{}, fmt.Errorf("-matrix %s: %s", name, diags.Errs()[0])
	}
	if !v.Type().IsTupleType() && !v.Type().IsListType() {
		return Axis{}, fmt.Errorf("-matrix %s: want a list of values such as [1, 2], not %s", name, v.Type().FriendlyName())
	}
	if v.LengthInt() == 0 {
		return Axis{}, fmt.Errorf("-matrix %s: the list is empty", name)
	}
	ax := Axis{Name: name}
	for _, e := range v.AsValueSlice() {
		if e.Type() == cty.String {
			ax.Values = append(ax.Values, e.AsString())
		} else {
			ax.Values = append(ax.Values, strings.TrimSpace(string(hclwrite.TokensForValue(e).Bytes())))
		}
	}
	return ax, nil
}

// Spec is one run to do.
type Spec struct {
	// Plan is the plan's path (a file, or a directory holding one plan).
	Plan string
	// Vars are the matrix's -var values for this run, name=value, in axis
	// order; they come after (and so win over) the command's own -var.
	Vars []string
	// Iteration counts the runs of the same plan and combination, from 1.
	Iteration int
	// Of is how many runs of this plan and combination the batch asks.
	Of int
}

// Label names the run in tables and test reports: the combination and the
// iteration, e.g. "isolation=read committed #2".
func (s Spec) Label() string {
	parts := append([]string(nil), s.Vars...)
	if s.Of > 1 {
		parts = append(parts, fmt.Sprintf("#%d", s.Iteration))
	}
	return strings.Join(parts, " ")
}

// Expand lists the runs: every plan, for every combination of the axes (the
// last axis varying fastest), count times each.
func Expand(plans []string, axes []Axis, count int) []Spec {
	count = max(count, 1)
	combos := [][]string{nil}
	for _, ax := range axes {
		var next [][]string
		for _, c := range combos {
			for _, v := range ax.Values {
				next = append(next, append(append([]string(nil), c...), ax.Name+"="+v))
			}
		}
		combos = next
	}
	var out []Spec
	for _, p := range plans {
		for _, c := range combos {
			for i := 1; i <= count; i++ {
				out = append(out, Spec{Plan: p, Vars: c, Iteration: i, Of: count})
			}
		}
	}
	return out
}

// Result is one run done.
type Result struct {
	Spec
	Outcome *run.Outcome
	// Err is why the run could not be carried out, or failed part-way.
	Err     error
	Elapsed time.Duration
}

// Status is a run's outcome in one word: valid, invalid, unknown, failed
// (it could not be run or did not finish) or interrupted.
func (r Result) Status() string {
	o := r.Outcome
	switch {
	case o != nil && o.Interrupted:
		return "interrupted"
	case o != nil && o.Checked && o.Result.Valid == checker.False:
		return "invalid"
	case r.Err != nil || o == nil || !o.Checked:
		return "failed"
	case o.Result.Valid == checker.True:
		return "valid"
	}
	return "unknown"
}

// severity orders statuses for Worst.
var severity = map[string]int{"valid": 0, "unknown": 1, "failed": 2, "invalid": 3, "interrupted": 4}

// Worst is the worst status of the results: interrupted, then invalid,
// then failed, then unknown; valid only when every run is. No results is
// "valid".
func Worst(rs []Result) string {
	w := "valid"
	for _, r := range rs {
		if s := r.Status(); severity[s] > severity[w] {
			w = s
		}
	}
	return w
}

// Problem is the one-paragraph reason a run is not valid: the summaries of
// its checkers that are not valid (the anomalies found), or its error.
func (r Result) Problem() string {
	var parts []string
	if o := r.Outcome; o != nil && o.Checked {
		names := make([]string, 0, len(o.Result.Results))
		for n := range o.Result.Results {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			sub := o.Result.Results[n]
			if sub.Valid == checker.True {
				continue
			}
			msg := sub.Summary
			if sub.Error != "" {
				msg = strings.TrimSpace(msg + " (" + sub.Error + ")")
			}
			parts = append(parts, fmt.Sprintf("%s %s: %s", n, sub.Valid, msg))
		}
		if len(parts) == 0 && o.Result.Valid != checker.True {
			parts = append(parts, o.Result.Summary)
		}
	}
	if r.Err != nil {
		parts = append(parts, r.Err.Error())
	}
	return strings.Join(parts, "; ")
}

// Options say how to run a batch.
type Options struct {
	// Base is every run's options; Path and the matrix variables are set
	// per run.
	Base run.Options
	// KeepGoing runs every spec; otherwise the batch stops after the first
	// invalid run, as Jepsen's --test-count stops at the first failure (and
	// after one that could not run: the next would fail the same way). An
	// unknown verdict does not stop it.
	KeepGoing bool
	// Before is called before each run, After after it (for progress
	// output); either may be nil.
	Before func(i int, s Spec)
	After  func(i int, r Result)
}

// Run performs the specs in order. It stops early on the first invalid or
// failed run (unless KeepGoing) and always on an interrupted one.
func Run(ctx context.Context, specs []Spec, o Options) []Result {
	var out []Result
	for i, s := range specs {
		if ctx.Err() != nil {
			break
		}
		if o.Before != nil {
			o.Before(i, s)
		}
		ro := o.Base
		ro.Path = s.Plan
		ro.Inputs.Vars = append(append([]string(nil), o.Base.Inputs.Vars...), s.Vars...)
		// Iteration k of a plan explores another schedule: seed + k-1.
		ro.SeedOffset = int64(s.Iteration - 1)
		start := time.Now()
		outcome, err := run.Run(ctx, ro)
		r := Result{Spec: s, Outcome: outcome, Err: err, Elapsed: time.Since(start)}
		out = append(out, r)
		if o.After != nil {
			o.After(i, r)
		}
		st := r.Status()
		if st == "interrupted" || ((st == "invalid" || st == "failed") && !o.KeepGoing) {
			break
		}
	}
	return out
}

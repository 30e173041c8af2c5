package checker

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/jplan/jplan/history"
)

// ClockPlot returns a checker that plots the clock offsets the nemesis's
// clock faults report, like Jepsen's clock plot: offset (s) over time (s),
// a step line per node, shaded by fault intervals (see FaultIntervals). It
// is always valid: it informs, it does not judge.
//
// Clock faults complete with a value mapping each node to its clock's
// offset in seconds afterwards ({"n1": 3600}), or, with faketime, to "not
// running" / "no daemon". The fault's name is the plan's own, so clock
// ops are recognised by that shape (see ClockOps). Every node starts at
// offset 0 at the history's first op and keeps a reported offset until
// the next report.
//
// Files (when Options.Dir is set and the history has clock ops):
// clock.svg. Without clock ops it writes nothing.
func ClockPlot() Checker { return clockChecker{} }

type clockChecker struct{}

func (clockChecker) Name() string { return "clock" }

// ClockReading is one node's offset as reported by one clock op.
type ClockReading struct {
	// Time is the completion's time (ns).
	Time int64 `json:"time"`
	// F is the op's f, e.g. "start-skew".
	F string `json:"f"`
	// Offset is the clock's offset in seconds afterwards.
	Offset float64 `json:"offset"`
}

// ClockDetails is Result.Details for the clock checker.
type ClockDetails struct {
	// Faults are the clock faults' names (f without start-/stop-).
	Faults []string `json:"faults,omitempty"`
	// Offsets are each node's readings, in history order.
	Offsets map[string][]ClockReading `json:"offsets,omitempty"`
	// MaxOffset is the largest absolute offset reported, in seconds.
	MaxOffset float64 `json:"max-abs-offset"`
}

// clockStatuses are the non-numeric per-node values a clock op may carry
// (faketime nodes where the daemon is absent or down).
var clockStatuses = map[string]bool{"not running": true, "no daemon": true}

// faultName splits a nemesis f into its fault's name: "skew" for
// "start-skew" and "stop-skew"; ok is false for other fs.
func faultName(f string) (name string, ok bool) {
	for _, p := range []string{"start-", "stop-"} {
		if strings.HasPrefix(f, p) && len(f) > len(p) {
			return f[len(p):], true
		}
	}
	return "", false
}

// clockValue reads a completion value shaped like a clock fault's:
// a map whose every entry is a number or a clock status. shaped is false
// for anything else. A map without numbers (a stop with nothing to reset,
// a faketime start where the daemon was down everywhere, but also a
// kill's "not running") is neutral: shaped, with no offsets.
func clockValue(v any) (offsets map[string]float64, shaped bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	offsets = map[string]float64{}
	for node, x := range m {
		if s, ok := x.(string); ok && clockStatuses[s] {
			continue
		}
		n, err := toNumber(x) // int64 or finite float64, as histories decode
		if err != nil {
			return nil, false
		}
		offsets[node] = n.float()
	}
	return offsets, true
}

// ClockOps returns the indexes in h of the clock faults' completions that
// report offsets, and the faults' names, sorted. A fault counts as a
// clock fault when at least one of its nemesis completions maps nodes to
// numeric offsets and none of its completions with a map value has
// another shape (a partition's grudge, a kill's statuses, a file fault's
// per-node maps never qualify).
func ClockOps(h []history.Op) (idx []int, faults []string) {
	clock := map[string]bool{} // name → every map value so far is clock-shaped
	numeric := map[string]bool{}
	for i := range h {
		op := &h[i]
		if op.Process != history.NemesisProcess || op.Type == history.Invoke {
			continue
		}
		name, ok := faultName(op.F)
		if !ok {
			continue
		}
		if _, isMap := op.Value.(map[string]any); !isMap {
			continue // errors, "nothing to undo"...: says nothing either way
		}
		offs, shaped := clockValue(op.Value)
		if prev, seen := clock[name]; seen && !prev {
			continue
		}
		clock[name] = shaped
		if shaped && len(offs) > 0 {
			numeric[name] = true
		}
	}
	for name, ok := range clock {
		if ok && numeric[name] {
			faults = append(faults, name)
		}
	}
	sort.Strings(faults)
	if len(faults) == 0 {
		return nil, nil
	}
	for i := range h {
		op := &h[i]
		if op.Process != history.NemesisProcess || op.Type == history.Invoke {
			continue
		}
		name, ok := faultName(op.F)
		if !ok || !clock[name] || !numeric[name] {
			continue
		}
		if offs, _ := clockValue(op.Value); len(offs) > 0 {
			idx = append(idx, i)
		}
	}
	return idx, faults
}

// HasClockOps reports whether h has clock-fault completions to plot.
func HasClockOps(h []history.Op) bool {
	idx, _ := ClockOps(h)
	return len(idx) > 0
}

// nodeColors cycle over nodes.
var nodeColors = []string{"#3b7dd8", "#d8403b", "#2a9d5c", "#8a4fd0", "#f0a030", "#d05f9c", "#555555", "#20a0c0"}

func (clockChecker) Check(ctx context.Context, h []history.Op, opts Options) Result {
	idx, faults := ClockOps(h)
	if len(idx) == 0 {
		return Result{Valid: True, Summary: "no clock faults"}
	}
	d := &ClockDetails{Faults: faults, Offsets: map[string][]ClockReading{}}
	for _, i := range idx {
		offs, _ := clockValue(h[i].Value)
		for node, o := range offs {
			d.Offsets[node] = append(d.Offsets[node], ClockReading{Time: h[i].Time, F: h[i].F, Offset: o})
			d.MaxOffset = math.Max(d.MaxOffset, math.Abs(o))
		}
	}
	nodes := make([]string, 0, len(d.Offsets))
	for node := range d.Offsets {
		nodes = append(nodes, node)
	}
	sort.Strings(nodes)
	res := Result{Valid: True, Details: d,
		Summary: fmt.Sprintf("%d clock ops (%s) on %d nodes; largest offset %s s",
			len(idx), strings.Join(faults, ", "), len(nodes), fmtTick(d.MaxOffset))}
	if opts.Dir == "" {
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Error = "clock: " + err.Error()
		return res
	}
	first, last := h[0].Time, h[0].Time
	for i := range h {
		first, last = min(first, h[i].Time), max(last, h[i].Time)
	}
	p := &plot{title: "Clock offsets", xlabel: "time (s)", ylabel: "offset (s)", bands: faultBands(FaultIntervals(h))}
	for i, node := range nodes {
		p.series = append(p.series, series{name: node, color: nodeColors[i%len(nodeColors)], points: clockSteps(d.Offsets[node], first, last)})
	}
	name, err := writeFile(opts.Dir, "clock.svg", p.render())
	if err != nil {
		res.Error = "clock: " + err.Error()
		return res
	}
	res.Files = append(res.Files, name)
	return res
}

// clockSteps turns readings into a step line from offset 0 at first to
// the last reading's offset at last: one vertical step per change.
func clockSteps(rs []ClockReading, first, last int64) []point {
	cur := 0.0
	pts := []point{{float64(first) / 1e9, 0}}
	for _, r := range rs {
		if r.Offset == cur {
			continue
		}
		t := float64(r.Time) / 1e9
		pts = append(pts, point{t, cur}, point{t, r.Offset})
		cur = r.Offset
	}
	return append(pts, point{float64(last) / 1e9, cur})
}

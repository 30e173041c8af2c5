package checker

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/jplan/jplan/history"
)

// PerfOptions configures Perf.
type PerfOptions struct {
	// Window is the throughput bucket width; zero picks a round width
	// giving about 100 buckets over the run.
	Window time.Duration
}

// Perf returns a checker that plots latency and throughput of client ops
// over time, shaded by fault intervals (see FaultIntervals), and reports
// latency quantiles per f. It is always valid, like Jepsen's perf checker:
// it informs, it does not judge.
//
// Files (when Options.Dir is set): latency-raw.svg, a scatter of each
// completed op's latency at its invocation time (shape by f, color by
// completion type, log scale); rate.svg, completions per second by f and
// type.
func Perf(o PerfOptions) Checker { return perfChecker{o} }

type perfChecker struct{ o PerfOptions }

func (perfChecker) Name() string { return "perf" }

// Quantiles are latency quantiles in milliseconds.
type Quantiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// PerfDetails is Result.Details for the perf checker.
type PerfDetails struct {
	// Latency of ok ops by f.
	Latency map[string]Quantiles `json:"latency-ok-ms"`
	// Throughput is ok completions per second over the whole run.
	Throughput float64         `json:"ok-per-second"`
	Faults     []FaultInterval `json:"faults,omitempty"`
}

type sample struct {
	f       string
	t       string // completion type
	invoke  int64
	latency int64
	done    int64
}

func samples(h []history.Op) ([]sample, error) {
	pairs, err := history.Pairs(history.ClientOps(h))
	if err != nil {
		return nil, err
	}
	out := make([]sample, 0, len(pairs))
	for _, p := range pairs {
		if p.Invoke == nil || p.Completion == nil {
			continue
		}
		out = append(out, sample{
			f: p.F(), t: p.Completion.Type.String(),
			invoke: p.Invoke.Time, latency: p.Completion.Time - p.Invoke.Time, done: p.Completion.Time,
		})
	}
	return out, nil
}

func quantiles(ms []float64) Quantiles {
	sort.Float64s(ms)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ms)))) - 1
		return ms[max(0, min(i, len(ms)-1))]
	}
	return Quantiles{Count: len(ms), P50: q(0.5), P95: q(0.95), P99: q(0.99), Max: ms[len(ms)-1]}
}

func (c perfChecker) Check(ctx context.Context, h []history.Op, opts Options) Result {
	ss, err := samples(h)
	if err != nil {
		return Result{Valid: Unknown, Error: "perf: " + err.Error()}
	}
	d := &PerfDetails{Latency: map[string]Quantiles{}, Faults: FaultIntervals(h)}
	byF := map[string][]float64{}
	var first, last int64 = math.MaxInt64, math.MinInt64
	oks := 0
	for _, s := range ss {
		first, last = min(first, s.invoke), max(last, s.done)
		if s.t == "ok" {
			oks++
			byF[s.f] = append(byF[s.f], float64(s.latency)/1e6)
		}
	}
	for f, ms := range byF {
		d.Latency[f] = quantiles(ms)
	}
	if span := float64(last-first) / 1e9; oks > 0 && span > 0 {
		d.Throughput = float64(oks) / span
	}
	res := Result{Valid: True, Details: d,
		Summary: fmt.Sprintf("%d completed ops, %.1f ok/s", len(ss), d.Throughput)}
	if opts.Dir == "" {
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Error = "perf: " + err.Error()
		return res
	}
	fs := sortedFs(ss)
	bands := faultBands(d.Faults)
	lat := &plot{title: "Latency (raw)", xlabel: "time (s)", ylabel: "latency (ms)", logY: true, bands: bands}
	for i, f := range fs {
		for _, t := range []string{"ok", "info", "fail"} {
			s := series{name: f + " " + t, color: typeColors[t], shape: shapes[i%len(shapes)]}
			for _, x := range ss {
				if x.f == f && x.t == t {
					s.points = append(s.points, point{float64(x.invoke) / 1e9, math.Max(float64(x.latency)/1e6, 1e-3)})
				}
			}
			if len(s.points) > 0 {
				lat.series = append(lat.series, s)
			}
		}
	}
	rate := &plot{title: "Throughput", xlabel: "time (s)", ylabel: "completions / s", bands: bands}
	window := c.o.Window
	if window <= 0 {
		window = autoWindow(time.Duration(last - first))
	}
	if len(ss) > 0 {
		nb := int((last-first)/int64(window)) + 1
		lineColors := []string{"#3b7dd8", "#2a9d5c", "#8a4fd0", "#d05f9c", "#555555"}
		for i, f := range fs {
			for _, t := range []string{"ok", "info", "fail"} {
				counts := make([]float64, nb)
				n := 0
				for _, x := range ss {
					if x.f == f && x.t == t {
						counts[(x.done-first)/int64(window)]++
						n++
					}
				}
				if n == 0 {
					continue
				}
				color := lineColors[i%len(lineColors)]
				if t != "ok" {
					color = typeColors[t]
				}
				s := series{name: f + " " + t, color: color}
				for b, cnt := range counts {
					s.points = append(s.points, point{
						float64(first+int64(b)*int64(window)+int64(window)/2) / 1e9,
						cnt / window.Seconds(),
					})
				}
				rate.series = append(rate.series, s)
			}
		}
	}
	for _, out := range []struct {
		name string
		p    *plot
	}{{"latency-raw.svg", lat}, {"rate.svg", rate}} {
		name, err := writeFile(opts.Dir, out.name, out.p.render())
		if err != nil {
			res.Error = "perf: " + err.Error()
			return res
		}
		res.Files = append(res.Files, name)
	}
	return res
}

func sortedFs(ss []sample) []string {
	seen := map[string]bool{}
	var fs []string
	for _, s := range ss {
		if !seen[s.f] {
			seen[s.f] = true
			fs = append(fs, s.f)
		}
	}
	sort.Strings(fs)
	return fs
}

// autoWindow picks a round bucket width giving about 100 buckets.
func autoWindow(span time.Duration) time.Duration {
	target := span / 100
	for _, w := range []time.Duration{
		time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
		10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
	} {
		if w >= target {
			return w
		}
	}
	return 5 * time.Minute
}

func faultBands(fis []FaultInterval) []band {
	colors := map[string]string{}
	var out []band
	for _, fi := range fis {
		c, ok := colors[fi.Kind]
		if !ok {
			c = bandColors[len(colors)%len(bandColors)]
			colors[fi.Kind] = c
		}
		label := "fault"
		if fi.Kind != "" {
			label = fi.Kind
		}
		out = append(out, band{x0: float64(fi.Start) / 1e9, x1: float64(fi.End) / 1e9, label: label, color: c})
	}
	return out
}

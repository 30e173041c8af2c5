package elle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/history"
)

// Finish checks a and turns the verdict into a checker.Result, writing
// anomalies.html (each cycle explained and drawn) and one .dot file per
// cycle into copts.Dir, unless it is "".
func Finish(ctx context.Context, a *Analysis, o Options, copts checker.Options) checker.Result {
	res := Check(ctx, a, o)
	out := checker.Result{Valid: res.Valid, Summary: res.Summary(), Details: res, Findings: findings(a, res)}
	if copts.Dir == "" || len(res.Cycles) == 0 {
		return out
	}
	files, err := writeCycles(copts.Dir, res)
	out.Files = files
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// cycleSVG draws a cycle: transactions on a circle, an arrow per step
// labelled with its rel.
func cycleSVG(c Explained) template.HTML {
	n := len(c.Cycle)
	const w, h = 420.0, 360.0
	r := 120.0
	if n > 8 {
		r = 120 + float64(n-8)*10
	}
	size := 2*r + 120
	cx, cy := size/2, size/2
	pos := func(i int) (float64, float64) {
		a := -math.Pi/2 + 2*math.Pi*float64(i)/float64(n)
		return cx + r*math.Cos(a), cy + r*math.Sin(a)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`, size, size, size, size)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>`)
	colors := map[string]string{"ww": "#1f77b4", "wr": "#2ca02c", "rw": "#d62728", "realtime": "#9467bd", "process": "#8c564b"}
	const nodeR = 22.0
	for i, s := range c.Steps {
		x1, y1 := pos(i)
		x2, y2 := pos((i + 1) % n)
		dx, dy := x2-x1, y2-y1
		d := math.Hypot(dx, dy)
		if d == 0 {
			continue
		}
		ux, uy := dx/d, dy/d
		sx, sy := x1+ux*nodeR, y1+uy*nodeR
		ex, ey := x2-ux*nodeR, y2-uy*nodeR
		// Bend the arrow outwards so 2-cycles do not overlap.
		mx, my := (sx+ex)/2, (sy+ey)/2
		ox, oy := uy*25, -ux*25
		col := colors[s.Type]
		if col == "" {
			col = "#333"
		}
		fmt.Fprintf(&b, `<path d="M %.1f %.1f Q %.1f %.1f %.1f %.1f" fill="none" stroke="%s" stroke-width="2" marker-end="url(#arrow)"/>`,
			sx, sy, mx+ox, my+oy, ex, ey, col)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-family="sans-serif" font-size="13" fill="%s" text-anchor="middle">%s</text>`,
			mx+ox*1.3, my+oy*1.3, col, template.HTMLEscapeString(s.Type))
	}
	for i, t := range c.Cycle {
		x, y := pos(i)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%.0f" fill="#fff" stroke="#333" stroke-width="1.5"><title>%s</title></circle>`,
			x, y, nodeR, template.HTMLEscapeString(fmt.Sprintf("op %d, process %d: %s", t.Index, t.Process, t.Value)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-family="sans-serif" font-size="14" text-anchor="middle" dominant-baseline="central">%s</text>`,
			x, y, template.HTMLEscapeString(t.Name))
	}
	_ = w
	_ = h
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// cycleDot renders a cycle in GraphViz's dot language.
func cycleDot(c Explained) string {
	var b strings.Builder
	b.WriteString("digraph cycle {\n  node [shape=circle];\n")
	for _, t := range c.Cycle {
		fmt.Fprintf(&b, "  %s [tooltip=%q];\n", t.Name, fmt.Sprintf("op %d, process %d: %s", t.Index, t.Process, t.Value))
	}
	for i, s := range c.Steps {
		fmt.Fprintf(&b, "  %s -> %s [label=%q];\n", c.Cycle[i].Name, c.Cycle[(i+1)%len(c.Cycle)].Name, s.Type)
	}
	b.WriteString("}\n")
	return b.String()
}

var pageTmpl = template.Must(template.New("anomalies").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Elle anomalies</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}pre{background:#f6f6f6;padding:1em;white-space:pre-wrap}td,th{padding:.2em .6em;text-align:left}</style>
</head><body>
<h1>Transactional anomalies</h1>
<p>Valid: {{.Valid}}. Anomaly types: {{range $i, $t := .Types}}{{if $i}}, {{end}}{{$t}}{{end}}.
{{if .Not}}Rules out: {{range $i, $t := .Not}}{{if $i}}, {{end}}{{$t}}{{end}}{{if .AlsoNot}} (and also {{range $i, $t := .AlsoNot}}{{if $i}}, {{end}}{{$t}}{{end}}){{end}}.{{end}}</p>
{{range .Cycles}}
<h2 id="{{.File}}">{{.C.Type}} #{{.N}}</h2>
<table><tr><th>Name</th><th>Index</th><th>Process</th><th>Type</th><th>Value</th></tr>
{{range .C.Cycle}}<tr><td>{{.Name}}</td><td>{{.Index}}</td><td>{{.Process}}</td><td>{{.Type}}</td><td><code>{{.Value}}</code></td></tr>
{{end}}</table>
{{.SVG}}
<pre>{{.C.Explanation}}</pre>
<p><a href="{{.File}}">{{.File}}</a></p>
{{end}}
</body></html>
`))

type pageCycle struct {
	C    Explained
	N    int
	File string
	SVG  template.HTML
}

func writeCycles(dir string, res Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("elle: creating %s: %w", dir, err)
	}
	var files []string
	var cs []pageCycle
	count := map[string]int{}
	for _, c := range res.Cycles {
		count[c.Type]++
		name := fmt.Sprintf("%s-%d.dot", c.Type, count[c.Type])
		if err := os.WriteFile(filepath.Join(dir, name), []byte(cycleDot(c)), 0o644); err != nil {
			return files, fmt.Errorf("elle: writing %s: %w", name, err)
		}
		files = append(files, name)
		cs = append(cs, pageCycle{C: c, N: count[c.Type], File: name, SVG: cycleSVG(c)})
	}
	var b bytes.Buffer
	err := pageTmpl.Execute(&b, map[string]any{"Valid": res.Valid, "Types": res.AnomalyTypes,
		"Not": res.Not, "AlsoNot": res.AlsoNot, "Cycles": cs})
	if err != nil {
		return files, fmt.Errorf("elle: rendering anomalies.html: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "anomalies.html"), b.Bytes(), 0o644); err != nil {
		return files, fmt.Errorf("elle: writing anomalies.html: %w", err)
	}
	return append([]string{"anomalies.html"}, files...), nil
}

// maxFindings bounds the cycles the report opens on.
const maxFindings = 4

// findings are the first cycles, explained, with the transactions that
// form them and the faults active while they ran; then one line for each
// anomaly type found without a cycle (G1a, internal, ...).
func findings(a *Analysis, res Result) []checker.Finding {
	if res.Valid == checker.True {
		return nil
	}
	byIndex := map[int64]*Txn{}
	for i := range a.Txns.List {
		byIndex[a.Txns.List[i].Index] = &a.Txns.List[i]
	}
	var out []checker.Finding
	seen := map[string]bool{}
	for _, c := range res.Cycles {
		if len(out) >= maxFindings {
			break
		}
		f := checker.Finding{Title: c.Type, Text: c.Explanation}
		from, to := int64(math.MaxInt64), int64(math.MinInt64)
		for i, r := range c.Cycle {
			x := byIndex[r.Index]
			d := checker.OpDesc{Process: fmt.Sprint(r.Process), F: "txn", Value: r.Value, Type: r.Type,
				InvokeIndex: -1, InvokeTime: -1, CompleteIndex: r.Index, CompleteTime: -1}
			if x != nil {
				d.Value, d.InvokeIndex, d.InvokeTime, d.CompleteTime = x.Value, x.InvokeIndex, x.InvokeTime, x.Time
				if x.InvokeIndex >= 0 {
					from = min(from, x.InvokeTime)
				}
				to = max(to, x.Time)
				from = min(from, x.Time)
			}
			role := r.Name
			if i < len(c.Steps) {
				role += " (" + c.Steps[i].Type + " → next)"
			}
			f.Ops = append(f.Ops, checker.FindingOp{Role: role, OpDesc: d})
		}
		if from <= to {
			f.Faults = checker.FaultsDuring(a.Txns.Faults, from, to)
		}
		out = append(out, f)
		seen[c.Type] = true
	}
	for _, t := range res.AnomalyTypes {
		if seen[t] || isCycleType(t) {
			continue
		}
		n := 0
		if l, ok := res.Anomalies[t].([]any); ok {
			n = len(l)
		}
		text := fmt.Sprintf("%s: see the checker's details", t)
		if n > 0 {
			text = fmt.Sprintf("%d instance(s) of %s; the first: %s", n, t, oneLine(res.Anomalies[t].([]any)[0]))
		}
		out = append(out, checker.Finding{Title: t, Text: text})
	}
	return out
}

func isCycleType(t string) bool {
	_, ok := cycleTypes[t]
	return ok
}

// oneLine renders an anomaly instance compactly for a finding's text.
func oneLine(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// Workload is what a workload package provides: its name and how it
// infers the graph of a history.
type Workload struct {
	Name    string
	Analyze func(ctx context.Context, h []history.Op, o Options) (*Analysis, error)
}

// Checker returns the workload's checker: Analyze, then Finish; an
// analysis that fails (a malformed history) is unknown, with the reason.
func (w Workload) Checker(o Options) checker.Checker { return workloadChecker{w, o} }

// Check analyzes h and judges it: Elle's result itself, for callers that
// want the anomalies and the models they rule out rather than a
// checker.Result.
func (w Workload) Check(ctx context.Context, h []history.Op, o Options) (Result, error) {
	a, err := w.Analyze(ctx, h, o)
	if err != nil {
		return Result{}, err
	}
	return Check(ctx, a, o), nil
}

type workloadChecker struct {
	w Workload
	o Options
}

func (c workloadChecker) Name() string { return c.w.Name }

func (c workloadChecker) Check(ctx context.Context, h []history.Op, opts checker.Options) checker.Result {
	a, err := c.w.Analyze(ctx, h, c.o)
	if err != nil {
		return checker.Result{Valid: checker.Unknown, Error: err.Error(), Summary: c.w.Name + ": " + err.Error()}
	}
	return Finish(ctx, a, c.o, opts)
}

// Package report renders a run's checker results as one self-contained
// HTML page, report.html, placed in the same directory the checkers wrote
// their files to, so every link is a relative path that keeps working when
// the run directory is copied or served as static files.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/txn"
)

// Input is what the report shows.
type Input struct {
	// Title heads the page, e.g. the test name.
	Title string
	// Meta are extra key/value lines shown under the title (start time,
	// plan file, nodes...), in key order.
	Meta map[string]string
	// Files are the run's own files to link (the history, the log, node
	// logs), relative to the report's directory.
	Files []string
	// Result is the top-level result, usually from checker.Compose; its
	// Files (and its sub-results' Files) are relative to the report's
	// directory.
	Result checker.Result
}

// FileName is the report's name inside the run directory.
const FileName = "report.html"

// Write renders in to dir/report.html and returns its path.
func Write(dir string, in Input) (string, error) {
	b, err := Render(in)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report: creating %s: %w", dir, err)
	}
	p := filepath.Join(dir, FileName)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return "", fmt.Errorf("report: writing %s: %w", p, err)
	}
	return p, nil
}

type section struct {
	Name    string
	Depth   int
	Valid   string
	Summary string
	Error   string
	Images  []string // SVG/PNG plots, shown inline
	Links   []string // other files (HTML visualizations, data)
	Details string   // indented JSON
}

type page struct {
	Title    string
	Meta     [][2]string
	Files    []string
	Valid    string
	Summary  string
	Sections []section
	// Findings are the not-valid checkers' explanations, shown first.
	Findings []finding
	// Latency is the perf checker's quantiles per f, when there is one.
	Latency []latencyRow
}

type finding struct {
	Checker string
	checker.Finding
}

type latencyRow struct {
	F string
	checker.Quantiles
}

// Render returns the report page.
func Render(in Input) ([]byte, error) {
	p := page{Title: in.Title, Files: in.Files, Valid: in.Result.Valid.String(), Summary: in.Result.Summary}
	if p.Title == "" {
		p.Title = "jplan report"
	}
	keys := make([]string, 0, len(in.Meta))
	for k := range in.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.Meta = append(p.Meta, [2]string{k, in.Meta[k]})
	}
	if len(in.Result.Results) == 0 {
		s, err := toSection("result", 0, in.Result)
		if err != nil {
			return nil, err
		}
		p.Sections = append(p.Sections, s)
	} else if err := walk(&p, "", 0, in.Result); err != nil {
		return nil, err
	}
	collect(&p, "", in.Result)
	var b bytes.Buffer
	if err := tmpl.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("report: rendering: %w", err)
	}
	return b.Bytes(), nil
}

// collect gathers what the page opens on: the findings of every checker
// that is not valid, and the perf checker's latency quantiles.
func collect(p *page, name string, r checker.Result) {
	if r.Valid != checker.True {
		for _, f := range r.Findings {
			p.Findings = append(p.Findings, finding{Checker: name, Finding: f})
		}
	}
	if d, ok := r.Details.(*checker.PerfDetails); ok && len(p.Latency) == 0 {
		fs := make([]string, 0, len(d.Latency))
		for f := range d.Latency {
			fs = append(fs, f)
		}
		sort.Strings(fs)
		for _, f := range fs {
			p.Latency = append(p.Latency, latencyRow{F: f, Quantiles: d.Latency[f]})
		}
	}
	names := make([]string, 0, len(r.Results))
	for n := range r.Results {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sub := n
		if name != "" {
			sub = name + "/" + n
		}
		collect(p, sub, r.Results[n])
	}
}

// secs renders a history time in seconds.
func secs(ns int64) string {
	if ns < 0 {
		return "never"
	}
	return fmt.Sprintf("%.3fs", float64(ns)/1e9)
}

// walk flattens nested composed results into sections named by path
// (e.g. "workload/linear").
func walk(p *page, prefix string, depth int, r checker.Result) error {
	names := make([]string, 0, len(r.Results))
	for n := range r.Results {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sub := r.Results[n]
		s, err := toSection(prefix+n, depth, sub)
		if err != nil {
			return err
		}
		p.Sections = append(p.Sections, s)
		if len(sub.Results) > 0 {
			if err := walk(p, prefix+n+"/", depth+1, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

func toSection(name string, depth int, r checker.Result) (section, error) {
	s := section{Name: name, Depth: depth, Valid: r.Valid.String(), Summary: r.Summary, Error: r.Error}
	for _, f := range r.Files {
		switch strings.ToLower(path.Ext(f)) {
		case ".svg", ".png":
			s.Images = append(s.Images, f)
		default:
			s.Links = append(s.Links, f)
		}
	}
	if r.Details != nil {
		b, err := json.MarshalIndent(r.Details, "", "  ")
		if err != nil {
			return s, fmt.Errorf("report: encoding details of %s: %w", name, err)
		}
		s.Details = string(b)
	}
	return s, nil
}

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{"secs": secs, "value": func(v any) string {
	// A transaction reads as Jepsen prints it: [[:append 9 2] [:r 9 [1 2]]].
	if mops, err := txn.Parse(v); err == nil && len(mops) > 0 {
		return txn.Format(mops)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}, "upper": strings.ToUpper}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body{font-family:-apple-system,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{margin-bottom:.2em}
.meta{color:#555;margin:0 0 1em 0;padding:0;list-style:none}
.v{display:inline-block;padding:.15em .6em;border-radius:.3em;font-weight:bold;color:#fff}
.v-true{background:#2a9d5c}.v-false{background:#d8403b}.v-unknown{background:#d89a1b}
table{border-collapse:collapse;width:100%;margin:1em 0}
td,th{border-bottom:1px solid #ddd;padding:.4em;text-align:left;vertical-align:top}
section{border-top:2px solid #eee;margin-top:1.5em;padding-top:.5em}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}
pre{background:#f6f6f6;padding:.8em;overflow:auto;max-height:30em}
.err{color:#b00;white-space:pre-wrap}
.banner{font-size:1.6em;font-weight:bold;color:#fff;padding:.5em .8em;border-radius:.3em;margin:1em 0}
.banner span{display:block;font-size:.55em;font-weight:normal;margin-top:.3em}
.b-true{background:#2a9d5c}.b-false{background:#d8403b}.b-unknown{background:#d89a1b}
.finding{border-left:4px solid #d8403b;padding:.2em 1em;margin:1em 0;background:#fdf3f2}
.finding table{background:#fff}.finding p.text{white-space:pre-wrap}.finding code{white-space:pre-wrap}
.faults{color:#444}
</style></head><body>
<h1>{{.Title}}</h1>
<ul class="meta">{{range .Meta}}<li><b>{{index . 0}}:</b> {{index . 1}}</li>{{end}}</ul>
{{if .Files}}<p class="meta">Files: {{range $i, $f := .Files}}{{if $i}} · {{end}}<a href="{{$f}}">{{$f}}</a>{{end}}</p>{{end}}
<div class="banner b-{{.Valid}}" id="verdict">{{if eq .Valid "true"}}VALID{{else if eq .Valid "false"}}INVALID{{else}}UNKNOWN{{end}}<span>{{.Summary}}</span></div>
{{if .Findings}}<h2 id="findings">What went wrong</h2>
{{range .Findings}}<div class="finding"><h3>{{.Title}} <small>({{.Checker}})</small></h3>
<p class="text">{{.Text}}</p>
{{if .Ops}}<table class="ops"><tr><th>role</th><th>process</th><th>f</th><th>value</th><th>outcome</th><th>invoked</th><th>completed</th><th>index</th></tr>
{{range .Ops}}<tr><td>{{.Role}}</td><td>{{.Process}}</td><td>{{.F}}</td><td><code>{{value .Value}}</code></td><td>{{.Type}}</td><td>{{secs .InvokeTime}}</td><td>{{secs .CompleteTime}}</td><td>{{.InvokeIndex}}</td></tr>
{{end}}</table>{{end}}
<p class="faults">{{if .Faults}}Faults active then: {{range $i, $f := .Faults}}{{if $i}}; {{end}}<b>{{if $f.Kind}}{{$f.Kind}}{{else}}fault{{end}}</b> {{secs $f.Start}}–{{if $f.Open}}end (never healed){{else}}{{secs $f.End}}{{end}}{{end}}{{else}}No fault was active then.{{end}}</p>
</div>
{{end}}{{end}}
{{if .Latency}}<h2>Latency of ok operations</h2>
<table class="lat"><tr><th>f</th><th>count</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>
{{range .Latency}}<tr><td>{{.F}}</td><td>{{.Count}}</td><td>{{printf "%.2f" .P50}}</td><td>{{printf "%.2f" .P95}}</td><td>{{printf "%.2f" .P99}}</td><td>{{printf "%.2f" .Max}}</td></tr>
{{end}}</table>{{end}}
<h2>Checkers</h2>
<table><tr><th>checker</th><th>valid</th><th>summary</th></tr>
{{range .Sections}}<tr><td style="padding-left:{{.Depth}}em"><a href="#c-{{.Name}}">{{.Name}}</a></td><td><span class="v v-{{.Valid}}">{{.Valid}}</span></td><td>{{.Summary}}{{if .Error}} <span class="err">{{.Error}}</span>{{end}}</td></tr>
{{end}}</table>
{{range .Sections}}<section id="c-{{.Name}}">
<h2>{{.Name}} <span class="v v-{{.Valid}}">{{.Valid}}</span></h2>
{{if .Summary}}<p>{{.Summary}}</p>{{end}}
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
{{range .Images}}<div><a href="{{.}}"><img src="{{.}}" alt="{{.}}"></a></div>{{end}}
{{if .Links}}<ul>{{range .Links}}<li><a href="{{.}}">{{.}}</a></li>{{end}}</ul>{{end}}
{{if .Details}}<details><summary>details</summary><pre>{{.Details}}</pre></details>{{end}}
</section>
{{end}}
</body></html>
`))

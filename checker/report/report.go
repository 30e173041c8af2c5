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
	var b bytes.Buffer
	if err := tmpl.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("report: rendering: %w", err)
	}
	return b.Bytes(), nil
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

var tmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
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
</style></head><body>
<h1>{{.Title}}</h1>
<ul class="meta">{{range .Meta}}<li><b>{{index . 0}}:</b> {{index . 1}}</li>{{end}}</ul>
{{if .Files}}<p class="meta">Files: {{range $i, $f := .Files}}{{if $i}} · {{end}}<a href="{{$f}}">{{$f}}</a>{{end}}</p>{{end}}
<p>Verdict: <span class="v v-{{.Valid}}">{{.Valid}}</span> {{.Summary}}</p>
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

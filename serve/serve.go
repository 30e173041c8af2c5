// Package serve is jplan's web UI over a store: a table of the stored runs
// (test, start, verdict, ops, duration, seed, faults), sortable and
// filterable by plain links, each run's page with its report, history
// downloads, node logs and plots, and the run directory's files. It reads
// the store as storage writes it and nothing else, so a run directory
// copied from another machine shows the same; a run in progress shows as
// running and its row updates from status.json while it goes.
//
// Live updates are a small inline script with no build step: the table and
// a running run's page poll /api/runs every two seconds with fetch() and
// update the rows in place (the page reloads when runs appear, disappear
// or change order). Without JavaScript the pages still work; they are just
// not live.
package serve

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jplan/jplan/storage"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"join":  strings.Join,
	"since": func(t time.Time) string { return t.Format("2006-01-02 15:04:05 UTC") },
	"size":  humanSize,
}).ParseFS(templateFS, "templates/*.html"))

// PollInterval is how often the pages' script polls for live updates.
const PollInterval = 2 * time.Second

// Handler serves the UI over the store rooted at store. The store need
// not exist yet: the table is then empty, and fills as runs appear.
func Handler(store string) http.Handler { return newServer(store) }

type server struct {
	root string
	sc   *scanner
	mux  *http.ServeMux
}

func newServer(root string) *server {
	s := &server{root: root, sc: newScanner(root), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("GET /api/runs", s.apiRuns)
	s.mux.HandleFunc("GET /api/runs/{test}/{id}", s.apiRun)
	s.mux.HandleFunc("GET /runs/{test}/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
	})
	s.mux.HandleFunc("GET /runs/{test}/{id}/{path...}", s.runFiles)
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// query is the table's view: which runs (filters) in what order.
type query struct {
	Test, Verdict string
	Sort          string
	Desc          bool
}

var sortKeys = []string{"test", "start", "verdict", "ops", "duration", "seed", "faults"}

func parseQuery(v url.Values) query {
	q := query{Test: v.Get("test"), Verdict: v.Get("verdict"), Sort: v.Get("sort"), Desc: v.Get("order") != "asc"}
	if !contains(sortKeys, q.Sort) {
		q.Sort, q.Desc = "start", true
		if v.Get("order") == "asc" {
			q.Desc = false
		}
	}
	return q
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// href is the table's URL for q.
func (q query) href() string {
	v := url.Values{}
	if q.Test != "" {
		v.Set("test", q.Test)
	}
	if q.Verdict != "" {
		v.Set("verdict", q.Verdict)
	}
	if q.Sort != "start" || !q.Desc {
		v.Set("sort", q.Sort)
		if q.Desc {
			v.Set("order", "desc")
		} else {
			v.Set("order", "asc")
		}
	}
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

// selectRuns filters and sorts runs for q.
func selectRuns(all []*Run, q query) []*Run {
	var out []*Run
	for _, r := range all {
		if (q.Test == "" || r.Test == q.Test) && (q.Verdict == "" || r.Verdict == q.Verdict) {
			out = append(out, r)
		}
	}
	less := func(a, b *Run) int {
		switch q.Sort {
		case "test":
			return strings.Compare(a.Test, b.Test)
		case "verdict":
			return strings.Compare(a.Verdict, b.Verdict)
		case "ops":
			return cmpNum(float64(a.Ops), float64(b.Ops))
		case "duration":
			return cmpNum(a.DurationSeconds, b.DurationSeconds)
		case "seed":
			x, ex := strconv.ParseInt(a.Seed, 10, 64)
			y, ey := strconv.ParseInt(b.Seed, 10, 64)
			if ex == nil && ey == nil {
				return cmpNum(float64(x), float64(y))
			}
			return strings.Compare(a.Seed, b.Seed)
		case "faults":
			return strings.Compare(strings.Join(a.Faults, ","), strings.Join(b.Faults, ","))
		}
		return 0
	}
	sort.SliceStable(out, func(i, j int) bool {
		c := less(out[i], out[j])
		if c == 0 {
			// Ties (and the default sort) go by start: run ids sort in time order.
			c = strings.Compare(out[i].ID, out[j].ID)
			if c == 0 {
				c = strings.Compare(out[i].Test, out[j].Test)
			}
		}
		if q.Desc {
			return c > 0
		}
		return c < 0
	})
	return out
}

func cmpNum(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type column struct {
	Key, Title string
	Href       string
	Arrow      string
}

func (s *server) index(w http.ResponseWriter, r *http.Request) {
	all, err := s.sc.runs()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	q := parseQuery(r.URL.Query())
	tests := map[string]bool{}
	for _, run := range all {
		tests[run.Test] = true
	}
	var testNames []string
	for t := range tests {
		testNames = append(testNames, t)
	}
	sort.Strings(testNames)
	var cols []column
	for _, c := range []struct{ key, title string }{{"test", "Test"}, {"start", "Started"}, {"verdict", "Verdict"}, {"ops", "Ops"}, {"duration", "Duration"}, {"seed", "Seed"}, {"faults", "Faults"}} {
		next := q
		next.Sort = c.key
		col := column{Key: c.key, Title: c.title}
		if q.Sort == c.key {
			next.Desc = !q.Desc
			col.Arrow = "▲"
			if q.Desc {
				col.Arrow = "▼"
			}
		} else {
			// Numbers and times first show the biggest, names the first.
			next.Desc = c.key == "start" || c.key == "ops" || c.key == "duration"
		}
		col.Href = next.href()
		cols = append(cols, col)
	}
	type filterLink struct {
		Label, Href string
		Active      bool
	}
	var testLinks, verdictLinks []filterLink
	for _, t := range append([]string{""}, testNames...) {
		n := q
		n.Test = t
		label := t
		if t == "" {
			label = "all"
		}
		testLinks = append(testLinks, filterLink{label, n.href(), q.Test == t})
	}
	for _, v := range append([]string{""}, Verdicts...) {
		n := q
		n.Verdict = v
		label := v
		if v == "" {
			label = "all"
		}
		verdictLinks = append(verdictLinks, filterLink{label, n.href(), q.Verdict == v})
	}
	s.render(w, "index.html", map[string]any{
		"Store":        s.root,
		"Runs":         selectRuns(all, q),
		"Total":        len(all),
		"Query":        q,
		"Columns":      cols,
		"TestLinks":    testLinks,
		"VerdictLinks": verdictLinks,
		"PollMillis":   PollInterval.Milliseconds(),
	})
}

func (s *server) apiRuns(w http.ResponseWriter, r *http.Request) {
	all, err := s.sc.runs()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	runs := selectRuns(all, parseQuery(r.URL.Query()))
	if runs == nil {
		runs = []*Run{}
	}
	writeJSON(w, map[string]any{"runs": runs, "now": time.Now().UTC()})
}

func (s *server) apiRun(w http.ResponseWriter, r *http.Request) {
	ri, ok := s.resolve(w, r)
	if !ok {
		return
	}
	writeJSON(w, s.sc.run(ri))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *server) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := templates.ExecuteTemplate(w, name, data); err != nil {
		// Headers are gone; say it in the page.
		fmt.Fprintf(w, "<p>serve: rendering %s: %s</p>", name, template.HTMLEscapeString(err.Error()))
	}
}

// resolve finds the run a request names, answering 404 (or redirecting a
// "latest" reference) when it is not a run of the store.
func (s *server) resolve(w http.ResponseWriter, r *http.Request) (storage.RunInfo, bool) {
	test, id := r.PathValue("test"), r.PathValue("id")
	if storage.ValidateTestName(test) != nil || !safeName(id) {
		http.NotFound(w, r)
		return storage.RunInfo{}, false
	}
	if id == storage.Latest {
		ri, err := s.sc.store.Resolve(test + "/" + storage.Latest)
		if err != nil {
			http.NotFound(w, r)
			return storage.RunInfo{}, false
		}
		target := strings.Replace(r.URL.Path, "/"+test+"/"+storage.Latest, "/"+test+"/"+ri.ID, 1)
		http.Redirect(w, r, target, http.StatusFound)
		return storage.RunInfo{}, false
	}
	ri, err := s.sc.store.Resolve(test + "/" + id)
	if err != nil {
		http.NotFound(w, r)
		return storage.RunInfo{}, false
	}
	return ri, true
}

// safeName reports whether a path element may be served: not empty, no
// separators, not "." or "..", and not hidden (the store's temporary files
// start with a dot).
func safeName(n string) bool {
	return n != "" && !strings.ContainsAny(n, "/\\\x00") && !strings.HasPrefix(n, ".")
}

// runFiles serves a run: its page at /runs/T/ID/, its files and
// directories below.
func (s *server) runFiles(w http.ResponseWriter, r *http.Request) {
	ri, ok := s.resolve(w, r)
	if !ok {
		return
	}
	rel := r.PathValue("path")
	if rel == "" {
		s.runPage(w, ri)
		return
	}
	full, fi, err := s.contained(ri.Dir, rel)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if fi.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		s.dirPage(w, ri, strings.TrimSuffix(rel, "/"), full)
		return
	}
	f, err := os.Open(full)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	name := path.Base(rel)
	top, _, _ := strings.Cut(rel, "/")
	switch {
	case top == storage.NodesDir:
		// Files fetched from the nodes are whatever the nodes had: never
		// let one run as a page of the UI.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	default:
		switch path.Ext(name) {
		case ".jsonl", ".edn", ".log", ".hcl", ".txt", ".tpl", ".conf":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	if r.URL.Query().Get("download") != "" {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", ri.Test+"-"+ri.ID+"-"+name))
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, fi.ModTime(), f)
}

// contained resolves rel inside the run directory dir, following symlinks
// only as far as they stay inside it.
func (s *server) contained(dir, rel string) (string, os.FileInfo, error) {
	parts := strings.Split(strings.TrimSuffix(rel, "/"), "/")
	for _, p := range parts {
		if !safeName(p) {
			return "", nil, errors.New("serve: bad path")
		}
	}
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", nil, err
	}
	full, err := filepath.EvalSymlinks(filepath.Join(base, filepath.FromSlash(strings.Join(parts, "/"))))
	if err != nil {
		return "", nil, err
	}
	if r, err := filepath.Rel(base, full); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || filepath.IsAbs(r) {
		return "", nil, errors.New("serve: path leaves the run directory")
	}
	fi, err := os.Stat(full)
	if err != nil {
		return "", nil, err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return "", nil, errors.New("serve: not a file")
	}
	return full, fi, nil
}

// entry is a file of a run, for listings.
type entry struct {
	Name, Href string
	Dir        bool
	Size       int64
}

// dirPage lists a directory of a run.
func (s *server) dirPage(w http.ResponseWriter, ri storage.RunInfo, rel, full string) {
	ents, err := os.ReadDir(full)
	if err != nil {
		http.Error(w, "cannot list directory", http.StatusInternalServerError)
		return
	}
	var list []entry
	for _, e := range ents {
		if !safeName(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		en := entry{Name: e.Name(), Href: url.PathEscape(e.Name()), Size: fi.Size()}
		if st, err := os.Stat(filepath.Join(full, e.Name())); err == nil && st.IsDir() {
			en.Dir, en.Href, en.Name = true, en.Href+"/", en.Name+"/"
		}
		list = append(list, en)
	}
	s.render(w, "dir.html", map[string]any{"Run": ri, "Path": rel, "Entries": list, "RunURL": "/runs/" + ri.Test + "/" + ri.ID + "/"})
}

// checkerRow is one checker's line on a run page.
type checkerRow struct {
	Name, Verdict, Summary, Error string
	Depth                         int
}

func checkerRows(res *results) ([]checkerRow, []string) {
	var rows []checkerRow
	var files []string
	var walk func(r results, depth int)
	walk = func(r results, depth int) {
		names := make([]string, 0, len(r.Results))
		for n := range r.Results {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c := r.Results[n]
			rows = append(rows, checkerRow{Name: n, Verdict: verdictOf("", &c), Summary: c.Summary, Error: c.Error, Depth: depth})
			files = append(files, c.Files...)
			walk(c, depth+1)
		}
	}
	if res != nil {
		files = append(files, res.Files...)
		walk(*res, 0)
	}
	return rows, files
}

// runPage is a run's overview.
func (s *server) runPage(w http.ResponseWriter, ri storage.RunInfo) {
	run := s.sc.run(ri)
	rows, files := checkerRows(run.results)
	var plots, pages []string
	seen := map[string]bool{}
	for _, f := range files {
		f = filepath.ToSlash(f)
		if seen[f] {
			continue
		}
		seen[f] = true
		if _, _, err := s.contained(ri.Dir, f); err != nil {
			continue
		}
		switch path.Ext(f) {
		case ".svg", ".png":
			plots = append(plots, f)
		default:
			pages = append(pages, f)
		}
	}
	s.render(w, "run.html", map[string]any{
		"Run":        run,
		"Checkers":   rows,
		"Plots":      plots,
		"Pages":      pages,
		"Top":        listTop(ri.Dir),
		"Plan":       walkFiles(ri.Dir, storage.PlanDir),
		"Nodes":      walkFiles(ri.Dir, storage.NodesDir),
		"HasEDN":     regular(filepath.Join(ri.Dir, storage.EDNFile)),
		"HasJSONL":   regular(filepath.Join(ri.Dir, storage.HistoryFile)),
		"HasLog":     regular(filepath.Join(ri.Dir, storage.LogFile)),
		"HasResults": regular(filepath.Join(ri.Dir, storage.ResultsFile)),
		"PollMillis": PollInterval.Milliseconds(),
	})
}

func regular(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// listTop lists the run directory's own entries.
func listTop(dir string) []entry {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []entry
	for _, e := range ents {
		if !safeName(e.Name()) {
			continue
		}
		en := entry{Name: e.Name(), Href: url.PathEscape(e.Name())}
		if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
			en.Size = fi.Size()
			if fi.IsDir() {
				en.Dir, en.Name, en.Href = true, en.Name+"/", en.Href+"/"
			}
		}
		out = append(out, en)
	}
	return out
}

// walkFiles lists the regular files under dir/sub, with paths relative to
// dir, for the plan and node logs. It does not follow symlinks.
func walkFiles(dir, sub string) []entry {
	var out []entry
	root := filepath.Join(dir, sub)
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && p != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		var size int64
		if fi, err := d.Info(); err == nil {
			size = fi.Size()
		}
		esc := strings.Split(rel, "/")
		for i := range esc {
			esc[i] = url.PathEscape(esc[i])
		}
		out = append(out, entry{Name: strings.TrimPrefix(rel, sub+"/"), Href: strings.Join(esc, "/"), Size: size})
		return nil
	})
	return out
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

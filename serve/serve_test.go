package serve_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/serve"
	"github.com/jplan/jplan/storage"
)

// fakeRun writes a run directory by hand, as jplan (or an older jplan, or a
// killed one) leaves it.
type fakeRun struct {
	test, id string
	status   *storage.Status // nil: no status.json (jplan before it)
	results  string          // results.json's text; "" for none
	seed     int
	ops      []string // history.jsonl lines
	age      time.Duration
}

func (f fakeRun) write(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(root, f.test, f.id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(storage.HistoryFile, strings.Join(f.ops, ""))
	write(storage.LogFile, fmt.Sprintf("setup 0.001s  test %s, run %s, seed %d, 3 nodes, concurrency 6\n", f.test, dir, f.seed))
	if f.results != "" {
		write(storage.ResultsFile, f.results)
	}
	if f.status != nil {
		b, _ := json.Marshal(f.status)
		write(storage.StatusFile, string(b))
	}
	if f.age > 0 {
		old := time.Now().Add(-f.age)
		for _, n := range []string{storage.HistoryFile, storage.LogFile, storage.ResultsFile, storage.StatusFile} {
			os.Chtimes(filepath.Join(dir, n), old, old)
		}
	}
	return dir
}

func op(i int, proc, f string) string {
	return fmt.Sprintf(`{"index":%d,"time":%d,"type":"invoke","process":%s,"f":%q,"value":null}`+"\n", i, int64(i)*int64(time.Millisecond), proc, f)
}

func ops(n int, nemesis ...string) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, op(len(out), "0", "read"))
	}
	for _, f := range nemesis {
		out = append(out, op(len(out), `"nemesis"`, f))
	}
	return out
}

type apiRun struct {
	Test, ID, Verdict, State, Seed string
	Ops                            int64
	Faults                         []string
	Progress                       string
	HasReport                      bool `json:"has_report"`
	URL                            string
}

func getRuns(t *testing.T, base, query string) []apiRun {
	t.Helper()
	res, err := http.Get(base + "/api/runs" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Runs []apiRun }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Runs
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// TestVerdicts: each way a run can be found in the store gets its label:
// done runs their verdict, a live status running, a stale one killed, a
// run from before status.json its results' verdict, a run with neither
// killed; seeds come from the log and faults from the nemesis's ops.
func TestVerdicts(t *testing.T) {
	root := t.TempDir()
	now := time.Now().UTC()
	fakeRun{test: "a", id: "20260101T000000.000Z", seed: 7, ops: ops(4, "start-partition", "stop-partition", "kill"),
		status:  &storage.Status{State: "done", Updated: now.Add(-time.Hour), Valid: "true", ElapsedSeconds: 3},
		results: `{"valid": true, "summary": "all good", "results": {"x": {"valid": true}}}`}.write(t, root)
	fakeRun{test: "a", id: "20260101T000001.000Z", seed: 8, ops: ops(2),
		status:  &storage.Status{State: "done", Updated: now.Add(-time.Hour), Valid: "false"},
		results: `{"valid": false, "summary": "bad"}`}.write(t, root)
	fakeRun{test: "b", id: "20260101T000002.000Z", seed: 9, ops: ops(3, "start-clock"),
		status: &storage.Status{State: "running", Updated: now, OK: 5, ElapsedSeconds: 1.5, ActiveFaults: []string{"clock"}}}.write(t, root)
	fakeRun{test: "b", id: "20260101T000003.000Z", seed: 10, ops: ops(3),
		status: &storage.Status{State: "running", Updated: now.Add(-2 * serve.StaleAfter)}}.write(t, root)
	fakeRun{test: "b", id: "20260101T000004.000Z", seed: 11, ops: ops(1),
		results: `{"valid": "unknown"}`}.write(t, root)
	fakeRun{test: "c", id: "20260101T000005.000Z", seed: 12, ops: ops(1), age: time.Hour}.write(t, root)
	fakeRun{test: "c", id: "20260101T000006.000Z", seed: 13, ops: ops(1),
		status: &storage.Status{State: "failed", Updated: now.Add(-time.Hour)}}.write(t, root)

	srv := httptest.NewServer(serve.Handler(root))
	defer srv.Close()
	runs := getRuns(t, srv.URL, "")
	want := map[string]struct {
		verdict, seed string
		ops           int64
		faults        string
	}{
		"20260101T000000.000Z": {"valid", "7", 7, "kill,partition"},
		"20260101T000001.000Z": {"invalid", "8", 2, ""},
		"20260101T000002.000Z": {"running", "9", 4, "clock"},
		"20260101T000003.000Z": {"killed", "10", 3, ""},
		"20260101T000004.000Z": {"unknown", "11", 1, ""},
		"20260101T000005.000Z": {"killed", "12", 1, ""},
		"20260101T000006.000Z": {"failed", "13", 1, ""},
	}
	if len(runs) != len(want) {
		t.Fatalf("got %d runs, want %d: %+v", len(runs), len(want), runs)
	}
	for i, r := range runs {
		w, ok := want[r.ID]
		if !ok {
			t.Errorf("unexpected run %+v", r)
			continue
		}
		if r.Verdict != w.verdict || r.Seed != w.seed || r.Ops != w.ops || strings.Join(r.Faults, ",") != w.faults {
			t.Errorf("run %s: verdict %s seed %s ops %d faults %v; want %+v", r.ID, r.Verdict, r.Seed, r.Ops, r.Faults, w)
		}
		if i > 0 && runs[i-1].ID < r.ID {
			t.Errorf("default order is not newest first: %s before %s", runs[i-1].ID, r.ID)
		}
	}
	if r := runs[4]; r.ID != "20260101T000002.000Z" || !strings.Contains(r.Progress, "5 ok") || !strings.Contains(r.Progress, "clock") {
		t.Errorf("running run's progress %q lacks its counts and faults", r.Progress)
	}

	if got := getRuns(t, srv.URL, "?verdict=killed"); len(got) != 2 || got[0].Verdict != "killed" || got[1].Verdict != "killed" {
		t.Errorf("?verdict=killed gave %+v", got)
	}
	if got := getRuns(t, srv.URL, "?test=a&verdict=invalid"); len(got) != 1 || got[0].ID != "20260101T000001.000Z" {
		t.Errorf("?test=a&verdict=invalid gave %+v", got)
	}
	got := getRuns(t, srv.URL, "?sort=ops&order=asc")
	for i := 1; i < len(got); i++ {
		if got[i-1].Ops > got[i].Ops {
			t.Errorf("sort=ops asc: %d before %d", got[i-1].Ops, got[i].Ops)
		}
	}
	got = getRuns(t, srv.URL, "?sort=seed&order=desc")
	if got[0].Seed != "13" || got[len(got)-1].Seed != "7" {
		t.Errorf("sort=seed desc (numeric): first %s last %s", got[0].Seed, got[len(got)-1].Seed)
	}

	// The HTML table shows the same, with filter links.
	code, _, page := get(t, srv.URL+"/?verdict=invalid")
	if code != 200 || !strings.Contains(page, `class="v v-invalid"`) || strings.Contains(page, `class="v v-valid"`) {
		t.Errorf("filtered table: status %d, wrong rows:\n%s", code, page)
	}
}

// TestHistoryGrows: the op count and faults follow a history that grows
// between requests (read incrementally), and a replaced one is read anew.
func TestHistoryGrows(t *testing.T) {
	root := t.TempDir()
	dir := fakeRun{test: "g", id: "20260101T000000.000Z", seed: 1, ops: ops(2),
		status: &storage.Status{State: "running", Updated: time.Now().UTC()}}.write(t, root)
	srv := httptest.NewServer(serve.Handler(root))
	defer srv.Close()
	if r := getRuns(t, srv.URL, ""); r[0].Ops != 2 {
		t.Fatalf("ops %d, want 2", r[0].Ops)
	}
	f, err := os.OpenFile(filepath.Join(dir, storage.HistoryFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A line still being written is not counted until it ends.
	full := op(2, `"nemesis"`, "start-pause")
	f.WriteString(op(2, "1", "write") + full[:10])
	if r := getRuns(t, srv.URL, ""); r[0].Ops != 3 || len(r[0].Faults) != 0 {
		t.Errorf("after appending one op and a partial line: ops %d faults %v, want 3 and none", r[0].Ops, r[0].Faults)
	}
	f.WriteString(full[10:])
	f.Close()
	if r := getRuns(t, srv.URL, ""); r[0].Ops != 4 || strings.Join(r[0].Faults, ",") != "pause" {
		t.Errorf("after finishing the line: ops %d faults %v, want 4 and pause", r[0].Ops, r[0].Faults)
	}
	// Replaced by a shorter file: counted from scratch.
	tmp := filepath.Join(dir, "h.tmp")
	os.WriteFile(tmp, []byte(op(0, "0", "read")), 0o644)
	os.Rename(tmp, filepath.Join(dir, storage.HistoryFile))
	if r := getRuns(t, srv.URL, ""); r[0].Ops != 1 || len(r[0].Faults) != 0 {
		t.Errorf("after replacing the history: ops %d faults %v, want 1 and none", r[0].Ops, r[0].Faults)
	}
}

// TestFilesStayInside: the run's files are served, and nothing outside
// the run directory is, by .., by encoded .., or through a symlink.
func TestFilesStayInside(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(outside, []byte("SECRET"), 0o644)
	dir := fakeRun{test: "s", id: "20260101T000000.000Z", seed: 1, ops: ops(1),
		results: `{"valid": true}`}.write(t, root)
	os.WriteFile(filepath.Join(root, "s", "other.txt"), []byte("SECRET"), 0o644)
	os.MkdirAll(filepath.Join(dir, "nodes", "n1"), 0o755)
	os.WriteFile(filepath.Join(dir, "nodes", "n1", "evil.html"), []byte("<script>alert(1)</script>"), 0o644)
	os.WriteFile(filepath.Join(dir, ".status.json.tmp-1"), []byte("SECRET"), 0o644)
	os.Symlink(outside, filepath.Join(dir, "escape.txt"))
	os.Symlink("..", filepath.Join(dir, "up"))
	os.Symlink(storage.LogFile, filepath.Join(dir, "log-link"))

	srv := httptest.NewServer(serve.Handler(root))
	defer srv.Close()
	base := srv.URL + "/runs/s/20260101T000000.000Z/"
	for _, p := range []string{"escape.txt", "up/other.txt", "up/", "%2e%2e/other.txt", "..%2fother.txt", ".status.json.tmp-1", "nodes/%2e%2e/%2e%2e/%2e%2e/other.txt"} {
		code, _, body := get(t, base+p)
		if code == 200 || strings.Contains(body, "SECRET") {
			t.Errorf("%s: served (%d) %q", p, code, body)
		}
	}
	for _, p := range []string{"/runs/..%2f..%2fetc/x/", "/runs/s/..%2f..%2f/", "/runs/s/%2e%2e/"} {
		if code, _, body := get(t, srv.URL+p); code == 200 || strings.Contains(body, "SECRET") {
			t.Errorf("%s: served (%d)", p, code)
		}
	}
	if code, _, body := get(t, base+"log-link"); code != 200 || !strings.Contains(body, "seed 1") {
		t.Errorf("a symlink inside the run: %d %q", code, body)
	}
	code, h, body := get(t, base+"nodes/n1/evil.html")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("a node's html file: %d, Content-Type %q: must be served as text", code, h.Get("Content-Type"))
	}
	_ = body
	code, h, _ = get(t, base+"history.jsonl?download=1")
	if code != 200 || !strings.Contains(h.Get("Content-Disposition"), "attachment") {
		t.Errorf("history download: %d, Content-Disposition %q", code, h.Get("Content-Disposition"))
	}
	code, _, body = get(t, base+"nodes/n1/")
	if code != 200 || !strings.Contains(body, `href="evil.html"`) {
		t.Errorf("nodes/n1/ listing: %d %s", code, body)
	}
	code, _, body = get(t, base)
	if code != 200 || !strings.Contains(body, `n1/evil.html`) || !strings.Contains(body, "history.jsonl") {
		t.Errorf("run page: %d, lacks the node file or history: %s", code, body)
	}
	// latest resolves to the newest run.
	res, err := http.Get(srv.URL + "/runs/s/latest/")
	if err != nil || res.StatusCode != 200 || !strings.HasSuffix(res.Request.URL.Path, "/runs/s/20260101T000000.000Z/") {
		t.Errorf("latest: %v %v", err, res.Request.URL)
	}
	if code, _, _ := get(t, srv.URL+"/runs/s/20990101T000000.000Z/"); code != 404 {
		t.Errorf("a missing run: %d, want 404", code)
	}
}

// TestEmptyStore: a store that does not exist yet is an empty table.
func TestEmptyStore(t *testing.T) {
	srv := httptest.NewServer(serve.Handler(filepath.Join(t.TempDir(), "none")))
	defer srv.Close()
	code, _, body := get(t, srv.URL+"/")
	if code != 200 || !strings.Contains(body, "No runs yet") {
		t.Errorf("empty store: %d %s", code, body)
	}
	if r := getRuns(t, srv.URL, ""); len(r) != 0 {
		t.Errorf("empty store has runs %+v", r)
	}
}

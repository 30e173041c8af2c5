package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/run"
	"github.com/jplan/jplan/serve"
	"github.com/jplan/jplan/storage"
)

// chromium finds a Chromium to drive. Without one the browser tests skip,
// except in CI (JPLAN_REQUIRE_DOCKER or CI set), where they fail:
// scripts/ensure-chromium.sh, which make unit runs first, installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("JPLAN_REQUIRE_DOCKER") != "" || os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH (scripts/ensure-chromium.sh installs Debian's)")
	}
	t.Skip("no Chromium on PATH; scripts/ensure-chromium.sh installs it")
	return ""
}

// newBrowser starts headless Chromium for the test.
func newBrowser(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium %s: %v", exe, err)
	}
	return ctx
}

// pipelineRun runs examples/memory.hcl for real, shortened, into store.
func pipelineRun(t *testing.T, store string, stale bool) *run.Outcome {
	t.Helper()
	var vars []string
	if stale {
		vars = append(vars, "stale_reads=true")
	}
	out, err := run.Run(context.Background(), run.Options{Path: "../examples/memory.hcl", Store: store,
		Inputs: eval.InputOptions{Vars: vars}, TimeLimit: 1500 * time.Millisecond})
	if err != nil {
		t.Fatalf("run (stale reads %v): %v", stale, err)
	}
	want := checker.True
	if stale {
		want = checker.False
	}
	if out.Result.Valid != want {
		t.Fatalf("run (stale reads %v) judged %v, want %v", stale, out.Result.Valid, want)
	}
	return out
}

// startRunning makes a run that is in progress, as run.Run leaves it
// mid-test: history streaming, a nemesis partition, a fresh status.
func startRunning(t *testing.T, store string) *storage.Run {
	t.Helper()
	st, err := storage.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Create("memory-register", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	fmt.Fprintf(r.Log(), "setup 0.001s  test memory-register, run %s, seed 77, 3 nodes, concurrency 6\n", r.Dir)
	for i, o := range []history.Op{
		{Type: history.Invoke, Process: 0, F: "read"},
		{Type: history.Invoke, Process: history.NemesisProcess, F: "start-partition"},
		{Type: history.OK, Process: 0, F: "read", Value: int64(1)},
	} {
		o.Index, o.Time = int64(i), int64(i)*int64(time.Millisecond)
		if err := r.History().Append(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.History().Flush(); err != nil {
		t.Fatal(err)
	}
	writeStatus(t, r, storage.Status{State: "running", ElapsedSeconds: 1.2, OK: 1, InFlight: 1, ActiveFaults: []string{"partition"}})
	return r
}

func writeStatus(t *testing.T, r *storage.Run, s storage.Status) {
	t.Helper()
	if err := r.WriteStatus(s); err != nil {
		t.Fatal(err)
	}
}

type shownRow struct {
	Key      string   `json:"key"`
	Verdict  string   `json:"verdict"`
	BG       string   `json:"bg"`
	Visible  bool     `json:"visible"`
	Ops      string   `json:"ops"`
	Seed     string   `json:"seed"`
	Faults   string   `json:"faults"`
	Progress string   `json:"progress"`
	Links    []string `json:"links"`
}

const rowsJS = `[...document.querySelectorAll("#runs tr[data-key]")].map(tr => {
  const b = tr.querySelector(".v"), cell = f => tr.querySelector('[data-f="' + f + '"]').innerText.trim();
  return {key: tr.dataset.key, verdict: b.innerText.trim(), bg: getComputedStyle(b).backgroundColor,
    visible: b.getBoundingClientRect().width > 0 && getComputedStyle(b).visibility === "visible",
    ops: cell("ops"), seed: cell("seed"), faults: cell("faults"), progress: cell("progress"),
    links: [...tr.querySelectorAll("a")].map(a => a.href)};
})`

func rows(t *testing.T, ctx context.Context) []shownRow {
	t.Helper()
	rs, err := chromedp.Run(ctx, chromedp.Evaluate[[]shownRow](rowsJS))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// rgb parses a computed CSS color, "rgb(r, g, b)" or "rgba(...)".
func rgb(t *testing.T, s string) (r, g, b int) {
	t.Helper()
	var a float64
	if _, err := fmt.Sscanf(s, "rgb(%d, %d, %d)", &r, &g, &b); err == nil {
		return
	}
	if _, err := fmt.Sscanf(s, "rgba(%d, %d, %d, %g)", &r, &g, &b, &a); err != nil {
		t.Fatalf("color %q: %v", s, err)
	}
	return
}

// hue names the dominant channel of a color, or "" when none clearly is.
func hue(r, g, b int) string {
	switch {
	case r > g+60 && r > b+60:
		return "red"
	case g > r+50 && g > b+30:
		return "green"
	case b > r+60 && b > g+30:
		return "blue"
	case r > b+80 && g > b+60:
		return "yellow"
	case max(r, g, b)-min(r, g, b) < 20 && r < 200:
		return "gray"
	}
	return ""
}

// resolves fetches each URL and fails the test for any that is not 200.
func resolves(t *testing.T, what string, urls []string) {
	t.Helper()
	for _, u := range urls {
		if !strings.HasPrefix(u, "http") {
			continue
		}
		res, err := http.Get(u)
		if err != nil {
			t.Errorf("%s: link %s: %v", what, u, err)
			continue
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: link %s: %s", what, u, res.Status)
		}
	}
}

func countLines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// TestBrowser serves a store holding a valid, an invalid and a running run
// (the first two from the real pipeline) and looks at it in headless
// Chromium as a person would: the rows, the verdicts' colors, links that
// resolve, sorting and filtering, a running row that updates as its
// status.json changes, and screenshots of the reports.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	store := t.TempDir()
	valid := pipelineRun(t, store, false)
	invalid := pipelineRun(t, store, true)
	running := startRunning(t, store)
	srv := httptest.NewServer(serve.Handler(store))
	defer srv.Close()
	ctx := newBrowser(t, exe)

	key := func(dir string) string { return "memory-register/" + filepath.Base(dir) }
	want := map[string]struct{ verdict, color, seed string }{
		key(valid.Dir):   {"valid", "green", fmt.Sprint(valid.Seed)},
		key(invalid.Dir): {"invalid", "red", fmt.Sprint(invalid.Seed)},
		key(running.Dir): {"running", "blue", "77"},
	}

	t.Run("table", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible("#runs tr[data-key]")); err != nil {
			t.Fatal(err)
		}
		rs := rows(t, ctx)
		if len(rs) != 3 {
			t.Fatalf("the table shows %d runs, want 3: %+v", len(rs), rs)
		}
		if rs[0].Key != key(running.Dir) {
			t.Errorf("newest run first: first row is %s, want the running run", rs[0].Key)
		}
		for _, r := range rs {
			w, ok := want[r.Key]
			if !ok {
				t.Errorf("unexpected row %s", r.Key)
				continue
			}
			if r.Verdict != w.verdict || !r.Visible {
				t.Errorf("%s: shows verdict %q (visible %v), want %q", r.Key, r.Verdict, r.Visible, w.verdict)
			}
			if c := hue(rgb(t, r.BG)); c != w.color {
				t.Errorf("%s: verdict %s is %s (%s), want %s", r.Key, r.Verdict, c, r.BG, w.color)
			}
			if r.Seed != w.seed {
				t.Errorf("%s: seed %q, want %q", r.Key, r.Seed, w.seed)
			}
			dir := filepath.Join(store, filepath.FromSlash(r.Key))
			if n := countLines(t, filepath.Join(dir, storage.HistoryFile)); r.Ops != fmt.Sprint(n) || n == 0 {
				t.Errorf("%s: ops %q, history has %d entries", r.Key, r.Ops, n)
			}
			resolves(t, "table row "+r.Key, r.Links)
		}
		for _, r := range rs {
			if r.Key == key(running.Dir) && (r.Faults != "partition" || !strings.Contains(r.Progress, "1 ok")) {
				t.Errorf("running row: faults %q, progress %q", r.Faults, r.Progress)
			}
			if r.Key != key(running.Dir) && r.Progress != "" {
				t.Errorf("finished row %s shows progress %q", r.Key, r.Progress)
			}
		}
		links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("a")].map(a => a.href)`))
		if err != nil {
			t.Fatal(err)
		}
		resolves(t, "table page", links)
	})

	t.Run("sort and filter", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.Click(`th[data-col="ops"] a`, chromedp.NodeVisible),
			chromedp.WaitVisible(`th[data-col="ops"] a`)); err != nil {
			t.Fatal(err)
		}
		if err := waitFor(ctx, `location.search.includes("sort=ops") && document.readyState === "complete"`); err != nil {
			t.Fatalf("clicking Ops did not sort: %v", err)
		}
		rs := rows(t, ctx)
		var ops []int
		for _, r := range rs {
			var n int
			fmt.Sscan(r.Ops, &n)
			ops = append(ops, n)
		}
		if len(ops) != 3 || !(ops[0] >= ops[1] && ops[1] >= ops[2]) || ops[0] == ops[2] {
			t.Errorf("sorted by ops, the table shows %v: want largest first", ops)
		}
		if err := chromedp.Do(ctx, chromedp.Click(`#verdict-filter a[href*="verdict=invalid"]`, chromedp.NodeVisible)); err != nil {
			t.Fatal(err)
		}
		if err := waitFor(ctx, `location.search.includes("verdict=invalid") && document.readyState === "complete"`); err != nil {
			t.Fatalf("the invalid filter did not apply: %v", err)
		}
		rs = rows(t, ctx)
		if len(rs) != 1 || rs[0].Key != key(invalid.Dir) || rs[0].Verdict != "invalid" {
			t.Errorf("filtered to invalid runs, the table shows %+v", rs)
		}
	})

	t.Run("run pages", func(t *testing.T) {
		for _, dir := range []string{valid.Dir, invalid.Dir, running.Dir} {
			u := srv.URL + "/runs/" + key(dir) + "/"
			if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitVisible("#verdict .v")); err != nil {
				t.Fatal(err)
			}
			verdict, err := chromedp.Run(ctx, chromedp.Text("#verdict .v"))
			if err != nil {
				t.Fatal(err)
			}
			if verdict != want[key(dir)].verdict {
				t.Errorf("%s: page says %q, want %q", u, verdict, want[key(dir)].verdict)
			}
			links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("a")].map(a => a.href).concat([...document.images].map(i => i.src))`))
			if err != nil {
				t.Fatal(err)
			}
			resolves(t, u, links)
			if dir == running.Dir {
				continue
			}
			// Finished runs link their report and history, and show their plots.
			if !containsSuffix(links, "/report.html") || !containsSuffix(links, "/history.jsonl?download=1") || !containsSuffix(links, "/history.edn") {
				t.Errorf("%s lacks report or history links: %v", u, links)
			}
			broken, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.images.length === 0 ? -1 : [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length`))
			if err != nil || broken != 0 {
				t.Errorf("%s: plots: %d broken (-1: none shown), %v", u, broken, err)
			}
		}
	})

	t.Run("live", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible("#runs tr[data-key]")); err != nil {
			t.Fatal(err)
		}
		writeStatus(t, running, storage.Status{State: "running", ElapsedSeconds: 3.5, OK: 4242, Fail: 7, InFlight: 2, ActiveFaults: []string{"partition"}})
		sel := fmt.Sprintf(`document.querySelector('tr[data-key="%s"] [data-f="progress"]').innerText`, key(running.Dir))
		if err := waitFor(ctx, sel+`.includes("4242 ok")`); err != nil {
			t.Fatalf("the running row did not update to the new status: %v", err)
		}
		// The run stops updating: once its status is stale, it shows killed.
		writeStatus(t, running, storage.Status{State: "running", Updated: time.Now().Add(-2 * serve.StaleAfter), OK: 4300})
		badge := fmt.Sprintf(`document.querySelector('tr[data-key="%s"] .v')`, key(running.Dir))
		if err := waitFor(ctx, badge+`.innerText === "killed"`); err != nil {
			t.Fatalf("a stale run did not turn killed: %v", err)
		}
		bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(`+badge+`).backgroundColor`))
		if err != nil || hue(rgb(t, bg)) != "gray" {
			t.Errorf("killed badge color %q (%v), want gray", bg, err)
		}
		// Its page, live again, updates too.
		writeStatus(t, running, storage.Status{State: "running", ElapsedSeconds: 5, OK: 5151, ActiveFaults: []string{"partition"}})
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/runs/"+key(running.Dir)+"/"), chromedp.WaitVisible("#progress")); err != nil {
			t.Fatal(err)
		}
		writeStatus(t, running, storage.Status{State: "running", ElapsedSeconds: 6, OK: 6161, ActiveFaults: []string{"partition"}})
		if err := waitFor(ctx, `document.getElementById("progress").innerText.includes("6161 ok")`); err != nil {
			t.Fatalf("the running run's page did not update: %v", err)
		}
	})

	t.Run("report screenshots", func(t *testing.T) {
		// The screenshots go to the test's temporary directory, or to
		// JPLAN_SCREENSHOT_DIR to keep them for a look.
		shots := os.Getenv("JPLAN_SCREENSHOT_DIR")
		if shots == "" {
			shots = t.TempDir()
		} else if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			out   *run.Outcome
			color string
		}{{valid, "green"}, {invalid, "red"}} {
			name := want[key(c.out.Dir)].verdict
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/runs/"+key(c.out.Dir)+"/report.html"), chromedp.WaitVisible("#verdict")); err != nil {
				t.Fatal(err)
			}
			links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("a")].map(a => a.href)`))
			if err != nil {
				t.Fatal(err)
			}
			resolves(t, name+" report", links)
			banner, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#verdict")))
			if err != nil {
				t.Fatal(err)
			}
			page, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			for n, b := range map[string][]byte{name + "-banner.png": banner, name + "-report.png": page} {
				if err := os.WriteFile(filepath.Join(shots, n), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// The banner is mostly the verdict's color (the rest is its
			// white text and antialiasing).
			if frac := fraction(t, banner, c.color); frac < 0.5 {
				t.Errorf("%s report: the verdict banner is %.0f%% %s, want most of it", name, 100*frac, c.color)
			}
			// The page is not blank, and the verdict's color is on it.
			if frac := fraction(t, page, "nonwhite"); frac < 0.02 {
				t.Errorf("%s report: only %.1f%% of the screenshot is not white: blank?", name, 100*frac)
			}
			if frac := fraction(t, page, c.color); frac <= 0 {
				t.Errorf("%s report: no %s on the page", name, c.color)
			}
			other := map[string]string{"green": "red", "red": "green"}[c.color]
			if bannerOther := fraction(t, banner, other); bannerOther > 0.05 {
				t.Errorf("%s report: the banner is %.0f%% %s", name, 100*bannerOther, other)
			}
		}
		t.Logf("screenshots in %s", shots)
	})
}

// waitFor waits until the page's expression is true. It evaluates again
// and again rather than with chromedp.Poll because the pages navigate
// (a click, a reload on new runs), which ends a poll running in the old
// page.
func waitFor(ctx context.Context, expr string) error {
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not true after 15s (last error %v)", expr, last)
}

func containsSuffix(xs []string, suffix string) bool {
	for _, x := range xs {
		if strings.HasSuffix(x, suffix) {
			return true
		}
	}
	return false
}

// fraction is the share of a PNG's pixels of a hue ("nonwhite": any pixel
// that is not near white).
func fraction(t *testing.T, b []byte, want string) float64 {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	bounds := img.Bounds()
	if bounds.Empty() {
		t.Fatal("screenshot is empty")
	}
	n := 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b := pixel(img, x, y)
			if want == "nonwhite" {
				if r < 235 || g < 235 || b < 235 {
					n++
				}
			} else if hue(r, g, b) == want {
				n++
			}
		}
	}
	return float64(n) / float64(bounds.Dx()*bounds.Dy())
}

func pixel(img image.Image, x, y int) (int, int, int) {
	r, g, b, _ := img.At(x, y).RGBA()
	return int(r >> 8), int(g >> 8), int(b >> 8)
}

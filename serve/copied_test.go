package serve_test

import (
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jplan/jplan/serve"
)

// copyDir copies a directory tree as cp -r does: files and directories,
// new modification times, no symlinks.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCopiedRun: a run directory of the real pipeline, copied into another
// store without its latest links (as from another machine), shows the
// same as where it was made.
func TestCopiedRun(t *testing.T) {
	src := t.TempDir()
	out := pipelineRun(t, src, true)
	dst := t.TempDir()
	copyDir(t, out.Dir, filepath.Join(dst, "from-elsewhere", filepath.Base(out.Dir)))

	a := httptest.NewServer(serve.Handler(src))
	defer a.Close()
	b := httptest.NewServer(serve.Handler(dst))
	defer b.Close()
	ra, rb := getRuns(t, a.URL, ""), getRuns(t, b.URL, "")
	if len(ra) != 1 || len(rb) != 1 {
		t.Fatalf("runs: %d here, %d in the copy", len(ra), len(rb))
	}
	x, y := ra[0], rb[0]
	if y.Test != "from-elsewhere" || y.Verdict != "invalid" || y.Verdict != x.Verdict || y.Ops != x.Ops || y.Seed != x.Seed || !y.HasReport || y.Ops == 0 {
		t.Errorf("copied run shows %+v, the original %+v", y, x)
	}
	for _, p := range []string{"", "report.html", "history.edn", "perf/rate.svg"} {
		code, _, body := get(t, b.URL+y.URL+p)
		if code != 200 || len(body) == 0 {
			t.Errorf("copied run: %s: %d", y.URL+p, code)
		}
		if p == "" && !strings.Contains(body, `class="v v-invalid"`) {
			t.Errorf("copied run's page lacks its verdict")
		}
	}
}

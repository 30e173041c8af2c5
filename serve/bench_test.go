package serve_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/serve"
	"github.com/jplan/jplan/storage"
)

// BenchmarkTablePoll is the cost of one poll of /api/runs over a store of
// 20 finished runs of 100k ops each, once their histories were scanned (the
// first request, outside the timer): the cache makes a poll read only the
// small files.
func BenchmarkTablePoll(b *testing.B) {
	root := b.TempDir()
	var hist strings.Builder
	for i := 0; i < 100_000; i++ {
		proc := "0"
		f := "read"
		if i%1000 == 0 {
			proc, f = `"nemesis"`, "start-partition"
		}
		fmt.Fprintf(&hist, `{"index":%d,"time":%d,"type":"ok","process":%s,"f":%q,"value":[1,2,3]}`+"\n", i, i*1000, proc, f)
	}
	for i := 0; i < 20; i++ {
		dir := filepath.Join(root, "t", fmt.Sprintf("20260101T0000%02d.000Z", i))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, storage.HistoryFile), []byte(hist.String()), 0o644)
		os.WriteFile(filepath.Join(dir, storage.ResultsFile), []byte(`{"valid": true}`), 0o644)
		os.WriteFile(filepath.Join(dir, storage.StatusFile), []byte(`{"state":"done","valid":"true","updated":"`+time.Now().UTC().Format(time.RFC3339)+`"}`), 0o644)
		os.WriteFile(filepath.Join(dir, storage.LogFile), []byte("setup 0.001s  test t, run x, seed 5, 3 nodes\n"), 0o644)
	}
	h := serve.Handler(root)
	req := httptest.NewRequest("GET", "/api/runs", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if !strings.Contains(w.Body.String(), `"ops": 100000`) {
		b.Fatalf("first poll: %s", w.Body.String()[:200])
	}
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/runs", nil))
	}
}

// BenchmarkHistoryScan is the first read of one 100k-op history.
func BenchmarkHistoryScan(b *testing.B) {
	var hist strings.Builder
	for i := 0; i < 100_000; i++ {
		fmt.Fprintf(&hist, `{"index":%d,"time":%d,"type":"ok","process":0,"f":"read","value":[1,2,3]}`+"\n", i, i*1000)
	}
	root := b.TempDir()
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(root, "t", fmt.Sprintf("20260101T000000.000Z-%03d", b.N%1000))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, storage.HistoryFile), []byte(hist.String()), 0o644)
		h := serve.Handler(root)
		b.StartTimer()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/api/runs/t/"+filepath.Base(dir), nil))
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

package verdict

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/eval"
)

const jsonl = `{"index":0,"time":1,"type":"invoke","process":0,"f":"write","value":1}
{"index":1,"time":2,"type":"ok","process":0,"f":"write","value":1}
{"index":2,"time":3,"type":"invoke","process":1,"f":"read","value":null}
{"index":3,"time":4,"type":"ok","process":1,"f":"read","value":2}
`

const edn = `{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 1}
`

func TestReadHistoryAndCheck(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	os.MkdirAll(run, 0o755)
	os.WriteFile(filepath.Join(run, HistoryJSONL), []byte(jsonl), 0o644)
	ednFile := filepath.Join(dir, "h.edn")
	os.WriteFile(ednFile, []byte(edn), 0o644)

	h, rd, err := ReadHistory(run)
	if err != nil || rd != run || len(h) != 4 {
		t.Fatalf("run dir: %d ops, dir %q, %v", len(h), rd, err)
	}
	// Read 2 after writing 1: not linearizable.
	res := Check(context.Background(), h, DefaultCheckers(CheckOptions{Model: "register"}), checker.Options{Dir: run})
	if res.Valid != checker.False {
		t.Errorf("stale read judged %v", res.Valid)
	}
	if _, ok := res.Results["stats"]; ok {
		t.Error("stats ran without being asked")
	}
	if _, err := WriteReport(run, "t", nil, res); err != nil {
		t.Fatal(err)
	}
	rep, _ := os.ReadFile(filepath.Join(run, "report.html"))
	if !strings.Contains(string(rep), `href="history.jsonl"`) {
		t.Error("report does not link the history")
	}

	h, rd, err = ReadHistory(ednFile)
	if err != nil || rd != "" || len(h) != 4 {
		t.Fatalf("edn: %d ops, %v", len(h), err)
	}
	if res := Check(context.Background(), h, DefaultCheckers(CheckOptions{Model: "register", Stats: true}), checker.Options{}); res.Valid != checker.True || res.Results["stats"].Valid != checker.True {
		t.Errorf("linearizable EDN history judged %v", res.Valid)
	}

	if _, _, err := ReadHistory(dir); err == nil || !strings.Contains(err.Error(), "run directory") {
		t.Errorf("a directory without history: %v", err)
	}
	if res := Check(context.Background(), h, []eval.CheckerConfig{{Kind: "no-such-checker"}}, checker.Options{}); res.Valid != checker.Unknown || res.Error == "" {
		t.Errorf("an unavailable checker must make the verdict unknown, not valid: %v", res.Valid)
	}
}

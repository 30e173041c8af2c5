package listappend

import (
	"compress/gzip"
	"context"
	"os"
	"slices"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/elle"
	"github.com/jplan/jplan/history"
)

// A saved run becomes a regression fixture: examples/postgres-append.hcl
// at PostgreSQL 15.18's "repeatable read", on the local cluster (seed 7,
// 30 s, 2755 completions). PostgreSQL's repeatable read is snapshot
// isolation: the history shows write skew (G2-item, 7 cycles) and nothing
// else, so it is not repeatable read in Adya's sense, nor serializable,
// but it is snapshot isolation. docs/analysis-postgres.md tells the story.
func TestPostgresRepeatableReadIsSnapshotIsolation(t *testing.T) {
	f, err := os.Open("testdata/postgres15-repeatable-read.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadJSONL(zr)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Check(context.Background(), h, elle.Options{ConsistencyModels: []string{"serializable"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid != checker.False || !slices.Equal(res.AnomalyTypes, []string{"G2-item"}) {
		t.Fatalf("serializable: %v %v, want invalid with G2-item only", res.Valid, res.AnomalyTypes)
	}
	if !slices.Equal(res.Not, []string{"repeatable-read"}) || !slices.Contains(res.AlsoNot, "serializable") || slices.Contains(res.AlsoNot, "snapshot-isolation") {
		t.Errorf("not %v, also not %v; want not repeatable-read, serializable among also-not, snapshot isolation kept", res.Not, res.AlsoNot)
	}
	si, err := Check(context.Background(), h, elle.Options{ConsistencyModels: []string{"snapshot-isolation"}})
	if err != nil {
		t.Fatal(err)
	}
	if si.Valid != checker.True {
		t.Errorf("snapshot-isolation: %v %v, want valid", si.Valid, si.AnomalyTypes)
	}
}

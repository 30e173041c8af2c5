package batch_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/batch"
	"github.com/jplan/jplan/cluster/clustertest"
	"github.com/jplan/jplan/run"
)

var env = clustertest.New("jplan-batch", "10.231.55.0/24", 3)

func TestMain(m *testing.M) { os.Exit(env.Main(m)) }

// TestEtcdBatch runs the etcd example as a user would with --test-count 2
// and a two-value matrix, on the local cluster: four runs, each its own run
// directory and seed, all linearizable, and JUnit XML naming each.
func TestEtcdBatch(t *testing.T) {
	info := env.Need(t)
	ax, err := batch.ParseAxis(`key=["batch-a", "batch-b"]`)
	if err != nil {
		t.Fatal(err)
	}
	specs := batch.Expand([]string{"../examples/etcd.hcl"}, []batch.Axis{ax}, 2)
	start := time.Now()
	rs := batch.Run(context.Background(), specs, batch.Options{
		Base: run.Options{NodesFile: info.NodesFile, Store: t.TempDir(), TimeLimit: 8 * time.Second},
	})
	if len(rs) != 4 {
		t.Fatalf("%d runs, want 4", len(rs))
	}
	seeds, dirs := map[int64]bool{}, map[string]bool{}
	for _, r := range rs {
		if r.Status() != "valid" {
			t.Errorf("%s: %s: %s", r.Label(), r.Status(), r.Problem())
		}
		if r.Outcome != nil {
			seeds[r.Outcome.Seed] = true
			dirs[r.Outcome.Dir] = true
			if r.Outcome.Summary.Entries < 20 {
				t.Errorf("%s: only %d ops", r.Label(), r.Outcome.Summary.Entries)
			}
		}
	}
	if len(dirs) != 4 || len(seeds) != 2 {
		t.Errorf("runs in %d directories with %d seeds; want 4 directories and 2 seeds (iterations 1 and 2 of each combination)", len(dirs), len(seeds))
	}
	if w := batch.Worst(rs); w != "valid" {
		t.Errorf("worst %s", w)
	}
	var buf bytes.Buffer
	if err := batch.WriteJUnit(&buf, rs, start); err != nil {
		t.Fatal(err)
	}
	for d := xml.NewDecoder(bytes.NewReader(buf.Bytes())); ; {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("JUnit XML not well formed: %v", err)
			}
			break
		}
	}
	for _, want := range []string{`tests="4" failures="0" errors="0"`, `name="etcd-register [key=batch-b #2]"`, `name="run_dir"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JUnit lacks %s:\n%s", want, buf.String())
		}
	}
}

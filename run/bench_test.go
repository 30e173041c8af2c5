package run_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jplan/jplan/run"
)

// benchPlan is examples/memory.hcl without stagger or jitter and with a
// fixed number of ops instead of a time limit: the whole run pipeline (plan,
// schedule, memory client, streamed history, status, checkers) with a
// client that answers at once.
const benchPlan = `
test "bench" {
  nodes       = ["n1", "n2", "n3"]
  remote      = "local"
  concurrency = "2n"
  seed        = 1
}

client "memory" {}

operation "read" {}
operation "write" { value = random_int(0, 4) }
operation "cas" { value = [random_int(0, 4), random_int(0, 4)] }

phase "main" {
  clients = limit(%d, mix([operation.read, operation.write, operation.cas]))
}

phase "final" {
  final   = true
  clients = each_thread(once(operation.read))
}

checker "stats" {}
`

// BenchmarkRunPlan runs b.N ops of a plan through run.Run on the memory
// target. ops/s is the generator phase's rate (what `jplan run` reports
// as recorded ops over elapsed time); run-ops/s counts the whole run,
// checking and the report included.
func BenchmarkRunPlan(b *testing.B) {
	plan := writePlan(b, fmt.Sprintf(benchPlan, b.N))
	store := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	out, err := run.Run(context.Background(), run.Options{Path: plan, Store: store})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	// With a handful of ops some kind may never succeed, which the stats
	// checker rightly calls invalid.
	if !out.Checked || (b.N >= 1000 && out.Result.Valid.String() != "true") {
		b.Fatalf("verdict %v: %s", out.Result.Valid, out.Result.Summary)
	}
	// The final phase adds one read per worker.
	if want := int64(b.N + 6); out.Summary.Invocations != want {
		b.Fatalf("ran %d ops, want %d", out.Summary.Invocations, want)
	}
	b.ReportMetric(float64(out.Summary.Invocations)/out.Summary.Elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "run-ops/s")
}

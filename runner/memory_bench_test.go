package runner_test

import (
	"runtime"
	"testing"

	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/runner"
	"github.com/jplan/jplan/target/memory"
)

// BenchmarkHistoryBytesPerEntry measures what the history kept for the
// checkers costs per entry: a register workload's 1M entries (values
// 0..4, cas pairs) recorded into a MemRecorder, heap in use before and
// after. Reported as B/entry (issue 11's target: at most 100).
func BenchmarkHistoryBytesPerEntry(b *testing.B) {
	const n = 1_000_000
	h, err := generator.Simulate(generator.Clients(generator.Limit(n/2, memory.Workload())), generator.SimConfig{Concurrency: 10, Seed: 1, MaxOps: n})
	if err != nil {
		b.Fatal(err)
	}
	var perEntry float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := runner.NewMemRecorder()
		for _, op := range h {
			// A fresh value, as a client's completion carries one.
			switch v := op.Value.(type) {
			case []any:
				op.Value = append([]any(nil), v...)
			}
			m.Append(op)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / float64(m.Len())
		runtime.KeepAlive(m)
	}
	b.ReportMetric(perEntry, "B/entry")
}

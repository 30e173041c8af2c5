package runner_test

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/runner"
)

type noopClient struct{}

func (noopClient) Open(context.Context, string) error { return nil }
func (noopClient) Setup(context.Context) error        { return nil }
func (noopClient) Teardown(context.Context) error     { return nil }
func (noopClient) Close(context.Context) error        { return nil }
func (noopClient) Invoke(_ context.Context, op history.Op) (history.Op, error) {
	op.Type = history.OK
	return op, nil
}

// benchRun runs b.N ops of g through the interpreter with no-op clients at
// concurrency 10 and reports ops/s and the memory retained per history
// entry and per op (invocation + completion).
func benchRun(b *testing.B, g func(n int) generator.Generator) {
	benchRunTo(b, g, nil)
}

func benchRunTo(b *testing.B, g func(n int) generator.Generator, also runner.Recorder) {
	rec := runner.NewMemRecorder()
	var out runner.Recorder = rec
	if also != nil {
		out = runner.Tee(also, rec)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sum, err := runner.Run(context.Background(), runner.Config{
		Nodes:       []string{"n1", "n2", "n3", "n4", "n5"},
		Concurrency: 10,
		Generator:   g(b.N),
		Client:      func() runner.Client { return noopClient{} },
		Recorder:    out,
	})
	el := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if sum.Invocations != int64(b.N) {
		b.Fatalf("ran %d ops, want %d", sum.Invocations, b.N)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	b.ReportMetric(float64(b.N)/el.Seconds(), "ops/s")
	b.ReportMetric(retained/float64(sum.Entries), "retained-B/entry")
	b.ReportMetric(retained/float64(b.N), "retained-B/op")
	runtime.KeepAlive(rec)
}

// BenchmarkRunNoop is the interpreter's raw throughput: one op kind, no
// randomness.
func BenchmarkRunNoop(b *testing.B) {
	benchRun(b, func(n int) generator.Generator {
		return generator.Clients(generator.Limit(n, generator.Repeat(generator.Constant("noop", nil))))
	})
}

// BenchmarkRunMix is a realistic generator: a random mix of three op kinds
// with random values, under a time limit, with the nemesis idle.
func BenchmarkRunMix(b *testing.B) {
	benchRun(b, func(n int) generator.Generator {
		return generator.TimeLimit(time.Hour, generator.ClientsAndNemesis(
			generator.Limit(n, registerMix()),
			generator.Void(),
		))
	})
}

// BenchmarkRunNoopStreamed is BenchmarkRunNoop also streaming the history
// as JSONL (history.Writer, to a discarding writer), as a real run does.
func BenchmarkRunNoopStreamed(b *testing.B) {
	w := history.NewWriter(io.Discard)
	defer w.Close()
	benchRunTo(b, func(n int) generator.Generator {
		return generator.Clients(generator.Limit(n, generator.Repeat(generator.Constant("noop", nil))))
	}, w)
}

package runner_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
)

func registerMix() generator.Generator {
	return generator.Mix(
		generator.Repeat(generator.Invocation("read", nil)),
		generator.Repeat(generator.Invocation("write", func(r *rand.Rand) (any, error) { return int64(r.IntN(5)), nil })),
		generator.Repeat(generator.Invocation("cas", func(r *rand.Rand) (any, error) {
			return []any{int64(r.IntN(5)), int64(r.IntN(5))}, nil
		})),
	)
}

// BenchmarkGeneratorOverhead is the cost of the generator alone per op
// (ask, commit, update on invocation and on completion) for the realistic
// mix, driven directly, with every op completing at once: no goroutines,
// no clock, no history.
func BenchmarkGeneratorOverhead(b *testing.B) {
	g := generator.TimeLimit(time.Hour, generator.ClientsAndNemesis(generator.Limit(b.N, registerMix()), generator.Void()))
	d := generator.NewDriver(g, 10, 1)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for {
		step, err := d.Next(int64(n))
		if err != nil {
			b.Fatal(err)
		}
		if step.Kind != generator.StepInvoke {
			break
		}
		c := step.Op
		c.Type = history.OK
		if err := d.Complete(int64(n), step.Thread, c); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if n != b.N {
		b.Fatalf("%d ops", n)
	}
}

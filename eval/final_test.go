package eval_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/lang"
)

// finalPlan has a main phase that never ends by itself (an operation
// stream and a fault cycle), so only the test's time limit ends it, and
// three final phases: a heal, one read per client, and reads bounded only
// by the phase's own time limit. Each part has ops of its own: writes and
// start-part in the main phase, the only stop-part in the heal, reads in
// the last two.
const finalPlan = `
test "final" {
  nodes       = ["n1", "n2", "n3"]
  concurrency = 3
  seed        = 5
  time_limit  = "2s"
}

client "exec" {}

operation "read" {
  command = "true"
}

operation "write" {
  value   = random_int(0, 4)
  command = "true"
}

fault "part" {
  type = "partition"
}

phase "main" {
  clients = stagger("10ms", operation.write)
  nemesis = cycle([sleep("300ms"), fault.part.start])
}

phase "heal" {
  final   = true
  nemesis = fault.part.stop
}

phase "final" {
  final   = true
  clients = each_thread(once(operation.read))
}

phase "drain" {
  final      = true
  time_limit = "1s"
  clients    = stagger("100ms", operation.read)
}
`

// finalSchedule is the main/final split seen in a simulated history.
type finalSchedule struct {
	writes, mainFaults int
	lastWrite          int64 // invocation time of the main part's last write
	heal               int64 // the heal phase's stop, -1 if none
	finalReads         []history.Op
	drainReads         []history.Op
	end                int64 // the last entry
}

// simulateFinal runs s on the simulator, with a time bound far past every
// limit of finalPlan so an unbounded schedule shows instead of hanging, and
// sorts its invocations into the parts of finalPlan, checking their order.
func simulateFinal(t *testing.T, s *eval.Schedule) finalSchedule {
	t.Helper()
	h, err := generator.Simulate(s.Generator(), generator.SimConfig{
		Concurrency: 3, Seed: 5, MaxTime: time.Minute,
		Latency: func(history.Op) time.Duration { return time.Millisecond },
	})
	if err != nil {
		t.Fatal(err)
	}
	out := finalSchedule{heal: -1}
	for _, op := range h {
		out.end = op.Time
		if op.Type != history.Invoke {
			continue
		}
		switch op.F {
		case "write", "start-part":
			if out.heal >= 0 {
				t.Errorf("main-phase %s at %v, after the heal at %v", op.F, time.Duration(op.Time), time.Duration(out.heal))
			}
			if op.F == "write" {
				out.writes++
				out.lastWrite = op.Time
			} else {
				out.mainFaults++
			}
		case "stop-part":
			if out.heal >= 0 {
				t.Errorf("a second heal at %v", time.Duration(op.Time))
			}
			out.heal = op.Time
		case "read":
			switch {
			case out.heal < 0:
				t.Errorf("read at %v, before the heal", time.Duration(op.Time))
			case len(out.finalReads) < 3:
				out.finalReads = append(out.finalReads, op)
			default:
				out.drainReads = append(out.drainReads, op)
			}
		default:
			t.Errorf("unexpected op %+v", op)
		}
	}
	return out
}

// checkFinalPart checks that the final phases all ran after the main part
// ended at limit: the heal, then one read per client, then the drain
// phase's reads within its own 1s limit, and nothing after that.
func checkFinalPart(t *testing.T, got finalSchedule, limit time.Duration) {
	t.Helper()
	if got.heal < int64(limit) || got.heal < got.lastWrite {
		t.Fatalf("heal at %v, want after the main part's %v limit (last write %v): the limit cut the final phases",
			time.Duration(got.heal), limit, time.Duration(got.lastWrite))
	}
	if len(got.finalReads) != 3 {
		t.Fatalf("%d final reads, want one per client (3)", len(got.finalReads))
	}
	procs := map[int]bool{}
	for _, r := range got.finalReads {
		procs[r.Process] = true
	}
	if len(procs) != 3 {
		t.Errorf("final reads on processes %v, want three different ones", procs)
	}
	// About 10 reads in the drain phase's 1s, and the schedule ends there.
	if n := len(got.drainReads); n < 4 || n > 25 {
		t.Fatalf("%d drain reads, want about 10 (one per 100ms for 1s)", n)
	}
	first, last := got.drainReads[0].Time, got.drainReads[len(got.drainReads)-1].Time
	if last-first >= int64(time.Second) {
		t.Errorf("drain reads span %v, beyond the phase's 1s limit", time.Duration(last-first))
	}
	if got.end > first+int64(time.Second+100*time.Millisecond) {
		t.Errorf("schedule ran until %v, past the drain phase's limit", time.Duration(got.end))
	}
}

// TestFinalPhasesOutliveTimeLimit: test.time_limit ends the main phase,
// which would otherwise run forever, and the final phases still run after
// it: the heal, one read per client, then reads for the drain phase's own
// time limit.
func TestFinalPhasesOutliveTimeLimit(t *testing.T) {
	_, s := compileSource(t, finalPlan)
	if s.Main == nil || s.Final == nil {
		t.Fatalf("schedule not split: main %v, final %v", s.Main, s.Final)
	}
	got := simulateFinal(t, s)
	limit := 2 * time.Second
	if got.lastWrite < int64(limit-100*time.Millisecond) || got.lastWrite >= int64(limit) {
		t.Errorf("last write at %v: the main phase should run until the test's 2s limit", time.Duration(got.lastWrite))
	}
	if got.writes < 100 || got.mainFaults < 5 {
		t.Errorf("main part: %d writes and %d faults, want about 200 and 6", got.writes, got.mainFaults)
	}
	checkFinalPart(t, got, limit)
}

// TestLimitMain: a further limit (jplan run --time-limit) also bounds only
// the main part; without final phases, the schedule is the main part alone.
func TestLimitMain(t *testing.T) {
	_, s := compileSource(t, finalPlan)
	s.LimitMain(500 * time.Millisecond)
	got := simulateFinal(t, s)
	if got.lastWrite >= int64(500*time.Millisecond) || got.writes < 20 {
		t.Errorf("%d writes, the last at %v: want the main part to run until the 500ms limit", got.writes, time.Duration(got.lastWrite))
	}
	checkFinalPart(t, got, 500*time.Millisecond)

	_, none := compileSource(t, `
test "t" {
  nodes = ["n1"]
}

client "exec" {}

operation "read" {
  command = "true"
}

phase "main" {
  clients = limit(3, operation.read)
}
`)
	if none.Final != nil {
		t.Errorf("final part %v in a plan without final phases", none.Final)
	}
	none.LimitMain(0) // no limit: changes nothing
	h, err := generator.Simulate(none.Generator(), generator.SimConfig{Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 6 {
		t.Errorf("%d history entries, want 3 reads invoked and completed", len(h))
	}
}

// TestCompileRefusesMisorderedFinal: a non-final phase after a final one
// cannot be compiled, with the error at its final argument.
func TestCompileRefusesMisorderedFinal(t *testing.T) {
	src := strings.Replace(finalPlan, `phase "drain" {
  final      = true`, `phase "drain" {
  final      = false`, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	sources, plans, diags := lang.Load(lang.NewParser(), path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	e, diags := eval.New(plans[0], eval.Options{Dir: sources[0].Dir})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s, diags := e.CompileSchedule()
	if s != nil || !diags.HasErrors() {
		t.Fatalf("compiled a plan with a non-final phase after final ones: %v", diags)
	}
	d := diags[0]
	if d.Summary != "Phase after the final phases" || !strings.Contains(d.Detail, `phase "drain"`) || !strings.Contains(d.Detail, `final phase "heal"`) {
		t.Errorf("diagnostic %q: %q", d.Summary, d.Detail)
	}
	if d.Subject == nil || d.Subject.Start.Line != strings.Count(src[:strings.Index(src, "final      = false")], "\n")+1 {
		t.Errorf("diagnostic at %v, want the drain phase's final argument", d.Subject)
	}
}

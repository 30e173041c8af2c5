package eval_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
)

const packagePlan = `
test "pkg" {
  nodes = ["n1", "n2", "n3"]
  seed  = 11
}

client "exec" {}

operation "read" {
  command = "true"
}

fault "part" {
  type = "partition"
}

fault "slow" {
  type  = "custom"
  start = "true"
  stop  = "true"
}

fault "other" {
  type  = "custom"
  start = "true"
  stop  = "true"
}

faults "chaos" {
  faults   = [fault.part, fault.slow, fault.other]
  interval = "10s"
}

phase "main" {
  time_limit = "1000s"
  clients    = stagger("1s", operation.read)
  nemesis    = faults.chaos.generator
}

phase "heal" {
  nemesis = faults.chaos.final
}
`

func compileSource(t *testing.T, src string) (*eval.Evaluator, *eval.Schedule) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return compile(t, path)
}

// TestFaultPackageSchedule simulates a faults block's schedule: only the
// listed faults, each alternating start and stop, one operation per
// interval on average after a first quiet interval, the same schedule for
// the same seed, and a final phase that stops every fault in order.
func TestFaultPackageSchedule(t *testing.T) {
	_, s := compileSource(t, packagePlan)
	sim := func(seed uint64) []history.Op {
		h, err := generator.Simulate(s.Generator(), generator.SimConfig{
			Concurrency: 1, Seed: seed,
			Latency: func(history.Op) time.Duration { return 10 * time.Millisecond },
		})
		if err != nil {
			t.Fatal(err)
		}
		var out []history.Op
		for _, op := range h {
			if op.Type == history.Invoke && op.Process == history.NemesisProcess {
				out = append(out, op)
			}
		}
		return out
	}
	h := sim(11)
	end := int64(1000 * time.Second)
	var main, final []history.Op
	for _, op := range h {
		if op.Time < end {
			main = append(main, op)
		} else {
			final = append(final, op)
		}
	}
	if len(main) < 2 {
		t.Fatalf("only %d nemesis ops in the main phase", len(main))
	}
	if first := time.Duration(main[0].Time); first < 10*time.Second {
		t.Errorf("first fault op at %v, want one interval (10s) in", first)
	}
	started := map[string]bool{}
	count := map[string]int{}
	for _, op := range main {
		action, fault, ok := strings.Cut(op.F, "-")
		if !ok || (fault != "part" && fault != "slow" && fault != "other") {
			t.Fatalf("unexpected nemesis op %q", op.F)
		}
		count[fault]++
		switch action {
		case "start":
			if started[fault] {
				t.Fatalf("%s started twice without a stop at %v", fault, time.Duration(op.Time))
			}
			started[fault] = true
		case "stop":
			if !started[fault] {
				t.Fatalf("%s stopped without a start at %v", fault, time.Duration(op.Time))
			}
			started[fault] = false
		default:
			t.Fatalf("unexpected action in %q", op.F)
		}
	}
	for _, f := range []string{"part", "slow", "other"} {
		if count[f] < 10 {
			t.Errorf("fault %s acted %d times in 1000 s, want its share of about 100 ops", f, count[f])
		}
	}
	// Mean gap between ops: the interval, 10 s (uniform 0-20 s delays).
	gaps := time.Duration(main[len(main)-1].Time-main[0].Time) / time.Duration(len(main)-1)
	if gaps < 8*time.Second || gaps > 12*time.Second {
		t.Errorf("mean interval %v over %d ops, want about 10s", gaps, len(main))
	}
	var fs []string
	for _, op := range final {
		fs = append(fs, op.F)
	}
	if !reflect.DeepEqual(fs, []string{"stop-part", "stop-slow", "stop-other"}) {
		t.Errorf("final ops %v, want a stop of every fault in order", fs)
	}
	if !reflect.DeepEqual(h, sim(11)) {
		t.Error("same seed, different schedules")
	}
	if reflect.DeepEqual(h, sim(12)) {
		t.Error("different seeds, same schedule")
	}
}

// TestFaultPackageValue: the package's config and generators as the plan
// sees them, and its default interval.
func TestFaultPackageValue(t *testing.T) {
	src := strings.Replace(packagePlan, `interval = "10s"`, "", 1)
	e, _ := compileSource(t, src)
	c, diags := e.FaultPackage(e.Plan.FaultPackage("chaos"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c.Interval != eval.DefaultFaultInterval || !reflect.DeepEqual(c.Faults, []string{"part", "slow", "other"}) {
		t.Errorf("config %+v", c)
	}
	want := `[sleep("10s"), stagger("10s", mix([cycle([fault.part.start, fault.part.stop]), cycle([fault.slow.start, fault.slow.stop]), cycle([fault.other.start, fault.other.stop])]))]`
	if got := eval.PackageGenerator(c).String(); got != want {
		t.Errorf("generator\n got %s\nwant %s", got, want)
	}
	if got := eval.PackageFinal(c).String(); got != "[fault.part.stop, fault.slow.stop, fault.other.stop]" {
		t.Errorf("final %s", got)
	}
}

// TestMembershipCommands: membership commands are evaluated per call with
// node, member and members in scope; the defaults apply.
func TestMembershipCommands(t *testing.T) {
	src := strings.Replace(packagePlan, `faults "chaos"`, `fault "m" {
  type   = "membership"
  view   = "view on ${node.name} of ${length(members)}"
  add    = ["add ${member.host} on ${node.name}", join(",", [for m in members : m.name])]
  remove = "remove ${member.name}"
}

faults "chaos"`, 1)
	src = strings.Replace(src, "[fault.part, fault.slow, fault.other]", "[fault.part, fault.slow, fault.other, fault.m]", 1)
	e, _ := compileSource(t, src)
	c, diags := e.Fault(e.Plan.Fault("m"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	m := c.Membership
	if m == nil || m.MinMembers != 0 || m.PendingTimeout != 30*time.Second || m.HasReset {
		t.Fatalf("config %+v", m)
	}
	nodes := e.Nodes()
	got, err := m.Commands("add", nodes[0], &nodes[2], nodes[:2])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"add n3 on n1", "n1,n2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("add: %q, want %q", got, want)
	}
	got, err = m.Commands("view", nodes[1], nil, nodes)
	if err != nil || !reflect.DeepEqual(got, []string{"view on n2 of 3"}) {
		t.Errorf("view: %q, %v", got, err)
	}
	if got, err := m.Commands("reset", nodes[1], &nodes[1], nodes); err != nil || got != nil {
		t.Errorf("reset without commands: %q, %v", got, err)
	}
}

package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jplan/jplan/control"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/runner"
)

var _ runner.Nemesis = (*Nemesis)(nil)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i+1)
	}
	return out
}

func seeded(s uint64) *rand.Rand { return rand.New(rand.NewPCG(s, 1)) }

// checkSane: nobody drops itself, every dropped node exists, no duplicates.
func checkSane(t *testing.T, g Grudge, nodes []string) {
	t.Helper()
	for n, drops := range g {
		if !slices.Contains(nodes, n) {
			t.Errorf("grudge for unknown node %s", n)
		}
		seen := map[string]bool{}
		for _, d := range drops {
			if d == n || !slices.Contains(nodes, d) || seen[d] {
				t.Errorf("%s drops %v", n, drops)
			}
			seen[d] = true
		}
	}
}

// components returns the connected groups of a symmetric grudge.
func sees(g Grudge, nodes []string) map[string]string {
	out := map[string]string{}
	for _, n := range nodes {
		out[n] = strings.Join(g.Sees(n, nodes), ",")
	}
	return out
}

func TestHalvesAndBisect(t *testing.T) {
	g := Halves(names(5))
	want := Grudge{"n1": {"n3", "n4", "n5"}, "n2": {"n3", "n4", "n5"}, "n3": {"n1", "n2"}, "n4": {"n1", "n2"}, "n5": {"n1", "n2"}}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("got %v", g)
	}
	if b := Bisect(names(4)); len(b[0]) != 2 || len(b[1]) != 2 {
		t.Fatalf("bisect 4: %v", b)
	}
	if g := Halves(names(1)); len(g) != 0 {
		t.Fatalf("one node: %v", g)
	}
}

func TestRandomHalvesIsAPartitionInTwo(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		nodes := names(5)
		g := RandomHalves(nodes, seeded(seed))
		checkSane(t, g, nodes)
		views := map[string]int{}
		for _, v := range sees(g, nodes) {
			views[v]++
		}
		// Two components, of sizes 2 and 3, each seeing exactly itself.
		if len(views) != 2 {
			t.Fatalf("seed %d: views %v", seed, views)
		}
		for v, count := range views {
			if len(strings.Split(v, ",")) != count {
				t.Fatalf("seed %d: component %s seen by %d nodes", seed, v, count)
			}
		}
	}
}

func TestMajoritiesRing(t *testing.T) {
	for n := 3; n <= 9; n++ {
		for seed := uint64(0); seed < 20; seed++ {
			nodes := names(n)
			g := MajoritiesRing(nodes, seeded(seed))
			checkSane(t, g, nodes)
			distinct := map[string]string{}
			for node, v := range sees(g, nodes) {
				if c := len(strings.Split(v, ",")); c < Majority(n) {
					t.Fatalf("n=%d seed %d: %s sees %d nodes (%s), not a majority", n, seed, node, c, v)
				}
				if other, dup := distinct[v]; dup {
					t.Fatalf("n=%d seed %d: %s and %s both see %s", n, seed, node, other, v)
				}
				distinct[v] = node
			}
			// When the majority is odd, the ring is symmetric.
			if Majority(n)%2 == 1 {
				for a, drops := range g {
					for _, b := range drops {
						if !slices.Contains(g[b], a) {
							t.Fatalf("n=%d: %s drops %s but not vice versa", n, a, b)
						}
					}
				}
			}
		}
	}
	if g := MajoritiesRing(names(2), seeded(1)); len(g) != 0 {
		t.Fatalf("2 nodes: %v", g)
	}
	// Five nodes: each sees itself and its two ring neighbours.
	g := MajoritiesRing(names(5), seeded(7))
	for n, d := range g {
		if len(d) != 2 {
			t.Fatalf("%s drops %v", n, d)
		}
	}
}

func TestBridge(t *testing.T) {
	for seed := uint64(0); seed < 30; seed++ {
		nodes := names(5)
		g := Bridge(nodes, seeded(seed))
		checkSane(t, g, nodes)
		var bridge string
		for _, n := range nodes {
			if len(g[n]) == 0 {
				if bridge != "" {
					t.Fatalf("seed %d: two bridges %s %s: %v", seed, bridge, n, g)
				}
				bridge = n
			}
		}
		if bridge == "" {
			t.Fatalf("seed %d: no bridge: %v", seed, g)
		}
		// Everyone sees the bridge; the others form two sides of two nodes
		// that cannot see each other.
		sides := map[string]bool{}
		for _, n := range nodes {
			if n == bridge {
				continue
			}
			v := g.Sees(n, nodes)
			if !slices.Contains(v, bridge) || len(v) != 3 {
				t.Fatalf("seed %d: %s sees %v (bridge %s)", seed, n, v, bridge)
			}
			sides[strings.Join(v, ",")] = true
		}
		if len(sides) != 2 {
			t.Fatalf("seed %d: sides %v", seed, sides)
		}
	}
}

func TestIsolateOneAndPrimary(t *testing.T) {
	nodes := names(5)
	g := IsolatePrimary(nodes)
	if !reflect.DeepEqual(g["n1"], []string{"n2", "n3", "n4", "n5"}) || !reflect.DeepEqual(g["n4"], []string{"n1"}) {
		t.Fatalf("primaries: %v", g)
	}
	hit := map[string]bool{}
	for seed := uint64(0); seed < 40; seed++ {
		g := IsolateOne(nodes, seeded(seed))
		checkSane(t, g, nodes)
		for n, d := range g {
			if len(d) == 4 {
				hit[n] = true
			}
		}
	}
	if len(hit) < 4 {
		t.Fatalf("isolate-one picked only %v over 40 seeds", hit)
	}
}

func TestExplicitGroups(t *testing.T) {
	g, err := Topology("", [][]string{{"n1"}, {"n2", "n3"}, {"n4"}}, names(5), seeded(0))
	if err != nil {
		t.Fatal(err)
	}
	want := Grudge{"n1": {"n2", "n3", "n4"}, "n2": {"n1", "n4"}, "n3": {"n1", "n4"}, "n4": {"n1", "n2", "n3"}}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("got %v", g)
	}
	// Grudge.Value is plain history data.
	v := g.Value()
	if !reflect.DeepEqual(v["n2"], []any{"n1", "n4"}) {
		t.Fatalf("value %#v", v)
	}
}

func TestTargets(t *testing.T) {
	nodes := names(5)
	for _, tc := range []struct {
		sel  string
		want int
	}{{"one", 1}, {"minority", 2}, {"majority", 3}, {"all", 5}, {"primaries", 1}, {"minority-third", 1}} {
		got, err := Targets(eval.Targets{Selection: tc.sel}, nodes, seeded(3))
		if err != nil || len(got) != tc.want {
			t.Errorf("%s: %v %v", tc.sel, got, err)
		}
	}
	if got, _ := Targets(eval.Targets{Selection: "primaries"}, nodes, seeded(3)); got[0] != "n1" {
		t.Errorf("primaries: %v", got)
	}
	if got, _ := Targets(eval.Targets{Selection: "minority-third"}, names(3), seeded(3)); len(got) != 0 {
		t.Errorf("minority-third of 3: %v", got)
	}
	if got, _ := Targets(eval.Targets{Nodes: []string{"n4", "n2"}}, nodes, seeded(3)); !reflect.DeepEqual(got, []string{"n2", "n4"}) {
		t.Errorf("names: %v", got)
	}
	if _, err := Targets(eval.Targets{Nodes: []string{"n9"}}, nodes, seeded(3)); err == nil {
		t.Error("unknown node accepted")
	}
}

// A nemesis over local "nodes" checks what New accepts and that the same
// seed gives the same choices, without touching anything (custom faults
// running echo).
func localNemesis(t *testing.T, seed uint64, faults ...eval.FaultConfig) *Nemesis {
	t.Helper()
	var rs []control.Remote
	var nodes []eval.Node
	for i, n := range names(5) {
		rs = append(rs, control.NewLocal(n))
		nodes = append(nodes, eval.Node{Name: n, Host: "127.0.0.1", Index: i})
	}
	nem, err := New(rs, nodes, faults, func(string, string, string) (eval.DaemonConfig, bool) { return eval.DaemonConfig{}, false }, Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return nem
}

func TestSameSeedSameSchedule(t *testing.T) {
	f := eval.FaultConfig{Name: "c", Type: "custom", Targets: eval.Targets{Selection: "minority"}, Start: []string{"echo hit"}, Stop: []string{"true"}}
	schedule := func(seed uint64) []any {
		nem := localNemesis(t, seed, f)
		var out []any
		for i := 0; i < 6; i++ {
			op, err := nem.Invoke(context.Background(), history.Op{F: "start-c", Process: history.NemesisProcess})
			if err != nil || op.Type != history.Info || op.Error != "" {
				t.Fatalf("start: %+v %v", op, err)
			}
			out = append(out, op.Value)
			if op, _ := nem.Invoke(context.Background(), history.Op{F: "stop-c"}); op.Error != "" {
				t.Fatalf("stop: %+v", op)
			}
		}
		return out
	}
	a, b := schedule(42), schedule(42)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different schedules:\n%v\n%v", a, b)
	}
	if reflect.DeepEqual(a, schedule(43)) {
		t.Log("seeds 42 and 43 happened to agree") // possible, not a failure
	}
	if v := a[0].(map[string]any); len(v) != 2 {
		t.Fatalf("minority of 5 should hit 2 nodes: %v", v)
	}
}

func TestNewRejects(t *testing.T) {
	rs := []control.Remote{control.NewLocal("n1")}
	nodes := []eval.Node{{Name: "n1", Host: "127.0.0.1"}}
	none := func(string, string, string) (eval.DaemonConfig, bool) { return eval.DaemonConfig{}, false }
	for _, tc := range []struct {
		f    eval.FaultConfig
		want string
	}{
		{eval.FaultConfig{Name: "c", Type: "clock"}, `fault c: unknown clock mode ""`},
		{eval.FaultConfig{Name: "p", Type: "packet"}, "needs at least one of delay"},
		{eval.FaultConfig{Name: "z", Type: "quantum"}, "fault type quantum is not implemented yet"},
		{eval.FaultConfig{Name: "k", Type: "kill"}, "needs daemon"},
		{eval.FaultConfig{Name: "k", Type: "kill", DB: "etcd", Daemon: "etcd"}, "daemon etcd of db etcd is not defined"},
		{eval.FaultConfig{Name: "p", Type: "partition", Groups: [][]string{{"n1"}, {"n7"}}}, `"n7"`},
		{eval.FaultConfig{Name: "p", Type: "partition", Topology: "triangle"}, "unknown partition topology"},
		{eval.FaultConfig{Name: "x", Type: "custom", Targets: eval.Targets{Nodes: []string{"n2"}}, Start: []string{"true"}}, `target "n2"`},
	} {
		_, err := New(rs, nodes, []eval.FaultConfig{tc.f}, none, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.f.Type, err, tc.want)
		}
	}
	nem, err := New(rs, nodes, nil, none, Options{})
	if err != nil {
		t.Fatal(err)
	}
	op, err := nem.Invoke(context.Background(), history.Op{F: "start-nope"})
	if err != nil || op.Type != history.Fail {
		t.Fatalf("unknown fault: %+v %v", op, err)
	}
}

package elle

import (
	"slices"
	"strings"
	"testing"
)

func set(xs ...string) []string { slices.Sort(xs); return xs }

func TestBoundary(t *testing.T) {
	cases := []struct {
		anomalies []string
		not       []string
		alsoNot   []string // nil: not checked
	}{
		{nil, nil, nil},
		{[]string{"G-single"}, set("consistent-view"), set("snapshot-isolation", "serializable",
			"strong-serializable", "strong-session-snapshot-isolation", "strong-snapshot-isolation",
			"strong-session-serializable", "forward-consistent-view", "update-serializable")},
		{[]string{"internal"}, set("read-atomic"), set("causal-cerone", "parallel-snapshot-isolation", "prefix",
			"update-atomic", "serializable", "snapshot-isolation", "strong-serializable",
			"strong-session-serializable", "strong-session-snapshot-isolation", "strong-snapshot-isolation")},
		{[]string{"G2", "internal"}, set("read-atomic"), nil},
		{[]string{"G1a"}, set("read-committed"), nil},
		{[]string{"lost-update"}, set("cursor-stability", "update-atomic"), nil},
		{[]string{"G-single-realtime"}, set("strong-snapshot-isolation"), set("strong-serializable")},
		{[]string{"G-single-item"}, set("consistent-view", "repeatable-read"), nil},
		{[]string{"G2-item"}, set("repeatable-read"), nil},
		{[]string{"G0"}, set("read-uncommitted"), nil},
		{[]string{"cyclic-versions"}, set("read-uncommitted"), set("read-committed", "snapshot-isolation",
			"causal-cerone", "consistent-view", "cursor-stability", "forward-consistent-view",
			"monotonic-atomic-view", "monotonic-snapshot-read", "monotonic-view", "parallel-snapshot-isolation",
			"prefix", "read-atomic", "repeatable-read", "update-atomic", "serializable", "strong-read-committed",
			"strong-read-uncommitted", "strong-serializable", "strong-session-read-committed",
			"strong-session-read-uncommitted", "strong-session-serializable", "strong-session-snapshot-isolation",
			"strong-snapshot-isolation", "update-serializable")},
		{[]string{"G1a"}, set("read-committed"), set("read-atomic", "update-atomic", "causal-cerone",
			"consistent-view", "cursor-stability", "forward-consistent-view", "monotonic-atomic-view",
			"monotonic-snapshot-read", "monotonic-view", "parallel-snapshot-isolation", "prefix", "repeatable-read",
			"serializable", "snapshot-isolation", "strong-read-committed", "strong-snapshot-isolation",
			"strong-serializable", "strong-session-read-committed", "strong-session-serializable",
			"strong-session-snapshot-isolation", "update-serializable")},
		{[]string{"G1c-process"}, set("strong-session-read-committed"), nil},
		{[]string{"G-nonadjacent-item"}, set("repeatable-read", "snapshot-isolation"), nil},
	}
	for _, c := range cases {
		not, also := Boundary(c.anomalies)
		if !slices.Equal(not, c.not) {
			t.Errorf("%v: not %v, want %v", c.anomalies, not, c.not)
		}
		if c.alsoNot != nil && !slices.Equal(also, c.alsoNot) {
			t.Errorf("%v: also-not %v, want %v", c.anomalies, also, c.alsoNot)
		}
	}
}

func TestProhibitedBy(t *testing.T) {
	got := sortedKeys(ProhibitedBy([]string{"read-committed"}))
	want := set("dirty-update", "G1a", "G1b", "G1c", "G1", "G0", "PL-1-cycle-exists", "PL-2-cycle-exists",
		"cyclic-versions", "duplicate-elements", "incompatible-order", "future-read")
	if !slices.Equal(got, want) {
		t.Errorf("read-committed prohibits %v, want %v", got, want)
	}
	// Serializability forbids G2-item but not realtime cycles.
	p := ProhibitedBy([]string{"serializable"})
	if !p["G2-item"] || !p["G-single-item"] || p["G-single-item-realtime"] || p["G0-realtime"] {
		t.Errorf("serializable prohibits %v", sortedKeys(p))
	}
	s := ProhibitedBy([]string{"strict-serializable"})
	for _, a := range []string{"G0-realtime", "G-single-item-process", "G2-item-realtime", "G1a"} {
		if !s[a] {
			t.Errorf("strict-serializable allows %s", a)
		}
	}
}

func TestImpossibleModels(t *testing.T) {
	got := ImpossibleModels([]string{"G-SI"})
	var names []string
	for m := range got {
		names = append(names, friendly(m))
	}
	slices.Sort(names)
	want := set("snapshot-isolation", "serializable", "strong-serializable", "strong-session-serializable",
		"strong-session-snapshot-isolation", "strong-snapshot-isolation")
	if !slices.Equal(names, want) {
		t.Errorf("G-SI rules out %v, want %v", names, want)
	}
}

func TestValidateModels(t *testing.T) {
	if err := ValidateModels([]string{"serializable", "PL-2", "strong-session-snapshot-isolation"}); err != nil {
		t.Error(err)
	}
	err := ValidateModels([]string{"serialisable"})
	if err == nil || !strings.Contains(err.Error(), `"serialisable"`) || !strings.Contains(err.Error(), "read-committed") {
		t.Errorf("err %v", err)
	}
	if err := ValidateAnomalies([]string{"G2", "G1c-realtime", "lost-update"}); err != nil {
		t.Error(err)
	}
	if err := ValidateAnomalies([]string{"G3"}); err == nil {
		t.Error("G3 accepted")
	}
}

func TestSearchOrder(t *testing.T) {
	// G0 is searched before G1c, G1c before G2-item (severity), and
	// every data anomaly before its realtime variant.
	pos := map[string]int{}
	for i, s := range cycleSpecs {
		pos[s.name] = i
	}
	for _, p := range [][2]string{{"G0", "G1c"}, {"G1c", "G2-item"}, {"G-single-item", "G-single-item-realtime"},
		{"G-single-item", "G-nonadjacent-item"}, {"G2-item", "G2-item-realtime"}, {"G0", "G0-realtime"}} {
		if pos[p[0]] >= pos[p[1]] {
			t.Errorf("%s searched after %s", p[0], p[1])
		}
	}
}

func TestClassify(t *testing.T) {
	cases := map[string][]Rel{
		"G0":                    {WW, WW},
		"G1c":                   {WW, WR},
		"G-single-item":         {RW, WR},
		"G2-item":               {RW, RW},
		"G-nonadjacent-item":    {RW, WR, RW, WW},
		"G2-item-realtime":      {RW, RW, Realtime},
		"G1c-process":           {WR, Process},
		"G-single-item-process": {RW, Process},
	}
	for want, steps := range cases {
		if got := classify(steps); got != want {
			t.Errorf("%v: %s, want %s", steps, got, want)
		}
	}
}

func TestTarjan(t *testing.T) {
	// 0 -> 1 -> 2 -> 0, 2 -> 3, 3 -> 4 -> 3, 5 alone.
	g := NewGraph(6)
	for _, e := range [][2]int{{0, 1}, {1, 2}, {2, 0}, {2, 3}, {3, 4}, {4, 3}} {
		g.AddEdge(e[0], e[1], WW)
	}
	g.Freeze()
	got := g.SCCs()
	if len(got) != 2 || !slices.Equal(got[0], []int{0, 1, 2}) || !slices.Equal(got[1], []int{3, 4}) {
		t.Errorf("SCCs %v", got)
	}
	// A long chain does not overflow the stack.
	n := 1 << 20
	g = NewGraph(n)
	for i := 0; i+1 < n; i++ {
		g.AddEdge(i, i+1, WW)
	}
	g.AddEdge(n-1, 0, WR)
	g.Freeze()
	if s := g.SCCs(); len(s) != 1 || len(s[0]) != n {
		t.Errorf("chain: %d SCCs", len(s))
	}
}

func TestImpossibleModelsDirtyUpdate(t *testing.T) {
	var names []string
	for m := range ImpossibleModels([]string{"dirty-update"}) {
		names = append(names, friendly(m))
	}
	slices.Sort(names)
	want := set("read-committed", "monotonic-atomic-view", "snapshot-isolation", "repeatable-read",
		"update-atomic", "serializable", "strong-serializable", "update-serializable", "cursor-stability",
		"forward-consistent-view", "consistent-view", "monotonic-view", "monotonic-snapshot-read",
		"causal-cerone", "parallel-snapshot-isolation", "prefix", "read-atomic", "strong-session-read-committed",
		"strong-session-serializable", "strong-session-snapshot-isolation", "strong-read-committed",
		"strong-snapshot-isolation")
	if !slices.Equal(names, want) {
		t.Errorf("dirty-update rules out %v, want %v", names, want)
	}
}

package listappend

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/jplan/jplan/history"
)

// edges returns the graph as txn position -> sorted successors.
func edges(t *testing.T, h []history.Op) map[int][]int {
	t.Helper()
	a, err := Analyze(context.Background(), h, anomalies("G0"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]int{}
	for v := 0; v < a.Graph.N(); v++ {
		adj, _ := a.Graph.Out(v)
		for _, w := range adj {
			out[v] = append(out[v], int(w))
		}
	}
	return out
}

func TestGraphEdges(t *testing.T) {
	info := func(o history.Op) history.Op { o.Type = history.Info; return o }
	cases := []struct {
		name string
		ops  []history.Op
		want map[int][]int
	}{
		{"one append", []history.Op{op("ax1")}, map[int][]int{}},
		{"empty read", []history.Op{op("rx")}, map[int][]int{}},
		{"append, read", []history.Op{op("ax1"), op("rx1")}, map[int][]int{0: {1}}},
		// The third read orders ax1; rx saw the state before it.
		{"read empty, append, read", []history.Op{op("rx"), op("ax1"), op("rx1")}, map[int][]int{0: {1}, 1: {2}}},
		{"append, append, read", []history.Op{op("ax2"), op("ax1"), op("rx12")}, map[int][]int{1: {0}, 0: {2}}},
		// Adya, Liskov and O'Neil's serializable figure 3.
		{"adya figure 3", []history.Op{op("az1ax1ay1"), op("rx1ay2"), op("ry12az3"), op("rz13")},
			map[int][]int{0: {1, 2}, 1: {2}, 2: {3}}},
		{"G0", []history.Op{op("ax1ay1"), op("ax2ay2"), op("rx12ry21")}, map[int][]int{0: {1, 2}, 1: {0, 2}}},
		{"G1c", []history.Op{op("ax1ry1"), op("ax2ay1"), op("rx12")}, map[int][]int{0: {1}, 1: {0, 2}}},
		{"G2", []history.Op{op("rxay1"), op("ryax1"), op("rx1ry1")}, map[int][]int{0: {1, 2}, 1: {0, 2}}},
		// An info read of nil says nothing: no rw edge from it.
		{"info reads", []history.Op{info(op("ax2ry")), op("ax1ay1"), op("rx12ry1")}, map[int][]int{0: {2}, 1: {0, 2}}},
		{"single append, no reads", []history.Op{op("rx"), op("ax1")}, map[int][]int{0: {1}}},
		{"two appends, no reads", []history.Op{op("rx"), op("ax1"), op("ax2")}, map[int][]int{0: {1, 2}}},
	}
	for _, c := range cases {
		got := edges(t, hist(c.ops))
		if !maps.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("%s: edges %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDuplicateAppends(t *testing.T) {
	_, err := Analyze(context.Background(), hist(op("ax1ry"), op("ay2ax1")), anomalies("G0"))
	if err == nil {
		t.Fatal("duplicate appends accepted")
	}
}

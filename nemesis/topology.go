package nemesis

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/jplan/jplan/eval"
)

// A Grudge says, for each node, which nodes' packets it drops. It is
// directional, like the iptables rules that carry it out: a node in n1's
// list cannot reach n1, but n1 may still reach it unless it holds a grudge
// back. Nodes that drop nothing are absent.
type Grudge map[string][]string

// Value renders the grudge as plain history data (map of node to list of
// node names), the value of a start-partition completion.
func (g Grudge) Value() map[string]any {
	out := make(map[string]any, len(g))
	for n, drops := range g {
		l := make([]any, len(drops))
		for i, d := range drops {
			l[i] = d
		}
		out[n] = l
	}
	return out
}

// Sees returns the nodes node receives packets from, itself included, in
// the order of nodes.
func (g Grudge) Sees(node string, nodes []string) []string {
	drop := map[string]bool{}
	for _, d := range g[node] {
		drop[d] = true
	}
	var out []string
	for _, n := range nodes {
		if !drop[n] {
			out = append(out, n)
		}
	}
	return out
}

// Majority is the smallest number of nodes that is more than half of n.
func Majority(n int) int { return n/2 + 1 }

// Bisect cuts nodes in two, the smaller half first (Jepsen's bisect).
func Bisect(nodes []string) [][]string {
	h := len(nodes) / 2
	return [][]string{append([]string(nil), nodes[:h]...), append([]string(nil), nodes[h:]...)}
}

// CompleteGrudge isolates the components from each other: every node drops
// every node of the other components. Nodes in no component are left
// alone, and nobody drops them.
func CompleteGrudge(components [][]string) Grudge {
	g := Grudge{}
	for i, c := range components {
		var others []string
		for j, o := range components {
			if j != i {
				others = append(others, o...)
			}
		}
		if len(others) == 0 {
			continue
		}
		sort.Strings(others)
		for _, n := range c {
			g[n] = append([]string(nil), others...)
		}
	}
	return g
}

func shuffled(nodes []string, rng *rand.Rand) []string {
	out := append([]string(nil), nodes...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Halves splits nodes, in their order, into two halves (the first one
// smaller when the count is odd) that cannot talk to each other.
func Halves(nodes []string) Grudge { return CompleteGrudge(Bisect(nodes)) }

// RandomHalves is Halves over a random permutation of nodes.
func RandomHalves(nodes []string, rng *rand.Rand) Grudge {
	return CompleteGrudge(Bisect(shuffled(nodes, rng)))
}

// IsolateOne cuts a random node off from all others.
func IsolateOne(nodes []string, rng *rand.Rand) Grudge {
	if len(nodes) == 0 {
		return Grudge{}
	}
	i := rng.IntN(len(nodes))
	rest := append(append([]string(nil), nodes[:i]...), nodes[i+1:]...)
	return CompleteGrudge([][]string{{nodes[i]}, rest})
}

// IsolatePrimary cuts the primary (the first node) off from all others.
func IsolatePrimary(nodes []string) Grudge {
	if len(nodes) == 0 {
		return Grudge{}
	}
	return CompleteGrudge([][]string{nodes[:1], nodes[1:]})
}

// Bridge splits a random permutation of nodes in halves, except for one
// node of the larger half (the bridge) that both halves still talk to and
// that talks to both.
func Bridge(nodes []string, rng *rand.Rand) Grudge {
	halves := Bisect(shuffled(nodes, rng))
	if len(halves[1]) == 0 {
		return Grudge{}
	}
	bridge := halves[1][0]
	g := CompleteGrudge(halves)
	delete(g, bridge)
	for n, drops := range g {
		var keep []string
		for _, d := range drops {
			if d != bridge {
				keep = append(keep, d)
			}
		}
		if len(keep) == 0 {
			delete(g, n)
		} else {
			g[n] = keep
		}
	}
	return g
}

// MajoritiesRing arranges a random permutation of nodes in a ring; each
// node receives only from the majority-sized arc of the ring centered on
// itself. So every node sees a majority, and no two nodes see the same one
// (arcs that start at different places differ) — a partition in which
// every node may believe it is in the majority. When the majority is odd
// (four or five nodes, say) the arc reaches equally far both ways and the
// grudge is symmetric; otherwise (three nodes, six) it is lopsided, and a
// node may reach a peer that drops its packets. With fewer than three
// nodes a majority is everyone, so nothing is cut.
func MajoritiesRing(nodes []string, rng *rand.Rand) Grudge {
	n := len(nodes)
	g := Grudge{}
	if n < 3 {
		return g
	}
	ring := shuffled(nodes, rng)
	m := Majority(n)
	lo := (m - 1) / 2 // arc: positions i-lo .. i-lo+m-1
	for i, node := range ring {
		sees := map[string]bool{}
		for k := 0; k < m; k++ {
			sees[ring[((i-lo+k)%n+n)%n]] = true
		}
		var drops []string
		for _, o := range nodes {
			if !sees[o] {
				drops = append(drops, o)
			}
		}
		sort.Strings(drops)
		g[node] = drops
	}
	return g
}

func knownTopology(name string) bool {
	if name == "" {
		return true
	}
	for _, t := range eval.PartitionTopologies {
		if t == name {
			return true
		}
	}
	return false
}

// Topology computes the grudge for a partition fault: a named topology, or
// explicit groups (components isolated from each other).
func Topology(name string, groups [][]string, nodes []string, rng *rand.Rand) (Grudge, error) {
	if len(groups) > 0 {
		return CompleteGrudge(groups), nil
	}
	switch name {
	case "halves":
		return Halves(nodes), nil
	case "", "random-halves":
		return RandomHalves(nodes, rng), nil
	case "majorities-ring":
		return MajoritiesRing(nodes, rng), nil
	case "one":
		return IsolateOne(nodes, rng), nil
	case "bridge":
		return Bridge(nodes, rng), nil
	case "primaries":
		return IsolatePrimary(nodes), nil
	}
	return nil, fmt.Errorf("unknown partition topology %q", name)
}

// Targets picks the nodes a kill, pause or custom fault hits, as Jepsen's
// db-nodes does: one random node; a random minority (one less than a
// majority); a random majority; all; the primaries (the first node); a
// random minority-third (the largest count strictly under a third, which is
// none for fewer than four nodes); or the named nodes. The result is in the
// order of nodes.
func Targets(t eval.Targets, nodes []string, rng *rand.Rand) ([]string, error) {
	if len(t.Nodes) > 0 {
		known := map[string]bool{}
		for _, n := range nodes {
			known[n] = true
		}
		for _, n := range t.Nodes {
			if !known[n] {
				return nil, fmt.Errorf("target %q is not one of the test's nodes", n)
			}
		}
		return ordered(t.Nodes, nodes), nil
	}
	n := len(nodes)
	var k int
	switch t.Selection {
	case "", "one":
		k = min(1, n)
	case "minority":
		k = Majority(n) - 1
	case "majority":
		k = Majority(n)
	case "minority-third":
		k = max(0, (n-1)/3)
	case "all":
		return append([]string(nil), nodes...), nil
	case "primaries":
		if n == 0 {
			return nil, nil
		}
		return nodes[:1:1], nil
	default:
		return nil, fmt.Errorf("unknown target selection %q", t.Selection)
	}
	return ordered(shuffled(nodes, rng)[:k], nodes), nil
}

// ordered returns the members of pick in the order of nodes.
func ordered(pick, nodes []string) []string {
	in := map[string]bool{}
	for _, p := range pick {
		in[p] = true
	}
	var out []string
	for _, n := range nodes {
		if in[n] {
			out = append(out, n)
		}
	}
	return out
}

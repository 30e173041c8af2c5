package elle

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// simpleCycleTypes enumerates every simple cycle of g (small graphs only)
// and returns the classes present.
func simpleCycleTypes(s *sccGraph) map[string]bool {
	n := len(s.members)
	out := map[string]bool{}
	var path []int32
	var steps []Rel
	on := make([]bool, n)
	var dfs func(start, v int32)
	dfs = func(start, v int32) {
		for e := s.c.off[v]; e < s.c.off[v+1]; e++ {
			w := s.c.adj[e]
			if w == start {
				out[classify(append(append([]Rel(nil), steps...), s.step[e]))] = true
				continue
			}
			// Each cycle once: start is its smallest vertex.
			if w < start || on[w] {
				continue
			}
			on[w] = true
			path = append(path, w)
			steps = append(steps, s.step[e])
			dfs(start, w)
			on[w] = false
			path = path[:len(path)-1]
			steps = steps[:len(steps)-1]
		}
	}
	for v := int32(0); v < int32(n); v++ {
		on[v] = true
		dfs(v, v)
		on[v] = false
	}
	return out
}

// The BFS finds a cycle of a class exactly when one exists, and what it
// returns is a simple cycle of that class along real edges.
func TestFindMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rels := []Rel{WW, WR, RW, Realtime, WW | RW, WR | Realtime}
	for iter := 0; iter < 500; iter++ {
		n := 2 + rng.IntN(8)
		g := NewGraph(n)
		m := n + rng.IntN(2*n)
		for i := 0; i < m; i++ {
			g.AddEdge(rng.IntN(n), rng.IntN(n), rels[rng.IntN(len(rels))])
		}
		g.Freeze()
		local := make([]int32, n)
		for i := range local {
			local[i] = -1
		}
		for _, scc := range g.SCCs() {
			s := newSCCGraph(g, scc, local, nil)
			exist := simpleCycleTypes(s)
			b := newSearcher(s)
			for _, sp := range cycleSpecs {
				if sp.kind == kindPredicate {
					continue
				}
				c, ok := b.find(context.Background(), sp, time.Now().Add(time.Minute))
				if !ok {
					t.Fatal("timed out")
				}
				if (c != nil) != exist[sp.name] {
					t.Fatalf("iter %d: %s: found %v, exists %v (classes %v)", iter, sp.name, c != nil, exist[sp.name], exist)
				}
				if c == nil {
					continue
				}
				seen := map[int]bool{}
				for i, v := range c.Txns {
					if seen[v] {
						t.Fatalf("%s: not simple: %v", sp.name, c.Txns)
					}
					seen[v] = true
					w := c.Txns[(i+1)%len(c.Txns)]
					if r := g.Rel(v, w); r.primary() != c.Steps[i] {
						t.Fatalf("%s: step %d->%d is %v, edge %v", sp.name, v, w, c.Steps[i], r)
					}
				}
				if classify(c.Steps) != sp.name {
					t.Fatalf("%s: cycle classifies as %s", sp.name, classify(c.Steps))
				}
			}
		}
	}
}

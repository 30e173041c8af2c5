// Package elle checks transactional histories for isolation anomalies the
// way Jepsen's Elle does: it infers a dependency graph between committed
// transactions (write-write, write-read and read-write edges from the
// workload's version orders, plus real-time or process order), finds its
// strongly connected components, and searches each for the shortest cycle
// of every anomaly class (G0, G1c, G-single, G-nonadjacent, G2-item and
// their -process and -realtime variants). The anomalies found, with the
// non-cyclic ones the workload reports (G1a, G1b, internal...), decide
// which consistency models the history rules out.
//
// The workloads live in subpackages: listappend and rwregister. They build
// a Graph and hand it, with their own anomalies, to Check.
package elle

import (
	"fmt"
	"slices"
)

// Rel is a set of edge types between two transactions.
type Rel uint8

// The edge types. A data edge is explained before an order edge when an
// edge has several: ww, then wr, then rw, then realtime, then process, as
// Elle's combined explainer does.
const (
	WW Rel = 1 << iota
	WR
	RW
	Realtime
	Process
)

var relNames = []string{"ww", "wr", "rw", "realtime", "process"}

// String names the rels, like "ww+rw".
func (r Rel) String() string {
	s := ""
	for i, n := range relNames {
		if r&(1<<i) != 0 {
			if s != "" {
				s += "+"
			}
			s += n
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// primary is the single rel an edge is explained by.
func (r Rel) primary() Rel { return r & -r }

// Graph is a directed graph over transactions numbered 0..N-1, each edge
// carrying a Rel. Build it with AddEdge, then Freeze; the frozen form is
// compressed sparse rows, so a million transactions cost a few slices.
type Graph struct {
	n     int
	raw   [][]rawEdge // chunks, so growing never copies
	off   []int32     // off[v]..off[v+1] index adj and rel
	adj   []int32
	rel   []Rel
	touch []bool // vertex has an edge: Elle's graph holds only those
}

// rawEdge packs an edge into 8 bytes: the source, and the target in the
// low 27 bits with the rel above.
type rawEdge struct {
	from int32
	to   uint32
}

const toBits = 27

// MaxTxns is the most transactions a Graph holds.
const MaxTxns = 1 << toBits

// NewGraph returns an empty graph over n transactions, at most MaxTxns.
func NewGraph(n int) *Graph {
	if n > MaxTxns {
		panic(fmt.Sprintf("elle: %d transactions; a graph holds at most %d", n, MaxTxns))
	}
	return &Graph{n: n}
}

// N is the number of transactions.
func (g *Graph) N() int { return g.n }

// AddEdge adds rel to the edge a -> b. Self-edges are ignored: Elle's
// graphs have none.
func (g *Graph) AddEdge(a, b int, rel Rel) {
	if a == b || a < 0 || b < 0 {
		return
	}
	if len(g.raw) == 0 || len(g.raw[len(g.raw)-1]) == cap(g.raw[len(g.raw)-1]) {
		// Chunks grow from small (a graph may be tiny) to 64k edges.
		size := 64
		if k := len(g.raw); k > 0 {
			size = min(2*cap(g.raw[k-1]), 1<<16)
		}
		g.raw = append(g.raw, make([]rawEdge, 0, size))
	}
	c := &g.raw[len(g.raw)-1]
	*c = append(*c, rawEdge{int32(a), uint32(b) | uint32(rel)<<toBits})
}

// Freeze sorts and merges the edges. AddEdge must not be called after.
// A counting sort by source, then a small sort of each vertex's targets:
// linear in the edges, where a general sort was the slowest step.
func (g *Graph) Freeze() {
	count := make([]int32, g.n+1)
	total := 0
	for _, c := range g.raw {
		total += len(c)
		for _, e := range c {
			count[e.from+1]++
		}
	}
	for v := 0; v < g.n; v++ {
		count[v+1] += count[v]
	}
	to := make([]int32, total)
	rel := make([]Rel, total)
	fill := append([]int32(nil), count[:g.n]...)
	for i, c := range g.raw {
		for _, e := range c {
			to[fill[e.from]] = int32(e.to & (1<<toBits - 1))
			rel[fill[e.from]] = Rel(e.to >> toBits)
			fill[e.from]++
		}
		g.raw[i] = nil // free as we go
	}
	g.raw = nil
	g.off = make([]int32, g.n+1)
	g.touch = make([]bool, g.n)
	g.adj = to[:0]
	g.rel = rel[:0]
	for v := 0; v < g.n; v++ {
		lo, hi := count[v], count[v+1]
		ts, rs := to[lo:hi], rel[lo:hi]
		// Insertion sort: degrees are small.
		for i := 1; i < len(ts); i++ {
			for j := i; j > 0 && ts[j] < ts[j-1]; j-- {
				ts[j], ts[j-1] = ts[j-1], ts[j]
				rs[j], rs[j-1] = rs[j-1], rs[j]
			}
		}
		start := len(g.adj)
		for i := 0; i < len(ts); i++ {
			if len(g.adj) > start && g.adj[len(g.adj)-1] == ts[i] {
				g.rel[len(g.rel)-1] |= rs[i]
				continue
			}
			// Writing behind the read position is safe: the merged list
			// is never longer than what was read.
			g.adj = append(g.adj, ts[i])
			g.rel = append(g.rel, rs[i])
			g.touch[v], g.touch[ts[i]] = true, true
		}
		g.off[v+1] = int32(len(g.adj))
	}
}

// Edges is the number of distinct (a, b) edges.
func (g *Graph) Edges() int { return len(g.adj) }

// Vertices is the number of transactions with at least one edge.
func (g *Graph) Vertices() int {
	c := 0
	for _, t := range g.touch {
		if t {
			c++
		}
	}
	return c
}

// Rel returns the rels of edge a -> b, 0 if none.
func (g *Graph) Rel(a, b int) Rel {
	lo, hi := int(g.off[a]), int(g.off[a+1])
	i, ok := slices.BinarySearch(g.adj[lo:hi], int32(b))
	if !ok {
		return 0
	}
	return g.rel[lo+i]
}

// SCCs returns the strongly connected components with more than one
// transaction, each sorted, ordered by their smallest member.
func (g *Graph) SCCs() [][]int {
	return tarjan(csr{g.off, g.adj})
}

// csr is an adjacency structure over vertices 0..len(off)-2.
type csr struct {
	off, adj []int32
}

// tarjan finds the SCCs of size > 1 of c. Tarjan's algorithm, iterative
// so a long chain of transactions cannot overflow the stack.
func tarjan(c csr) [][]int {
	n := len(c.off) - 1
	index := make([]int32, n)
	low := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int32
	type frame struct {
		v, i int32 // vertex, next edge position
	}
	var call []frame
	var out [][]int
	next := int32(0)
	push := func(v int32) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		call = append(call, frame{v, c.off[v]})
	}
	for root := int32(0); root < int32(n); root++ {
		if index[root] >= 0 {
			continue
		}
		push(root)
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.i < c.off[f.v+1] {
				w := c.adj[f.i]
				f.i++
				if index[w] < 0 {
					push(w)
				} else if onStack[w] && index[w] < low[f.v] {
					low[f.v] = index[w]
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				if low[v] < low[p] {
					low[p] = low[v]
				}
			}
			if low[v] == index[v] {
				if stack[len(stack)-1] == v {
					stack = stack[:len(stack)-1]
					onStack[v] = false
					continue
				}
				var comp []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, int(w))
					if w == v {
						break
					}
				}
				slices.Sort(comp)
				out = append(out, comp)
			}
		}
	}
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}

// Out returns v's successors and the rels of those edges. The slices
// belong to the graph.
func (g *Graph) Out(v int) ([]int32, []Rel) {
	lo, hi := g.off[v], g.off[v+1]
	return g.adj[lo:hi], g.rel[lo:hi]
}

package elle

import (
	"context"
	"time"
)

// Cycle is a cycle of transactions: Txns[i] -> Txns[i+1] by Steps[i], and
// the last transaction back to the first by the last step.
type Cycle struct {
	Type  string
	Txns  []int
	Steps []Rel // the rel each step is explained by
}

// classify names a cycle by its steps as Elle's cycle explainer does: by
// the number of rw steps and whether two are adjacent, else by wr, else
// ww; then -realtime or -process when such a step is present.
func classify(steps []Rel) string {
	var ww, wr, rw, rt, pr int
	adj := false
	for i, s := range steps {
		switch s {
		case WW:
			ww++
		case WR:
			wr++
		case RW:
			rw++
			if steps[(i+len(steps)-1)%len(steps)] == RW {
				adj = true
			}
		case Realtime:
			rt++
		case Process:
			pr++
		}
	}
	var t string
	switch {
	case rw == 1:
		t = "G-single-item"
	case rw > 1 && adj:
		t = "G2-item"
	case rw > 1:
		t = "G-nonadjacent-item"
	case wr > 0:
		t = "G1c"
	case ww > 0:
		t = "G0"
	default:
		return "unknown-cycle"
	}
	switch {
	case rt > 0:
		t += "-realtime"
	case pr > 0:
		t += "-process"
	}
	return t
}

// cycleKind is the shape of cycle a search looks for.
type cycleKind uint8

const (
	kindG0 cycleKind = iota
	kindG1c
	kindSingle
	kindNonadjacent
	kindG2Item
	kindPredicate // needs predicate edges, which no workload here yields
)

type cycleSpec struct {
	name    string
	kind    cycleKind
	variant Rel // 0, Realtime or Process
}

var cycleSpecs = func() []cycleSpec {
	base := []struct {
		n string
		k cycleKind
	}{
		{"G0", kindG0}, {"G1c", kindG1c}, {"G-single-item", kindSingle},
		{"G-single", kindPredicate}, {"G-nonadjacent-item", kindNonadjacent},
		{"G-nonadjacent", kindPredicate}, {"G2-item", kindG2Item}, {"G2", kindPredicate},
	}
	var out []cycleSpec
	for _, b := range base {
		out = append(out, cycleSpec{b.n, b.k, 0},
			cycleSpec{b.n + "-process", b.k, Process},
			cycleSpec{b.n + "-realtime", b.k, Realtime})
	}
	// Search in Elle's order: by depth in the anomaly graphs, then name.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && depthLess(out[j].name, out[j-1].name); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}()

var cycleTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range cycleSpecs {
		m[s.name] = true
	}
	return m
}()

// sccGraph is one SCC with local vertex numbers; step[i] is the rel edge i
// is explained by, rels[i] all its rels.
type sccGraph struct {
	members []int // local -> global
	c       csr
	step    []Rel
	rels    []Rel
}

// primaryBy returns the first rel of r in priority order.
func primaryBy(prio []Rel, r Rel) Rel {
	for _, p := range prio {
		if r&p != 0 {
			return p
		}
	}
	return r.primary()
}

func newSCCGraph(g *Graph, members []int, local []int32, prio []Rel) *sccGraph {
	s := &sccGraph{members: members}
	for i, v := range members {
		local[v] = int32(i)
	}
	s.c.off = make([]int32, len(members)+1)
	for i, v := range members {
		for e := g.off[v]; e < g.off[v+1]; e++ {
			if l := local[g.adj[e]]; l >= 0 {
				s.c.adj = append(s.c.adj, l)
				s.rels = append(s.rels, g.rel[e])
				s.step = append(s.step, primaryBy(prio, g.rel[e]))
			}
		}
		s.c.off[i+1] = int32(len(s.c.adj))
	}
	for _, v := range members {
		local[v] = -1
	}
	return s
}

// project keeps the edges whose rels intersect mask.
func (s *sccGraph) project(mask Rel) csr {
	n := len(s.members)
	c := csr{off: make([]int32, n+1)}
	for v := 0; v < n; v++ {
		for e := s.c.off[v]; e < s.c.off[v+1]; e++ {
			if s.rels[e]&mask != 0 {
				c.adj = append(c.adj, s.c.adj[e])
			}
		}
		c.off[v+1] = int32(len(c.adj))
	}
	return c
}

// extend is Elle's sequential extension of a by b: a, plus x -> z
// whenever x -a-> y -b-> z. Self-edges are kept: they are cycles.
func extend(a, b csr) csr {
	n := len(a.off) - 1
	c := csr{off: make([]int32, n+1)}
	mark := make([]int32, n)
	for i := range mark {
		mark[i] = -1
	}
	for x := 0; x < n; x++ {
		add := func(z int32) {
			if mark[z] != int32(x) {
				mark[z] = int32(x)
				c.adj = append(c.adj, z)
			}
		}
		for e := a.off[x]; e < a.off[x+1]; e++ {
			y := a.adj[e]
			add(y)
			for f := b.off[y]; f < b.off[y+1]; f++ {
				add(b.adj[f])
			}
		}
		c.off[x+1] = int32(len(c.adj))
	}
	return c
}

// smallestNontrivialSCC returns the smallest SCC of c that is a cycle:
// more than one vertex, or one with a self-edge.
func smallestNontrivialSCC(c csr) []int {
	var best []int
	for _, comp := range tarjan(c) {
		if best == nil || len(comp) < len(best) {
			best = comp
		}
	}
	for v := 0; v < len(c.off)-1; v++ {
		for e := c.off[v]; e < c.off[v+1]; e++ {
			if c.adj[e] == int32(v) && (best == nil || len(best) > 1) {
				best = []int{v}
			}
		}
	}
	return best
}

// existSpec is one of Elle's cycle-exists checks: if the subgraph has a
// cycle, the model cannot hold, even when no specific cycle is found.
type existSpec struct {
	model    string // canonical
	rels     Rel
	extendRW bool // the subgraph is rels extended by one rw step
	subgraph string
}

var existSpecs = []existSpec{
	{"PL-1", WW, false, "[:union :ww]"},
	{"PL-2", WW | WR, false, "[:union :ww :wr]"},
	{"PL-SI", WW | WR, true, "[:extension [:union :ww :wr] :rw]"},
	{"PL-2.99", WW | WR | RW, false, "[:union :ww :wr :rw]"},
	{"PL-3", WW | WR | RW, false, "[:union :ww :wr :rw]"},
	{"strong-session-PL-1", WW | Process, false, "[:union :ww :process]"},
	{"strong-session-PL-2", WW | WR | Process, false, "[:union :ww :wr :process]"},
	{"strong-session-snapshot-isolation", WW | WR | Process, true, "[:extension [:union :ww :wr :process] :rw]"},
	{"strong-session-serializable", WW | WR | RW | Process, false, "[:union :ww :wr :rw :process]"},
	{"strong-PL-1", WW | Realtime, false, "[:union :ww :realtime]"},
	{"strong-PL-2", WW | WR | Realtime, false, "[:union :ww :wr :realtime]"},
	{"strong-snapshot-isolation", WW | WR | Realtime, true, "[:extension [:union :ww :wr :realtime] :rw]"},
	{"PL-SS", WW | WR | RW | Realtime, false, "[:union :ww :wr :rw :realtime]"},
}

// CycleExists is an anomaly saying some cycle forbidden by a model exists
// among the listed transactions, when no specific cycle explains it.
type CycleExists struct {
	Type     string  `json:"type"`
	Not      string  `json:"not"`
	Subgraph string  `json:"subgraph"`
	SCCSize  int     `json:"scc_size"`
	SCC      []int64 `json:"scc"`
}

// SearchTimeout records that a cycle search in an SCC ran out of time.
type SearchTimeout struct {
	Type           string   `json:"type"`
	AnomalySpec    string   `json:"anomaly_spec_type"`
	DoesNotContain []string `json:"does_not_contain"`
	SCCSize        int      `json:"scc_size"`
}

// sccResult is what one SCC yielded.
type sccResult struct {
	exists  []CycleExists
	cycles  []Cycle
	timeout *SearchTimeout
}

func (s *sccGraph) cycleExists(txnIndex func(int) int64) ([]CycleExists, map[string]bool) {
	var out []CycleExists
	impossible := map[string]bool{}
	var rw csr
	for _, sp := range existSpecs {
		if impossible[sp.model] {
			continue
		}
		c := s.project(sp.rels)
		if sp.extendRW {
			if rw.off == nil {
				rw = s.project(RW)
			}
			c = extend(c, rw)
		}
		comp := smallestNontrivialSCC(c)
		if comp == nil {
			continue
		}
		idx := make([]int64, len(comp))
		for i, l := range comp {
			idx[i] = txnIndex(s.members[l])
		}
		out = append(out, CycleExists{
			Type: sp.model + "-cycle-exists", Not: friendly(sp.model),
			Subgraph: sp.subgraph, SCCSize: len(comp), SCC: idx,
		})
		for m := range reach(modelGraph.in, []string{sp.model}) {
			impossible[m] = true
		}
	}
	return out, impossible
}

// searchSCC runs Elle's per-SCC search: cycle-exists checks, then for each
// cycle class in order, unless implied by one already found or ruled out
// by the cycle-exists checks, a search for a cycle of exactly that class.
func searchSCC(ctx context.Context, g *Graph, members []int, local []int32,
	timeout time.Duration, txnIndex func(int) int64, prio []Rel) sccResult {
	s := newSCCGraph(g, members, local, prio)
	exists, impossible := s.cycleExists(txnIndex)
	var possible []string
	for _, sp := range existSpecs {
		if !impossible[sp.model] {
			possible = append(possible, sp.model)
		}
	}
	redundant := map[string]bool{}
	for a := range ProhibitedBy(possible) {
		if cycleTypes[a] {
			redundant[a] = true
		}
	}
	res := sccResult{exists: exists}
	deadline := time.Now().Add(timeout)
	var searched []string
	bfs := newSearcher(s)
	for _, sp := range cycleSpecs {
		if redundant[sp.name] {
			continue
		}
		searched = append(searched, sp.name)
		if sp.kind == kindPredicate {
			continue // searched, as Elle does, and never found: no predicates
		}
		c, ok := bfs.find(ctx, sp, deadline)
		if !ok {
			found := map[string]bool{}
			for _, c := range res.cycles {
				found[c.Type] = true
			}
			dnc := []string{}
			for _, t := range searched[:len(searched)-1] {
				if !found[t] {
					dnc = append(dnc, t)
				}
			}
			res.timeout = &SearchTimeout{Type: "cycle-search-timeout", AnomalySpec: sp.name,
				DoesNotContain: dnc, SCCSize: len(members)}
			if fb := bfs.fallback(); fb != nil {
				res.cycles = append(res.cycles, *fb)
			}
			return res
		}
		if c != nil {
			res.cycles = append(res.cycles, *c)
			for a := range ImpliedAnomalies([]string{sp.name}) {
				redundant[a] = true
			}
		}
	}
	return res
}

// searcher holds the BFS buffers for one SCC, reused across searches.
type searcher struct {
	s      *sccGraph
	seen   []uint32 // stamp per (vertex, flags) state
	parent []int32  // predecessor state
	pedge  []int32  // edge taken into the state
	stamp  uint32
	queue  []int32
}

func newSearcher(s *sccGraph) *searcher {
	n := len(s.members) * 8
	return &searcher{s: s, seen: make([]uint32, n), parent: make([]int32, n), pedge: make([]int32, n)}
}

const (
	flagLastRW  = 1
	flagTwoRW   = 2
	flagVariant = 4
)

// allowed reports whether a step of rel r may be taken in spec sp.
func allowed(sp cycleSpec, r Rel) bool {
	switch r {
	case WW:
		return true
	case WR:
		return sp.kind != kindG0
	case RW:
		return sp.kind == kindSingle || sp.kind == kindNonadjacent || sp.kind == kindG2Item
	}
	return sp.variant != 0 && r == sp.variant
}

// find returns the shortest cycle of class sp through the first start
// vertex that has one, nil if there is none, and false if the deadline or
// ctx expired first. Cycles are rotated so the search can begin with the
// step the class needs: a wr step for G1c, an rw step for the rw classes.
func (b *searcher) find(ctx context.Context, sp cycleSpec, deadline time.Time) (*Cycle, bool) {
	s := b.s
	n := len(s.members)
	var first Rel
	switch sp.kind {
	case kindG1c:
		first = WR
	case kindSingle, kindNonadjacent, kindG2Item:
		first = RW
	}
	work := 0
	// discarded: a shortest closed walk passed a vertex twice and held no
	// simple cycle of the class. Breadth-first search over (vertex, state)
	// then cannot be trusted to be complete, so a depth-first search over
	// simple paths follows.
	discarded := false
	for start := 0; start < n; start++ {
		b.stamp++
		if b.stamp == 0 {
			clear(b.seen)
			b.stamp = 1
		}
		b.queue = b.queue[:0]
		// Seed with the first steps.
		for e := s.c.off[start]; e < s.c.off[start+1]; e++ {
			r := s.step[e]
			if !allowed(sp, r) || (first != 0 && r != first) {
				continue
			}
			w := s.c.adj[e]
			fl := int32(0)
			if r == RW {
				fl |= flagLastRW
			}
			if sp.variant != 0 && r == sp.variant {
				fl |= flagVariant
			}
			st := w*8 + fl
			if b.seen[st] == b.stamp {
				continue
			}
			b.seen[st] = b.stamp
			b.parent[st] = -1 - int32(start)
			b.pedge[st] = e
			b.queue = append(b.queue, st)
		}
		for qi := 0; qi < len(b.queue); qi++ {
			work++
			if work&1023 == 0 && (time.Now().After(deadline) || ctx.Err() != nil) {
				return nil, false
			}
			st := b.queue[qi]
			v, fl := st/8, st%8
			for e := s.c.off[v]; e < s.c.off[v+1]; e++ {
				r := s.step[e]
				if !allowed(sp, r) {
					continue
				}
				nf := fl &^ flagLastRW
				if r == RW {
					switch sp.kind {
					case kindSingle:
						continue // only the first step is rw
					case kindNonadjacent:
						if fl&flagLastRW != 0 {
							continue
						}
					}
					nf |= flagLastRW | flagTwoRW
				}
				if sp.variant != 0 && r == sp.variant {
					nf |= flagVariant
				}
				w := s.c.adj[e]
				if int(w) == start {
					if !closes(sp, nf) {
						continue
					}
					if c := b.build(sp, start, st, e); c != nil {
						return c, true
					}
					discarded = true
					continue
				}
				ns := w*8 + nf
				if b.seen[ns] == b.stamp {
					continue
				}
				b.seen[ns] = b.stamp
				b.parent[ns] = st
				b.pedge[ns] = e
				b.queue = append(b.queue, ns)
			}
		}
	}
	if discarded {
		return b.findSimple(ctx, sp, first, deadline)
	}
	return nil, true
}

// findSimple searches simple paths depth first: exhaustive, so only used
// when the breadth-first search may have missed a cycle.
func (b *searcher) findSimple(ctx context.Context, sp cycleSpec, first Rel, deadline time.Time) (*Cycle, bool) {
	s := b.s
	n := len(s.members)
	on := make([]bool, n)
	type frame struct {
		v  int32
		e  int32 // next edge to try
		fl int32 // flags on arrival
		in int32 // edge taken to arrive, -1 at the start
	}
	work := 0
	for start := 0; start < n; start++ {
		stack := []frame{{v: int32(start), e: s.c.off[start], in: -1}}
		on[start] = true
		for len(stack) > 0 {
			work++
			if work&1023 == 0 && (time.Now().After(deadline) || ctx.Err() != nil) {
				return nil, false
			}
			f := &stack[len(stack)-1]
			if f.e >= s.c.off[f.v+1] {
				on[f.v] = false
				stack = stack[:len(stack)-1]
				continue
			}
			e := f.e
			f.e++
			r := s.step[e]
			if !allowed(sp, r) || (len(stack) == 1 && first != 0 && r != first) {
				continue
			}
			nf := f.fl &^ flagLastRW
			if r == RW {
				if len(stack) > 1 {
					switch sp.kind {
					case kindSingle:
						continue
					case kindNonadjacent:
						if f.fl&flagLastRW != 0 {
							continue
						}
					}
					nf |= flagTwoRW
				}
				nf |= flagLastRW
			}
			if sp.variant != 0 && r == sp.variant {
				nf |= flagVariant
			}
			w := s.c.adj[e]
			if int(w) == start {
				if !closes(sp, nf) {
					continue
				}
				c := &Cycle{Type: sp.name}
				for i := range stack {
					c.Txns = append(c.Txns, s.members[stack[i].v])
					if i > 0 {
						c.Steps = append(c.Steps, s.step[stack[i].in])
					}
				}
				c.Steps = append(c.Steps, r)
				if classify(c.Steps) == sp.name {
					for i := range stack {
						on[stack[i].v] = false
					}
					return c, true
				}
				continue
			}
			if on[w] {
				continue
			}
			on[w] = true
			stack = append(stack, frame{v: w, e: s.c.off[w], fl: nf, in: e})
		}
	}
	return nil, true
}

// closes reports whether a walk back at its start, with flags fl after the
// closing step, is a cycle of class sp.
func closes(sp cycleSpec, fl int32) bool {
	if sp.variant != 0 && fl&flagVariant == 0 {
		return false
	}
	switch sp.kind {
	case kindNonadjacent:
		return fl&flagLastRW == 0 && fl&flagTwoRW != 0
	case kindG2Item:
		return fl&flagLastRW != 0
	}
	return true
}

// build turns the BFS path ending in state st plus closing edge e into a
// cycle. A shortest walk may pass a vertex twice in different states; it
// is then split into simple cycles and one of class sp is kept, if any.
func (b *searcher) build(sp cycleSpec, start int, st int32, e int32) *Cycle {
	s := b.s
	var edges []int32
	edges = append(edges, e)
	for cur := st; ; {
		edges = append(edges, b.pedge[cur])
		p := b.parent[cur]
		if p < 0 {
			break
		}
		cur = p
	}
	// Reverse into walk order.
	for i, j := 0, len(edges)-1; i < j; i, j = i+1, j-1 {
		edges[i], edges[j] = edges[j], edges[i]
	}
	verts := make([]int32, len(edges))
	verts[0] = int32(start)
	for i := 1; i < len(edges); i++ {
		verts[i] = s.c.adj[edges[i-1]]
	}
	for _, cyc := range splitSimple(verts, edges) {
		steps := make([]Rel, len(cyc))
		txns := make([]int, len(cyc))
		for i, ei := range cyc {
			steps[i] = s.step[ei]
			txns[i] = s.members[verts[indexOfEdge(edges, ei)]]
		}
		if classify(steps) == sp.name {
			return &Cycle{Type: sp.name, Txns: txns, Steps: steps}
		}
	}
	return nil
}

func indexOfEdge(edges []int32, e int32) int {
	for i, x := range edges {
		if x == e {
			return i
		}
	}
	return -1
}

// splitSimple decomposes the closed walk (verts[i] -edges[i]-> next) into
// simple cycles, each a list of edges.
func splitSimple(verts, edges []int32) [][]int32 {
	pos := map[int32]int{}
	var vs []int32
	var es []int32
	var out [][]int32
	for i, v := range verts {
		if p, ok := pos[v]; ok {
			out = append(out, append([]int32(nil), es[p:]...))
			for _, u := range vs[p:] {
				delete(pos, u)
			}
			vs, es = vs[:p], es[:p]
		}
		pos[v] = len(vs)
		vs = append(vs, v)
		es = append(es, edges[i])
	}
	return append(out, es)
}

// fallback finds some cycle in the SCC, any class: the shortest cycle
// back to the first vertex over all edges.
func (b *searcher) fallback() *Cycle {
	s := b.s
	n := len(s.members)
	par := make([]int32, n)
	for i := range par {
		par[i] = -2
	}
	q := []int32{0}
	par[0] = -1
	for qi := 0; qi < len(q); qi++ {
		v := q[qi]
		for e := s.c.off[v]; e < s.c.off[v+1]; e++ {
			w := s.c.adj[e]
			if w == 0 {
				var edges []int32
				edges = append(edges, e)
				for cur := v; cur != 0; {
					pe := b.pedge[cur]
					edges = append(edges, pe)
					cur = par[cur]
				}
				for i, j := 0, len(edges)-1; i < j; i, j = i+1, j-1 {
					edges[i], edges[j] = edges[j], edges[i]
				}
				steps := make([]Rel, len(edges))
				txns := make([]int, len(edges))
				cur := int32(0)
				for i, ei := range edges {
					steps[i] = s.step[ei]
					txns[i] = s.members[cur]
					cur = s.c.adj[ei]
				}
				return &Cycle{Type: classify(steps), Txns: txns, Steps: steps}
			}
			if par[w] == -2 {
				par[w] = v
				b.pedge[w] = e
				q = append(q, w)
			}
		}
	}
	return nil
}

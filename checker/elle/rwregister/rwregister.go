// Package rwregister infers Elle's dependency graph for read-write
// register histories: transactions write unique values to keys and read
// single values. Unlike list-append, a read does not reveal the order of
// earlier writes, so version orders are partial: every value follows the
// initial nil state, and, when asked for, writes follow reads within a
// transaction, or per-key sequential consistency or linearizability order
// the versions seen along process or real-time order. Write-read edges
// come straight from reads; write-write and read-write edges from the
// version orders.
package rwregister

import (
	"context"
	"fmt"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/elle"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/txn"
)

// vk is a key and value, comparable.
type vk struct {
	k, v any
}

// plain turns a value into a map key: plain scalars stand for
// themselves, anything else for its printed form.
func plain(v any) any {
	switch v.(type) {
	case nil, int64, float64, string, bool:
		return v
	}
	return fmt.Sprintf("%v", v)
}

type rmop struct {
	write bool
	k, v  any // comparable forms
}

// ext is a txn's external reads (first read of a key before any write of
// it) and external writes (last write of each key).
type ext struct {
	reads, writes map[any]any
	readKeys      []any // in order, for stable output
	writeKeys     []any
}

func extOf(ms []rmop) ext {
	e := ext{reads: map[any]any{}, writes: map[any]any{}}
	written := map[any]bool{}
	for _, m := range ms {
		if m.write {
			if _, ok := e.writes[m.k]; !ok {
				e.writeKeys = append(e.writeKeys, m.k)
			}
			e.writes[m.k] = m.v
			written[m.k] = true
			continue
		}
		if _, ok := e.reads[m.k]; !ok && !written[m.k] {
			e.reads[m.k] = m.v
			e.readKeys = append(e.readKeys, m.k)
		}
	}
	return e
}

type state struct {
	txns *elle.Txns
	mops [][]rmop
	ext  []ext
	// Version graphs: per key, value -> later values.
	versions map[any]map[any][]any
	// ok txns' external reads and writes, by (key, value).
	readers, writers map[vk][]int32
	anoms            map[string][]any
}

// Analyze builds the graph and the non-cyclic anomalies of an rw-register
// history, adding the order edges opts needs.
func Analyze(ctx context.Context, h []history.Op, opts elle.Options) (*elle.Analysis, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	txns, err := elle.Prepare(h)
	if err != nil {
		return nil, fmt.Errorf("rw-register: %w", err)
	}
	s := &state{txns: txns, anoms: map[string][]any{}}
	if err := s.parse(); err != nil {
		return nil, err
	}
	s.nonCyclic()
	s.index()
	g := elle.NewGraph(len(txns.List))
	if err := s.wr(g); err != nil {
		return nil, err
	}
	s.versionGraphs(opts)
	s.wwrw(g)
	txns.AddOrderEdges(g, opts.OrderRel())
	g.Freeze()
	return &elle.Analysis{Txns: txns, Graph: g, Anomalies: s.anoms, Explain: s.explain,
		Priority: []elle.Rel{elle.WR, elle.WW, elle.RW, elle.Realtime, elle.Process}}, nil
}

func (s *state) parse() error {
	s.mops = make([][]rmop, len(s.txns.List))
	s.ext = make([]ext, len(s.txns.List))
	for i := range s.txns.List {
		t := &s.txns.List[i]
		vs := t.Value.([]any)
		ms := make([]rmop, len(vs))
		for j, v := range vs {
			m, err := txn.ParseMop(v)
			if err != nil {
				return fmt.Errorf("rw-register: op %d: micro-op %d: %w", t.Index, j, err)
			}
			switch m.Kind {
			case txn.Write:
				ms[j] = rmop{write: true, k: m.Key, v: plain(m.Value)}
			case txn.Read:
				ms[j] = rmop{k: m.Key, v: plain(m.Value)}
			default:
				return fmt.Errorf("rw-register: op %d has micro-op %v: only writes and reads are allowed", t.Index, m)
			}
		}
		s.mops[i] = ms
		s.ext[i] = extOf(ms)
	}
	return nil
}

func (s *state) add(typ string, v any) { s.anoms[typ] = append(s.anoms[typ], v) }

func (s *state) opRef(i int) map[string]any {
	t := &s.txns.List[i]
	return map[string]any{"index": t.Index, "process": t.Process, "type": t.Type.String(), "value": t.Value}
}

func mopString(m rmop) string {
	f := "r"
	if m.write {
		f = "w"
	}
	return txn.Mop{Kind: map[string]txn.Kind{"r": txn.Read, "w": txn.Write}[f], Key: m.k, Value: m.v}.String()
}

// nonCyclic finds internal inconsistencies, aborted and intermediate
// reads, and lost updates.
func (s *state) nonCyclic() {
	failed := map[vk]int32{}
	intermediate := map[vk]int32{}
	for i, ms := range s.mops {
		t := &s.txns.List[i]
		for j, m := range ms {
			if !m.write {
				continue
			}
			if t.Type == history.Fail {
				failed[vk{m.k, m.v}] = int32(i)
			}
			for _, later := range ms[j+1:] {
				if later.write && later.k == m.k {
					intermediate[vk{m.k, m.v}] = int32(i)
					break
				}
			}
		}
	}
	type rk struct{ k, v any }
	groups := map[rk][]int{}
	var order []rk
	for i, ms := range s.mops {
		if s.txns.List[i].Type != history.OK {
			continue
		}
		known := map[any]any{}
		internal := false
		for _, m := range ms {
			if m.write {
				known[m.k] = m.v
				continue
			}
			if w, ok := failed[vk{m.k, m.v}]; ok {
				s.add("G1a", map[string]any{"op": s.opRef(i), "writer": s.opRef(int(w)), "mop": mopString(m)})
			}
			if w, ok := intermediate[vk{m.k, m.v}]; ok && int(w) != i {
				s.add("G1b", map[string]any{"op": s.opRef(i), "writer": s.opRef(int(w)), "mop": mopString(m)})
			}
			if exp, ok := known[m.k]; ok && exp != m.v && !internal {
				s.add("internal", map[string]any{"op": s.opRef(i), "mop": mopString(m), "expected": exp})
				internal = true
			}
			known[m.k] = m.v
		}
		// Lost updates: txns that read the same value of a key and then
		// wrote it.
		reads := map[any]any{}
		wrote := map[any]bool{}
		for _, m := range ms {
			if !m.write {
				if _, ok := reads[m.k]; !ok {
					reads[m.k] = m.v
				}
				continue
			}
			if wrote[m.k] {
				continue
			}
			if v, ok := reads[m.k]; ok {
				wrote[m.k] = true
				x := rk{m.k, v}
				if groups[x] == nil {
					order = append(order, x)
				}
				groups[x] = append(groups[x], i)
			}
		}
	}
	for _, x := range order {
		if g := groups[x]; len(g) > 1 {
			ops := make([]any, len(g))
			for j, i := range g {
				ops[j] = s.opRef(i)
			}
			s.add("lost-update", map[string]any{"key": x.k, "value": x.v, "txns": ops})
		}
	}
}

// index records ok txns' external reads and writes.
func (s *state) index() {
	s.readers = map[vk][]int32{}
	s.writers = map[vk][]int32{}
	for i := range s.mops {
		if s.txns.List[i].Type != history.OK {
			continue
		}
		e := &s.ext[i]
		for _, k := range e.readKeys {
			x := vk{k, e.reads[k]}
			s.readers[x] = append(s.readers[x], int32(i))
		}
		for _, k := range e.writeKeys {
			x := vk{k, e.writes[k]}
			s.writers[x] = append(s.writers[x], int32(i))
		}
	}
}

// wr links each external read to the one ok txn that wrote its value.
func (s *state) wr(g *elle.Graph) error {
	for i := range s.mops {
		if s.txns.List[i].Type != history.OK {
			continue
		}
		e := &s.ext[i]
		for _, k := range e.readKeys {
			ws := s.writers[vk{k, e.reads[k]}]
			switch len(ws) {
			case 0:
			case 1:
				g.AddEdge(int(ws[0]), i, elle.WR)
			default:
				return fmt.Errorf("rw-register: key %v had value %v written by more than one op (%d and %d)",
					k, e.reads[k], s.txns.List[ws[0]].Index, s.txns.List[ws[1]].Index)
			}
		}
	}
	return nil
}

type vgraph map[any]map[any][]any // key -> value -> later values

func (v vgraph) link(k, a, b any) {
	m := v[k]
	if m == nil {
		m = map[any][]any{}
		v[k] = m
	}
	for _, x := range m[a] {
		if x == b {
			return
		}
	}
	m[a] = append(m[a], b)
}

func (v vgraph) merge(o vgraph) vgraph {
	out := vgraph{}
	for _, g := range []vgraph{v, o} {
		for k, m := range g {
			for a, bs := range m {
				for _, b := range bs {
					out.link(k, a, b)
				}
			}
		}
	}
	return out
}

// cycles returns, per key, the cycles among its versions.
func (v vgraph) cycles() []map[string]any {
	var out []map[string]any
	for k, m := range v {
		// Number the values of this key.
		ids := map[any]int{}
		var vals []any
		num := func(x any) int {
			if i, ok := ids[x]; ok {
				return i
			}
			ids[x] = len(vals)
			vals = append(vals, x)
			return len(vals) - 1
		}
		type e struct{ a, b int }
		var es []e
		for a, bs := range m {
			for _, b := range bs {
				es = append(es, e{num(a), num(b)})
			}
		}
		g := elle.NewGraph(len(vals))
		for _, x := range es {
			g.AddEdge(x.a, x.b, elle.WW)
		}
		g.Freeze()
		for _, scc := range g.SCCs() {
			vs := make([]any, len(scc))
			for i, id := range scc {
				vs[i] = vals[id]
			}
			out = append(out, map[string]any{"key": k, "scc": vs})
		}
	}
	return out
}

// versionGraphs combines the version orders Elle would infer with these
// options. A source whose orders would make some key's versions cyclic is
// reported (cyclic-versions) and left out.
func (s *state) versionGraphs(opts elle.Options) {
	type source struct {
		name  string
		graph func() vgraph
	}
	sources := []source{{"initial-state", s.initialState}}
	if opts.WFRKeys {
		sources = append(sources, source{"wfr-keys", s.wfr})
	}
	if opts.SequentialKeys {
		sources = append(sources, source{"sequential-keys", func() vgraph { return s.orderVersions(elle.Process) }})
	}
	if opts.LinearizableKeys {
		sources = append(sources, source{"linearizable-keys", func() vgraph { return s.orderVersions(elle.Realtime) }})
	}
	cur := vgraph{}
	var used []string
	for _, src := range sources {
		merged := cur.merge(src.graph())
		if cs := merged.cycles(); len(cs) > 0 {
			names := append(append([]string(nil), used...), src.name)
			for _, c := range cs {
				c["sources"] = names
				s.add("cyclic-versions", c)
			}
			continue
		}
		cur = merged
		used = append(used, src.name)
	}
	s.versions = cur
}

// initialState: every key starts nil, so every value written (by ok or
// info txns) or read (by ok txns) follows nil.
func (s *state) initialState() vgraph {
	v := vgraph{}
	for i := range s.mops {
		t := s.txns.List[i].Type
		if t != history.OK && t != history.Info {
			continue
		}
		e := &s.ext[i]
		for _, k := range e.writeKeys {
			if x := e.writes[k]; x != nil {
				v.link(k, nil, x)
			}
		}
		if t == history.OK {
			for _, k := range e.readKeys {
				if x := e.reads[k]; x != nil {
					v.link(k, nil, x)
				}
			}
		}
	}
	return v
}

// wfr: an ok txn that read x = a and wrote x = b orders a before b.
func (s *state) wfr() vgraph {
	v := vgraph{}
	for i := range s.mops {
		if s.txns.List[i].Type != history.OK {
			continue
		}
		e := &s.ext[i]
		for _, k := range e.readKeys {
			a := e.reads[k]
			if b, ok := e.writes[k]; ok && a != nil {
				v.link(k, a, b)
			}
		}
	}
	return v
}

const none = "\x00none"

// first and last are the versions of k a txn interacted with first and
// last, as Elle takes them: ok txns by their reads then writes (first) or
// writes then reads (last); info txns by their writes only.
func (s *state) first(i int, k any) any {
	e := &s.ext[i]
	switch s.txns.List[i].Type {
	case history.OK:
		if v, ok := e.reads[k]; ok && v != nil {
			return v
		}
		if v, ok := e.writes[k]; ok {
			return v
		}
		return nil
	case history.Info:
		if v, ok := e.writes[k]; ok {
			return v
		}
	}
	return none
}

func (s *state) last(i int, k any) any {
	e := &s.ext[i]
	switch s.txns.List[i].Type {
	case history.OK:
		if v, ok := e.writes[k]; ok && v != nil {
			return v
		}
		if v, ok := e.reads[k]; ok {
			return v
		}
		return nil
	case history.Info:
		if v, ok := e.writes[k]; ok {
			return v
		}
	}
	return none
}

func (s *state) touches(i int, k any) bool {
	e := &s.ext[i]
	if _, ok := e.writes[k]; ok && s.txns.List[i].Type != history.Fail {
		return true
	}
	_, ok := e.reads[k]
	return ok && s.txns.List[i].Type == history.OK
}

// orderVersions assumes each key is sequential (rel Process) or
// linearizable (rel Realtime): if T1 precedes T2 in that order and both
// touch k, T1's version of k precedes T2's. Only the nearest later txns
// touching k matter; the rest follow transitively.
func (s *state) orderVersions(rel elle.Rel) vgraph {
	og := elle.NewGraph(len(s.txns.List))
	s.txns.AddOrderEdges(og, rel)
	og.Freeze()
	v := vgraph{}
	n := len(s.txns.List)
	seen := make([]int, n)
	stamp := 0
	for a := 0; a < n; a++ {
		keys := map[any]bool{}
		for _, m := range s.mops[a] {
			keys[m.k] = true
		}
		for k := range keys {
			v1 := s.last(a, k)
			if v1 == none {
				continue
			}
			stamp++
			out, _ := og.Out(a)
			stack := append([]int32(nil), out...)
			for len(stack) > 0 {
				b := int(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
				if seen[b] == stamp {
					continue
				}
				seen[b] = stamp
				if s.touches(b, k) {
					if v2 := s.first(b, k); v2 != none && v2 != v1 {
						v.link(k, v1, v2)
					}
					continue
				}
				next, _ := og.Out(b)
				stack = append(stack, next...)
			}
		}
	}
	return v
}

// wwrw turns version edges v1 -> v2 of key k into ww edges from the ok
// txns that wrote v1 and rw edges from those that read it, to those that
// wrote v2.
func (s *state) wwrw(g *elle.Graph) {
	for k, m := range s.versions {
		for v1, v2s := range m {
			for _, v2 := range v2s {
				w2 := s.writers[vk{k, v2}]
				if len(w2) == 0 {
					continue
				}
				for _, a := range s.writers[vk{k, v1}] {
					for _, b := range w2 {
						g.AddEdge(int(a), int(b), elle.WW)
					}
				}
				for _, a := range s.readers[vk{k, v1}] {
					for _, b := range w2 {
						g.AddEdge(int(a), int(b), elle.RW)
					}
				}
			}
		}
	}
}

func (s *state) later(k, v1, v2 any) bool {
	for _, x := range s.versions[k][v1] {
		if x == v2 {
			return true
		}
	}
	return false
}

// explain says why b depends on a by rel r.
func (s *state) explain(a, b int, r elle.Rel, an, bn string) string {
	ea, eb := &s.ext[a], &s.ext[b]
	switch r {
	case elle.WR:
		for _, k := range ea.writeKeys {
			if v, ok := eb.reads[k]; ok && v == ea.writes[k] {
				return fmt.Sprintf("%s wrote %v = %v, which was read by %s", an, k, v, bn)
			}
		}
	case elle.WW:
		for _, k := range ea.writeKeys {
			if v2, ok := eb.writes[k]; ok && s.later(k, ea.writes[k], v2) {
				return fmt.Sprintf("%s set key %v to %v, and %s set it to %v, which came later in the version order",
					an, k, ea.writes[k], bn, v2)
			}
		}
	case elle.RW:
		for _, k := range ea.readKeys {
			if v2, ok := eb.writes[k]; ok && s.later(k, ea.reads[k], v2) {
				return fmt.Sprintf("%s read key %v = %v, and %s set it to %v, which came later in the version order",
					an, k, ea.reads[k], bn, v2)
			}
		}
	}
	return fmt.Sprintf("%s %s %s", an, r, bn)
}

// workload is the rw-register inference, as an Elle workload.
var workload = elle.Workload{Name: "rw-register", Analyze: Analyze}

// Checker returns the rw-register checker.
func Checker(opts elle.Options) checker.Checker { return workload.Checker(opts) }

// Check analyzes h and judges it: the verdict with its anomalies and the
// models they rule out, for callers that want Elle's result rather than a
// checker.Result.
func Check(ctx context.Context, h []history.Op, opts elle.Options) (elle.Result, error) {
	return workload.Check(ctx, h, opts)
}

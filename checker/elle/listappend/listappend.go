// Package listappend infers Elle's dependency graph for list-append
// histories: transactions append unique values to lists at keys and read
// whole lists. Every read shows the order of the appends before it, so the
// longest read of a key gives that key's version order; write-write,
// write-read and read-write edges follow from it. It also finds the
// anomalies visible without a cycle: aborted and intermediate reads,
// internal inconsistency, future reads, duplicate elements, incompatible
// orders, dirty updates and lost updates.
package listappend

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/elle"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/txn"
)

// elem is an appended element, comparable: ints are the common case.
type elem struct {
	i int64
	s string
	t uint8 // 0 int, 1 string, 2 other (s is its text), 3 the initial state
}

var initElem = elem{t: 3}

func toElem(v any) elem {
	switch x := v.(type) {
	case int64:
		return elem{i: x}
	case string:
		return elem{s: x, t: 1}
	}
	return elem{s: fmt.Sprint(v), t: 2}
}

func (e elem) String() string {
	switch e.t {
	case 0:
		return strconv.FormatInt(e.i, 10)
	case 1:
		return strconv.Quote(e.s)
	case 3:
		return "init"
	}
	return e.s
}

type kv struct {
	k int32
	e elem
}

// mop is a parsed micro-op with an interned key.
type mop struct {
	read  bool
	key   int32
	elem  elem   // append
	list  []elem // read; nil when the read's value is nil
	isNil bool
}

type state struct {
	txns     *elle.Txns
	keys     []any // id -> key
	mops     [][]mop
	possible []bool // ok or info: the txns that can be in the graph
	// order is the version order per key; pos the position of each
	// element in it.
	order   [][]elem
	pos     map[kv]int32
	writer  map[kv]int32   // ok/info appender of each element
	readers map[kv][]int32 // ok/info txns whose read of k ended in e
	anoms   map[string][]any
}

// Analyze builds the graph and the non-cyclic anomalies of a list-append
// history, adding the order edges opts needs.
func Analyze(ctx context.Context, h []history.Op, opts elle.Options) (*elle.Analysis, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	txns, err := elle.Prepare(h)
	if err != nil {
		return nil, fmt.Errorf("list-append: %w", err)
	}
	s := &state{txns: txns, anoms: map[string][]any{}}
	if err := s.parse(); err != nil {
		return nil, err
	}
	s.versionOrders()
	s.nonCyclic()
	g := elle.NewGraph(len(txns.List))
	s.edges(g)
	txns.AddOrderEdges(g, opts.OrderRel())
	g.Freeze()
	return &elle.Analysis{Txns: txns, Graph: g, Anomalies: s.anoms, Explain: s.explain}, nil
}

func (s *state) parse() error {
	keyID := map[any]int32{}
	appended := map[kv]int32{}
	s.mops = make([][]mop, len(s.txns.List))
	s.possible = make([]bool, len(s.txns.List))
	for i := range s.txns.List {
		t := &s.txns.List[i]
		s.possible[i] = t.Type == history.OK || t.Type == history.Info
		ms := make([]mop, len(t.Mops))
		for j, m := range t.Mops {
			id, ok := keyID[m.Key]
			if !ok {
				id = int32(len(s.keys))
				keyID[m.Key] = id
				s.keys = append(s.keys, m.Key)
			}
			switch m.Kind {
			case txn.Append:
				e := toElem(m.Value)
				if w, dup := appended[kv{id, e}]; dup && w != int32(i) {
					return fmt.Errorf("list-append: value %s appended to key %v more than once (ops %d and %d)",
						e, m.Key, s.txns.List[w].Index, t.Index)
				}
				appended[kv{id, e}] = int32(i)
				ms[j] = mop{key: id, elem: e}
			case txn.Read:
				rm := mop{read: true, key: id, isNil: m.Value == nil}
				if !rm.isNil {
					l, ok := m.Value.([]any)
					if !ok {
						return fmt.Errorf("list-append: op %d reads %v, not a list", t.Index, m)
					}
					rm.list = make([]elem, len(l))
					for k, v := range l {
						rm.list[k] = toElem(v)
					}
				}
				ms[j] = rm
			default:
				return fmt.Errorf("list-append: op %d has micro-op %v: only appends and reads are allowed", t.Index, m)
			}
		}
		s.mops[i] = ms
	}
	return nil
}

func prefix(a, b []elem) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// longestReads returns, per key, the longest non-empty read by the txns
// include accepts, and, per key, the number of appends (weighted by
// count) for Elle's single-append rule.
func (s *state) longestReads(include func(i int) bool, count func(i int) int) ([][]elem, []int) {
	longest := make([][]elem, len(s.keys))
	appends := make([]int, len(s.keys))
	for i, ms := range s.mops {
		if !include(i) {
			continue
		}
		for _, m := range ms {
			if !m.read {
				appends[m.key] += count(i)
				continue
			}
			if len(m.list) > len(longest[m.key]) {
				longest[m.key] = m.list
			}
		}
	}
	return longest, appends
}

// singleAppend returns the only element appended to key k by the txns
// include accepts.
func (s *state) singleAppend(include func(int) bool, k int32) elem {
	for i, ms := range s.mops {
		if include(i) {
			for _, m := range ms {
				if !m.read && m.key == k {
					return m.elem
				}
			}
		}
	}
	return initElem
}

func distinct(l []elem) []elem {
	seen := make(map[elem]bool, len(l))
	out := make([]elem, 0, len(l))
	for _, e := range l {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// versionOrders derives each key's order of appends from its longest read
// among ok and info txns (a key appended only once needs no read) and
// reports reads that are not prefixes of it.
func (s *state) versionOrders() {
	poss := func(i int) bool { return s.possible[i] }
	longest, appends := s.longestReads(poss, func(int) int { return 1 })
	s.order = make([][]elem, len(s.keys))
	s.pos = map[kv]int32{}
	single := make([]bool, len(s.keys))
	for k := range s.keys {
		if appends[k] == 1 {
			single[k] = true
			s.order[k] = []elem{s.singleAppend(poss, int32(k))}
		} else {
			s.order[k] = distinct(longest[k])
		}
		for i, e := range s.order[k] {
			s.pos[kv{int32(k), e}] = int32(i)
		}
	}
	bad := make([]bool, len(s.keys))
	for i, ms := range s.mops {
		if !s.possible[i] {
			continue
		}
		for _, m := range ms {
			if !m.read || len(m.list) == 0 || single[m.key] || bad[m.key] {
				continue
			}
			if !prefix(m.list, longest[m.key]) {
				bad[m.key] = true
				s.add("incompatible-order", map[string]any{
					"key": s.keys[m.key], "values": []any{s.listValue(m.list), s.listValue(longest[m.key])}})
			}
		}
	}
	s.writer = map[kv]int32{}
	s.readers = map[kv][]int32{}
	for i, ms := range s.mops {
		if !s.possible[i] {
			continue
		}
		info := s.txns.List[i].Type == history.Info
		for _, m := range ms {
			if !m.read {
				s.writer[kv{m.key, m.elem}] = int32(i)
				continue
			}
			if info && m.isNil {
				continue // an info read of nil saw nothing
			}
			last := initElem
			if len(m.list) > 0 {
				last = m.list[len(m.list)-1]
			}
			x := kv{m.key, last}
			s.readers[x] = append(s.readers[x], int32(i))
		}
	}
}

func (s *state) add(typ string, v any) { s.anoms[typ] = append(s.anoms[typ], v) }

func (s *state) listValue(l []elem) []any {
	out := make([]any, len(l))
	for i, e := range l {
		out[i] = e.value()
	}
	return out
}

func (e elem) value() any {
	switch e.t {
	case 0:
		return e.i
	case 3:
		return nil
	}
	return e.s
}

// opRef is how an anomaly names a transaction.
func (s *state) opRef(i int) map[string]any {
	t := &s.txns.List[i]
	return map[string]any{"index": t.Index, "process": t.Process, "type": t.Type.String(),
		"value": txn.Value(t.Mops)}
}

func (s *state) mopValue(i int, m mop) string {
	for j, mm := range s.mops[i] {
		if mm.read == m.read && mm.key == m.key {
			if m.read && !sameList(mm, m) {
				continue
			}
			return s.txns.List[i].Mops[j].String()
		}
	}
	return ""
}

func sameList(a, b mop) bool {
	return a.isNil == b.isNil && len(a.list) == len(b.list) && prefix(a.list, b.list)
}

// nonCyclic finds the anomalies that need no cycle.
func (s *state) nonCyclic() {
	failed := map[kv]int32{}
	intermediate := map[kv]int32{}
	for i, ms := range s.mops {
		t := &s.txns.List[i]
		last := map[int32]elem{}
		for _, m := range ms {
			if m.read {
				continue
			}
			if t.Type == history.Fail {
				failed[kv{m.key, m.elem}] = int32(i)
			}
			if prev, ok := last[m.key]; ok {
				intermediate[kv{m.key, prev}] = int32(i)
			}
			last[m.key] = m.elem
		}
	}
	failedKeys := map[int32]bool{}
	for x := range failed {
		failedKeys[x.k] = true
	}
	for i, ms := range s.mops {
		t := &s.txns.List[i]
		if t.Type != history.OK {
			if t.Type == history.Info {
				s.duplicates(i, ms)
			}
			continue
		}
		s.duplicates(i, ms)
		for _, m := range ms {
			if !m.read {
				continue
			}
			if failedKeys[m.key] {
				for _, e := range m.list {
					if w, ok := failed[kv{m.key, e}]; ok {
						s.add("G1a", map[string]any{"op": s.opRef(i), "writer": s.opRef(int(w)),
							"mop": s.mopValue(i, m), "element": e.value()})
					}
				}
			}
			if len(m.list) > 0 {
				e := m.list[len(m.list)-1]
				if w, ok := intermediate[kv{m.key, e}]; ok && int(w) != i {
					s.add("G1b", map[string]any{"op": s.opRef(i), "writer": s.opRef(int(w)),
						"mop": s.mopValue(i, m), "element": e.value()})
				}
			}
		}
		s.internal(i, ms)
	}
	s.lostUpdates()
	if len(failed) > 0 {
		s.dirtyUpdates()
	}
}

// duplicates reports reads that hold an element more than once.
func (s *state) duplicates(i int, ms []mop) {
	for _, m := range ms {
		if !m.read || len(m.list) < 2 {
			continue
		}
		if o := s.order[m.key]; len(o) >= len(m.list) && prefix(m.list, o) {
			continue // a prefix of a list of distinct elements
		}
		count := map[elem]int{}
		for _, e := range m.list {
			count[e]++
		}
		dups := map[string]int{}
		for e, c := range count {
			if c > 1 {
				dups[e.String()] = c
			}
		}
		if len(dups) > 0 {
			s.add("duplicate-elements", map[string]any{"op": s.opRef(i), "mop": s.mopValue(i, m), "duplicates": dups})
		}
	}
}

// internal checks one ok txn against itself: each read must show what the
// txn's earlier reads and appends of that key imply (internal), and no
// read may show an element the txn appends later (future-read).
func (s *state) internal(i int, ms []mop) {
	type kstate struct {
		isNil, unknownPrefix bool
		list                 []elem
	}
	st := map[int32]kstate{}
	for _, m := range ms {
		cur, known := st[m.key]
		if !m.read {
			switch {
			case !known:
				// Appended without a read: whatever came before is unknown.
				cur = kstate{unknownPrefix: true}
			case cur.isNil:
				cur = kstate{}
			}
			cur.list = append(append([]elem(nil), cur.list...), m.elem)
			st[m.key] = cur
			continue
		}
		if known {
			var wrong bool
			if cur.unknownPrefix {
				j := len(m.list) - len(cur.list)
				wrong = j < 0 || !prefix(cur.list, m.list[j:])
			} else {
				wrong = cur.isNil != m.isNil || len(cur.list) != len(m.list) || !prefix(cur.list, m.list)
			}
			if wrong {
				var exp any
				if !cur.isNil {
					l := s.listValue(cur.list)
					if cur.unknownPrefix {
						l = append([]any{"..."}, l...)
					}
					exp = l
				}
				s.add("internal", map[string]any{"op": s.opRef(i), "mop": s.mopValue(i, m), "expected": exp})
				break
			}
		}
		st[m.key] = kstate{isNil: m.isNil, list: m.list}
	}
	// Future reads.
	seen := map[kv]bool{}
	for _, m := range ms {
		if m.read {
			for _, e := range m.list {
				seen[kv{m.key, e}] = true
			}
			continue
		}
		if seen[kv{m.key, m.elem}] {
			s.add("future-read", map[string]any{"op": s.opRef(i), "element": m.elem.value()})
			return
		}
	}
}

// lostUpdates finds ok txns that read the same state of a key and then
// both appended to it.
func (s *state) lostUpdates() {
	type rk struct {
		k int32
		v string
	}
	groups := map[rk][]int{}
	var order []rk
	for i, ms := range s.mops {
		if s.txns.List[i].Type != history.OK {
			continue
		}
		reads := map[int32]string{}
		wrote := map[int32]bool{}
		for _, m := range ms {
			if m.read {
				if _, ok := reads[m.key]; !ok {
					reads[m.key] = listKey(m)
				}
				continue
			}
			if wrote[m.key] {
				continue
			}
			if v, ok := reads[m.key]; ok {
				wrote[m.key] = true
				x := rk{m.key, v}
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
			s.add("lost-update", map[string]any{"key": s.keys[x.k], "value": x.v, "txns": ops})
		}
	}
}

func listKey(m mop) string {
	if m.isNil {
		return "nil"
	}
	parts := make([]string, len(m.list))
	for i, e := range m.list {
		parts[i] = e.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// dirtyUpdates walks each key's version order, read over all completed
// txns, looking for a committed append right after an aborted one.
func (s *state) dirtyUpdates() {
	all := func(int) bool { return true }
	count := func(i int) int {
		if s.txns.List[i].InvokeIndex >= 0 {
			return 2 // Elle counts the invocation's appends too
		}
		return 1
	}
	longest, appends := s.longestReads(all, count)
	writer := map[kv]int32{}
	for i, ms := range s.mops {
		for _, m := range ms {
			if !m.read {
				writer[kv{m.key, m.elem}] = int32(i)
			}
		}
	}
	for k := range s.keys {
		var order []elem
		if appends[k] == 1 {
			order = []elem{s.singleAppend(all, int32(k))}
		} else {
			order = distinct(longest[k])
		}
		t1 := -1 // the initial state counts as ok
		var vs []elem
		for _, e := range order {
			w, ok := writer[kv{int32(k), e}]
			if !ok {
				continue
			}
			t2 := int(w)
			ty1 := history.OK
			if t1 >= 0 {
				ty1 = s.txns.List[t1].Type
			}
			ty2 := s.txns.List[t2].Type
			vs = append(vs, e)
			switch {
			case ty1 == history.Fail && ty2 == history.OK:
				s.add("dirty-update", map[string]any{"key": s.keys[k], "values": s.listValue(vs),
					"txns": []any{s.opRef(t1), "...", s.opRef(t2)}})
				t1, vs = t2, []elem{e}
			case ty2 == history.OK, ty2 == history.Fail && ty1 != history.Fail:
				t1, vs = t2, []elem{e}
			}
		}
	}
}

// prev is the element appended just before e to key k: its predecessor
// in the version order; for an element never read, the last element
// read. initElem when there is none.
func (s *state) prev(k int32, e elem) elem {
	o := s.order[k]
	if p, ok := s.pos[kv{k, e}]; ok {
		if p > 0 {
			return o[p-1]
		}
		return initElem
	}
	if len(o) > 0 {
		return o[len(o)-1]
	}
	return initElem
}

func (s *state) edges(g *elle.Graph) {
	for i, ms := range s.mops {
		if !s.possible[i] {
			continue
		}
		for _, m := range ms {
			if m.read {
				if len(m.list) > 0 {
					if w, ok := s.writer[kv{m.key, m.list[len(m.list)-1]}]; ok {
						g.AddEdge(int(w), i, elle.WR)
					}
				}
				continue
			}
			p := s.prev(m.key, m.elem)
			if p != initElem {
				if w, ok := s.writer[kv{m.key, p}]; ok {
					g.AddEdge(int(w), i, elle.WW)
				}
			}
			for _, r := range s.readers[kv{m.key, p}] {
				g.AddEdge(int(r), i, elle.RW)
			}
		}
	}
}

// explain says why b depends on a by rel r.
func (s *state) explain(a, b int, r elle.Rel, an, bn string) string {
	for _, m := range s.mops[b] {
		switch r {
		case elle.WW:
			if m.read {
				continue
			}
			p := s.prev(m.key, m.elem)
			if w, ok := s.writer[kv{m.key, p}]; ok && int(w) == a && p != initElem {
				return fmt.Sprintf("%s appended %s after %s appended %s to key %v", bn, m.elem, an, p, s.keys[m.key])
			}
		case elle.WR:
			if !m.read || len(m.list) == 0 {
				continue
			}
			e := m.list[len(m.list)-1]
			if w, ok := s.writer[kv{m.key, e}]; ok && int(w) == a {
				return fmt.Sprintf("%s observed %s's append of %s to key %v (%s read %s)",
					bn, an, e, s.keys[m.key], bn, listKey(m))
			}
		case elle.RW:
			if m.read {
				continue
			}
			p := s.prev(m.key, m.elem)
			for _, rd := range s.readers[kv{m.key, p}] {
				if int(rd) != a {
					continue
				}
				seen := s.readOf(a, m.key, p)
				if p == initElem {
					return fmt.Sprintf("%s observed the initial (nil) state of key %v (%s read %s), which %s created by appending %s",
						an, s.keys[m.key], an, seen, bn, m.elem)
				}
				return fmt.Sprintf("%s did not observe %s's append of %s to key %v (%s read %s)",
					an, bn, m.elem, s.keys[m.key], an, seen)
			}
		}
	}
	return fmt.Sprintf("%s %s %s", an, r, bn)
}

// readOf renders a's read of key k that ended in element last.
func (s *state) readOf(a int, k int32, last elem) string {
	for _, m := range s.mops[a] {
		if !m.read || m.key != k {
			continue
		}
		l := initElem
		if len(m.list) > 0 {
			l = m.list[len(m.list)-1]
		}
		if l == last {
			return listKey(m)
		}
	}
	return "?"
}

// Checker returns the list-append checker.
func Checker(opts elle.Options) checker.Checker { return chk{opts} }

type chk struct{ o elle.Options }

func (chk) Name() string { return "list-append" }

func (c chk) Check(ctx context.Context, h []history.Op, opts checker.Options) checker.Result {
	a, err := Analyze(ctx, h, c.o)
	if err != nil {
		return checker.Result{Valid: checker.Unknown, Error: err.Error(), Summary: "list-append: " + err.Error()}
	}
	return elle.Finish(ctx, a, c.o, opts)
}

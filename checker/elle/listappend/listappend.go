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

// elem is an appended element, small and comparable so that maps keyed
// by it hash fast: integers stand for themselves, other values are
// interned.
type elem struct {
	t uint8 // 0 int, 1 string, 2 other, 3 the initial state
	i int64 // the int, or the interned id
}

var initElem = elem{t: 3}

type kv struct {
	k int32
	e elem
}

// mop is a parsed micro-op with an interned key. A read's list is the
// history's own slice, not a copy.
type mop struct {
	key   int32
	read  bool
	isNil bool
	list  []any // read
	// id numbers the (key, element) pair: the appended element, or the
	// last element read (the initial state for an empty read).
	id int32
}

type state struct {
	txns     *elle.Txns
	keys     []any // id -> key
	names    []string
	intern   map[string]int64
	mops     [][]mop
	possible []bool // ok or info: the txns that can be in the graph
	// order is the version order per key; pos the position of each
	// element in it.
	order [][]elem
	// (key, element) pairs are numbered so that the indexes below are
	// slices, not maps.
	ids      map[kv]int32
	fast     map[uint64]int32
	dense    [][]int32 // per key, element value -> id+1, for small values
	idKV     []kv
	initID   []int32   // per key: the id of its initial state
	orderIDs [][]int32 // order, as ids
	pos      []int32   // position of an id in its key's order, or -1
	writer   []int32   // ok/info appender of an id, or -1
	rdOff    []int32   // readers of id i: rdList[rdOff[i]:rdOff[i+1]]
	rdList   []int32   // ok/info txns whose read ended in that state
	anoms    map[string][]any
	seen     []int32 // scratch for distinct, by id
	stamp    int32
}

// denseLimit bounds the element values numbered through a slice.
const denseLimit = 4096

// idOf numbers a (key, element) pair. Small integer elements, the common
// case, take a map with integer keys, which is much faster.
func (s *state) idOf(x kv) int32 {
	if x.e.t == 0 && x.e.i >= 0 && x.e.i < denseLimit {
		// Jepsen appends 1, 2, 3... to each key: a slice per key.
		d := &s.dense[x.k]
		if int(x.e.i) >= len(*d) {
			*d = append(*d, make([]int32, int(x.e.i)+1-len(*d))...)
		}
		if id := (*d)[x.e.i]; id > 0 {
			return id - 1
		}
		id := int32(len(s.idKV))
		(*d)[x.e.i] = id + 1
		s.idKV = append(s.idKV, x)
		return id
	}
	if x.e.t == 0 && x.e.i >= 0 && x.e.i < 1<<31 {
		packed := uint64(x.k)<<32 | uint64(x.e.i)
		id, ok := s.fast[packed]
		if !ok {
			id = int32(len(s.idKV))
			s.fast[packed] = id
			s.idKV = append(s.idKV, x)
		}
		return id
	}
	id, ok := s.ids[x]
	if !ok {
		id = int32(len(s.idKV))
		s.ids[x] = id
		s.idKV = append(s.idKV, x)
	}
	return id
}

func (s *state) elemOf(m mop) elem { return s.idKV[m.id].e }

func (s *state) readers(id int32) []int32 { return s.rdList[s.rdOff[id]:s.rdOff[id+1]] }

func (s *state) el(v any) elem {
	if x, ok := v.(int64); ok {
		return elem{i: x}
	}
	var key string
	t := uint8(1)
	if x, ok := v.(string); ok {
		key = "s" + x
	} else {
		key, t = "o"+fmt.Sprint(v), 2
	}
	id, ok := s.intern[key]
	if !ok {
		id = int64(len(s.names))
		s.intern[key] = id
		s.names = append(s.names, key[1:])
	}
	return elem{t: t, i: id}
}

// value turns an element back into plain data.
func (s *state) value(e elem) any {
	switch e.t {
	case 0:
		return e.i
	case 3:
		return nil
	}
	return s.names[e.i]
}

func (s *state) str(e elem) string {
	switch e.t {
	case 0:
		return strconv.FormatInt(e.i, 10)
	case 1:
		return strconv.Quote(s.names[e.i])
	case 3:
		return "init"
	}
	return s.names[e.i]
}

func (s *state) eq(x any, e elem) bool {
	if v, ok := x.(int64); ok {
		return e.t == 0 && e.i == v
	}
	return s.el(x) == e
}

func (s *state) lastOf(l []any) elem {
	if len(l) == 0 {
		return initElem
	}
	return s.el(l[len(l)-1])
}

// prefix reports whether a is a prefix of b.
func (s *state) prefix(a, b []any) bool {
	if len(a) > len(b) {
		return false
	}
	for i, x := range a {
		if y, ok := x.(int64); ok {
			if z, ok := b[i].(int64); ok {
				if y != z {
					return false
				}
				continue
			}
		}
		if s.el(x) != s.el(b[i]) {
			return false
		}
	}
	return true
}

// matches reports whether l equals the elements es.
func (s *state) matches(l []any, es []elem) bool {
	if len(l) != len(es) {
		return false
	}
	for i, x := range l {
		if !s.eq(x, es[i]) {
			return false
		}
	}
	return true
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
	intKeyID := map[int64]int32{}
	var appendedBy []int32
	s.intern = map[string]int64{}
	s.ids = map[kv]int32{}
	// Presize by the number of micro-ops: each names at most one new
	// (key, element) pair, and growing by doubling would churn memory.
	total := 0
	for i := range s.txns.List {
		if vs, ok := s.txns.List[i].Value.([]any); ok {
			total += len(vs)
		}
	}
	s.fast = make(map[uint64]int32, total/2)
	s.idKV = make([]kv, 0, total+16)
	appendedBy = make([]int32, 0, total+16)
	s.mops = make([][]mop, len(s.txns.List))
	s.possible = make([]bool, len(s.txns.List))
	for i := range s.txns.List {
		t := &s.txns.List[i]
		s.possible[i] = t.Type == history.OK || t.Type == history.Info
		vs := t.Value.([]any)
		ms := make([]mop, len(vs))
		for j, v := range vs {
			m, err := txn.ParseMop(v)
			if err != nil {
				return fmt.Errorf("list-append: op %d: micro-op %d: %w", t.Index, j, err)
			}
			var id int32
			var ok bool
			if ik, isInt := m.Key.(int64); isInt {
				id, ok = intKeyID[ik]
			} else {
				id, ok = keyID[m.Key]
			}
			if !ok {
				id = int32(len(s.keys))
				if ik, isInt := m.Key.(int64); isInt {
					intKeyID[ik] = id
				} else {
					keyID[m.Key] = id
				}
				s.dense = append(s.dense, nil)
				s.keys = append(s.keys, m.Key)
				s.initID = append(s.initID, s.idOf(kv{id, initElem}))
			}
			switch m.Kind {
			case txn.Append:
				e := s.el(m.Value)
				x := s.idOf(kv{id, e})
				for int(x) >= len(appendedBy) {
					appendedBy = append(appendedBy, -1)
				}
				if w := appendedBy[x]; w >= 0 && w != int32(i) {
					return fmt.Errorf("list-append: value %s appended to key %v more than once (ops %d and %d)",
						s.str(e), m.Key, s.txns.List[w].Index, t.Index)
				}
				appendedBy[x] = int32(i)
				ms[j] = mop{key: id, id: x}
			case txn.Read:
				rm := mop{read: true, key: id, isNil: m.Value == nil}
				if !rm.isNil {
					l, ok := m.Value.([]any)
					if !ok {
						return fmt.Errorf("list-append: op %d reads %v, not a list", t.Index, m)
					}
					rm.list = l
				}
				rm.id = s.idOf(kv{id, s.lastOf(rm.list)})
				ms[j] = rm
			default:
				return fmt.Errorf("list-append: op %d has micro-op %v: only appends and reads are allowed", t.Index, m)
			}
		}
		s.mops[i] = ms
	}
	return nil
}

// longestReads returns, per key, the longest non-empty read by the txns
// include accepts, and, per key, the number of appends (weighted by
// count) for Elle's single-append rule.
func (s *state) longestReads(include func(i int) bool, count func(i int) int) ([][]any, []int) {
	longest := make([][]any, len(s.keys))
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

// orders turns the longest reads into version orders: each distinct
// element once, in order. A key appended only once takes that append as
// its order, as Elle does.
func (s *state) orders(include func(int) bool, longest [][]any, appends []int) [][]elem {
	order := make([][]elem, len(s.keys))
	for i, ms := range s.mops {
		if !include(i) {
			continue
		}
		for _, m := range ms {
			if !m.read && appends[m.key] == 1 {
				order[m.key] = []elem{s.elemOf(m)}
			}
		}
	}
	for k, l := range longest {
		if appends[k] != 1 && len(l) > 0 {
			order[k] = s.distinct(int32(k), l)
		}
	}
	return order
}

// distinct returns the elements of key k's list l, each once, in order.
func (s *state) distinct(k int32, l []any) []elem {
	s.stamp++
	out := make([]elem, 0, len(l))
	for _, x := range l {
		e := s.el(x)
		id := s.idOf(kv{k, e})
		for int(id) >= len(s.seen) {
			s.seen = append(s.seen, 0)
		}
		if s.seen[id] != s.stamp {
			s.seen[id] = s.stamp
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
	s.order = s.orders(poss, longest, appends)
	s.orderIDs = make([][]int32, len(s.keys))
	for k, o := range s.order {
		ids := make([]int32, len(o))
		for i, e := range o {
			ids[i] = s.idOf(kv{int32(k), e})
		}
		s.orderIDs[k] = ids
	}
	s.pos = make([]int32, len(s.idKV))
	for i := range s.pos {
		s.pos[i] = -1
	}
	for _, ids := range s.orderIDs {
		for i, id := range ids {
			s.pos[id] = int32(i)
		}
	}
	bad := make([]bool, len(s.keys))
	for i, ms := range s.mops {
		if !s.possible[i] {
			continue
		}
		for _, m := range ms {
			if !m.read || len(m.list) == 0 || appends[m.key] == 1 || bad[m.key] {
				continue
			}
			if !s.prefix(m.list, longest[m.key]) {
				bad[m.key] = true
				s.add("incompatible-order", map[string]any{
					"key": s.keys[m.key], "values": []any{m.list, longest[m.key]}})
			}
		}
	}
	s.writer = make([]int32, len(s.idKV))
	for i := range s.writer {
		s.writer[i] = -1
	}
	s.rdOff = make([]int32, len(s.idKV)+1)
	reads := func(f func(i int, m mop)) {
		for i, ms := range s.mops {
			if !s.possible[i] {
				continue
			}
			info := s.txns.List[i].Type == history.Info
			for _, m := range ms {
				if m.read && !(info && m.isNil) { // an info read of nil saw nothing
					f(i, m)
				}
			}
		}
	}
	reads(func(i int, m mop) { s.rdOff[m.id+1]++ })
	for i := 1; i < len(s.rdOff); i++ {
		s.rdOff[i] += s.rdOff[i-1]
	}
	s.rdList = make([]int32, s.rdOff[len(s.rdOff)-1])
	fill := append([]int32(nil), s.rdOff[:len(s.rdOff)-1]...)
	reads(func(i int, m mop) {
		s.rdList[fill[m.id]] = int32(i)
		fill[m.id]++
	})
	for i, ms := range s.mops {
		if s.possible[i] {
			for _, m := range ms {
				if !m.read {
					s.writer[m.id] = int32(i)
				}
			}
		}
	}
}

func (s *state) add(typ string, v any) { s.anoms[typ] = append(s.anoms[typ], v) }

func (s *state) values(l []elem) []any {
	out := make([]any, len(l))
	for i, e := range l {
		out[i] = s.value(e)
	}
	return out
}

// opRef is how an anomaly names a transaction.
func (s *state) opRef(i int) map[string]any {
	t := &s.txns.List[i]
	return map[string]any{"index": t.Index, "process": t.Process, "type": t.Type.String(),
		"value": t.Value}
}

// mopValue renders the j-th micro-op of txn i.
func (s *state) mopValue(i, j int) string {
	m, err := txn.ParseMop(s.txns.List[i].Value.([]any)[j])
	if err != nil {
		return ""
	}
	return m.String()
}

// nonCyclic finds the anomalies that need no cycle.
func (s *state) nonCyclic() {
	failed := map[kv]int32{}
	intermediate := map[kv]int32{}
	for i, ms := range s.mops {
		t := &s.txns.List[i]
		for j, m := range ms {
			if m.read {
				continue
			}
			if t.Type == history.Fail {
				failed[kv{m.key, s.elemOf(m)}] = int32(i)
			}
			for _, later := range ms[j+1:] {
				if !later.read && later.key == m.key {
					intermediate[kv{m.key, s.elemOf(m)}] = int32(i)
					break
				}
			}
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
		for j, m := range ms {
			if !m.read {
				continue
			}
			if failedKeys[m.key] {
				for _, x := range m.list {
					if w, ok := failed[kv{m.key, s.el(x)}]; ok {
						s.add("G1a", map[string]any{"op": s.opRef(i), "writer": s.opRef(int(w)),
							"mop": s.mopValue(i, j), "element": x})
					}
				}
			}
			if len(intermediate) > 0 && len(m.list) > 0 {
				if w, ok := intermediate[kv{m.key, s.lastOf(m.list)}]; ok && int(w) != i {
					s.add("G1b", map[string]any{"op": s.opRef(i), "writer": s.opRef(int(w)),
						"mop": s.mopValue(i, j), "element": m.list[len(m.list)-1]})
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
	for j, m := range ms {
		if !m.read || len(m.list) < 2 {
			continue
		}
		if o := s.order[m.key]; len(o) >= len(m.list) {
			ok := true
			for k, x := range m.list {
				if !s.eq(x, o[k]) {
					ok = false
					break
				}
			}
			if ok {
				continue // a prefix of a list of distinct elements
			}
		}
		count := map[elem]int{}
		for _, x := range m.list {
			count[s.el(x)]++
		}
		dups := map[string]int{}
		for e, c := range count {
			if c > 1 {
				dups[s.str(e)] = c
			}
		}
		if len(dups) > 0 {
			s.add("duplicate-elements", map[string]any{"op": s.opRef(i), "mop": s.mopValue(i, j), "duplicates": dups})
		}
	}
}

// internal checks one ok txn against itself: each read must show what the
// txn's earlier reads and appends of that key imply (internal), and no
// read may show an element the txn appends later (future-read). Txns are
// short, so the state per key is found by scanning back, not in a map.
func (s *state) internal(i int, ms []mop) {
	for j, m := range ms {
		if !m.read {
			continue
		}
		// What do the earlier micro-ops on this key say? The last read
		// before j, then the appends after it.
		base := -1
		for k := j - 1; k >= 0; k-- {
			if ms[k].key == m.key && ms[k].read {
				base = k
				break
			}
		}
		var extra []elem
		for k := base + 1; k < j; k++ {
			if ms[k].key == m.key && !ms[k].read {
				extra = append(extra, s.elemOf(ms[k]))
			}
		}
		if base < 0 && extra == nil {
			continue // nothing known yet
		}
		var wrong bool
		var exp any
		switch {
		case base < 0:
			// Only appends: the read must end with them.
			n := len(m.list) - len(extra)
			wrong = n < 0 || !s.matches(m.list[n:], extra)
			exp = append([]any{"..."}, s.values(extra)...)
		case ms[base].isNil && extra == nil:
			wrong = !m.isNil
		default:
			b := ms[base].list
			wrong = m.isNil || len(m.list) != len(b)+len(extra) ||
				!s.prefix(b, m.list) || !s.matches(m.list[len(b):], extra)
			exp = append(append([]any(nil), b...), s.values(extra)...)
		}
		if wrong {
			s.add("internal", map[string]any{"op": s.opRef(i), "mop": s.mopValue(i, j), "expected": exp})
			break
		}
	}
	// Future reads.
	for j, m := range ms {
		if m.read {
			continue
		}
		for _, r := range ms[:j] {
			if !r.read || r.key != m.key {
				continue
			}
			for _, x := range r.list {
				if s.eq(x, s.elemOf(m)) {
					s.add("future-read", map[string]any{"op": s.opRef(i), "element": s.value(s.elemOf(m))})
					return
				}
			}
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
	mops:
		for j, m := range ms {
			if m.read {
				continue
			}
			first := -1
			for k, r := range ms[:j] {
				if r.key != m.key {
					continue
				}
				if !r.read {
					continue mops // wrote this key already
				}
				if first < 0 {
					first = k
				}
			}
			if first < 0 {
				continue
			}
			x := rk{m.key, s.listKey(ms[first])}
			if groups[x] == nil {
				order = append(order, x)
			}
			groups[x] = append(groups[x], i)
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

func (s *state) listKey(m mop) string {
	if m.isNil {
		return "nil"
	}
	parts := make([]string, len(m.list))
	for i, x := range m.list {
		parts[i] = s.str(s.el(x))
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
	order := s.orders(all, longest, appends)
	writer := map[kv]int32{}
	for i, ms := range s.mops {
		for _, m := range ms {
			if !m.read {
				writer[kv{m.key, s.elemOf(m)}] = int32(i)
			}
		}
	}
	for k := range s.keys {
		t1 := -1 // the initial state counts as ok
		var vs []elem
		for _, e := range order[k] {
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
				s.add("dirty-update", map[string]any{"key": s.keys[k], "values": s.values(vs),
					"txns": []any{s.opRef(t1), "...", s.opRef(t2)}})
				t1, vs = t2, []elem{e}
			case ty2 == history.OK, ty2 == history.Fail && ty1 != history.Fail:
				t1, vs = t2, []elem{e}
			}
		}
	}
}

// prev is the id of the element appended just before m's: its
// predecessor in the version order; for an element never read, the last
// element read; the initial state when there is none.
func (s *state) prev(m mop) int32 {
	o := s.orderIDs[m.key]
	if p := s.pos[m.id]; p >= 0 {
		if p > 0 {
			return o[p-1]
		}
		return s.initID[m.key]
	}
	if len(o) > 0 {
		return o[len(o)-1]
	}
	return s.initID[m.key]
}

func (s *state) edges(g *elle.Graph) {
	for i, ms := range s.mops {
		if !s.possible[i] {
			continue
		}
		for _, m := range ms {
			if m.read {
				if len(m.list) > 0 {
					if w := s.writer[m.id]; w >= 0 {
						g.AddEdge(int(w), i, elle.WR)
					}
				}
				continue
			}
			p := s.prev(m)
			if w := s.writer[p]; w >= 0 {
				g.AddEdge(int(w), i, elle.WW)
			}
			for _, r := range s.readers(p) {
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
			p := s.prev(m)
			if int(s.writer[p]) == a {
				return fmt.Sprintf("%s appended %s after %s appended %s to key %v",
					bn, s.str(s.elemOf(m)), an, s.str(s.idKV[p].e), s.keys[m.key])
			}
		case elle.WR:
			if !m.read || len(m.list) == 0 {
				continue
			}
			if int(s.writer[m.id]) == a {
				return fmt.Sprintf("%s observed %s's append of %s to key %v (%s read %s)",
					bn, an, s.str(s.idKV[m.id].e), s.keys[m.key], bn, s.listKey(m))
			}
		case elle.RW:
			if m.read {
				continue
			}
			p := s.prev(m)
			for _, rd := range s.readers(p) {
				if int(rd) != a {
					continue
				}
				seen := s.readOf(a, p)
				if s.idKV[p].e == initElem {
					return fmt.Sprintf("%s observed the initial (nil) state of key %v (%s read %s), which %s created by appending %s",
						an, s.keys[m.key], an, seen, bn, s.str(s.elemOf(m)))
				}
				return fmt.Sprintf("%s did not observe %s's append of %s to key %v (%s read %s)",
					an, bn, s.str(s.elemOf(m)), s.keys[m.key], an, seen)
			}
		}
	}
	return fmt.Sprintf("%s %s %s", an, r, bn)
}

// readOf renders a's read that ended in state id.
func (s *state) readOf(a int, id int32) string {
	for _, m := range s.mops[a] {
		if m.read && m.id == id {
			return s.listKey(m)
		}
	}
	return "?"
}

// workload is the list-append inference, as an Elle workload.
var workload = elle.Workload{Name: "list-append", Analyze: Analyze}

// Checker returns the list-append checker.
func Checker(opts elle.Options) checker.Checker { return workload.Checker(opts) }

// Check analyzes h and judges it: the verdict with its anomalies and the
// models they rule out, for callers that want Elle's result rather than a
// checker.Result.
func Check(ctx context.Context, h []history.Op, opts elle.Options) (elle.Result, error) {
	return workload.Check(ctx, h, opts)
}

// Package longfork is Jepsen's long-fork checker, for an anomaly that
// parallel snapshot isolation allows and snapshot isolation forbids: two
// readers observe two concurrent writes in opposite orders.
//
// The workload (Jepsen's tests/long_fork.clj) writes each key at most once,
// with single-write transactions [[w k 1]], and reads groups of keys with
// read-only transactions [[r k1 v1] [r k2 v2] ...]. Since a key goes only
// from nil to its one value, the states a serializable database shows form
// a chain: of any two reads of the same keys, one has seen every write the
// other saw. A long fork is a pair of reads of the same keys where each saw
// a write the other missed:
//
//	T1: [w x 1]          T3: [r x 1] [r y nil]    (T1 before T2)
//	T2: [w y 1]          T4: [r x nil] [r y 1]    (T2 before T1)
//
// Ops are recognised by their value, whatever their f (Jepsen's generator
// uses "write" and "read", jplan's txn clients "txn"): an invocation whose
// value is one write micro-op is a write; an ok completion whose value is
// all read micro-ops is a read. Values are parsed with package txn.
package longfork

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/internal/elem"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/txn"
)

// Options configure the checker.
type Options struct {
	// GroupSize, when positive, is how many keys every read must read
	// (Jepsen's n); a read of another number makes the history illegal.
	// Zero checks nothing: reads are grouped by the keys they read.
	GroupSize int
	// MaxReported bounds Details.Forks; 0 means 100.
	MaxReported int
}

// Checker returns the long-fork checker. The history is invalid when it
// holds a long fork; unknown when it breaks the workload's assumptions (a
// key written twice, two different values read for one key, a read of the
// wrong number of keys), as Jepsen's checker then gives up.
func Checker(opts Options) checker.Checker {
	if opts.MaxReported <= 0 {
		opts.MaxReported = 100
	}
	return longFork{opts}
}

type longFork struct{ o Options }

func (longFork) Name() string { return "long-fork" }

// Read is an ok read transaction.
type Read struct {
	Index   int64 `json:"index"`
	Time    int64 `json:"time"`
	Process int   `json:"process"`
	// Value is the transaction as recorded: [[r k v] ...].
	Value any `json:"value"`
}

// Fork is a pair of reads of the same keys that saw writes in
// incompatible orders: each saw a write (AOnly, BOnly: the keys) that the
// other did not.
type Fork struct {
	Keys  []any `json:"keys"`
	A     Read  `json:"a"`
	B     Read  `json:"b"`
	AOnly []any `json:"a-only"`
	BOnly []any `json:"b-only"`
}

// Details is Result.Details.
type Details struct {
	// ReadCount counts ok read transactions; EarlyReadCount those that
	// saw no write, LateReadCount those that saw every key written.
	ReadCount      int `json:"reads-count"`
	EarlyReadCount int `json:"early-read-count"`
	LateReadCount  int `json:"late-read-count"`
	WriteCount     int `json:"write-count"`
	// GroupCount is the number of distinct key sets read.
	GroupCount int `json:"group-count"`
	// ForkCount is the number of pairs of reads that fork. Forks shows
	// them by pairs of incompatible states (the sets of writes seen),
	// each with the earliest read in either state, sorted by the reads'
	// indexes; at most Options.MaxReported of them.
	ForkCount int    `json:"fork-count"`
	Forks     []Fork `json:"forks,omitempty"`
}

// state is the set of keys of a group a read saw written, as one byte per
// key ('0' or '1') in the group's key order.
type state string

func (s state) subsetOf(t state) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '1' && t[i] == '0' {
			return false
		}
	}
	return true
}

func (s state) count() int { return strings.Count(string(s), "1") }

type stateInfo struct {
	n     int  // reads in this state
	first Read // the earliest of them
}

type group struct {
	vals   []any                 // the keys as recorded, in order
	states map[string]*stateInfo // by state
}

func (c longFork) Check(ctx context.Context, h []history.Op, _ checker.Options) checker.Result {
	unknown := func(format string, args ...any) checker.Result {
		return checker.Result{Valid: checker.Unknown, Error: "long-fork: " + fmt.Sprintf(format, args...)}
	}
	d := &Details{}
	written := map[elem.Key]bool{}
	seen := map[elem.Key]elem.Key{} // key -> the non-nil value read for it
	groups := map[string]*group{}
	var order []string // group ids in order of first read
	// Scratch space reused from read to read.
	type entry struct {
		k      elem.Key
		raw, v any
	}
	var ents []entry
	var id, st []byte
	for i := range h {
		if i%4096 == 0 && ctx.Err() != nil {
			return unknown("%v", ctx.Err())
		}
		op := &h[i]
		if op.IsNemesis() || (op.Type != history.Invoke && op.Type != history.OK) {
			continue
		}
		mops, err := txn.Parse(op.Value)
		if err != nil {
			if op.F == txn.F {
				return unknown("%s at index %d: %v", op.Type, op.Index, err)
			}
			continue // not a transaction
		}
		if op.Type == history.Invoke {
			if len(mops) != 1 || mops[0].Kind != txn.Write {
				continue
			}
			k, err := elem.KeyOf(mops[0].Key)
			if err != nil {
				return unknown("write at index %d: %v", op.Index, err)
			}
			if written[k] {
				return unknown("key %s is written more than once (index %d); the checker assumes one write per key", k, op.Index)
			}
			written[k] = true
			d.WriteCount++
			continue
		}
		if len(mops) == 0 || !allReads(mops) {
			continue
		}
		// The read's keys in order, deduplicated (the last micro-op on a
		// key wins, as in Jepsen), with what it saw of each.
		ents = ents[:0]
		for _, m := range mops {
			k, err := elem.KeyOf(m.Key)
			if err != nil {
				return unknown("read at index %d: %v", op.Index, err)
			}
			ents = append(ents, entry{k, m.Key, m.Value})
		}
		slices.SortStableFunc(ents, func(a, b entry) int {
			switch {
			case elem.Less(a.k, b.k):
				return -1
			case elem.Less(b.k, a.k):
				return 1
			}
			return 0
		})
		n := 0
		for i := range ents {
			if i+1 < len(ents) && ents[i+1].k == ents[i].k {
				continue
			}
			ents[n] = ents[i]
			n++
		}
		ents = ents[:n]
		if c.o.GroupSize > 0 && len(ents) != c.o.GroupSize {
			return unknown("read at index %d reads %d keys, not the group size %d", op.Index, len(ents), c.o.GroupSize)
		}
		id, st = id[:0], st[:0]
		saw := 0
		for _, e := range ents {
			id = append(e.k.Append(id), ' ')
			if e.v == nil {
				st = append(st, '0')
				continue
			}
			vk, err := elem.KeyOf(e.v)
			if err != nil {
				return unknown("read at index %d: %v", op.Index, err)
			}
			if prev, ok := seen[e.k]; !ok {
				seen[e.k] = vk
			} else if prev != vk {
				return unknown("key %s read as %s and as %s (index %d); the checker assumes one write per key", e.k, prev, vk, op.Index)
			}
			st = append(st, '1')
			saw++
		}
		d.ReadCount++
		switch saw {
		case 0:
			d.EarlyReadCount++
		case len(ents):
			d.LateReadCount++
		}
		g := groups[string(id)]
		if g == nil {
			g = &group{states: map[string]*stateInfo{}}
			for _, e := range ents {
				g.vals = append(g.vals, e.raw)
			}
			groups[string(id)] = g
			order = append(order, string(id))
		}
		if si := g.states[string(st)]; si != nil {
			si.n++
		} else {
			g.states[string(st)] = &stateInfo{n: 1, first: Read{Index: op.Index, Time: op.Time, Process: op.Process, Value: op.Value}}
		}
	}
	d.GroupCount = len(groups)

	for _, id := range order {
		if err := c.forks(ctx, groups[id], d); err != nil {
			return unknown("%v", err)
		}
	}
	sort.Slice(d.Forks, func(i, j int) bool {
		a, b := d.Forks[i], d.Forks[j]
		if a.A.Index != b.A.Index {
			return a.A.Index < b.A.Index
		}
		return a.B.Index < b.B.Index
	})
	if len(d.Forks) > c.o.MaxReported {
		d.Forks = d.Forks[:c.o.MaxReported]
	}

	res := checker.Result{Valid: checker.True, Details: d}
	if d.ForkCount == 0 {
		res.Summary = fmt.Sprintf("no long forks in %d reads of %d key groups (%d early, %d late)",
			d.ReadCount, d.GroupCount, d.EarlyReadCount, d.LateReadCount)
		return res
	}
	res.Valid = checker.False
	f := d.Forks[0]
	res.Summary = fmt.Sprintf("%d pairs of reads fork; first: reads at index %d and %d of keys %v, one saw %v but not %v, the other %v but not %v",
		d.ForkCount, f.A.Index, f.B.Index, list(f.Keys), list(f.AOnly), list(f.BOnly), list(f.BOnly), list(f.AOnly))
	return res
}

func allReads(mops []txn.Mop) bool {
	for _, m := range mops {
		if m.Kind != txn.Read {
			return false
		}
	}
	return true
}

// forks adds g's forks to d. A group whose states, ordered by how many
// writes they saw, each contain the one before is a chain: no forks, found
// in one pass. Otherwise every pair of distinct states is compared.
func (c longFork) forks(ctx context.Context, g *group, d *Details) error {
	states := make([]state, 0, len(g.states))
	for s := range g.states {
		states = append(states, state(s))
	}
	sort.Slice(states, func(i, j int) bool {
		if ci, cj := states[i].count(), states[j].count(); ci != cj {
			return ci < cj
		}
		return states[i] < states[j]
	})
	chain := true
	for i := 1; i < len(states) && chain; i++ {
		chain = states[i-1].subsetOf(states[i])
	}
	if chain {
		return nil
	}
	for i, a := range states {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, b := range states[i+1:] {
			if a.subsetOf(b) || b.subsetOf(a) {
				continue
			}
			x, y := a, b
			sx, sy := g.states[string(x)], g.states[string(y)]
			d.ForkCount += sx.n * sy.n
			if len(d.Forks) >= 4*c.o.MaxReported {
				continue // enough to report; keep counting
			}
			if sx.first.Index > sy.first.Index {
				x, y, sx, sy = y, x, sy, sx
			}
			f := Fork{Keys: g.vals, A: sx.first, B: sy.first}
			for j := range len(x) {
				switch {
				case x[j] == '1' && y[j] == '0':
					f.AOnly = append(f.AOnly, g.vals[j])
				case y[j] == '1' && x[j] == '0':
					f.BOnly = append(f.BOnly, g.vals[j])
				}
			}
			d.Forks = append(d.Forks, f)
		}
	}
	return nil
}

// list renders keys as [1 2 3].
func list(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		k, _ := elem.KeyOf(v)
		parts[i] = k.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

package memory

import (
	"context"
	"fmt"

	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/txn"
)

// Besides its register, the memory system is a key-value store for
// transactions (f "txn", value a list of micro-ops; see package txn):
// appends to lists and reads of them (list-append), writes of registers and
// reads of them (rw-register). How isolated transactions are is a setting,
// so that jplan's transactional checkers can be tried, and tested, against
// both a correct store and one with known anomalies:
//
//	serializable      each transaction runs atomically at one instant
//	                  inside its invocation: strict serializable
//	read committed    reads see only committed data, at each micro-op;
//	                  writes are buffered and applied together at commit.
//	                  No dirty reads, but read skew and lost updates:
//	                  G-single and G2-item cycles
//	read uncommitted  writes are applied as they happen and reads see
//	                  them, committed or not: dirty reads and G1c cycles
//
// In the two weaker levels the other transactions run between micro-ops.

// Isolation levels of the memory store.
const (
	Serializable    = "serializable"
	ReadCommitted   = "read committed"
	ReadUncommitted = "read uncommitted"
)

// Isolations lists the levels the memory store offers.
var Isolations = []string{Serializable, ReadCommitted, ReadUncommitted}

// kvKey is a micro-op's key: int64 or string (txn.ParseMop allows both).
type kvKey = any

// txnState is the store's data, guarded by Register.mu.
type txnState struct {
	lists map[kvKey][]any // list-append: the list at each key
	regs  map[kvKey]any   // rw-register: the value at each key
}

func (s *txnState) init() {
	if s.lists == nil {
		s.lists, s.regs = map[kvKey][]any{}, map[kvKey]any{}
	}
}

// txn runs a transaction at the store's isolation level.
func (c *client) txn(ctx context.Context, op history.Op) (history.Op, error) {
	mops, err := txn.Parse(op.Value)
	if err != nil {
		return op, err
	}
	r := c.reg
	out := make([]txn.Mop, len(mops))
	switch r.opts.Isolation {
	case "", Serializable:
		r.mu.Lock()
		r.kv.init()
		for i, m := range mops {
			out[i] = r.kv.apply(m)
		}
		r.mu.Unlock()
	case ReadCommitted:
		// Own writes are visible to the transaction's own reads (Elle
		// calls anything else internal inconsistency), others' only once
		// committed.
		own := &txnState{}
		own.init()
		for i, m := range mops {
			if i > 0 {
				if err := r.pause(ctx); err != nil {
					return op, err // nothing committed: safe to say so
				}
			}
			r.mu.Lock()
			r.kv.init()
			out[i] = r.kv.read(m, own)
			r.mu.Unlock()
		}
		r.mu.Lock()
		for _, m := range out {
			if m.Kind != txn.Read {
				r.kv.apply(m)
			}
		}
		r.mu.Unlock()
	case ReadUncommitted:
		for i, m := range mops {
			if i > 0 {
				if err := r.pause(ctx); err != nil {
					// Earlier writes are visible already: the outcome
					// is unknown.
					return op, fmt.Errorf("interrupted mid-transaction: %w", err)
				}
			}
			r.mu.Lock()
			r.kv.init()
			out[i] = r.kv.apply(m)
			r.mu.Unlock()
		}
	default:
		return op, fmt.Errorf("unknown isolation %q", r.opts.Isolation)
	}
	op.Type, op.Value = history.OK, txn.Value(out)
	return op, nil
}

// apply performs one micro-op on s and returns it completed.
func (s *txnState) apply(m txn.Mop) txn.Mop {
	switch m.Kind {
	case txn.Append:
		s.lists[m.Key] = append(s.lists[m.Key], m.Value)
	case txn.Write:
		s.regs[m.Key] = m.Value
	case txn.Read:
		return s.read(m, nil)
	}
	return m
}

// read completes a read of s, overlaid with the transaction's own
// buffered writes (own: nil for none); a write is buffered into own.
func (s *txnState) read(m txn.Mop, own *txnState) txn.Mop {
	switch m.Kind {
	case txn.Append:
		own.lists[m.Key] = append(own.lists[m.Key], m.Value)
		return m
	case txn.Write:
		own.regs[m.Key] = m.Value
		return m
	}
	if own != nil {
		if v, ok := own.regs[m.Key]; ok {
			m.Value = v
			return m
		}
	}
	if l, ok := s.lists[m.Key]; ok || (own != nil && own.lists[m.Key] != nil) {
		list := append([]any{}, l...)
		if own != nil {
			list = append(list, own.lists[m.Key]...)
		}
		m.Value = list
		return m
	}
	if v, ok := s.regs[m.Key]; ok {
		m.Value = v
		return m
	}
	// Never written: an empty list reads as [] in Jepsen's list-append
	// histories only when the database says so; nil is "no value".
	m.Value = nil
	return m
}

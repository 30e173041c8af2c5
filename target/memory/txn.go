package memory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/txn"
)

// Besides its register, the memory system is a key-value store for
// transactions (f "txn", value a list of micro-ops; see package txn):
// appends to lists and reads of them (list-append), writes of registers and
// reads of them (rw-register). How isolated transactions are is a setting,
// so that jplan's transactional checkers can be tried, and tested, against
// both a correct store and ones with known anomalies:
//
//	serializable      each transaction runs atomically at one instant
//	                  inside its invocation: strict serializable
//	read committed    a write locks its key until the transaction ends
//	                  (as PostgreSQL's row locks do); reads take no locks
//	                  and see the last committed value, or the
//	                  transaction's own write. Other transactions run
//	                  between micro-ops, so a transaction may read a key,
//	                  then see it changed (non-repeatable reads, which
//	                  Elle reports as internal), read skew and write skew
//	                  (G-single, G2-item) and lost updates; never dirty
//	                  reads or write cycles (G0, G1)
//	read uncommitted  the same locks, but reads also see other
//	                  transactions' uncommitted writes: dirty reads, and
//	                  aborted reads (G1a) when the writer later aborts
//
// A transaction that waits for a lock longer than lockWait aborts (fails),
// undoing its writes: that is how the weaker levels end deadlocks.

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

// lockWait bounds how long a transaction waits for another's write lock
// before it aborts.
const lockWait = 20 * time.Millisecond

// txnState is the store's data, guarded by Register.mu.
type txnState struct {
	lists map[kvKey][]any   // list-append: the committed list at each key
	regs  map[kvKey]any     // rw-register: the committed value at each key
	owner map[kvKey]*writes // write locks: the transaction holding each key
}

// writes are one transaction's uncommitted writes: the whole new value of
// each key it wrote.
type writes struct {
	lists map[kvKey][]any
	regs  map[kvKey]any
}

func (s *txnState) init() {
	if s.lists == nil {
		s.lists, s.regs, s.owner = map[kvKey][]any{}, map[kvKey]any{}, map[kvKey]*writes{}
	}
}

// errAborted is a transaction that gave up waiting for a lock; nothing it
// wrote is left, so it fails.
var errAborted = errors.New("aborted: lock wait timeout (a deadlock, or a slow writer)")

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
		own := &writes{lists: map[kvKey][]any{}, regs: map[kvKey]any{}}
		for i, m := range mops {
			out[i] = r.kv.step(m, own, false)
		}
		r.kv.commit(own)
		r.mu.Unlock()
	case ReadCommitted, ReadUncommitted:
		dirty := r.opts.Isolation == ReadUncommitted
		own := &writes{lists: map[kvKey][]any{}, regs: map[kvKey]any{}}
		for i, m := range mops {
			if i > 0 {
				if err := r.pause(ctx); err != nil {
					r.abort(own)
					return op, err // nothing committed: the runner records info, safely
				}
			}
			waited := time.Duration(0)
			for {
				r.mu.Lock()
				r.kv.init()
				if m.Kind != txn.Read {
					if h := r.kv.owner[m.Key]; h != nil && h != own {
						r.mu.Unlock()
						if waited >= lockWait {
							r.abort(own)
							op.Type, op.Error = history.Fail, errAborted.Error()
							return op, nil
						}
						time.Sleep(time.Millisecond)
						waited += time.Millisecond
						continue
					}
				}
				out[i] = r.kv.step(m, own, dirty)
				r.mu.Unlock()
				break
			}
		}
		r.mu.Lock()
		r.kv.commit(own)
		r.mu.Unlock()
	default:
		return op, fmt.Errorf("unknown isolation %q", r.opts.Isolation)
	}
	op.Type, op.Value = history.OK, txn.Value(out)
	return op, nil
}

// step performs one micro-op for the transaction whose writes are own,
// holding the key's lock for a write. dirty reads see other transactions'
// uncommitted writes.
func (s *txnState) step(m txn.Mop, own *writes, dirty bool) txn.Mop {
	switch m.Kind {
	case txn.Append:
		s.owner[m.Key] = own
		l, mine := own.lists[m.Key]
		if !mine {
			l = append([]any(nil), s.lists[m.Key]...)
		}
		own.lists[m.Key] = append(l, m.Value)
	case txn.Write:
		s.owner[m.Key] = own
		own.regs[m.Key] = m.Value
	case txn.Read:
		src := own
		if h := s.owner[m.Key]; dirty && h != nil {
			src = h
		}
		if l, ok := src.lists[m.Key]; ok {
			m.Value = append([]any(nil), l...)
		} else if v, ok := src.regs[m.Key]; ok {
			m.Value = v
		} else if l, ok := s.lists[m.Key]; ok {
			m.Value = append([]any(nil), l...)
		} else {
			// Never written: nil, which list-append reads as the empty
			// list and rw-register as the initial state.
			m.Value = s.regs[m.Key]
		}
	}
	return m
}

// commit makes own's writes the committed state and releases its locks.
func (s *txnState) commit(own *writes) {
	for k, l := range own.lists {
		s.lists[k] = l
		delete(s.owner, k)
	}
	for k, v := range own.regs {
		s.regs[k] = v
		delete(s.owner, k)
	}
}

// abort drops the transaction's writes and releases its locks.
func (r *Register) abort(own *writes) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, h := range r.kv.owner {
		if h == own {
			delete(r.kv.owner, k)
		}
	}
}

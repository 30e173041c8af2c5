package checker

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/jplan/jplan/history"
)

// Knossos' multi-register is a different shape from Jepsen's independent
// keys: every op is a :txn whose value is a list of micro-ops [f k v],
// reads and writes over one map of registers, and a transaction may span
// keys, so the history cannot be split per key. The linearizable checker
// takes this shape when the model is multi-register and the history's
// client ops are txns, so Knossos' own multi-register histories are judged
// as Knossos judges them.

// txnMicro is one [f k v] micro-op: a read (v nil: value unknown) or a
// write. Keys and values are interned.
type txnMicro struct {
	write bool
	key   int32
	val   int32
}

type txnInput struct {
	micro []txnMicro
	info  bool
	pair  *history.Pair
}

// txnState is the registers' values, as a canonical string "k=v;..." of
// interned ids sorted by key, so porcupine can compare and hash it.
type txnState string

func encodeTxnState(m map[int32]int32) txnState {
	keys := make([]int32, 0, len(m))
	for k, v := range m {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%d=%d;", k, m[k])
	}
	return txnState(b.String())
}

func decodeTxnState(s txnState) map[int32]int32 {
	m := map[int32]int32{}
	for _, kv := range strings.Split(string(s), ";") {
		if kv == "" {
			continue
		}
		var k, v int32
		fmt.Sscanf(kv, "%d=%d", &k, &v)
		m[k] = v
	}
	return m
}

// isTxnHistory reports whether the client ops are Knossos-style txns.
func isTxnHistory(h []history.Op) bool {
	for i := range h {
		if !h[i].IsNemesis() {
			return h[i].F == "txn"
		}
	}
	return false
}

func (l *linearizable) checkTxn(ctx context.Context, h []history.Op, opts Options, start time.Time) Result {
	in := newInterner()
	pairs, err := history.Pairs(history.ClientOps(h))
	if err != nil {
		return Result{Valid: Unknown, Error: "linearizable: " + err.Error()}
	}
	infinity := int64(len(h) + 1)
	procs := map[int]int{}
	var ops []porcupine.Operation
	for i := range pairs {
		p := &pairs[i]
		if p.Invoke == nil || p.Type() == history.Fail {
			continue
		}
		if p.F() != "txn" {
			return Result{Valid: Unknown, Error: fmt.Sprintf("linearizable: op %d: f %q in a txn multi-register history", p.Invoke.Index, p.F())}
		}
		info := p.Type() != history.OK
		// An ok txn's completion holds the values its reads saw; an info
		// txn's reads are unknown, so its invocation's micro-ops are used
		// (reads of nil match anything).
		v := p.Invoke.Value
		if !info {
			v = p.Completion.Value
		}
		list, ok := v.([]any)
		if !ok {
			return Result{Valid: Unknown, Error: fmt.Sprintf("linearizable: op %d: txn value must be a list of [f k v], got %s", p.Invoke.Index, fmtValue(v))}
		}
		inp := txnInput{info: info, pair: p}
		for _, m := range list {
			mv, ok := m.([]any)
			if !ok || len(mv) != 3 {
				return Result{Valid: Unknown, Error: fmt.Sprintf("linearizable: op %d: micro-op must be [f k v], got %s", p.Invoke.Index, fmtValue(m))}
			}
			f, _ := mv[0].(string)
			k, err := in.id(mv[1])
			if err != nil {
				return Result{Valid: Unknown, Error: "linearizable: " + err.Error()}
			}
			val, err := in.id(mv[2])
			if err != nil {
				return Result{Valid: Unknown, Error: "linearizable: " + err.Error()}
			}
			switch f {
			case "read":
				if info {
					val = 0
				}
				inp.micro = append(inp.micro, txnMicro{key: k, val: val})
			case "write":
				inp.micro = append(inp.micro, txnMicro{write: true, key: k, val: val})
			default:
				return Result{Valid: Unknown, Error: fmt.Sprintf("linearizable: op %d: micro-op %q is neither read nor write", p.Invoke.Index, f)}
			}
		}
		ret := infinity
		if !info {
			ret = int64(p.CompletionPos)
		}
		cid, ok := procs[p.Process()]
		if !ok {
			cid = len(procs)
			procs[p.Process()] = cid
		}
		ops = append(ops, porcupine.Operation{ClientId: cid, Input: inp, Call: int64(p.InvokePos), Return: ret, Metadata: p})
	}
	// The initial registers: Initial as a map from key to value (Knossos'
	// (multi-register {:x 0 :y 0})), else all nil.
	init := map[int32]int32{}
	if m, ok := l.o.Initial.(map[string]any); ok {
		for k, v := range m {
			kid, err1 := in.id(k)
			vid, err2 := in.id(v)
			if err1 != nil || err2 != nil {
				return Result{Valid: Unknown, Error: "linearizable: initial state: value cannot be compared"}
			}
			init[kid] = vid
		}
	} else if l.o.Initial != nil {
		return Result{Valid: Unknown, Error: "linearizable: a txn multi-register's initial value must be a map from key to value"}
	}
	initial := encodeTxnState(init)
	var stop atomic.Bool
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	model := porcupine.Model{
		Init: func() any { return initial },
		Step: func(state, input, _ any) (bool, any) {
			if stop.Load() {
				return false, state
			}
			inp := input.(txnInput)
			m := decodeTxnState(state.(txnState))
			for _, mo := range inp.micro {
				if mo.write {
					m[mo.key] = mo.val
					continue
				}
				// Knossos: a read of nil is consistent with any state.
				if mo.val != 0 && m[mo.key] != mo.val {
					return false, state
				}
			}
			return true, encodeTxnState(m)
		},
		Hash: func(state any) uint64 {
			h := fnv.New64a()
			h.Write([]byte(state.(txnState)))
			return h.Sum64()
		},
		DescribeOperation: func(input, _ any) string {
			inp := input.(txnInput)
			var parts []string
			for _, mo := range inp.micro {
				f := "r"
				if mo.write {
					f = "w"
				}
				parts = append(parts, fmt.Sprintf("%s %s %s", f, fmtValue(in.vals[mo.key]), fmtValue(in.vals[mo.val])))
			}
			s := "txn [" + strings.Join(parts, ", ") + "]"
			if inp.info {
				s += " [info]"
			}
			return s
		},
		DescribeState: func(state any) string {
			m := decodeTxnState(state.(txnState))
			var parts []string
			for k, v := range m {
				parts = append(parts, fmtValue(in.vals[k])+"="+fmtValue(in.vals[v]))
			}
			sort.Strings(parts)
			return "{" + strings.Join(parts, ", ") + "}"
		},
	}
	d := &LinearizableDetails{Model: string(l.o.Model) + " (txn)", Ops: len(ops)}
	res := Result{Details: d}
	ok, info := porcupine.CheckOperationsVerbose(model, ops, 0)
	switch {
	case ok == porcupine.Ok:
		res.Valid, res.Summary = True, fmt.Sprintf("%d txns linearizable", len(ops))
	case stop.Load() || ok == porcupine.Unknown:
		res.Valid, res.Summary = Unknown, "search did not finish in time"
	default:
		res.Valid, res.Summary = False, "txns not linearizable over the multi-register"
		if opts.Dir != "" {
			var buf bytes.Buffer
			if err := porcupine.Visualize(model, info, &buf); err == nil {
				name := "linear.html"
				if err := os.WriteFile(filepath.Join(opts.Dir, name), buf.Bytes(), 0o644); err == nil {
					res.Files = append(res.Files, name)
				}
			}
		}
	}
	d.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return res
}

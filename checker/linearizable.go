package checker

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/jplan/jplan/checker/linsearch"
	"github.com/jplan/jplan/history"
)

// Model names a sequential specification for the linearizable checker.
type Model string

const (
	// ModelRegister: read and write on a single register.
	ModelRegister Model = "register"
	// ModelCASRegister: read, write and cas (value [old new]) on a single
	// register.
	ModelCASRegister Model = "cas-register"
	// ModelMultiRegister: independent cas-registers keyed by the first
	// element of each op's [key value] tuple, as Jepsen's independent
	// checker splits a history. Each key is checked separately.
	ModelMultiRegister Model = "multi-register"
)

// LinearizableOptions configures Linearizable.
type LinearizableOptions struct {
	Model Model
	// Initial is the register's value before the test (per key for
	// ModelMultiRegister). Nil, like Knossos' (cas-register).
	Initial any
	// TimeLimit bounds the search; zero means only the context's
	// deadline applies. Running out of time yields Unknown.
	TimeLimit time.Duration
	// StrictNilReads makes an ok read of nil mean "the register was
	// nil". By default, as in Knossos, a read of nil is consistent with
	// any state, because Knossos cannot tell a read that returned nil
	// from one whose value was never learned.
	StrictNilReads bool
	// MaxReported bounds how many failing keys are described and
	// visualized (default 8).
	MaxReported int
	// Algorithm picks the search for register and cas-register
	// histories: "linsearch" (the default, also when empty: package
	// checker/linsearch, porcupine's search with a 16-byte memo entry
	// instead of a bitset per state, bounded by MaxMemory; 12× faster and
	// 1/20 of the memory on a 100k-op key) or "porcupine", the reference
	// it is tested against. Multi-register keys always use porcupine.
	// Anomalies on keys up to 20,000 ops are explained with porcupine.
	Algorithm string
	// MaxMemory bounds linsearch's own memory in bytes (0: 1 GiB);
	// exceeding it yields Unknown, never an out-of-memory kill.
	MaxMemory int64
}

// Linearizable returns a checker that decides whether the client ops of a
// history are linearizable with respect to a register model, using
// porcupine. See docs/checkers.md for the exact semantics.
func Linearizable(o LinearizableOptions) Checker {
	if o.MaxReported <= 0 {
		o.MaxReported = 8
	}
	return &linearizable{o: o}
}

type linearizable struct{ o LinearizableOptions }

func (l *linearizable) Name() string { return "linearizable" }

// LinearizableDetails is Result.Details for the linearizable checker.
type LinearizableDetails struct {
	Model string `json:"model"`
	// Ops is how many operations were checked, after dropping failed
	// ops, info reads and nemesis ops.
	Ops int `json:"ops"`
	// Keys is the number of independent keys (multi-register only).
	Keys        int       `json:"keys,omitempty"`
	FailedKeys  []any     `json:"failed-keys,omitempty"`
	UnknownKeys []any     `json:"unknown-keys,omitempty"`
	Anomalies   []Anomaly `json:"anomalies,omitempty"`
	Elapsed     string    `json:"elapsed"`
}

// Anomaly describes why one key's history is not linearizable.
type Anomaly struct {
	Key any `json:"key,omitempty"`
	// Op is the operation that could not be linearized.
	Op OpDesc `json:"op"`
	// States are the model states reachable just before Op, after the
	// longest linearizable prefixes porcupine found.
	States []any `json:"states"`
	// Linearized is how many of Total ops those prefixes hold.
	Linearized int `json:"linearized"`
	Total      int `json:"total"`
	// Previous are the last ops of one longest prefix, oldest first.
	Previous []OpDesc `json:"previous,omitempty"`
	// Concurrent are the writes and cas ops that overlap Op in time: the
	// ones whose order decides what Op could have seen.
	Concurrent  []OpDesc `json:"concurrent,omitempty"`
	Description string   `json:"description"`
}

// OpDesc identifies an operation of the original history.
type OpDesc struct {
	Process     string `json:"process"`
	F           string `json:"f"`
	Value       any    `json:"value"`
	Type        string `json:"type"`
	InvokeIndex int64  `json:"invoke-index"`
	InvokeTime  int64  `json:"invoke-time"`
	// CompleteIndex and CompleteTime are -1 when the op never completed.
	CompleteIndex int64 `json:"complete-index"`
	CompleteTime  int64 `json:"complete-time"`
}

func (d OpDesc) String() string {
	end := "never completed"
	if d.CompleteIndex >= 0 {
		end = fmt.Sprintf("%s at %s (index %d)", d.Type, fmtNanos(d.CompleteTime), d.CompleteIndex)
	}
	return fmt.Sprintf("process %s %s %s, invoked at %s (index %d), %s",
		d.Process, d.F, fmtValue(d.Value), fmtNanos(d.InvokeTime), d.InvokeIndex, end)
}

func describePair(p history.Pair) OpDesc {
	d := OpDesc{
		Process:       history.ProcessName(p.Process()),
		F:             p.F(),
		Value:         p.Value(),
		Type:          p.Type().String(),
		InvokeIndex:   p.Invoke.Index,
		InvokeTime:    p.Invoke.Time,
		CompleteIndex: -1,
		CompleteTime:  -1,
	}
	if p.Completion != nil {
		d.CompleteIndex, d.CompleteTime = p.Completion.Index, p.Completion.Time
	}
	return d
}

// Operation kinds in porcupine inputs.
const (
	opRead uint8 = iota
	opWrite
	opCAS
)

// regInput is a porcupine Operation's Input. Values are interned to int32
// ids (0 is nil) so the model's state is a comparable int32: porcupine then
// compares and hashes states without reflection.
type regInput struct {
	kind uint8
	info bool  // the op's outcome is unknown
	a, b int32 // read: value read; write: value; cas: old, new
	pair *history.Pair
}

// interner maps plain-data values to dense ids.
type interner struct {
	ids  map[any]int32
	vals []any
}

// compositeKey keys slices and maps by their JSON text; being a distinct
// type, it cannot collide with a string value of the same text.
type compositeKey string

func newInterner() *interner {
	return &interner{ids: map[any]int32{}, vals: []any{nil}}
}

func (in *interner) id(v any) (int32, error) {
	var k any
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int:
		k = int64(x)
	case int32:
		k = int64(x)
	case int64, float64, string, bool:
		k = x
	default:
		b, err := history.AppendJSONValue(nil, v)
		if err != nil {
			return 0, fmt.Errorf("value %v cannot be compared: %w", v, err)
		}
		k = compositeKey(b)
	}
	if id, ok := in.ids[k]; ok {
		return id, nil
	}
	if len(in.vals) >= math.MaxInt32 {
		return 0, fmt.Errorf("too many distinct values")
	}
	id := int32(len(in.vals))
	in.ids[k] = id
	in.vals = append(in.vals, v)
	return id, nil
}

// partition is the porcupine input for one key.
type partition struct {
	key any
	ops []porcupine.Operation
}

// prepare turns a history into porcupine operations, one partition per key.
func (l *linearizable) prepare(h []history.Op, in *interner) ([]partition, error) {
	client := history.ClientOps(h)
	pairs, err := history.Pairs(client)
	if err != nil {
		return nil, err
	}
	multi := l.o.Model == ModelMultiRegister
	allowCAS := l.o.Model != ModelRegister
	// Info ops return "at infinity": after every real position, so they
	// may be linearized at any point after their invocation.
	infinity := int64(len(client) + 1)
	var parts []partition
	byKey := map[int32]int{}
	procs := map[int]int{}
	for i := range pairs {
		p := &pairs[i]
		if p.Invoke == nil {
			// A bare info has no invocation time to anchor it; Knossos'
			// complete leaves such ops without effect too.
			continue
		}
		t := p.Type()
		if t == history.Fail {
			continue // certainly did not happen
		}
		info := t != history.OK
		value := p.Value()
		var key any
		pi := 0
		if multi {
			tuple, ok := value.([]any)
			if !ok || len(tuple) != 2 {
				return nil, fmt.Errorf("op %d: multi-register values must be [key value] tuples, got %s", p.Invoke.Index, fmtValue(value))
			}
			key, value = tuple[0], tuple[1]
			kid, err := in.id(key)
			if err != nil {
				return nil, fmt.Errorf("op %d: key: %w", p.Invoke.Index, err)
			}
			idx, ok := byKey[kid]
			if !ok {
				idx = len(parts)
				byKey[kid] = idx
				parts = append(parts, partition{key: key})
			}
			pi = idx
		} else if len(parts) == 0 {
			parts = append(parts, partition{})
		}
		inp := regInput{info: info, pair: p}
		switch p.F() {
		case "read":
			if info {
				// An indeterminate read tells us nothing.
				continue
			}
			inp.kind = opRead
			if inp.a, err = in.id(value); err != nil {
				return nil, fmt.Errorf("op %d: %w", p.Invoke.Index, err)
			}
		case "write":
			inp.kind = opWrite
			if inp.a, err = in.id(value); err != nil {
				return nil, fmt.Errorf("op %d: %w", p.Invoke.Index, err)
			}
		case "cas":
			if !allowCAS {
				return nil, fmt.Errorf("op %d: the register model has no cas; use cas-register", p.Invoke.Index)
			}
			ab, ok := value.([]any)
			if !ok || len(ab) != 2 {
				return nil, fmt.Errorf("op %d: cas value must be [old new], got %s", p.Invoke.Index, fmtValue(value))
			}
			inp.kind = opCAS
			if inp.a, err = in.id(ab[0]); err != nil {
				return nil, fmt.Errorf("op %d: %w", p.Invoke.Index, err)
			}
			if inp.b, err = in.id(ab[1]); err != nil {
				return nil, fmt.Errorf("op %d: %w", p.Invoke.Index, err)
			}
		default:
			return nil, fmt.Errorf("op %d: f %q is not part of the %s model (read, write%s)",
				p.Invoke.Index, p.F(), l.o.Model, map[bool]string{true: ", cas"}[allowCAS])
		}
		ret := infinity
		if !info {
			ret = int64(p.CompletionPos)
		}
		// Porcupine's visualization wants small dense client ids.
		cid, ok := procs[p.Process()]
		if !ok {
			cid = len(procs)
			procs[p.Process()] = cid
		}
		parts[pi].ops = append(parts[pi].ops, porcupine.Operation{
			ClientId: cid,
			Input:    inp,
			Call:     int64(p.InvokePos),
			Return:   ret,
			Metadata: p,
		})
	}
	return parts, nil
}

// model builds the porcupine model. stop aborts the search: once set, every
// step fails, porcupine unwinds quickly, and the caller reports Unknown
// rather than trusting the "illegal" answer.
func (l *linearizable) model(in *interner, initial int32, stop *atomic.Bool, key func(any) string) porcupine.Model {
	strict := l.o.StrictNilReads
	return porcupine.Model{
		Init: func() any { return initial },
		Step: func(state, input, _ any) (bool, any) {
			if stop.Load() {
				return false, state
			}
			s := state.(int32)
			op := input.(regInput)
			switch op.kind {
			case opRead:
				// Knossos: a read of nil is consistent with any state.
				return s == op.a || (op.a == 0 && !strict), s
			case opWrite:
				return true, op.a
			default: // cas
				if s == op.a {
					return true, op.b
				}
				// An indeterminate cas that finds the wrong value simply
				// fails, which is the same as never having happened.
				return op.info, s
			}
		},
		Hash: func(state any) uint64 { return uint64(state.(int32)) * 0x9e3779b97f4a7c15 },
		DescribeOperation: func(input, _ any) string {
			op := input.(regInput)
			var s string
			switch op.kind {
			case opRead:
				s = "read → " + fmtValue(in.vals[op.a])
			case opWrite:
				s = "write(" + fmtValue(in.vals[op.a]) + ")"
			default:
				s = "cas(" + fmtValue(in.vals[op.a]) + " → " + fmtValue(in.vals[op.b]) + ")"
			}
			if op.info {
				s += " [info]"
			}
			if key != nil {
				s = key(op.pair.Value()) + ": " + s
			}
			return s
		},
		DescribeState: func(state any) string { return fmtValue(in.vals[state.(int32)]) },
		DescribeOperationMetadata: func(m any) string {
			p, ok := m.(*history.Pair)
			if !ok {
				return ""
			}
			return describePair(*p).String()
		},
	}
}

func (l *linearizable) Check(ctx context.Context, h []history.Op, opts Options) Result {
	start := time.Now()
	if l.o.TimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.o.TimeLimit)
		defer cancel()
	}
	switch l.o.Model {
	case ModelRegister, ModelCASRegister, ModelMultiRegister:
	default:
		return Result{Valid: Unknown, Error: fmt.Sprintf("linearizable: unknown model %q (want register, cas-register or multi-register)", l.o.Model)}
	}
	switch l.o.Algorithm {
	case "", "porcupine", "linsearch":
	default:
		return Result{Valid: Unknown, Error: fmt.Sprintf("linearizable: unknown algorithm %q (want porcupine or linsearch)", l.o.Algorithm)}
	}
	if l.o.Model == ModelMultiRegister && isTxnHistory(h) {
		return l.checkTxn(ctx, h, opts, start)
	}
	in := newInterner()
	initial, err := in.id(l.o.Initial)
	if err != nil {
		return Result{Valid: Unknown, Error: "linearizable: initial value: " + err.Error()}
	}
	parts, err := l.prepare(h, in)
	if err != nil {
		return Result{Valid: Unknown, Error: "linearizable: " + err.Error()}
	}
	var stop atomic.Bool
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	model := l.model(in, initial, &stop, nil)
	useLinsearch := l.o.Algorithm != "porcupine" && l.o.Model != ModelMultiRegister
	var reasons []string
	var stuck linsearch.Result // the one partition's result under linsearch

	// Check each key on its own, in parallel: porcupine would do the same
	// with a partition function, but this way we learn which keys failed.
	verdicts := make([]porcupine.CheckResult, len(parts))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(parts), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if useLinsearch {
					r := linsearch.Check(ctx, linsearchOps(parts[i].ops), linsearch.Options{
						Initial: initial, StrictNilReads: l.o.StrictNilReads, MaxMemory: l.o.MaxMemory})
					verdicts[i] = [...]porcupine.CheckResult{linsearch.Ok: porcupine.Ok, linsearch.Illegal: porcupine.Illegal, linsearch.Unknown: porcupine.Unknown}[r.Verdict]
					if r.Reason != "" {
						reasons = append(reasons, r.Reason) // one partition: no race
					}
					stuck = r
					continue
				}
				switch {
				case porcupine.CheckOperations(model, parts[i].ops):
					verdicts[i] = porcupine.Ok
				case stop.Load():
					verdicts[i] = porcupine.Unknown
				default:
					verdicts[i] = porcupine.Illegal
				}
			}
		}()
	}
	for i := range parts {
		work <- i
	}
	close(work)
	wg.Wait()

	d := &LinearizableDetails{Model: string(l.o.Model)}
	if l.o.Model == ModelMultiRegister {
		d.Keys = len(parts)
	}
	var failed []partition
	for i, p := range parts {
		d.Ops += len(p.ops)
		switch verdicts[i] {
		case porcupine.Illegal:
			d.FailedKeys = append(d.FailedKeys, p.key)
			if len(failed) < l.o.MaxReported {
				failed = append(failed, p)
			}
		case porcupine.Unknown:
			d.UnknownKeys = append(d.UnknownKeys, p.key)
		}
	}
	res := Result{Details: d}
	switch {
	case len(d.FailedKeys) > 0:
		res.Valid = False
	case len(d.UnknownKeys) > 0:
		res.Valid = Unknown
		res.Summary = fmt.Sprintf("search did not finish in time (%d of %d keys undecided)", len(d.UnknownKeys), len(parts))
		if len(reasons) > 0 {
			res.Summary = fmt.Sprintf("search did not finish (%d of %d keys undecided): %s", len(d.UnknownKeys), len(parts), reasons[0])
		}
	default:
		res.Valid = True
		res.Summary = fmt.Sprintf("%d ops linearizable", d.Ops)
	}
	if res.Valid == False && useLinsearch && len(failed) == 1 && len(failed[0].ops) > linsearchExplainMax && stuck.Stuck >= 0 {
		// Porcupine's explanation needs its O(n²) memory: describe the
		// op linsearch got stuck on instead.
		a := linsearchAnomaly(failed[0], stuck, in)
		d.Anomalies = append(d.Anomalies, a)
		res.Summary = a.Description
		res.Findings = linearizableFindings(d.Anomalies, FaultIntervals(h))
	} else if res.Valid == False {
		l.explain(failed, in, initial, &stop, d, opts, &res)
		res.Findings = linearizableFindings(d.Anomalies, FaultIntervals(h))
	}
	d.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return res
}

// explain re-runs porcupine with partial linearizations on the failing
// keys to describe each anomaly and, when there is an output directory,
// render porcupine's visualization.
func (l *linearizable) explain(failed []partition, in *interner, initial int32, stop *atomic.Bool, d *LinearizableDetails, opts Options, res *Result) {
	multi := l.o.Model == ModelMultiRegister
	var keyOf func(any) string
	if multi {
		keyOf = func(v any) string {
			if t, ok := v.([]any); ok && len(t) == 2 {
				return "key " + fmtValue(t[0])
			}
			return ""
		}
	}
	model := l.model(in, initial, stop, keyOf)
	// One partition per failing key, in a fixed order, so porcupine's
	// partition i is failed[i].
	var all []porcupine.Operation
	for i := range failed {
		for j := range failed[i].ops {
			op := failed[i].ops[j]
			op.Metadata = partTag{i, op.Metadata.(*history.Pair)}
			all = append(all, op)
		}
	}
	model.Partition = func(ops []porcupine.Operation) [][]porcupine.Operation {
		out := make([][]porcupine.Operation, len(failed))
		for _, op := range ops {
			t := op.Metadata.(partTag)
			out[t.part] = append(out[t.part], op)
		}
		return out
	}
	describeMeta := model.DescribeOperationMetadata
	model.DescribeOperationMetadata = func(m any) string { return describeMeta(m.(partTag).pair) }
	_, info := porcupine.CheckOperationsVerbose(model, all, 0)
	partials := info.PartialLinearizations()
	for i, p := range failed {
		if i >= len(partials) {
			break
		}
		a := anomaly(p, partials[i], model, in, initial)
		if multi {
			a.Key = p.key
			a.Description = "key " + fmtValue(p.key) + ": " + a.Description
		}
		d.Anomalies = append(d.Anomalies, a)
	}
	res.Summary = "not linearizable"
	if len(d.Anomalies) > 0 {
		res.Summary = d.Anomalies[0].Description
	}
	if multi {
		res.Summary = fmt.Sprintf("%d of %d keys not linearizable; %s", len(d.FailedKeys), d.Keys, res.Summary)
	}
	if opts.Dir == "" {
		return
	}
	var buf bytes.Buffer
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		res.Error = "linearizable: rendering visualization: " + err.Error()
		return
	}
	name, err := writeFile(opts.Dir, "linear.html", buf.Bytes())
	if err != nil {
		res.Error = err.Error()
		return
	}
	res.Files = append(res.Files, filepath.ToSlash(name))
}

type partTag struct {
	part int
	pair *history.Pair
}

// anomaly finds, from porcupine's longest partial linearizations of one
// failing key, the op that could not be placed: the not-yet-linearized op
// with the earliest completion. Porcupine's search got stuck exactly at
// that completion, since an op must take effect before it returns.
func anomaly(p partition, partials [][]int, model porcupine.Model, in *interner, initial int32) Anomaly {
	a := Anomaly{Total: len(p.ops)}
	// Porcupine returns partials in map order; sort for stable output.
	sort.Slice(partials, func(i, j int) bool {
		if len(partials[i]) != len(partials[j]) {
			return len(partials[i]) > len(partials[j])
		}
		return slices.Compare(partials[i], partials[j]) < 0
	})
	if len(partials) == 0 {
		partials = [][]int{nil}
	}
	longest := len(partials[0])
	a.Linearized = longest
	seenState := map[int32]bool{}
	for _, lin := range partials {
		if len(lin) != longest {
			break
		}
		state := any(initial)
		for _, id := range lin {
			_, state = model.Step(state, p.ops[id].Input, p.ops[id].Output)
		}
		if s := state.(int32); !seenState[s] {
			seenState[s] = true
			a.States = append(a.States, in.vals[s])
		}
	}
	done := make([]bool, len(p.ops))
	for _, id := range partials[0] {
		done[id] = true
	}
	culprit := -1
	for id, op := range p.ops {
		if done[id] {
			continue
		}
		if culprit < 0 || op.Return < p.ops[culprit].Return ||
			(op.Return == p.ops[culprit].Return && op.Call < p.ops[culprit].Call) {
			culprit = id
		}
	}
	if culprit < 0 {
		a.Description = "porcupine reported a violation but returned a complete linearization"
		return a
	}
	cop := p.ops[culprit]
	a.Op = describePair(*cop.Input.(regInput).pair)
	tail := partials[0]
	if len(tail) > 3 {
		tail = tail[len(tail)-3:]
	}
	for _, id := range tail {
		a.Previous = append(a.Previous, describePair(*p.ops[id].Input.(regInput).pair))
	}
	for id, op := range p.ops {
		if id == culprit || op.Call >= cop.Return || op.Return <= cop.Call {
			continue
		}
		if op.Input.(regInput).kind != opRead && len(a.Concurrent) < 6 {
			a.Concurrent = append(a.Concurrent, describePair(*op.Input.(regInput).pair))
		}
	}
	states := make([]string, len(a.States))
	for i, s := range a.States {
		states[i] = fmtValue(s)
	}
	var why string
	switch inp := cop.Input.(regInput); inp.kind {
	case opRead:
		why = fmt.Sprintf("read %s, but the register could only hold %s", fmtValue(in.vals[inp.a]), strings.Join(states, " or "))
	case opCAS:
		why = fmt.Sprintf("cas expected %s, but the register could only hold %s", fmtValue(in.vals[inp.a]), strings.Join(states, " or "))
	default:
		why = fmt.Sprintf("no order of the concurrent ops lets it take effect (register could hold %s)", strings.Join(states, " or "))
	}
	a.Description = fmt.Sprintf("cannot linearize %s: %s; %d of %d ops were linearized before it",
		a.Op, why, a.Linearized, a.Total)
	return a
}

// linsearchExplainMax is the longest key history whose violation is
// explained by re-running porcupine under Algorithm "linsearch"; beyond
// it porcupine's memory would defeat the point of linsearch.
const linsearchExplainMax = 20000

// linsearchAnomaly describes the deepest point of linsearch's failed
// search: the op whose return came with no way to place it.
func linsearchAnomaly(p partition, r linsearch.Result, in *interner) Anomaly {
	cop := p.ops[r.Stuck]
	inp := cop.Input.(regInput)
	a := Anomaly{Total: len(p.ops), Linearized: r.Linearized, States: []any{in.vals[r.State]}, Op: describePair(*inp.pair)}
	for id, op := range p.ops {
		if id == r.Stuck || op.Call >= cop.Return || op.Return <= cop.Call {
			continue
		}
		if op.Input.(regInput).kind != opRead && len(a.Concurrent) < 6 {
			a.Concurrent = append(a.Concurrent, describePair(*op.Input.(regInput).pair))
		}
	}
	state := fmtValue(in.vals[r.State])
	var why string
	switch inp.kind {
	case opRead:
		why = fmt.Sprintf("read %s, but the register held %s", fmtValue(in.vals[inp.a]), state)
	case opCAS:
		why = fmt.Sprintf("cas expected %s, but the register held %s", fmtValue(in.vals[inp.a]), state)
	default:
		why = fmt.Sprintf("no order of the concurrent ops lets it take effect (register held %s)", state)
	}
	a.Description = fmt.Sprintf("cannot linearize %s: %s at the deepest point of the search; %d of %d ops were linearized before it",
		a.Op, why, a.Linearized, a.Total)
	return a
}

// fmtValue renders a value as EDN-ish text for humans.
func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmtValue(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}

// fmtNanos renders a history time (ns since the test started) in seconds.
func fmtNanos(ns int64) string {
	return fmt.Sprintf("%.6fs", float64(ns)/1e9)
}

// linearizableFindings turns anomalies into findings for the report: the
// op that could not have happened, the writes concurrent with it, the ops
// linearized just before it, and the faults active meanwhile.
func linearizableFindings(as []Anomaly, faults []FaultInterval) []Finding {
	var out []Finding
	for _, a := range as {
		f := Finding{Title: "not linearizable", Text: a.Description}
		if a.Key != nil {
			f.Title += " (key " + fmtValue(a.Key) + ")"
		}
		f.Ops = append(f.Ops, FindingOp{Role: "could not have happened", OpDesc: a.Op})
		for _, c := range a.Concurrent {
			f.Ops = append(f.Ops, FindingOp{Role: "concurrent " + c.F, OpDesc: c})
		}
		for _, p := range a.Previous {
			f.Ops = append(f.Ops, FindingOp{Role: "linearized just before", OpDesc: p})
		}
		end := a.Op.CompleteTime
		if end < 0 {
			end = a.Op.InvokeTime
		}
		from := a.Op.InvokeTime
		for _, p := range a.Previous {
			from = min(from, p.InvokeTime)
		}
		f.Faults = FaultsDuring(faults, from, end)
		out = append(out, f)
	}
	return out
}

// linsearchOps converts one partition's porcupine operations to
// linsearch's input, op for op (index i is the same op in both).
func linsearchOps(ops []porcupine.Operation) []linsearch.Op {
	out := make([]linsearch.Op, len(ops))
	for i, op := range ops {
		in := op.Input.(regInput)
		out[i] = linsearch.Op{Kind: linsearch.Kind(in.kind), A: in.a, B: in.b, Info: in.info, Call: op.Call, Return: op.Return}
	}
	return out
}

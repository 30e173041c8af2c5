package elle

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/txn"
)

// DefaultCycleSearchTimeout bounds the search of one SCC, as Elle's
// cycle-search-timeout does.
const DefaultCycleSearchTimeout = time.Second

// Options choose what the history is checked against. Nil fields mean
// Elle's defaults: ConsistencyModels nil means [strict-serializable]; an
// empty, non-nil slice means no model (only Anomalies are prohibited).
type Options struct {
	ConsistencyModels  []string
	Anomalies          []string
	CycleSearchTimeout time.Duration

	// rw-register only: extra ways to infer version orders, as Elle's
	// :wfr-keys?, :sequential-keys? and :linearizable-keys? options.
	// WFRKeys assumes writes follow reads within a transaction;
	// SequentialKeys that each key is sequentially consistent (process
	// order orders versions); LinearizableKeys that each key is
	// linearizable (real-time order orders versions).
	WFRKeys, SequentialKeys, LinearizableKeys bool
}

// Validate checks the model and anomaly names.
func (o Options) Validate() error {
	if err := ValidateModels(o.ConsistencyModels); err != nil {
		return err
	}
	return ValidateAnomalies(o.Anomalies)
}

func (o Options) models() []string {
	if o.ConsistencyModels == nil {
		return []string{"strict-serializable"}
	}
	return o.ConsistencyModels
}

// Prohibited returns the anomalies that make the history invalid.
func (o Options) Prohibited() map[string]bool {
	p := anomaliesImplying(o.Anomalies)
	for a := range ProhibitedBy(o.models()) {
		p[a] = true
	}
	return p
}

func (o Options) reportable() map[string]bool {
	r := o.Prohibited()
	r["empty-transaction-graph"] = true
	r["cycle-search-timeout"] = true
	return r
}

// OrderRel is the order edge the checker needs: Realtime when some
// reportable anomaly is a -realtime cycle, else Process when one is a
// -process cycle, else none. As in Elle, only one is added: realtime
// order already contains each process's order.
func (o Options) OrderRel() Rel {
	r := o.reportable()
	proc := false
	for t := range cycleTypes {
		if !r[t] {
			continue
		}
		if strings.HasSuffix(t, "-realtime") {
			return Realtime
		}
		if strings.HasSuffix(t, "-process") {
			proc = true
		}
	}
	if proc {
		return Process
	}
	return 0
}

// Txn is one completed transaction: a node of the graph.
type Txn struct {
	Index       int64 // of the completion
	InvokeIndex int64 // -1 when there was no invocation
	Process     int
	Type        history.Type
	Time        int64
	InvokeTime  int64
	// Value is the completion's value: a list of micro-ops, parsed by
	// the workload.
	Value any
}

// Mops parses the transaction's micro-ops; nil if they do not parse.
func (x *Txn) Mops() []txn.Mop {
	m, _ := txn.Parse(x.Value)
	return m
}

// Txns are the completed transactions of a history, in completion order,
// with the invocation and completion events in history order for the
// order edges.
type Txns struct {
	List   []Txn
	events []event
	// Faults are the history's fault intervals, for the findings.
	Faults []checker.FaultInterval
}

type event struct {
	txn    int32
	invoke bool
}

// Prepare gathers the completed client ops of h as transactions. Invocations are
// matched to the next completion of the same process.
func Prepare(h []history.Op) (*Txns, error) {
	t := &Txns{List: make([]Txn, 0, len(h)/2+1), events: make([]event, 0, len(h)), Faults: checker.FaultIntervals(h)}
	open := map[int]int{} // process -> position in h of its pending invoke
	// invokeTxn[i] is 1 + the txn whose invocation is h[i].
	invokeTxn := make([]int32, len(h))
	for i := range h {
		op := &h[i]
		if op.Process == history.NemesisProcess {
			continue
		}
		if op.Type == history.Invoke {
			open[op.Process] = i
			continue
		}
		x := Txn{Index: op.Index, InvokeIndex: -1, Process: op.Process, Type: op.Type, Time: op.Time, Value: op.Value}
		p, invoked := open[op.Process]
		if invoked {
			x.InvokeIndex, x.InvokeTime = h[p].Index, h[p].Time
			delete(open, op.Process)
			invokeTxn[p] = int32(len(t.List)) + 1
			if _, ok := x.Value.([]any); !ok {
				// An indeterminate or failed completion may carry no
				// value; its invocation's says what it tried.
				x.Value = h[p].Value
			}
		}
		if _, ok := x.Value.([]any); !ok {
			return nil, fmt.Errorf("elle: op %d: value %v is not a list of micro-ops", op.Index, op.Value)
		}
		t.List = append(t.List, x)
	}
	// Events in history order: the invocation and completion of each.
	pos := 0
	for i := range h {
		op := &h[i]
		if op.Process == history.NemesisProcess {
			continue
		}
		if op.Type == history.Invoke {
			if id := invokeTxn[i]; id > 0 {
				t.events = append(t.events, event{id - 1, true})
			}
			continue
		}
		if pos < len(t.List) && t.List[pos].Index == op.Index {
			t.events = append(t.events, event{int32(pos), false})
			pos++
		}
	}
	return t, nil
}

// AddOrderEdges adds the realtime or process edges rel asks for.
func (t *Txns) AddOrderEdges(g *Graph, rel Rel) {
	switch rel {
	case Realtime:
		t.addRealtime(g)
	case Process:
		t.addProcess(g)
	}
}

// addRealtime links every ok transaction to the transactions invoked
// after it completed. Only a transitive reduction is kept, as Elle does:
// when T completes, the transactions that already preceded T leave the
// frontier, since they reach later ones through T.
func (t *Txns) addRealtime(g *Graph) {
	type member struct {
		txn   int32
		added int32
	}
	var frontier []member
	invoked := make([]int32, len(t.List))
	for seq, ev := range t.events {
		if ev.invoke {
			invoked[ev.txn] = int32(seq)
			for _, m := range frontier {
				g.AddEdge(int(m.txn), int(ev.txn), Realtime)
			}
			continue
		}
		x := &t.List[ev.txn]
		if x.Type != history.OK {
			continue
		}
		keep := frontier[:0]
		for _, m := range frontier {
			if x.InvokeIndex < 0 || m.added > invoked[ev.txn] {
				keep = append(keep, m)
			}
		}
		frontier = append(keep, member{ev.txn, int32(seq)})
	}
}

// addProcess links each process's successive ok transactions.
func (t *Txns) addProcess(g *Graph) {
	last := map[int]int{}
	for i, x := range t.List {
		if x.Type != history.OK {
			continue
		}
		if p, ok := last[x.Process]; ok {
			g.AddEdge(p, i, Process)
		}
		last[x.Process] = i
	}
}

// Analysis is what a workload inferred: the graph over Txns, the
// anomalies found without cycles, and how to explain a data edge.
type Analysis struct {
	Txns  *Txns
	Graph *Graph
	// Anomalies maps an anomaly type to its instances.
	Anomalies map[string][]any
	// Explain says in words why b depends on a by the data rel r (ww, wr
	// or rw), naming them an and bn.
	Explain func(a, b int, r Rel, an, bn string) string
	// Priority is the order in which an edge's rels explain it, as the
	// workload's combined explainer in Elle tries them; nil means ww, wr,
	// rw, realtime, process. A cycle is classified by these rels.
	Priority []Rel
}

// Result is Elle's verdict.
type Result struct {
	Valid        checker.Validity `json:"valid"`
	AnomalyTypes []string         `json:"anomaly_types,omitempty"`
	Anomalies    map[string]any   `json:"anomalies,omitempty"`
	Not          []string         `json:"not,omitempty"`
	AlsoNot      []string         `json:"also_not,omitempty"`
	// Cycles are the cycle anomalies reported, for rendering.
	Cycles []Explained `json:"-"`
}

// TxnRef identifies a transaction in an explanation.
type TxnRef struct {
	Name    string `json:"name"`
	Index   int64  `json:"index"`
	Process int    `json:"process"`
	Type    string `json:"type"`
	Value   string `json:"value"`
}

// Step is one edge of an explained cycle.
type Step struct {
	Type        string `json:"type"`
	Explanation string `json:"explanation"`
}

// Explained is a cycle with its explanation in words.
type Explained struct {
	Type        string   `json:"type"`
	Cycle       []TxnRef `json:"cycle"`
	Steps       []Step   `json:"steps"`
	Explanation string   `json:"explanation"`
}

func (t *Txns) ref(i int, name string) TxnRef {
	x := &t.List[i]
	return TxnRef{Name: name, Index: x.Index, Process: x.Process, Type: x.Type.String(), Value: txn.Format(x.Mops())}
}

func (a *Analysis) explain(c Cycle) Explained {
	t := a.Txns
	ex := Explained{Type: c.Type}
	names := make([]string, len(c.Txns))
	for i, id := range c.Txns {
		names[i] = fmt.Sprintf("T%d", i+1)
		ex.Cycle = append(ex.Cycle, t.ref(id, names[i]))
	}
	var b strings.Builder
	b.WriteString("Let:\n")
	for _, r := range ex.Cycle {
		fmt.Fprintf(&b, "  %s = op %d (process %d, %s) %s\n", r.Name, r.Index, r.Process, r.Type, r.Value)
	}
	b.WriteString("\nThen:\n")
	for i, id := range c.Txns {
		j := (i + 1) % len(c.Txns)
		next := c.Txns[j]
		var why string
		switch c.Steps[i] {
		case Realtime:
			x, y := &t.List[id], &t.List[next]
			why = fmt.Sprintf("%s completed at index %d, before the invocation of %s, at index %d",
				names[i], x.Index, names[j], y.InvokeIndex)
		case Process:
			why = fmt.Sprintf("process %d executed %s before %s", t.List[id].Process, names[i], names[j])
		default:
			why = a.Explain(id, next, c.Steps[i], names[i], names[j])
		}
		ex.Steps = append(ex.Steps, Step{Type: c.Steps[i].String(), Explanation: why})
		if i == len(c.Txns)-1 {
			fmt.Fprintf(&b, "  - However, %s < %s, because %s: a contradiction!", names[i], names[j], why)
		} else {
			fmt.Fprintf(&b, "  - %s < %s, because %s.\n", names[i], names[j], why)
		}
	}
	ex.Explanation = b.String()
	return ex
}

// Check finds the cycles in a's graph and judges the history as Elle's
// result-map does: invalid when a prohibited anomaly is present, unknown
// when only an empty graph or a timed-out search is, and "not" and
// "also_not" from every anomaly found.
func Check(ctx context.Context, a *Analysis, opts Options) Result {
	timeout := opts.CycleSearchTimeout
	if timeout <= 0 {
		timeout = DefaultCycleSearchTimeout
	}
	found := map[string][]any{}
	for k, v := range a.Anomalies {
		if len(v) > 0 {
			found[k] = v
		}
	}
	var cycles []Explained
	g := a.Graph
	empty := g.Vertices() == 0
	local := make([]int32, g.N())
	for i := range local {
		local[i] = -1
	}
	idx := func(i int) int64 { return a.Txns.List[i].Index }
	for _, scc := range g.SCCs() {
		r := searchSCC(ctx, g, scc, local, timeout, idx, a.Priority)
		if r.timeout != nil {
			found[r.timeout.Type] = append(found[r.timeout.Type], *r.timeout)
		}
		for _, e := range r.exists {
			found[e.Type] = append(found[e.Type], e)
		}
		for _, c := range r.cycles {
			ex := a.explain(c)
			found[c.Type] = append(found[c.Type], ex)
			cycles = append(cycles, ex)
		}
	}
	all := make([]string, 0, len(found)+1)
	for k := range found {
		all = append(all, k)
	}
	if empty {
		all = append(all, "empty-transaction-graph")
	}
	prohibited := opts.Prohibited()
	reportable := opts.reportable()
	rep := map[string]any{}
	bad := false
	for _, k := range all {
		if !reportable[k] {
			continue
		}
		if k == "empty-transaction-graph" {
			rep[k] = true
		} else {
			rep[k] = found[k]
		}
		if prohibited[k] {
			bad = true
		}
	}
	removeRedundantCycleExists(rep)
	if len(rep) == 0 {
		return Result{Valid: checker.True}
	}
	res := Result{Valid: checker.Unknown, Anomalies: rep}
	if bad {
		res.Valid = checker.False
	}
	for k := range rep {
		res.AnomalyTypes = append(res.AnomalyTypes, k)
	}
	sort.Strings(res.AnomalyTypes)
	res.Not, res.AlsoNot = Boundary(all)
	for _, c := range cycles {
		if _, ok := rep[c.Type]; ok {
			res.Cycles = append(res.Cycles, c)
		}
	}
	return res
}

// removeRedundantCycleExists drops cycle-exists anomalies for models that
// the other anomalies already rule out.
func removeRedundantCycleExists(rep map[string]any) {
	var others []string
	for k := range rep {
		if !strings.HasSuffix(k, "-cycle-exists") {
			others = append(others, k)
		}
	}
	imp := ImpossibleModels(others)
	for _, sp := range existSpecs {
		if imp[sp.model] {
			delete(rep, sp.model+"-cycle-exists")
		}
	}
}

// Summary is a one-line description of r.
func (r Result) Summary() string {
	if r.Valid == checker.True {
		return "no anomalies found"
	}
	s := "anomalies: " + strings.Join(r.AnomalyTypes, ", ")
	if len(r.Not) > 0 {
		s += "; not " + strings.Join(r.Not, ", ")
	}
	return s
}

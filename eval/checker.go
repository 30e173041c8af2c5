package eval

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/lang"
	"github.com/jplan/jplan/suggest"
	"github.com/zclconf/go-cty/cty"
)

// CheckerConfig is a checker block evaluated. Each kind reads the fields
// its schema (lang.CheckerKinds) has; the others keep their zero values.
type CheckerConfig struct {
	Kind      string
	Model     string
	TimeLimit time.Duration
	AddF      string
	ReadF     string
	// Initial is the linearizable model's value before the test (jplan
	// check --initial); nil for plans.
	Initial any
	// StrictNilReads: an ok read of null means the register was empty.
	// True for plans (their result expressions say what a read saw; an
	// unknown read is info), false for Jepsen histories (Knossos' rule).
	StrictNilReads bool

	// Algorithm and MaxMemory choose the linearizable checker's search
	// ("linsearch" or "porcupine"; "" is linsearch) and bound its memory.
	Algorithm string
	MaxMemory int64

	// ConsistencyModels and Anomalies are the list-append and rw-register
	// checkers' (Elle's) options; empty means Elle's defaults.
	ConsistencyModels []string
	Anomalies         []string

	// Bank: the expected total (nil: the first ok read's), the accounts
	// (nil: the first ok read's), whether balances may go below zero, and
	// the f of transfers.
	Total            *int64
	Accounts         []int64
	NegativeBalances bool
	TransferF        string

	// GenerateF is the unique-ids checker's f.
	GenerateF string
	// Queues: the f of enqueues, dequeues and drains.
	EnqueueF, DequeueF, DrainF string
}

// CheckerModels are the linearizable checker's models.
var CheckerModels = []string{"register", "cas-register", "multi-register"}

// ConsistencyModels lists the consistency model names the transactional
// checkers accept; set by the package that implements them (an import
// cycle otherwise: that package's checkers read this package's configs).
// Empty means names are checked only when the checkers are built.
var ConsistencyModels []string

// Checker evaluates a checker block.
func (e *Evaluator) Checker(c *lang.Checker) (CheckerConfig, hcl.Diagnostics) {
	cc := CheckerConfig{Kind: c.Kind}
	var diags, ds hcl.Diagnostics
	add := func(d hcl.Diagnostics) { diags = append(diags, d...) }
	switch c.Kind {
	case "linearizable":
		cc.Model, ds = oneOfStrings(c.Args.Expr("model"), e.root, "model", "", CheckerModels...)
		add(ds)
		cc.TimeLimit, ds = duration(c.Args.Expr("time_limit"), e.root, "time_limit", 0, false)
		add(ds)
		nilReads, ds := oneOfStrings(c.Args.Expr("nil_reads"), e.root, "nil_reads", "empty", "empty", "unknown")
		add(ds)
		cc.StrictNilReads = nilReads == "empty"
		cc.Algorithm, ds = oneOfStrings(c.Args.Expr("algorithm"), e.root, "algorithm", "linsearch", "linsearch", "porcupine")
		add(ds)
		if x := c.Args.Expr("max_memory"); x != nil {
			v, ds := evalAs(x, e.root, cty.Number, "max_memory")
			add(ds)
			if !ds.HasErrors() && known(v) {
				n, err := intOf(v)
				if err != nil || n < 1<<20 {
					add(hcl.Diagnostics{valueDiag(x, "max_memory", "expected a whole number of bytes, at least 1048576 (1 MiB)")})
				}
				cc.MaxMemory = int64(n)
			}
		}
	case "set", "counter":
		cc.AddF, ds = str(c.Args.Expr("add"), e.root, "add", "add")
		add(ds)
		cc.ReadF, ds = str(c.Args.Expr("read"), e.root, "read", "read")
		add(ds)
	case "list-append", "rw-register":
		cc.ConsistencyModels, ds = stringList(c.Args.Expr("consistency_models"), e.root, "consistency_models")
		add(ds)
		if x := c.Args.Expr("consistency_models"); x != nil && len(ConsistencyModels) > 0 && !ds.HasErrors() {
			for _, m := range cc.ConsistencyModels {
				if !contains(ConsistencyModels, m) {
					msg := "unknown consistency model " + quoteList([]string{m})
					if s := suggest.Closest(m, ConsistencyModels, 3); s != "" {
						msg += "; did you mean " + quoteList([]string{s}) + "?"
					}
					add(hcl.Diagnostics{valueDiag(x, "consistency_models", msg+" Expected one of "+quoteList(ConsistencyModels))})
				}
			}
		}
		cc.Anomalies, ds = stringList(c.Args.Expr("anomalies"), e.root, "anomalies")
		add(ds)
		cc.TimeLimit, ds = duration(c.Args.Expr("time_limit"), e.root, "time_limit", 0, false)
		add(ds)
	case "bank":
		if x := c.Args.Expr("total"); x != nil {
			n, ds := integer(x, e.root, "total", 0, -1<<31, 1<<31)
			add(ds)
			t := int64(n)
			cc.Total = &t
		}
		if x := c.Args.Expr("accounts"); x != nil {
			v, ds := evalAs(x, e.root, cty.List(cty.Number), "accounts")
			add(ds)
			if known(v) {
				for it := v.ElementIterator(); it.Next(); {
					_, ev := it.Element()
					n, err := intOf(ev)
					if err != nil {
						add(hcl.Diagnostics{valueDiag(x, "accounts", err.Error())})
						break
					}
					cc.Accounts = append(cc.Accounts, int64(n))
				}
			}
		}
		cc.NegativeBalances, ds = boolean(c.Args.Expr("negative_balances"), e.root, "negative_balances", false)
		add(ds)
		cc.TransferF, ds = str(c.Args.Expr("transfer"), e.root, "transfer", "transfer")
		add(ds)
		cc.ReadF, ds = str(c.Args.Expr("read"), e.root, "read", "read")
		add(ds)
	case "unique-ids":
		cc.GenerateF, ds = str(c.Args.Expr("generate"), e.root, "generate", "generate")
		add(ds)
	case "queue", "total-queue":
		cc.EnqueueF, ds = str(c.Args.Expr("enqueue"), e.root, "enqueue", "enqueue")
		add(ds)
		cc.DequeueF, ds = str(c.Args.Expr("dequeue"), e.root, "dequeue", "dequeue")
		add(ds)
		cc.DrainF, ds = str(c.Args.Expr("drain"), e.root, "drain", "drain")
		add(ds)
	}
	return cc, diags
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

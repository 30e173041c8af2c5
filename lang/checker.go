package lang

import "github.com/hashicorp/hcl/v2"

// Checker is one analysis of the history. The label is the checker kind;
// each kind appears at most once.
type Checker struct {
	Kind string
	Args Args

	DeclRange hcl.Range
}

// CheckerKinds are the schemas of each checker kind.
var CheckerKinds = map[string]Schema{
	"linearizable": registerSchema("checker:linearizable", Schema{Attrs: []AttrSpec{
		{Name: "model", Required: true, Doc: `"register", "cas-register" or "multi-register"`},
		{Name: "time_limit", Doc: "give up (valid = unknown) after this long"},
		{Name: "nil_reads", Doc: `"empty" (a read of null means the register was empty; default) or "unknown" (Knossos: consistent with any state)`},
		{Name: "algorithm", Doc: `"linsearch" (default: porcupine's search with a compact memo) or "porcupine"`},
		{Name: "max_memory", Doc: "linsearch's memory bound in bytes (default 1 GiB); past it the verdict is unknown"},
	}}),
	"stats":    registerSchema("checker:stats", Schema{}),
	"perf":     registerSchema("checker:perf", Schema{}),
	"timeline": registerSchema("checker:timeline", Schema{}),
	"set": registerSchema("checker:set", Schema{Attrs: []AttrSpec{
		{Name: "add", Doc: `f of adds (default "add")`},
		{Name: "read", Doc: `f of reads (default "read")`},
	}}),
	"counter": registerSchema("checker:counter", Schema{Attrs: []AttrSpec{
		{Name: "add", Doc: `f of increments (default "add")`},
		{Name: "read", Doc: `f of reads (default "read")`},
	}}),
	"list-append": registerSchema("checker:list-append", elleSchema),
	"rw-register": registerSchema("checker:rw-register", elleSchema),
	"bank": registerSchema("checker:bank", Schema{Attrs: []AttrSpec{
		{Name: "total", Doc: "the sum every read of all balances must see (default: the first ok read's sum)"},
		{Name: "accounts", Doc: "the account ids every read must show (default: those of the first ok read)"},
		{Name: "negative_balances", Doc: "whether a balance may be negative (default false)"},
		{Name: "transfer", Doc: `f of transfers (default "transfer")`},
		{Name: "read", Doc: `f of reads (default "read")`},
	}}),
	"long-fork": registerSchema("checker:long-fork", Schema{}),
	"unique-ids": registerSchema("checker:unique-ids", Schema{Attrs: []AttrSpec{
		{Name: "generate", Doc: `f of id generations (default "generate")`},
	}}),
	"queue":       registerSchema("checker:queue", queueSchema),
	"total-queue": registerSchema("checker:total-queue", queueSchema),
}

// elleSchema is the list-append and rw-register checkers' arguments.
var elleSchema = Schema{Attrs: []AttrSpec{
	{Name: "consistency_models", Doc: `the isolation levels to check, Elle's names (default ["strict-serializable"])`},
	{Name: "anomalies", Doc: "further anomaly types to look for, beyond those the models prohibit"},
	{Name: "time_limit", Doc: "bound on the cycle search; past it a cycle is reported as existing, unexplained"},
}}

// queueSchema is the queue and total-queue checkers' arguments.
var queueSchema = Schema{Attrs: []AttrSpec{
	{Name: "enqueue", Doc: `f of enqueues (default "enqueue")`},
	{Name: "dequeue", Doc: `f of dequeues (default "dequeue")`},
	{Name: "drain", Doc: `f of drains, whose ok value lists every element left (default "drain")`},
}}

func decodeChecker(blk *hcl.Block) (*Checker, hcl.Diagnostics) {
	c := &Checker{Kind: blk.Labels[0], Args: Args{}, DeclRange: blk.DefRange}
	s, d := kindSchemas("checker kind", CheckerKinds, c.Kind, blk.LabelRanges[0])
	if d != nil {
		return c, hcl.Diagnostics{d}
	}
	content, diags := s.content(blk.Body, "checker "+c.Kind)
	for n, a := range content.Attributes {
		c.Args[n] = a
	}
	return c, diags
}

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
}

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

package lang

import "github.com/hashicorp/hcl/v2"

// Test is the test block: what is tested and on which nodes. Exactly one per
// plan.
type Test struct {
	Name string
	// Nodes is a list of host names, or of objects {name, host, port, user};
	// --nodes and --nodes-file override it.
	Nodes hcl.Expression
	// Concurrency is a number of client workers, or "Nn": N per node.
	Concurrency hcl.Expression
	// Seed fixes the random choices of a run: operation values and the
	// fault schedule.
	Seed hcl.Expression
	// TimeLimit bounds the main part of the schedule: all non-final phases
	// together. Final phases run after it (Jepsen's final generator).
	TimeLimit hcl.Expression
	// Remote selects how nodes are reached: "ssh", "docker" or "local".
	Remote hcl.Expression
	// OpTimeout bounds each operation; past it the op completes as info.
	OpTimeout   hcl.Expression
	Description hcl.Expression

	DeclRange hcl.Range
}

var testSchema = registerSchema("test", Schema{Attrs: []AttrSpec{
	{Name: "nodes", Doc: "host names or node objects"},
	{Name: "concurrency", Doc: `client workers: a number or "Nn"`},
	{Name: "seed", Doc: "random seed for op values and faults"},
	{Name: "time_limit", Doc: "limit on the non-final phases, together"},
	{Name: "remote", Doc: `"ssh", "docker" or "local"`},
	{Name: "op_timeout", Doc: "per-operation timeout"},
	{Name: "description", Doc: "free text"},
}})

func decodeTest(blk *hcl.Block) (*Test, hcl.Diagnostics) {
	c, diags := testSchema.content(blk.Body, "test")
	t := &Test{
		Name:        blk.Labels[0],
		Nodes:       expr(c, "nodes"),
		Concurrency: expr(c, "concurrency"),
		Seed:        expr(c, "seed"),
		TimeLimit:   expr(c, "time_limit"),
		Remote:      expr(c, "remote"),
		OpTimeout:   expr(c, "op_timeout"),
		Description: expr(c, "description"),
		DeclRange:   blk.DefRange,
	}
	if d := checkName("test", t.Name, blk.LabelRanges[0]); d != nil {
		diags = append(diags, d)
	}
	return t, diags
}

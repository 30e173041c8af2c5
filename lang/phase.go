package lang

import "github.com/hashicorp/hcl/v2"

// Phase is one stage of the test's schedule. Phases run in the order they
// are written; each starts when every worker has finished the previous one
// (Jepsen's gen/phases).
type Phase struct {
	Name string
	// Clients is the generator for client workers.
	Clients hcl.Expression
	// Nemesis is the generator for the nemesis worker.
	Nemesis hcl.Expression
	// Generator is a whole generator routing ops itself with clients() and
	// nemesis(); it excludes Clients and Nemesis.
	Generator hcl.Expression
	// TimeLimit bounds the phase, counted from its first op.
	TimeLimit hcl.Expression
	// Final marks a phase of the final generator (healing, recovery, final
	// reads), which runs after the main phases and is not cut by the test's
	// time limit. A bool; final phases come after every other phase.
	Final hcl.Expression

	DeclRange hcl.Range
}

var phaseSchema = registerSchema("phase", Schema{Attrs: []AttrSpec{
	{Name: "clients", Doc: "generator for client workers"},
	{Name: "nemesis", Doc: "generator for the nemesis"},
	{Name: "generator", Doc: "a combined generator using clients() and nemesis()"},
	{Name: "time_limit", Doc: "bound on the phase, from its first op"},
	{Name: "final", Doc: "part of the final generator, after the test's time limit"},
}})

func decodePhase(blk *hcl.Block) (*Phase, hcl.Diagnostics) {
	c, diags := phaseSchema.content(blk.Body, "phase")
	p := &Phase{
		Name:      blk.Labels[0],
		Clients:   expr(c, "clients"),
		Nemesis:   expr(c, "nemesis"),
		Generator: expr(c, "generator"),
		TimeLimit: expr(c, "time_limit"),
		Final:     expr(c, "final"),
		DeclRange: blk.DefRange,
	}
	if d := checkName("phase", p.Name, blk.LabelRanges[0]); d != nil {
		diags = append(diags, d)
	}
	switch {
	case p.Generator != nil && (p.Clients != nil || p.Nemesis != nil):
		diags = append(diags, errorDiag("Conflicting phase generators",
			"A phase takes either generator (routing with clients() and nemesis()) or clients and/or nemesis, not both.",
			p.Generator.Range()))
	case p.Generator == nil && p.Clients == nil && p.Nemesis == nil:
		diags = append(diags, errorDiag("Empty phase",
			"A phase needs clients, nemesis or generator: something for the workers to do.", blk.DefRange))
	}
	return p, diags
}

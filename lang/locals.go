package lang

import "github.com/hashicorp/hcl/v2"

// Local is one named value of a locals block. Locals may refer to variables
// and to each other; eval orders them by dependency.
type Local struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

// The locals block accepts any argument name; its schema lists none.
var _ = registerSchema("locals", Schema{})

func decodeLocals(blk *hcl.Block) ([]*Local, hcl.Diagnostics) {
	attrs, diags := blk.Body.JustAttributes()
	var out []*Local
	for _, a := range attrs {
		if d := checkName("local", a.Name, a.NameRange); d != nil {
			diags = append(diags, d)
			continue
		}
		out = append(out, &Local{Name: a.Name, Expr: a.Expr, DeclRange: a.Range})
	}
	// JustAttributes returns a map; keep source order for stable output.
	sortByRange(out, func(l *Local) hcl.Range { return l.DeclRange })
	return out, diags
}

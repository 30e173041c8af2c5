package lang

import "github.com/hashicorp/hcl/v2"

// FaultPackage is a faults block: a set of the plan's faults composed into
// a ready-made nemesis schedule, Jepsen's nemesis package. A plan uses it
// through faults.<name>.generator (random starts and stops of the listed
// faults) and faults.<name>.final (a stop of every listed fault).
type FaultPackage struct {
	Name string
	// Faults is the list of fault references (fault.<name>).
	Faults hcl.Expression
	// Interval is the mean time between the package's fault operations.
	Interval hcl.Expression

	DeclRange hcl.Range
}

var faultPackageSchema = registerSchema("faults", Schema{Attrs: []AttrSpec{
	{Name: "faults", Required: true, Doc: "the faults the package starts and stops, e.g. [fault.partition, fault.crash]"},
	{Name: "interval", Doc: `mean time between fault operations (default "10s")`},
}})

func decodeFaultPackage(blk *hcl.Block) (*FaultPackage, hcl.Diagnostics) {
	c, diags := faultPackageSchema.content(blk.Body, "faults")
	p := &FaultPackage{
		Name:      blk.Labels[0],
		Faults:    expr(c, "faults"),
		Interval:  expr(c, "interval"),
		DeclRange: blk.DefRange,
	}
	if d := checkName("faults", p.Name, blk.LabelRanges[0]); d != nil {
		diags = append(diags, d)
	}
	return p, diags
}

// FaultPackage returns the faults block with the given name, or nil.
func (p *Plan) FaultPackage(name string) *FaultPackage {
	for _, fp := range p.FaultPackages {
		if fp.Name == name {
			return fp
		}
	}
	return nil
}

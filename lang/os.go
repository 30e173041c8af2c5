package lang

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// OS is the operating system setup run on every node before the database:
// packages installed when missing, /etc/hosts, extra commands.
type OS struct {
	// Family selects the package manager; only "debian" for now.
	Family   string
	Packages hcl.Expression
	// Hosts writes every node's name and address into /etc/hosts.
	Hosts    hcl.Expression
	Setup    hcl.Expression
	Teardown hcl.Expression

	DeclRange hcl.Range
}

// OSFamilies are the supported os block labels.
var OSFamilies = []string{"debian"}

var osSchema = registerSchema("os", Schema{Attrs: []AttrSpec{
	{Name: "packages", Doc: "packages installed when missing"},
	{Name: "hosts", Doc: "write node names to /etc/hosts (default true)"},
	{Name: "setup", Doc: "commands run on every node after packages"},
	{Name: "teardown", Doc: "commands run on every node at the end"},
}})

func decodeOS(blk *hcl.Block) (*OS, hcl.Diagnostics) {
	c, diags := osSchema.content(blk.Body, "os")
	o := &OS{
		Family:    blk.Labels[0],
		Packages:  expr(c, "packages"),
		Hosts:     expr(c, "hosts"),
		Setup:     expr(c, "setup"),
		Teardown:  expr(c, "teardown"),
		DeclRange: blk.DefRange,
	}
	if !contains(OSFamilies, o.Family) {
		diags = append(diags, errorDiag("Unsupported os family",
			fmt.Sprintf("jplan knows how to set up %s nodes, not %q.", oneOf(OSFamilies), o.Family), blk.LabelRanges[0]))
	}
	return o, diags
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Package lang decodes jplan plan files into a plan tree.
//
// Decoding is only structural: it checks which blocks and arguments exist,
// their labels and multiplicity, and keeps every argument as an unevaluated
// hcl.Expression with its source range. Values — including everything that
// depends on the run, such as the node a client is bound to or an operation's
// response — are the business of package eval. This split mirrors
// Terraform's configs (decode) and lang (evaluate) packages.
package lang

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Plan is the decoded form of one plan: a file, or a directory of files
// decoded together.
type Plan struct {
	// Files are the files the plan was decoded from, in order.
	Files []string

	Test       *Test
	SSH        *SSH
	Docker     *Docker
	Variables  []*Variable
	Locals     []*Local
	OS         *OS
	DBs        []*DB
	Client     *Client
	Operations []*Operation
	Faults     []*Fault
	// FaultPackages are the faults blocks: faults composed into a schedule.
	FaultPackages []*FaultPackage
	Phases        []*Phase
	Checkers      []*Checker
}

var rootSchema = registerSchema("", Schema{Blocks: []BlockSpec{
	{Type: "test", Labels: []string{"name"}},
	{Type: "variable", Labels: []string{"name"}},
	{Type: "locals"},
	{Type: "ssh"},
	{Type: "docker"},
	{Type: "os", Labels: []string{"family"}},
	{Type: "db", Labels: []string{"name"}},
	{Type: "client", Labels: []string{"kind"}},
	{Type: "operation", Labels: []string{"name"}},
	{Type: "fault", Labels: []string{"name"}},
	{Type: "faults", Labels: []string{"name"}},
	{Type: "phase", Labels: []string{"name"}},
	{Type: "checker", Labels: []string{"kind"}},
}})

// Decode builds a plan from parsed files. All problems are returned at once;
// the plan is returned even when there are errors, holding what decoded.
func Decode(files []*hcl.File) (*Plan, hcl.Diagnostics) {
	p := &Plan{}
	var diags hcl.Diagnostics
	named := map[string]hcl.Range{} // "kind name" -> first definition
	dupe := func(kind, name string, rng hcl.Range) bool {
		key := kind + "\x00" + name
		if first, ok := named[key]; ok {
			what := kind + " block"
			if name != "" {
				what = fmt.Sprintf("%s %q", kind, name)
			}
			diags = append(diags, duplicateDiag(what, "", rng, first))
			return true
		}
		named[key] = rng
		return false
	}
	for _, f := range files {
		if f == nil {
			continue
		}
		p.Files = append(p.Files, fileName(f))
		content, ds := rootSchema.content(f.Body, "")
		diags = append(diags, ds...)
		for _, blk := range content.Blocks {
			switch blk.Type {
			case "test":
				t, ds := decodeTest(blk)
				diags = append(diags, ds...)
				if !dupe("test", "", blk.DefRange) {
					p.Test = t
				}
			case "variable":
				v, ds := decodeVariable(blk)
				diags = append(diags, ds...)
				if !dupe("variable", v.Name, blk.DefRange) {
					p.Variables = append(p.Variables, v)
				}
			case "locals":
				ls, ds := decodeLocals(blk)
				diags = append(diags, ds...)
				for _, l := range ls {
					if !dupe("local value", l.Name, l.DeclRange) {
						p.Locals = append(p.Locals, l)
					}
				}
			case "ssh":
				s, ds := decodeSSH(blk)
				diags = append(diags, ds...)
				if !dupe("ssh", "", blk.DefRange) {
					p.SSH = s
				}
			case "docker":
				d, ds := decodeDocker(blk)
				diags = append(diags, ds...)
				if !dupe("docker", "", blk.DefRange) {
					p.Docker = d
				}
			case "os":
				o, ds := decodeOS(blk)
				diags = append(diags, ds...)
				if !dupe("os", "", blk.DefRange) {
					p.OS = o
				}
			case "db":
				d, ds := decodeDB(blk)
				diags = append(diags, ds...)
				if !dupe("db", d.Name, blk.DefRange) {
					p.DBs = append(p.DBs, d)
				}
			case "client":
				c, ds := decodeClient(blk)
				diags = append(diags, ds...)
				if !dupe("client", "", blk.DefRange) {
					p.Client = c
				}
			case "operation":
				o, ds := decodeOperation(blk)
				diags = append(diags, ds...)
				if !dupe("operation", o.Name, blk.DefRange) {
					p.Operations = append(p.Operations, o)
				}
			case "fault":
				ft, ds := decodeFault(blk)
				diags = append(diags, ds...)
				if !dupe("fault", ft.Name, blk.DefRange) {
					p.Faults = append(p.Faults, ft)
				}
			case "faults":
				fp, ds := decodeFaultPackage(blk)
				diags = append(diags, ds...)
				if !dupe("faults", fp.Name, blk.DefRange) {
					p.FaultPackages = append(p.FaultPackages, fp)
				}
			case "phase":
				ph, ds := decodePhase(blk)
				diags = append(diags, ds...)
				if !dupe("phase", ph.Name, blk.DefRange) {
					p.Phases = append(p.Phases, ph)
				}
			case "checker":
				c, ds := decodeChecker(blk)
				diags = append(diags, ds...)
				if !dupe("checker", c.Kind, blk.DefRange) {
					p.Checkers = append(p.Checkers, c)
				}
			}
		}
	}
	if p.Test == nil && len(files) > 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing test block",
			Detail:   fmt.Sprintf("A plan needs one test block naming the test, e.g. test \"register\" { nodes = [\"n1\", \"n2\", \"n3\"] }. None was found in %s.", strings.Join(p.Files, ", ")),
			Subject:  &hcl.Range{Filename: p.Files[0], Start: hcl.InitialPos, End: hcl.InitialPos},
		})
	}
	return p, diags
}

func fileName(f *hcl.File) string {
	// hcl.File has no name; the body's range carries it.
	if f.Body == nil {
		return ""
	}
	return f.Body.MissingItemRange().Filename
}

// Operation returns the operation with the given name, or nil.
func (p *Plan) Operation(name string) *Operation {
	for _, o := range p.Operations {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// Fault returns the fault with the given name, or nil.
func (p *Plan) Fault(name string) *Fault {
	for _, f := range p.Faults {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// DB returns the db block with the given name, or nil.
func (p *Plan) DB(name string) *DB {
	for _, d := range p.DBs {
		if d.Name == name {
			return d
		}
	}
	return nil
}

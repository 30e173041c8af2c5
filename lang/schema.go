package lang

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// AttrSpec describes one argument a block accepts. The tables of AttrSpecs are
// the single source of truth for what the language accepts: decoding uses
// them, and a test checks that docs/language.md documents every one.
type AttrSpec struct {
	Name     string
	Required bool
	// Doc is a one-line summary, used in diagnostics' "did you mean" hints and
	// checked against the reference for presence only.
	Doc string
}

// BlockSpec describes a nested block type a block accepts.
type BlockSpec struct {
	Type   string
	Labels []string
	// Single marks blocks that may appear at most once.
	Single bool
}

// Schema is the shape of one block kind's body.
type Schema struct {
	Attrs  []AttrSpec
	Blocks []BlockSpec
}

func (s Schema) bodySchema() *hcl.BodySchema {
	bs := &hcl.BodySchema{}
	for _, a := range s.Attrs {
		bs.Attributes = append(bs.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	for _, b := range s.Blocks {
		bs.Blocks = append(bs.Blocks, hcl.BlockHeaderSchema{Type: b.Type, LabelNames: b.Labels})
	}
	return bs
}

// content decodes body against s. Besides HCL's own checks (unknown
// arguments, missing required ones, wrong label counts) it reports a second
// block of a Single type, citing the first.
func (s Schema) content(body hcl.Body, where string) (*hcl.BodyContent, hcl.Diagnostics) {
	c, diags := body.Content(s.bodySchema())
	if c == nil {
		return &hcl.BodyContent{Attributes: hcl.Attributes{}}, diags
	}
	for _, b := range s.Blocks {
		if !b.Single {
			continue
		}
		var first *hcl.Block
		for _, blk := range c.Blocks {
			if blk.Type != b.Type {
				continue
			}
			if first == nil {
				first = blk
				continue
			}
			diags = append(diags, duplicateDiag(fmt.Sprintf("%s block", b.Type), where, blk.DefRange, first.DefRange))
		}
	}
	return c, diags
}

// Registry of schemas by block path ("db", "db.daemon", "fault:partition"),
// exported for the documentation test and for editors.
var registry = map[string]Schema{}

func registerSchema(path string, s Schema) Schema {
	if _, dup := registry[path]; dup {
		panic("lang: schema registered twice: " + path)
	}
	registry[path] = s
	return s
}

// Schemas returns every block schema of the language keyed by its path, e.g.
// "test", "db.daemon.ready", "fault:partition", "client:http".
func Schemas() map[string]Schema {
	out := make(map[string]Schema, len(registry))
	for k, v := range registry {
		out[k] = v
	}
	return out
}

func duplicateDiag(what, where string, subject, first hcl.Range) *hcl.Diagnostic {
	in := ""
	if where != "" {
		in = " in " + where
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + what,
		Detail:   fmt.Sprintf("A %s was already defined%s at %s. Each may be defined only once.", what, in, first.String()),
		Subject:  subject.Ptr(),
	}
}

func errorDiag(summary, detail string, subject hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: subject.Ptr()}
}

// validName is the rule for block labels that become references
// (operation.read, fault.crash, db.etcd): an identifier, so the reference
// parses.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && (r == '-' || (r >= '0' && r <= '9')):
		default:
			return false
		}
	}
	return true
}

func checkName(kind, name string, rng hcl.Range) *hcl.Diagnostic {
	if validName(name) {
		return nil
	}
	return errorDiag("Invalid "+kind+" name",
		fmt.Sprintf("%q is not a valid name: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes, because it is used in references like %s.%s.", name, kind, "<name>"),
		rng)
}

// oneOf renders a list of choices for messages: "a", "b" or "c".
func oneOf(choices []string) string {
	c := append([]string(nil), choices...)
	sort.Strings(c)
	q := make([]string, len(c))
	for i, s := range c {
		q[i] = fmt.Sprintf("%q", s)
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// staticString reads an attribute that must be a literal string because
// decoding depends on it (a fault's type selects its schema).
func staticString(attr *hcl.Attribute) (string, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return "", hcl.Diagnostics{errorDiag("Literal string required",
			fmt.Sprintf("The %s argument selects which other arguments apply, so it must be a literal string, not an expression.", attr.Name),
			attr.Expr.Range())}
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", hcl.Diagnostics{errorDiag("Literal string required",
			fmt.Sprintf("The %s argument must be a literal string.", attr.Name), attr.Expr.Range())}
	}
	return v.AsString(), nil
}

package lang

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Variable is an input variable: a value given by -var, -var-file or
// JPLAN_VAR_<name>, or its default.
type Variable struct {
	Name string
	// Type constrains the value; cty.DynamicPseudoType when not given.
	Type cty.Type
	// Default is evaluated without any context: it must be a constant.
	Default     hcl.Expression
	Description string
	// Sensitive values are redacted from stored plans and logs.
	Sensitive bool

	DeclRange hcl.Range
}

var variableSchema = registerSchema("variable", Schema{Attrs: []AttrSpec{
	{Name: "type", Doc: "type constraint, e.g. list(string)"},
	{Name: "default", Doc: "value when none is given"},
	{Name: "description", Doc: "what the variable is for"},
	{Name: "sensitive", Doc: "redact from stored plans and logs"},
}})

func decodeVariable(blk *hcl.Block) (*Variable, hcl.Diagnostics) {
	c, diags := variableSchema.content(blk.Body, "variable")
	v := &Variable{Name: blk.Labels[0], Type: cty.DynamicPseudoType, Default: expr(c, "default"), DeclRange: blk.DefRange}
	if d := checkName("variable", v.Name, blk.LabelRanges[0]); d != nil {
		diags = append(diags, d)
	}
	if a, ok := c.Attributes["type"]; ok {
		ty, ds := typeConstraint(a.Expr)
		diags = append(diags, ds...)
		v.Type = ty
	}
	if a, ok := c.Attributes["description"]; ok {
		s, ds := staticString(a)
		diags = append(diags, ds...)
		v.Description = s
	}
	if a, ok := c.Attributes["sensitive"]; ok {
		val, ds := a.Expr.Value(nil)
		if ds.HasErrors() || val.IsNull() || val.Type() != cty.Bool {
			diags = append(diags, errorDiag("Invalid sensitive value", "sensitive must be true or false.", a.Expr.Range()))
		} else {
			v.Sensitive = val.True()
		}
	}
	return v, diags
}

// typeConstraint reads a type expression. In JSON syntax the type is a string
// holding the native-syntax expression, as in Terraform.
func typeConstraint(e hcl.Expression) (cty.Type, hcl.Diagnostics) {
	if _, native := e.(hclsyntax.Expression); !native {
		if v, ds := e.Value(nil); !ds.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			rng := e.Range()
			parsed, ds := hclsyntax.ParseExpression([]byte(v.AsString()), rng.Filename, rng.Start)
			if ds.HasErrors() {
				return cty.DynamicPseudoType, ds
			}
			e = parsed
		}
	}
	ty, diags := typeexpr.TypeConstraint(e)
	if diags.HasErrors() {
		return cty.DynamicPseudoType, diags
	}
	return ty, nil
}

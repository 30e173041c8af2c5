package eval

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/jplan/jplan/lang"
	"github.com/zclconf/go-cty/cty"
)

// EnvPrefix is the prefix of environment variables that set plan variables:
// JPLAN_VAR_nodes sets var.nodes.
const EnvPrefix = "JPLAN_VAR_"

// rawValue is a variable value as given from outside, before it is parsed
// against the variable's type. Strings from the command line and the
// environment are parsed only once the type is known, because a string
// variable takes them literally while other types parse them as HCL (as
// Terraform does).
type rawValue struct {
	raw   string         // from -var or the environment
	expr  hcl.Expression // from a var file
	from  string         // for messages: "-var", "JPLAN_VAR_x", a file name
	rng   hcl.Range
	isRaw bool
}

// Inputs are the variable values given for a run, gathered in precedence
// order: the environment, then var files in order, then -var flags in order;
// a later source wins.
type Inputs struct {
	values map[string]rawValue
	ssh    SSHOverride
}

// SSHOverride is what the command line sets of the ssh block, as Jepsen's
// --username, --password, --ssh-private-key and --strict-host-key-checking
// do; empty fields (and a nil StrictHostKeyChecking) leave the plan's.
type SSHOverride struct {
	User           string
	Password       string
	PrivateKeyFile string
	// StrictHostKeyChecking false ignores host keys; true checks them
	// (against known_hosts_file, or ~/.ssh/known_hosts).
	StrictHostKeyChecking *bool
}

// apply puts the command line's settings over the block's.
func (o SSHOverride) apply(c SSHConfig) SSHConfig {
	if o.User != "" {
		c.User = o.User
	}
	if o.Password != "" {
		c.Password = o.Password
	}
	if o.PrivateKeyFile != "" {
		c.PrivateKeyFile = o.PrivateKeyFile
	}
	if o.StrictHostKeyChecking != nil {
		c.InsecureIgnoreHostKey = !*o.StrictHostKeyChecking
	}
	return c
}

// InputOptions are the sources of variable values.
type InputOptions struct {
	// Vars are -var flags, each "name=value".
	Vars []string
	// VarFiles are -var-file paths (HCL or HCL JSON).
	VarFiles []string
	// Environ is the environment, as os.Environ returns it.
	Environ []string
	// SSH overrides the plan's ssh block for every node.
	SSH SSHOverride
}

// ReadInputs gathers variable values. Files are parsed with p so their
// sources are available when rendering diagnostics.
func ReadInputs(p *lang.Parser, o InputOptions) (*Inputs, hcl.Diagnostics) {
	in := &Inputs{values: map[string]rawValue{}, ssh: o.SSH}
	var diags hcl.Diagnostics
	envNames := []string{}
	for _, kv := range o.Environ {
		if !strings.HasPrefix(kv, EnvPrefix) {
			continue
		}
		name, val, _ := strings.Cut(strings.TrimPrefix(kv, EnvPrefix), "=")
		if name == "" {
			continue
		}
		envNames = append(envNames, name)
		in.values[name] = rawValue{raw: val, from: EnvPrefix + name, isRaw: true}
	}
	sort.Strings(envNames)
	for _, path := range o.VarFiles {
		f, ds := p.ParseFile(path)
		diags = append(diags, ds...)
		if f == nil {
			continue
		}
		attrs, ds := f.Body.JustAttributes()
		diags = append(diags, ds...)
		for name, a := range attrs {
			in.values[name] = rawValue{expr: a.Expr, from: path, rng: a.Range}
		}
	}
	for _, kv := range o.Vars {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option",
				Detail: fmt.Sprintf("The -var option takes name=value, e.g. -var 'nodes=[\"n1\",\"n2\"]'; got %q.", kv)})
			continue
		}
		in.values[strings.TrimSpace(name)] = rawValue{raw: val, from: "-var " + name, isRaw: true}
	}
	return in, diags
}

// Names lists the variables given, sorted.
func (in *Inputs) Names() []string {
	if in == nil {
		return nil
	}
	out := make([]string, 0, len(in.values))
	for n := range in.values {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// value parses a given value against the declared type.
func (rv rawValue) value(name string, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	if !rv.isRaw {
		return rv.expr.Value(nil)
	}
	if ty == cty.String {
		return cty.StringVal(rv.raw), nil
	}
	e, diags := hclsyntax.ParseExpression([]byte(rv.raw), rv.from, hcl.InitialPos)
	if diags.HasErrors() {
		if ty == cty.DynamicPseudoType {
			// An untyped variable takes text that is not an HCL value as a
			// string, so -var name=n1 just works.
			return cty.StringVal(rv.raw), nil
		}
		return cty.NilVal, rv.typeError(name, ty)
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() && ty == cty.DynamicPseudoType {
		return cty.StringVal(rv.raw), nil
	}
	if diags.HasErrors() {
		// A bare word (yes, on) parses as a reference, and HCL's own
		// message ("Variables not allowed") says nothing useful here.
		return cty.NilVal, rv.typeError(name, ty)
	}
	return v, diags
}

// typeError says which variable got a value of the wrong type, what type
// it expects and what such a value looks like.
func (rv rawValue) typeError(name string, ty cty.Type) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value for variable",
		Detail: fmt.Sprintf("%s expects %s; got %q from %s.%s", name, typeWithArticle(ty), rv.raw, rv.from, typeHint(ty))}}
}

// typeWithArticle is "a bool", "a number", "a list of string".
func typeWithArticle(ty cty.Type) string {
	switch {
	case ty == cty.Bool:
		return "a bool"
	case ty == cty.Number:
		return "a number"
	case ty.IsListType(), ty.IsSetType(), ty.IsMapType(), ty.IsObjectType(), ty.IsTupleType():
		return "a " + ty.FriendlyName()
	}
	return ty.FriendlyName()
}

// typeHint shows what a value of the type looks like.
func typeHint(ty cty.Type) string {
	switch {
	case ty == cty.Bool:
		return " Use true or false."
	case ty == cty.Number:
		return " Use a number, e.g. 3 or 0.5."
	case ty.IsListType(), ty.IsSetType(), ty.IsTupleType():
		return ` Use an HCL list, e.g. '["a", "b"]'.`
	case ty.IsMapType(), ty.IsObjectType():
		return ` Use an HCL object, e.g. '{ a = 1 }'.`
	}
	return ""
}

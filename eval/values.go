package eval

import (
	"fmt"
	"math/big"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/builtins"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// evalAs evaluates an expression and converts it to want. An unknown result
// (static validation) is returned as is; callers skip what they cannot know.
func evalAs(e hcl.Expression, ctx *hcl.EvalContext, want cty.Type, what string) (cty.Value, hcl.Diagnostics) {
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	if want == cty.DynamicPseudoType {
		return v, diags
	}
	cv, err := convert.Convert(v, want)
	if err != nil {
		return cty.DynamicVal, append(diags, valueDiag(e, what, fmt.Sprintf("expected %s: %s", want.FriendlyName(), err)))
	}
	return cv, diags
}

func valueDiag(e hcl.Expression, what, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity:   hcl.DiagError,
		Summary:    "Invalid value for " + what,
		Detail:     upperFirst(detail) + ".",
		Subject:    e.Range().Ptr(),
		Expression: e,
	}
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// known reports whether v is wholly known and not null.
func known(v cty.Value) bool { return v.IsWhollyKnown() && !v.IsNull() }

// str evaluates an optional string argument.
func str(e hcl.Expression, ctx *hcl.EvalContext, what, def string) (string, hcl.Diagnostics) {
	if e == nil {
		return def, nil
	}
	v, diags := evalAs(e, ctx, cty.String, what)
	if !known(v) {
		return def, diags
	}
	return v.AsString(), diags
}

// boolean evaluates an optional bool argument.
func boolean(e hcl.Expression, ctx *hcl.EvalContext, what string, def bool) (bool, hcl.Diagnostics) {
	if e == nil {
		return def, nil
	}
	v, diags := evalAs(e, ctx, cty.Bool, what)
	if !known(v) {
		return def, diags
	}
	return v.True(), diags
}

// integer evaluates an optional whole-number argument within [min, max].
func integer(e hcl.Expression, ctx *hcl.EvalContext, what string, def, min, max int) (int, hcl.Diagnostics) {
	if e == nil {
		return def, nil
	}
	v, diags := evalAs(e, ctx, cty.Number, what)
	if !known(v) {
		return def, diags
	}
	n, err := intOf(v)
	if err != nil {
		return def, append(diags, valueDiag(e, what, err.Error()))
	}
	if n < min || n > max {
		return def, append(diags, valueDiag(e, what, fmt.Sprintf("%d is out of range: expected %d to %d", n, min, max)))
	}
	return n, diags
}

func intOf(v cty.Value) (int, error) {
	if v.Type() != cty.Number {
		return 0, fmt.Errorf("expected a number, got %s", v.Type().FriendlyName())
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, fmt.Errorf("expected a whole number, got %s", bf.Text('g', 10))
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i > 1<<31 || i < -(1<<31) {
		return 0, fmt.Errorf("number %s is too large", bf.Text('g', 10))
	}
	return int(i), nil
}

// duration evaluates an optional duration argument: "20ms" or seconds.
func duration(e hcl.Expression, ctx *hcl.EvalContext, what string, def time.Duration, signed bool) (time.Duration, hcl.Diagnostics) {
	if e == nil {
		return def, nil
	}
	v, diags := e.Value(ctx)
	if diags.HasErrors() || !known(v) {
		return def, diags
	}
	parse := builtins.ParseDuration
	if signed {
		parse = builtins.ParseSignedDuration
	}
	d, err := parse(v)
	if err != nil {
		return def, append(diags, valueDiag(e, what, err.Error()))
	}
	return d, diags
}

// commands evaluates a command list: one string (a single shell command) or
// a list of strings run in order.
func commands(e hcl.Expression, ctx *hcl.EvalContext, what string) ([]string, hcl.Diagnostics) {
	if e == nil {
		return nil, nil
	}
	v, diags := e.Value(ctx)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() {
		return nil, diags
	}
	if v.Type() == cty.String {
		return []string{v.AsString()}, diags
	}
	return stringList(e, ctx, what)
}

// stringList evaluates an optional list of strings.
func stringList(e hcl.Expression, ctx *hcl.EvalContext, what string) ([]string, hcl.Diagnostics) {
	if e == nil {
		return nil, nil
	}
	v, diags := evalAs(e, ctx, cty.List(cty.String), what)
	if !v.IsKnown() || v.IsNull() {
		return nil, diags
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if !ev.IsKnown() {
			continue
		}
		if ev.IsNull() {
			return nil, append(diags, valueDiag(e, what, "elements must not be null"))
		}
		out = append(out, ev.AsString())
	}
	return out, diags
}

// stringMap evaluates an optional map of strings.
func stringMap(e hcl.Expression, ctx *hcl.EvalContext, what string) (map[string]string, hcl.Diagnostics) {
	if e == nil {
		return nil, nil
	}
	v, diags := evalAs(e, ctx, cty.Map(cty.String), what)
	if !v.IsKnown() || v.IsNull() {
		return nil, diags
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if ev.IsKnown() && !ev.IsNull() {
			out[k.AsString()] = ev.AsString()
		}
	}
	return out, diags
}

// oneOfStrings evaluates an optional string that must be one of choices.
func oneOfStrings(e hcl.Expression, ctx *hcl.EvalContext, what, def string, choices ...string) (string, hcl.Diagnostics) {
	s, diags := str(e, ctx, what, def)
	if e == nil || diags.HasErrors() {
		return s, diags
	}
	for _, c := range choices {
		if s == c {
			return s, diags
		}
	}
	v, _ := e.Value(ctx)
	if !known(v) {
		return def, diags
	}
	return def, append(diags, valueDiag(e, what, fmt.Sprintf("%q is not one of %s", s, quoteList(choices))))
}

func quoteList(choices []string) string {
	out := ""
	for i, c := range choices {
		switch {
		case i == 0:
		case i == len(choices)-1:
			out += " or "
		default:
			out += ", "
		}
		out += fmt.Sprintf("%q", c)
	}
	return out
}

package eval

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// evalVariables resolves every declared variable: a given value, else the
// default, else (validation only) an unknown value of its type. Values given
// for undeclared variables are errors, since they are almost always typos.
func (e *Evaluator) evalVariables() hcl.Diagnostics {
	var diags hcl.Diagnostics
	declared := map[string]bool{}
	for _, v := range e.Plan.Variables {
		declared[v.Name] = true
		var (
			val  cty.Value
			ds   hcl.Diagnostics
			from string
			rng  = v.DeclRange
		)
		if rv, ok := e.inputs()[v.Name]; ok {
			val, ds = rv.value(v.Name, v.Type)
			from = rv.from
			if rv.rng.Filename != "" {
				rng = rv.rng
			}
		} else if v.Default != nil {
			val, ds = v.Default.Value(&hcl.EvalContext{Functions: e.funcs})
			from = "its default"
			rng = v.Default.Range()
		} else if e.opts.Validate {
			e.vars[v.Name] = cty.UnknownVal(v.Type)
			continue
		} else {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No value for required variable",
				Detail:  fmt.Sprintf("The variable %q has no default, so it needs a value: -var %s=..., -var-file, or the environment variable %s%s.", v.Name, v.Name, EnvPrefix, v.Name),
				Subject: v.DeclRange.Ptr()})
			e.vars[v.Name] = cty.UnknownVal(v.Type)
			continue
		}
		diags = append(diags, ds...)
		if ds.HasErrors() {
			e.vars[v.Name] = cty.UnknownVal(v.Type)
			continue
		}
		cv, err := convert.Convert(val, v.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for variable",
				Detail:  fmt.Sprintf("%s expects %s; the value from %s is not one: %s.%s", v.Name, typeWithArticle(v.Type), from, err, typeHint(v.Type)),
				Subject: rng.Ptr()})
			cv = cty.UnknownVal(v.Type)
		}
		e.vars[v.Name] = cv
	}
	var undeclared []string
	for name := range e.inputs() {
		if !declared[name] {
			undeclared = append(undeclared, name)
		}
	}
	sort.Strings(undeclared)
	for _, name := range undeclared {
		rv := e.inputs()[name]
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable",
			Detail: fmt.Sprintf("A value for %q was given by %s, but the plan declares no variable %q.", name, rv.from, name)}
		if rv.rng.Filename != "" {
			d.Subject = rv.rng.Ptr()
		}
		// The environment is shared with other tools: an unknown JPLAN_VAR_
		// is only worth a warning.
		if rv.isRaw && len(rv.from) > len(EnvPrefix) && rv.from[:len(EnvPrefix)] == EnvPrefix {
			d.Severity = hcl.DiagWarning
		}
		diags = append(diags, d)
	}
	return diags
}

func (e *Evaluator) inputs() map[string]rawValue {
	if e.opts.Inputs == nil {
		return nil
	}
	return e.opts.Inputs.values
}

// Sensitive returns the values of sensitive variables that are strings, so
// the store can redact them from saved plans and logs.
func (e *Evaluator) Sensitive() []string {
	var out []string
	for _, v := range e.Plan.Variables {
		if !v.Sensitive {
			continue
		}
		if val, ok := e.vars[v.Name]; ok && known(val) && val.Type() == cty.String && val.AsString() != "" {
			out = append(out, val.AsString())
		}
	}
	return out
}

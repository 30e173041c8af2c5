package eval

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/lang"
)

// Checked is one plan found at a path, with everything validation said
// about it.
type Checked struct {
	Source *lang.Source
	Plan   *lang.Plan
	Diags  hcl.Diagnostics
}

// ValidatePaths finds, decodes and validates the plans at each path, as
// `jplan validate` does: all errors of all plans at once. Variable values
// in `in` apply to every plan. Diagnostics not tied to one plan (unreadable
// paths, bad -var options) come back separately.
func ValidatePaths(p *lang.Parser, paths []string, in InputOptions) ([]Checked, hcl.Diagnostics) {
	inputs, global := ReadInputs(p, in)
	var out []Checked
	for _, path := range paths {
		sources, ds := lang.Find(p, path)
		global = append(global, ds...)
		for _, s := range sources {
			out = append(out, ValidateSource(s, inputs))
		}
	}
	return out, global
}

// ValidateSource decodes and validates one plan.
func ValidateSource(s *lang.Source, inputs *Inputs) (c Checked) {
	// A bug in jplan must not lose the user's other diagnostics to a crash:
	// report it as an error naming the plan, and ask for a bug report.
	defer func() {
		if r := recover(); r != nil {
			c.Diags = append(c.Diags, &hcl.Diagnostic{Severity: hcl.DiagError,
				Summary: "Internal error in jplan",
				Detail:  fmt.Sprintf("Validating %s crashed jplan: %v. This is a bug; please report it with the plan.", s.Name, r)})
		}
	}()
	plan, diags := lang.Decode(s.Files)
	c = Checked{Source: s, Plan: plan, Diags: diags}
	// Evaluate even when decoding found errors: what decoded is still
	// checked, so one run reports every mistake. Decoding drops what it
	// rejected, so evaluation does not repeat those errors.
	e, ds := New(plan, Options{Dir: s.Dir, Inputs: inputs, Validate: true})
	c.Diags = dedupe(append(append(c.Diags, ds...), e.Validate()...))
	return c
}

// dedupe drops diagnostics that repeat an earlier one at the same place,
// which happens when one expression is evaluated in several contexts.
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		summary, detail string
		rng             hcl.Range
	}
	seen := map[key]bool{}
	out := diags[:0]
	for _, d := range diags {
		k := key{summary: d.Summary, detail: d.Detail}
		if d.Subject != nil {
			k.rng = *d.Subject
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}

package main

import (
	"fmt"
	"sort"

	"github.com/fatih/color"
	"github.com/hashicorp/hcl/v2"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/lang"
	"github.com/spf13/pflag"
)

func init() {
	register("validate", "check plans without touching any node", "validate [flags] [PATH...]\n\nChecks every plan at each PATH (a file, or a directory; default .) and\nreports every mistake at once. Exit status: 0 valid, 1 invalid, 3 usage."+varsHelp, cmdValidate)
}

func cmdValidate(env *cliEnv, fs *pflag.FlagSet) func([]string) int {
	asJSON := fs.Bool("json", false, "print the result as JSON (for editors and CI)")
	noColor := fs.Bool("no-color", false, "never color the output")
	var vars, varFiles multiFlag
	fs.Var(&vars, "var", "set a variable: -var `name=value` (repeatable)")
	fs.Var(&varFiles, "var-file", "read variables from an HCL or JSON `file` (repeatable)")
	return func(paths []string) int {
		return validate(env, paths, *asJSON, *noColor, vars, varFiles)
	}
}

func validate(env *cliEnv, paths []string, asJSON, noColor bool, vars, varFiles multiFlag) int {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	parser := lang.NewParser()
	checked, global := eval.ValidatePaths(parser, paths, eval.InputOptions{Vars: vars, VarFiles: varFiles, Environ: environ(env)})

	all := append(hcl.Diagnostics{}, global...)
	for _, c := range checked {
		all = append(all, c.Diags...)
	}
	sortDiags(all)
	valid := !all.HasErrors() && len(checked) > 0
	if asJSON {
		type planJSON struct {
			Path  string `json:"path"`
			Test  string `json:"test,omitempty"`
			Valid bool   `json:"valid"`
		}
		out := struct {
			Valid        bool       `json:"valid"`
			ErrorCount   int        `json:"error_count"`
			WarningCount int        `json:"warning_count"`
			Plans        []planJSON `json:"plans"`
			Diagnostics  []jsonDiag `json:"diagnostics"`
		}{Valid: valid, Plans: []planJSON{}, Diagnostics: toJSONDiags(parser.Files(), all)}
		for _, d := range all {
			if d.Severity == hcl.DiagError {
				out.ErrorCount++
			} else {
				out.WarningCount++
			}
		}
		for _, c := range checked {
			pj := planJSON{Path: c.Source.Name, Valid: !c.Diags.HasErrors()}
			if c.Plan != nil && c.Plan.Test != nil {
				pj.Test = c.Plan.Test.Name
			}
			out.Plans = append(out.Plans, pj)
		}
		writeJSON(env.stdout, out)
	} else {
		colored := useColor(env, env.stderr, noColor)
		writeDiags(env.stderr, parser.Files(), all, colored)
		green := colorer(useColor(env, env.stdout, noColor), color.FgGreen, color.Bold)
		for _, c := range checked {
			if c.Diags.HasErrors() {
				continue
			}
			name := ""
			if c.Plan.Test != nil {
				name = fmt.Sprintf(" (test %q)", c.Plan.Test.Name)
			}
			fmt.Fprintf(env.stdout, "%s %s%s is valid.\n", green("✓"), c.Source.Name, name)
		}
		if errs := countErrors(all); errs > 0 {
			red := colorer(colored, color.FgRed, color.Bold)
			fmt.Fprintf(env.stderr, "%s\n", red(fmt.Sprintf("%d error%s found.", errs, plural(errs))))
		}
	}
	if valid {
		return exitOK
	}
	return exitInvalid
}

// sortDiags orders diagnostics by file and position, so a reader can walk
// through a file top to bottom; diagnostics without a place come first.
func sortDiags(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}

func countErrors(diags hcl.Diagnostics) int {
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	return n
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// environ returns the environment as os.Environ does, through env.getenv's
// source, so tests control it.
func environ(env *cliEnv) []string {
	if env.environ != nil {
		return env.environ()
	}
	return nil
}

// varsHelp ends the help of commands that take variables.
const varsHelp = `

Variables come from, lowest precedence first: each variable's default, the
environment (JPLAN_VAR_name=value, e.g. JPLAN_VAR_nodes='["n1","n2"]'),
-var-file files in order, then -var flags in order.`

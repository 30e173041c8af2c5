package builtins

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// readPlanFile reads a text file named relative to the plan's directory.
// Errors name the path as written and as resolved, since the plan's
// directory is often not the working directory.
func readPlanFile(baseDir, path string) (string, error) {
	full := path
	if !filepath.IsAbs(path) {
		full = filepath.Join(baseDir, path)
	}
	b, err := os.ReadFile(full)
	if err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("no file %q (looked for %s, relative to the plan's directory)", path, full)
		}
		return "", fmt.Errorf("reading %q: %w", path, err)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%q is not UTF-8 text", path)
	}
	return string(b), nil
}

func makeFile(s Scope) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			text, err := readPlanFile(s.BaseDir, args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			return cty.StringVal(text), nil
		},
	})
}

// makeTemplatefile builds templatefile; funcs supplies the functions a
// template may call, looked up at call time so the table can include
// everything but templatefile itself.
func makeTemplatefile(s Scope, funcs func() map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType, AllowUnknown: true, AllowDynamicType: true},
		},
		Type: func(args []cty.Value) (cty.Type, error) {
			ty := args[1].Type()
			if !(ty.IsObjectType() || ty.IsMapType() || ty == cty.DynamicPseudoType) {
				return cty.NilType, function.NewArgErrorf(1, "vars must be an object or a map, like { name = \"n1\" }, not %s", describeType(ty))
			}
			return cty.String, nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := args[0].AsString()
			text, err := readPlanFile(s.BaseDir, path)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			expr, diags := hclsyntax.ParseTemplate([]byte(text), path, hcl.InitialPos)
			if diags.HasErrors() {
				return cty.NilVal, function.NewArgErrorf(0, "template %s", diags.Error())
			}
			vars := args[1]
			if !vars.IsKnown() {
				// The template's variables come from the run; its syntax has
				// been checked, which is all validation can do.
				return cty.UnknownVal(cty.String), nil
			}
			if vars.IsNull() {
				return cty.NilVal, function.NewArgErrorf(1, "vars must not be null; use {} for none")
			}
			variables := make(map[string]cty.Value)
			for it := vars.ElementIterator(); it.Next(); {
				k, v := it.Element()
				name := k.AsString()
				if !hclsyntax.ValidIdentifier(name) {
					return cty.NilVal, function.NewArgErrorf(1, "vars key %q is not a valid name for a template to refer to", name)
				}
				variables[name] = v
			}
			// Report references to missing variables by name; HCL's own
			// error would only say "unknown variable".
			for _, tr := range expr.Variables() {
				name := tr.RootName()
				if _, ok := variables[name]; !ok {
					return cty.NilVal, function.NewArgErrorf(1, "template %s:%d refers to %q, which vars does not define (it defines: %s)",
						path, tr.SourceRange().Start.Line, name, strings.Join(sortedKeys(variables), ", "))
				}
			}
			ctx := &hcl.EvalContext{Variables: variables, Functions: funcs()}
			out, diags := expr.Value(ctx)
			if diags.HasErrors() {
				return cty.NilVal, function.NewArgErrorf(0, "rendering template: %s", diags.Error())
			}
			// A template that is a single ${...} yields that value's own
			// type; templatefile promises a string.
			str, err := convert.Convert(out, cty.String)
			if err != nil {
				return cty.NilVal, fmt.Errorf("template %s renders %s, which is not a string", path, describeType(out.Type()))
			}
			if str.IsNull() {
				return cty.NilVal, fmt.Errorf("template %s renders null", path)
			}
			return str, nil
		},
	})
}

func sortedKeys(m map[string]cty.Value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return []string{"nothing"}
	}
	return keys
}

func fileEntries() []entry {
	return []entry{
		{Doc{
			Name: "file", Category: CategoryFilesystem,
			Signature: "file(path)",
			Description: "Returns the contents of a text file, read when the plan is evaluated. A relative path " +
				"is relative to the plan's directory, not the working directory. Fails, naming the path, when " +
				"the file is missing or is not UTF-8 text.",
			Example: `file("etcd.conf")`,
		}, makeFile},
		{Doc{
			Name: "templatefile", Category: CategoryFilesystem,
			Signature: "templatefile(path, vars)",
			Description: "Reads a file as an HCL template and renders it with the variables in vars: " +
				"${name} interpolates, %{ for ... } and %{ if ... } repeat and choose, and every function " +
				"except templatefile is available. The path is relative to the plan's directory; a " +
				"reference to a variable that vars does not define is an error.",
			Example: `templatefile("peers.tmpl", { peers = ["n1", "n2", "n3"] })`,
		}, func(s Scope) function.Function {
			return makeTemplatefile(s, func() map[string]function.Function {
				fns := Functions(s)
				delete(fns, "templatefile")
				return fns
			})
		}},
	}
}

package lang

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// Args are the arguments of a block whose accepted arguments depend on its
// kind (a client's protocol, a fault's type, a checker's kind). They are
// validated against the kind's schema at decode time and interpreted by the
// package that owns the kind.
type Args map[string]*hcl.Attribute

// Expr returns the expression of an argument, or nil when absent.
func (a Args) Expr(name string) hcl.Expression {
	if at, ok := a[name]; ok {
		return at.Expr
	}
	return nil
}

// Names returns the given argument names, sorted.
func (a Args) Names() []string {
	out := make([]string, 0, len(a))
	for n := range a {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// kindSchemas looks up a kind's schema, reporting an unknown kind with the
// list of known ones.
func kindSchemas(what string, kinds map[string]Schema, kind string, rng hcl.Range) (Schema, *hcl.Diagnostic) {
	s, ok := kinds[kind]
	if ok {
		return s, nil
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	return Schema{}, errorDiag("Unknown "+what,
		fmt.Sprintf("There is no %s %q. Known: %s.", what, kind, oneOf(names)), rng)
}

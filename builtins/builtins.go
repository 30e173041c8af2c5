// Package builtins holds the functions a jplan plan may call: a
// Terraform-like selection of the go-cty standard library, jplan's own
// helpers (files, templates, base64, durations, per-operation random values)
// and the generator combinators (mix, stagger, time_limit, ...) that build
// generator values, which the runner later interprets.
//
// The package knows nothing about SSH, nodes or the store: every function is a
// pure function of its arguments and of the Scope it was created with.
package builtins

import (
	"math/rand/v2"
	"sort"

	"github.com/zclconf/go-cty/cty/function"
)

// Scope is what the functions may depend on besides their arguments. A plan
// is evaluated in several contexts (top level, per node, per operation) and
// each gets its own function table built from its own Scope.
type Scope struct {
	// BaseDir is the plan's directory: relative paths given to file() and
	// templatefile() are resolved against it.
	BaseDir string

	// Rand is the source of the random_* functions. It is non-nil only where
	// a value is generated for each operation (an operation's value or
	// request); elsewhere the random functions fail, because a random value
	// at the top level of a plan would silently be drawn once and shared.
	// Calls draw from Rand in evaluation order, so the same seed and the
	// same sequence of evaluations give the same values.
	Rand *rand.Rand

	// Validate is set during static validation (jplan validate): functions
	// whose result is only known at run time (the random_* functions)
	// check their arguments and return unknown values of the right type.
	Validate bool

	// NoRandom marks a scope where random values are never allowed (the
	// top level of a plan, a node's scope), so that the random functions
	// fail even during validation instead of returning unknowns: jplan
	// validate then catches random_int() outside an operation.
	NoRandom bool
}

// Doc describes one function for the reference documentation.
type Doc struct {
	Name        string // the name a plan calls it by
	Category    string // one of Categories
	Signature   string // e.g. "random_int(min, max)"
	Description string // what it does, in jplan's words
	Example     string // a valid HCL expression using it
}

// Categories lists the Doc categories in the order the reference presents
// them.
var Categories = []string{
	CategoryGenerator,
	CategoryRandom,
	CategoryDuration,
	CategoryString,
	CategoryNumeric,
	CategoryCollection,
	CategoryConversion,
	CategoryEncoding,
	CategoryFilesystem,
}

// The categories a Doc may belong to.
const (
	CategoryGenerator  = "Generators"
	CategoryRandom     = "Random values"
	CategoryDuration   = "Durations"
	CategoryString     = "Strings"
	CategoryNumeric    = "Numbers"
	CategoryCollection = "Collections"
	CategoryConversion = "Type conversion"
	CategoryEncoding   = "Encoding"
	CategoryFilesystem = "Files and templates"
)

// entry binds a function's documentation to its constructor. Constructors
// take the Scope because some functions (files, random values) depend on it.
type entry struct {
	doc  Doc
	make func(s Scope) function.Function
}

// static wraps a function that does not depend on the Scope.
func static(f function.Function) func(Scope) function.Function {
	return func(Scope) function.Function { return f }
}

// registry returns every function jplan offers, with its documentation. It
// is rebuilt on each call so no caller can mutate another's table.
func registry() []entry {
	var all []entry
	all = append(all, generatorEntries()...)
	all = append(all, randomEntries()...)
	all = append(all, txnEntries()...)
	all = append(all, durationEntries()...)
	all = append(all, stdlibEntries()...)
	all = append(all, encodingEntries()...)
	all = append(all, fileEntries()...)
	return all
}

// Functions returns the function table for an hcl.EvalContext evaluated in
// scope s.
func Functions(s Scope) map[string]function.Function {
	m := make(map[string]function.Function)
	for _, e := range registry() {
		m[e.doc.Name] = e.make(s)
	}
	return m
}

// Docs returns the documentation of every function in Functions, sorted by
// category (in the order of Categories) and then by name.
func Docs() []Doc {
	order := make(map[string]int, len(Categories))
	for i, c := range Categories {
		order[c] = i
	}
	var docs []Doc
	for _, e := range registry() {
		docs = append(docs, e.doc)
	}
	sort.SliceStable(docs, func(i, j int) bool {
		ci, cj := order[docs[i].Category], order[docs[j].Category]
		if ci != cj {
			return ci < cj
		}
		return docs[i].Name < docs[j].Name
	})
	return docs
}

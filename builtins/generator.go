package builtins

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Generator is the specification of a Jepsen-style generator: a tree whose
// leaves are operations and fault actions and whose inner nodes are
// combinators. It is built by the combinator functions during evaluation and
// compiled into a running generator by the runner; this package gives it no
// run-time behaviour.
//
// Generator values inside cty capsules are shared and must be treated as
// immutable; ToGenerator returns a private deep copy that callers may
// annotate (for example with Range).
type Generator struct {
	// Kind is one of the Kind* constants.
	Kind string
	// Duration is the time argument of stagger, delay, time_limit and sleep.
	Duration time.Duration
	// Count is the count of limit, and of repeat and cycle (0 = forever).
	Count int
	// Message is log's message.
	Message string
	// Name is the operation name of an operation leaf, or the fault name of a
	// fault leaf.
	Name string
	// Action is a fault leaf's action, usually "start" or "stop".
	Action string
	// Children are the wrapped generators, in argument order. For reserve the
	// last child is the default generator.
	Children []*Generator
	// Counts is reserve's thread counts: Counts[i] threads run Children[i];
	// the remaining threads run the last child.
	Counts []int
	// Range is where the generator was written, when known (zero otherwise).
	// Functions do not see their call site, so only eval can fill it in.
	Range hcl.Range
}

// Generator kinds. Leaves are KindOperation and KindFault (and KindSleep and
// KindLog, which take no generator); KindSeq is a list of generators run one
// after the other, like a Clojure vector in Jepsen.
const (
	KindOperation   = "operation"
	KindFault       = "fault"
	KindSeq         = "seq"
	KindMix         = "mix"
	KindStagger     = "stagger"
	KindDelay       = "delay"
	KindTimeLimit   = "time_limit"
	KindLimit       = "limit"
	KindOnce        = "once"
	KindRepeat      = "repeat"
	KindCycle       = "cycle"
	KindPhases      = "phases"
	KindSleep       = "sleep"
	KindLog         = "log"
	KindAny         = "any"
	KindEachThread  = "each_thread"
	KindReserve     = "reserve"
	KindUntilOK     = "until_ok"
	KindFlipFlop    = "flip_flop"
	KindClients     = "clients"
	KindNemesis     = "nemesis"
	KindSynchronize = "synchronize"
)

// GeneratorType is the cty capsule type of generator values. Two generator
// values are equal when their trees are equal (ranges aside).
var GeneratorType = cty.CapsuleWithOps("generator", reflect.TypeOf(Generator{}), &cty.CapsuleOps{
	GoString: func(v any) string {
		return "builtins.Generator(" + v.(*Generator).String() + ")"
	},
	TypeGoString: func(reflect.Type) string { return "builtins.GeneratorType" },
	Equals: func(a, b any) cty.Value {
		return cty.BoolVal(a.(*Generator).Equal(b.(*Generator)))
	},
	RawEquals: func(a, b any) bool {
		return a.(*Generator).Equal(b.(*Generator))
	},
})

// genVal wraps g in a capsule.
func genVal(g *Generator) cty.Value {
	return cty.CapsuleVal(GeneratorType, g)
}

// OperationGenerator returns the leaf generator for the plan's operation
// name: eval binds it to operation.<name>.
func OperationGenerator(name string) cty.Value {
	return genVal(&Generator{Kind: KindOperation, Name: name})
}

// FaultGenerator returns the leaf generator for an action ("start", "stop")
// of the fault named fault: eval binds it to fault.<name>.<action>.
func FaultGenerator(fault, action string) cty.Value {
	return genVal(&Generator{Kind: KindFault, Name: fault, Action: action})
}

// ToGenerator converts a plan value to a generator: a generator value, or a
// list or tuple of generator-likes, which becomes a sequence (KindSeq) run in
// order. Nested lists are flattened into the enclosing sequence. The result
// is a fresh tree the caller owns. Unknown values are errors: check
// IsWhollyKnown first where unknowns are expected (static validation).
func ToGenerator(v cty.Value) (*Generator, error) {
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("the generator is not known until the test runs")
	}
	g, _, err := toGen(v)
	if err != nil {
		return nil, fmt.Errorf("%s", describeGenError(err, ""))
	}
	return g.Clone(), nil
}

// toGen is ToGenerator without the copy, tolerating unknowns: unknown
// reports whether some part of v was unknown (the tree is then incomplete
// but everything known has been checked). Errors describe v as "it"-less
// phrases ("is a string, not a generator") so callers can prefix what v is.
func toGen(v cty.Value) (g *Generator, unknown bool, err error) {
	v, _ = v.UnmarkDeep()
	ty := v.Type()
	switch {
	case ty.Equals(GeneratorType):
		if !v.IsKnown() {
			return nil, true, nil
		}
		if v.IsNull() {
			return nil, false, gerr("is null, not a generator")
		}
		return v.EncapsulatedValue().(*Generator), false, nil
	case ty == cty.DynamicPseudoType:
		// An unknown of unknown type: anything may turn up at run time.
		if v.IsNull() {
			return nil, false, gerr("is null, not a generator")
		}
		return nil, true, nil
	case ty.IsTupleType() || ty.IsListType():
		if v.IsNull() {
			return nil, false, gerr("is null, not a generator")
		}
		if !v.IsKnown() {
			if ty.IsListType() && !elemMayBeGenerator(ty.ElementType()) {
				return nil, false, gerr("is %s, not a list of generators", describeType(ty))
			}
			return nil, true, nil
		}
		seq := &Generator{Kind: KindSeq}
		for i, elem := range v.AsValueSlice() {
			child, unk, err := toGen(elem)
			if err != nil {
				return nil, false, withinElement(err, i+1)
			}
			unknown = unknown || unk
			if child == nil {
				continue
			}
			if child.Kind == KindSeq {
				// [a, [b, c]] runs a, b, c in order either way; one flat
				// sequence is simpler for the runner and for reading.
				seq.Children = append(seq.Children, child.Children...)
				continue
			}
			seq.Children = append(seq.Children, child)
		}
		return seq, unknown, nil
	case ty == cty.String:
		if v.IsKnown() && !v.IsNull() {
			return nil, false, gerr("is a string, not a generator %s", stringHint(v.AsString()))
		}
		return nil, false, gerr("is a string, not a generator")
	case ty.IsSetType():
		return nil, false, gerr("is a set, whose elements have no order; write a list [ ... ] to run generators in sequence")
	default:
		return nil, false, gerr("is %s, not a generator", describeType(ty))
	}
}

// gerr makes a toGen error; the subject is supplied when it is reported.
func gerr(format string, a ...any) error {
	return &genError{msg: fmt.Sprintf(format, a...)}
}

// elemMayBeGenerator reports whether a list with elements of type ty could
// hold generators.
func elemMayBeGenerator(ty cty.Type) bool {
	return ty == cty.DynamicPseudoType || ty.Equals(GeneratorType) || ty.IsListType() || ty.IsTupleType()
}

// stringHint suggests what the author probably meant by a string where a
// generator belongs: most often an operation's name.
func stringHint(s string) string {
	if hclsyntax.ValidIdentifier(s) {
		return fmt.Sprintf("(did you mean operation.%s?)", s)
	}
	if name, action, ok := strings.Cut(s, "."); ok && hclsyntax.ValidIdentifier(name) && hclsyntax.ValidIdentifier(action) {
		return fmt.Sprintf("(did you mean fault.%s.%s?)", name, action)
	}
	return "(write operation.<name> or fault.<name>.start, without quotes)"
}

// describeType names a type with an article, for error messages.
func describeType(ty cty.Type) string {
	name := ty.FriendlyName()
	switch {
	case ty.IsObjectType():
		name = "object"
	case ty.IsTupleType():
		name = "tuple"
	}
	if strings.IndexByte("aeiou", name[0]) >= 0 {
		return "an " + name
	}
	return "a " + name
}

// Clone returns a deep copy of g.
func (g *Generator) Clone() *Generator {
	if g == nil {
		return nil
	}
	c := *g
	c.Counts = slices.Clone(g.Counts)
	c.Children = make([]*Generator, len(g.Children))
	for i, child := range g.Children {
		c.Children[i] = child.Clone()
	}
	if g.Children == nil {
		c.Children = nil
	}
	return &c
}

// Equal reports whether g and o describe the same generator. Ranges are
// ignored: the same expression written twice is the same generator.
func (g *Generator) Equal(o *Generator) bool {
	if g == nil || o == nil {
		return g == o
	}
	if g.Kind != o.Kind || g.Duration != o.Duration || g.Count != o.Count ||
		g.Message != o.Message || g.Name != o.Name || g.Action != o.Action ||
		!slices.Equal(g.Counts, o.Counts) || len(g.Children) != len(o.Children) {
		return false
	}
	for i := range g.Children {
		if !g.Children[i].Equal(o.Children[i]) {
			return false
		}
	}
	return true
}

// Walk calls fn for g and then, if fn returned true, for each of its
// descendants, depth first in argument order.
func (g *Generator) Walk(fn func(*Generator) bool) {
	if g == nil || !fn(g) {
		return
	}
	for _, c := range g.Children {
		c.Walk(fn)
	}
}

// String renders g as the plan expression that builds it, e.g.
// time_limit("1m0s", stagger("20ms", mix([operation.read, operation.write]))).
func (g *Generator) String() string {
	var b strings.Builder
	g.write(&b)
	return b.String()
}

func (g *Generator) write(b *strings.Builder) {
	if g == nil {
		b.WriteString("null")
		return
	}
	children := func() {
		for i, c := range g.Children {
			if i > 0 {
				b.WriteString(", ")
			}
			c.write(b)
		}
	}
	switch g.Kind {
	case KindOperation:
		b.WriteString("operation." + g.Name)
	case KindFault:
		b.WriteString("fault." + g.Name + "." + g.Action)
	case KindSeq:
		b.WriteString("[")
		children()
		b.WriteString("]")
	case KindMix:
		b.WriteString("mix([")
		children()
		b.WriteString("])")
	case KindStagger, KindDelay, KindTimeLimit:
		fmt.Fprintf(b, "%s(%q, ", g.Kind, g.Duration.String())
		children()
		b.WriteString(")")
	case KindSleep:
		fmt.Fprintf(b, "sleep(%q)", g.Duration.String())
	case KindLog:
		fmt.Fprintf(b, "log(%s)", hclQuote(g.Message))
	case KindLimit:
		fmt.Fprintf(b, "limit(%d, ", g.Count)
		children()
		b.WriteString(")")
	case KindRepeat, KindCycle:
		b.WriteString(g.Kind + "(")
		if g.Count > 0 {
			fmt.Fprintf(b, "%d, ", g.Count)
		}
		children()
		b.WriteString(")")
	case KindReserve:
		b.WriteString("reserve(")
		for i, c := range g.Children {
			if i > 0 {
				b.WriteString(", ")
			}
			if i < len(g.Counts) {
				fmt.Fprintf(b, "%d, ", g.Counts[i])
			}
			c.write(b)
		}
		b.WriteString(")")
	default:
		b.WriteString(g.Kind + "(")
		children()
		b.WriteString(")")
	}
}

// hclQuote quotes s as an HCL string literal: Go's escapes, plus escaping
// the template introducers HCL would otherwise interpret.
func hclQuote(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}

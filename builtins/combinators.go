package builtins

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// genError is a toGen failure at a position inside nested lists, so the
// message can say where ("element 3 of element 1 of gen").
type genError struct {
	path []int // 1-based element indexes, outermost first
	msg  string
}

func (e *genError) Error() string { return e.describe("the value") }

// describe renders the error for a value called label ("" for a list whose
// elements are the subject, as in mix's argument).
func (e *genError) describe(label string) string {
	var parts []string
	for i := len(e.path) - 1; i >= 0; i-- {
		parts = append(parts, fmt.Sprintf("element %d", e.path[i]))
	}
	if label != "" {
		parts = append(parts, label)
	}
	if len(parts) == 0 {
		parts = []string{"the value"}
	}
	return strings.Join(parts, " of ") + " " + e.msg
}

func (e *genError) within(i int) *genError {
	return &genError{path: append([]int{i}, e.path...), msg: e.msg}
}

// call accumulates the parsing of one combinator call: the first error, and
// whether any argument was unknown. Parsing continues after an unknown so
// that the known arguments are still checked during validation.
type call struct {
	fn      string
	args    []cty.Value
	unknown bool
	err     error
}

func (c *call) fail(i int, format string, a ...any) {
	if c.err == nil {
		c.err = function.NewArgErrorf(i, "%s: %s", c.fn, fmt.Sprintf(format, a...))
	}
}

func (c *call) arg(i int) cty.Value {
	v, _ := c.args[i].UnmarkDeep()
	return v
}

// gen reads argument i, called label in messages, as a generator; a list
// becomes a sequence.
func (c *call) gen(i int, label string) *Generator {
	g, unknown, err := toGen(c.arg(i))
	if err != nil {
		c.fail(i, "%s", describeGenError(err, label))
		return nil
	}
	c.unknown = c.unknown || unknown
	return g
}

func describeGenError(err error, label string) string {
	if ge, ok := err.(*genError); ok {
		return ge.describe(label)
	}
	return label + " " + err.Error()
}

// gens reads argument i as a list of separate generators (mix's argument):
// unlike gen, the elements stay apart rather than forming a sequence.
func (c *call) gens(i int, example string) []*Generator {
	v := c.arg(i)
	ty := v.Type()
	switch {
	case ty == cty.DynamicPseudoType:
		c.unknown = true
		return nil
	case ty.IsTupleType() || ty.IsListType():
	case ty.Equals(GeneratorType):
		c.fail(i, "takes a list of generators, like %s, not a single generator", example)
		return nil
	default:
		c.fail(i, "takes a list of generators, like %s, not %s", example, describeType(ty))
		return nil
	}
	if v.IsNull() {
		c.fail(i, "the list of generators must not be null")
		return nil
	}
	if !v.IsKnown() {
		c.unknown = true
		return nil
	}
	elems := v.AsValueSlice()
	if len(elems) == 0 {
		c.fail(i, "the list of generators is empty; give at least one, like %s", example)
		return nil
	}
	var out []*Generator
	for j, e := range elems {
		g, unknown, err := toGen(e)
		if err != nil {
			c.fail(i, "%s", describeGenError(withinElement(err, j+1), ""))
			return nil
		}
		c.unknown = c.unknown || unknown
		out = append(out, g)
	}
	return out
}

func withinElement(err error, i int) error {
	if ge, ok := err.(*genError); ok {
		return ge.within(i)
	}
	return err
}

// dur reads argument i as a duration. Zero is allowed only where it means
// something (sleep("0s") is a no-op, but time_limit("0s") runs nothing).
func (c *call) dur(i int, label string, allowZero bool) time.Duration {
	v := c.arg(i)
	if !v.IsKnown() {
		if err := checkDurationType(v.Type()); err != nil {
			c.fail(i, "%s: %s", label, err)
		}
		c.unknown = true
		return 0
	}
	d, err := ParseDuration(v)
	if err != nil {
		c.fail(i, "%s: %s", label, err)
		return 0
	}
	if d == 0 && !allowZero {
		c.fail(i, "%s must be longer than zero", label)
	}
	return d
}

// count reads argument i as a positive whole number.
func (c *call) count(i int, label string) int {
	v := c.arg(i)
	ty := v.Type()
	if ty != cty.Number && ty != cty.DynamicPseudoType {
		c.fail(i, "%s must be a whole number, not %s", label, describeType(ty))
		return 0
	}
	if !v.IsKnown() {
		c.unknown = true
		return 0
	}
	if v.IsNull() {
		c.fail(i, "%s must be a whole number, not null", label)
		return 0
	}
	f := v.AsBigFloat()
	if !f.IsInt() {
		c.fail(i, "%s must be a whole number, not %s", label, f.Text('g', -1))
		return 0
	}
	n, _ := f.Int64()
	if f.Sign() <= 0 {
		c.fail(i, "%s must be at least 1, not %s", label, f.Text('g', -1))
		return 0
	}
	if n > math.MaxInt32 {
		c.fail(i, "%s is too large: %s", label, f.Text('g', -1))
		return 0
	}
	return int(n)
}

// str reads argument i as a string; numbers and bools convert.
func (c *call) str(i int, label string) string {
	v := c.arg(i)
	if v.IsNull() {
		c.fail(i, "%s must be a string, not null", label)
		return ""
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		c.fail(i, "%s must be a string, not %s", label, describeType(v.Type()))
		return ""
	}
	if !s.IsKnown() {
		c.unknown = true
		return ""
	}
	return s.AsString()
}

// tooMany reports extra arguments of an optional-argument form.
func (c *call) tooMany(maxArgs int, usage string) bool {
	if len(c.args) > maxArgs {
		c.fail(maxArgs, "takes at most %d arguments: %s", maxArgs, usage)
		return true
	}
	return false
}

// combinator builds a generator function: nParams named parameters, plus
// a variadic one when variadic is non-empty. build parses the arguments
// through c and returns the generator; errors and unknowns recorded in c win
// over its result.
func combinator(name string, params []string, variadic string, build func(c *call) *Generator) function.Function {
	param := func(n string) function.Parameter {
		// Everything is accepted at the cty level and checked by build, so
		// errors can be specific ("element 2 is a string") and unknowns
		// never stop the known arguments from being checked.
		return function.Parameter{Name: n, Type: cty.DynamicPseudoType, AllowUnknown: true, AllowDynamicType: true, AllowNull: true}
	}
	spec := &function.Spec{Type: func(args []cty.Value) (cty.Type, error) {
		c := &call{fn: name, args: args}
		build(c)
		if c.err != nil {
			return cty.NilType, c.err
		}
		return GeneratorType, nil
	}}
	for _, p := range params {
		spec.Params = append(spec.Params, param(p))
	}
	if variadic != "" {
		p := param(variadic)
		spec.VarParam = &p
	}
	spec.Impl = func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		c := &call{fn: name, args: args}
		g := build(c)
		switch {
		case c.err != nil:
			return cty.NilVal, c.err
		case c.unknown:
			return cty.UnknownVal(GeneratorType), nil
		}
		return genVal(g), nil
	}
	return function.New(spec)
}

// wrap1 is the common shape name(gen).
func wrap1(kind string) function.Function {
	return combinator(kind, []string{"gen"}, "", func(c *call) *Generator {
		return &Generator{Kind: kind, Children: []*Generator{c.gen(0, "gen")}}
	})
}

// timed is the shape name(duration, gen).
func timed(kind string) function.Function {
	return combinator(kind, []string{"duration", "gen"}, "", func(c *call) *Generator {
		d := c.dur(0, "duration", false)
		return &Generator{Kind: kind, Duration: d, Children: []*Generator{c.gen(1, "gen")}}
	})
}

// counted is the shape name(gen) | name(count, gen), count 0 meaning
// forever.
func counted(kind string) function.Function {
	return combinator(kind, []string{"count_or_gen"}, "gen", func(c *call) *Generator {
		usage := fmt.Sprintf("%s(gen) or %s(count, gen)", kind, kind)
		if c.tooMany(2, usage) {
			return nil
		}
		if len(c.args) == 1 {
			return &Generator{Kind: kind, Children: []*Generator{c.gen(0, "gen")}}
		}
		n := c.count(0, "count")
		return &Generator{Kind: kind, Count: n, Children: []*Generator{c.gen(1, "gen")}}
	})
}

// several is the shape name(gen, ...).
func several(kind string) function.Function {
	return combinator(kind, []string{"gen"}, "gen", func(c *call) *Generator {
		g := &Generator{Kind: kind}
		for i := range c.args {
			g.Children = append(g.Children, c.gen(i, fmt.Sprintf("argument %d", i+1)))
		}
		return g
	})
}

var reserveFunc = combinator(KindReserve, []string{"count"}, "gen", func(c *call) *Generator {
	const usage = "reserve(count1, gen1, count2, gen2, ..., default_gen), like reserve(5, operation.write, operation.read)"
	if len(c.args) < 3 || len(c.args)%2 == 0 {
		c.fail(len(c.args)-1, "takes pairs of a thread count and a generator, then a generator for the remaining threads: %s; got %d arguments", usage, len(c.args))
		return nil
	}
	g := &Generator{Kind: KindReserve}
	last := len(c.args) - 1
	for i := 0; i < last; i += 2 {
		g.Counts = append(g.Counts, c.count(i, fmt.Sprintf("argument %d (a thread count)", i+1)))
		g.Children = append(g.Children, c.gen(i+1, fmt.Sprintf("argument %d", i+2)))
	}
	g.Children = append(g.Children, c.gen(last, fmt.Sprintf("argument %d (the default generator)", last+1)))
	return g
})

// logFunc is two functions sharing a name: Jepsen's log(message) generator
// and Terraform's log(num, base). The arity tells them apart, so plans
// written with either background read as expected.
var logFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "message_or_num", Type: cty.DynamicPseudoType, AllowUnknown: true, AllowDynamicType: true, AllowNull: true}},
	VarParam: &function.Parameter{
		Name: "base", Type: cty.DynamicPseudoType, AllowUnknown: true, AllowDynamicType: true, AllowNull: true,
	},
	Type: func(args []cty.Value) (cty.Type, error) {
		switch len(args) {
		case 1:
			return logGenFunc.ReturnTypeForValues(args)
		case 2:
			return stdlib.LogFunc.ReturnTypeForValues(args)
		}
		return cty.NilType, function.NewArgErrorf(2, "log takes 1 argument, log(message), or 2, log(num, base)")
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) == 1 {
			return logGenFunc.Call(args)
		}
		return stdlib.LogFunc.Call(args)
	},
})

var logGenFunc = combinator(KindLog, []string{"message"}, "", func(c *call) *Generator {
	return &Generator{Kind: KindLog, Message: c.str(0, "message")}
})

func generatorEntries() []entry {
	g := func(name, sig, desc, example string, fn function.Function) entry {
		return entry{Doc{Name: name, Category: CategoryGenerator, Signature: sig, Description: desc, Example: example}, static(fn)}
	}
	return []entry{
		g("mix", "mix(gens)",
			"Draws each operation from one of the given generators chosen uniformly at random, skipping those that are exhausted, until all are. "+
				"The usual way to interleave operation kinds.",
			`mix([operation.read, operation.write, operation.cas])`,
			combinator(KindMix, []string{"gens"}, "", func(c *call) *Generator {
				return &Generator{Kind: KindMix, Children: c.gens(0, "mix([operation.read, operation.write])")}
			})),
		g("stagger", "stagger(duration, gen)",
			"Spaces out the operations of gen by random pauses drawn uniformly between zero and twice duration, so they average one per duration. "+
				"The rate is for all threads together, not per thread: stagger(\"20ms\", ...) aims at about 50 operations a second in total.",
			`stagger("20ms", mix([operation.read, operation.write]))`,
			timed(KindStagger)),
		g("delay", "delay(duration, gen)",
			"Emits the operations of gen at a steady pace, one every duration across all threads; when it falls behind it catches up by emitting sooner.",
			`delay("100ms", operation.read)`,
			timed(KindDelay)),
		g("time_limit", "time_limit(duration, gen)",
			"Passes on the operations of gen for at most duration, counted from the first operation it emits (not from when the plan was evaluated), then stops. Operations already in flight complete.",
			`time_limit("60s", stagger("20ms", mix([operation.read, operation.write])))`,
			timed(KindTimeLimit)),
		g("limit", "limit(count, gen)",
			"Passes on at most count operations of gen, then stops.",
			`limit(100, operation.write)`,
			combinator(KindLimit, []string{"count", "gen"}, "", func(c *call) *Generator {
				n := c.count(0, "count")
				return &Generator{Kind: KindLimit, Count: n, Children: []*Generator{c.gen(1, "gen")}}
			})),
		g("once", "once(gen)",
			"Passes on only the first operation of gen. Combine with each_thread to give every thread one operation.",
			`once(operation.read)`,
			wrap1(KindOnce)),
		g("repeat", "repeat(gen) | repeat(count, gen)",
			"Emits the first operation of gen again and again, forever or count times; each repetition evaluates the operation afresh, "+
				"so its value (random_int, ...) is drawn anew. The opposite of once: gen's state never advances, so repeat of a sequence repeats only its first element (use cycle to rerun a whole sequence).",
			`repeat(3, operation.read)`,
			counted(KindRepeat)),
		g("cycle", "cycle(gen) | cycle(count, gen)",
			"Runs gen to completion, then restarts it from the beginning, forever or until it has completed count times. "+
				"The way to write a fault schedule that repeats for the length of a phase.",
			`cycle([sleep("5s"), fault.partition.start, sleep("5s"), fault.partition.stop])`,
			counted(KindCycle)),
		g("phases", "phases(gen, ...)",
			"Runs each generator to completion in turn, and before starting the next waits until every thread has finished its operations from the previous one "+
				"(as synchronize does), so phases never overlap.",
			`phases(time_limit("30s", operation.write), each_thread(once(operation.read)))`,
			several(KindPhases)),
		g("sleep", "sleep(duration)",
			"A single pause: the thread that takes it does nothing for duration. Zero is allowed and does nothing. In a nemesis schedule it spaces out faults.",
			`sleep("5s")`,
			combinator(KindSleep, []string{"duration"}, "", func(c *call) *Generator {
				return &Generator{Kind: KindSleep, Duration: c.dur(0, "duration", true)}
			})),
		{Doc{
			Name: "log", Category: CategoryGenerator, Signature: "log(message)",
			Description: "Writes message to the test's log when it is reached, then finishes; emits no operation. Marks where a schedule stands in the log. " +
				"(With two arguments, log(num, base) is the logarithm; see Numbers.)",
			Example: `log("healing the network")`,
		}, static(logFunc)},
		g("any", "any(gen, ...)",
			"Runs the generators side by side: each time a thread is free, it takes whichever generator's next operation is due soonest. Finishes when all are exhausted.",
			`any(clients(operation.read), nemesis(fault.partition.start))`,
			several(KindAny)),
		g("each_thread", "each_thread(gen)",
			"Gives every thread its own copy of gen, so each runs the whole of it independently: each_thread(once(operation.read)) makes every thread read once.",
			`each_thread(once(operation.read))`,
			wrap1(KindEachThread)),
		g("reserve", "reserve(count, gen, ..., default_gen)",
			"Divides the client threads: the first count threads run the first gen, the next count threads the second, and so on; the remaining threads run default_gen. "+
				"Each generator sees only its own threads, which keeps, say, reads flowing while writers block.",
			`reserve(2, operation.write, 1, operation.cas, operation.read)`,
			reserveFunc),
		g("until_ok", "until_ok(gen)",
			"Passes on operations of gen until one of them completes ok, then stops: for example, retry a read until it succeeds.",
			`until_ok(repeat(operation.read))`,
			wrap1(KindUntilOK)),
		g("flip_flop", "flip_flop(a, b)",
			"Alternates between two generators, one operation from a, then one from b, then a again, and stops as soon as either is exhausted.",
			`flip_flop(fault.partition.start, fault.partition.stop)`,
			combinator(KindFlipFlop, []string{"a", "b"}, "", func(c *call) *Generator {
				return &Generator{Kind: KindFlipFlop, Children: []*Generator{c.gen(0, "a"), c.gen(1, "b")}}
			})),
		g("clients", "clients(gen)",
			"Restricts gen to the client threads: the nemesis never takes its operations. A phase's clients attribute is wrapped this way.",
			`clients(stagger("10ms", operation.read))`,
			wrap1(KindClients)),
		g("nemesis", "nemesis(gen)",
			"Restricts gen to the nemesis thread, which performs fault actions. A phase's nemesis attribute is wrapped this way.",
			`nemesis(cycle([sleep("10s"), fault.crash.start, sleep("10s"), fault.crash.stop]))`,
			wrap1(KindNemesis)),
		g("synchronize", "synchronize(gen)",
			"Waits until every thread is free (all operations in flight have completed) before gen starts.",
			`synchronize(each_thread(once(operation.read)))`,
			wrap1(KindSynchronize)),
	}
}

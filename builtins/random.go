package builtins

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/gocty"
)

// maxRandomString bounds random_string so a typo cannot allocate gigabytes.
const maxRandomString = 1 << 20

const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomSpec describes a random_* function; randomFunc adds the Scope
// handling that is common to all of them.
type randomSpec struct {
	name   string
	params []function.Parameter
	// typ computes the result type; nil means a fixed ret.
	typ func(args []cty.Value) (cty.Type, error)
	ret cty.Type
	// check validates known arguments; it runs in every mode so that static
	// validation catches random_int(5, 1).
	check func(args []cty.Value) error
	// draw produces the value from r, after check passed.
	draw func(r *rand.Rand, args []cty.Value, ret cty.Type) (cty.Value, error)
}

func randomFunc(s Scope, spec randomSpec) function.Function {
	typ := spec.typ
	if typ == nil {
		typ = function.StaticReturnType(spec.ret)
	}
	return function.New(&function.Spec{
		Params: spec.params,
		Type:   typ,
		Impl: func(args []cty.Value, ret cty.Type) (cty.Value, error) {
			if spec.check != nil {
				if err := spec.check(args); err != nil {
					return cty.NilVal, err
				}
			}
			if s.NoRandom || (s.Rand == nil && !s.Validate) {
				return cty.NilVal, fmt.Errorf("%s can only be called where a value is generated for each operation (an operation's value)", spec.name)
			}
			if s.Validate {
				// The value is drawn per operation at run time; all that can
				// be known now is its type.
				return cty.UnknownVal(ret), nil
			}
			return spec.draw(s.Rand, args, ret)
		},
	})
}

// wholeArg reads argument i as an int64, with an error naming it.
func wholeArg(args []cty.Value, i int, name string) (int64, error) {
	var n int64
	if err := gocty.FromCtyValue(args[i], &n); err != nil {
		return 0, function.NewArgErrorf(i, "%s must be a whole number: %s", name, args[i].AsBigFloat().Text('g', -1))
	}
	return n, nil
}

func finiteArg(args []cty.Value, i int, name string) (float64, error) {
	f, _ := args[i].AsBigFloat().Float64()
	if math.IsInf(f, 0) {
		return 0, function.NewArgErrorf(i, "%s must be finite", name)
	}
	return f, nil
}

// RandomInt is random_int's draw: uniform in [lo, hi], both included
// (lo <= hi). Operation values that are simple enough skip HCL and call it
// directly (eval's fast path), drawing exactly what random_int would.
func RandomInt(r *rand.Rand, lo, hi int64) int64 {
	// Unsigned arithmetic covers the whole int64 range without overflow;
	// hi-lo wraps to the right span.
	span := uint64(hi) - uint64(lo)
	var off uint64
	if span == math.MaxUint64 {
		off = r.Uint64()
	} else {
		off = r.Uint64N(span + 1)
	}
	return int64(uint64(lo) + off)
}

func randomEntries() []entry {
	num := func(name string) function.Parameter { return function.Parameter{Name: name, Type: cty.Number} }
	return []entry{
		{Doc{
			Name: "random_int", Category: CategoryRandom,
			Signature: "random_int(min, max)",
			Description: "Returns a whole number drawn uniformly between min and max, both included. " +
				"Like every random_* function it may only be called where a value is generated for each " +
				"operation (an operation's value), draws from the test's seeded source, " +
				"so the same seed replays the same values, and is unknown during jplan validate.",
			Example: `random_int(0, 4)`,
		}, func(s Scope) function.Function {
			return randomFunc(s, randomSpec{
				name:   "random_int",
				params: []function.Parameter{num("min"), num("max")},
				ret:    cty.Number,
				check: func(args []cty.Value) error {
					lo, err := wholeArg(args, 0, "min")
					if err != nil {
						return err
					}
					hi, err := wholeArg(args, 1, "max")
					if err != nil {
						return err
					}
					if lo > hi {
						return function.NewArgErrorf(1, "max (%d) is less than min (%d)", hi, lo)
					}
					return nil
				},
				draw: func(r *rand.Rand, args []cty.Value, _ cty.Type) (cty.Value, error) {
					lo, _ := wholeArg(args, 0, "min")
					hi, _ := wholeArg(args, 1, "max")
					return cty.NumberIntVal(RandomInt(r, lo, hi)), nil
				},
			})
		}},
		{Doc{
			Name: "random_float", Category: CategoryRandom,
			Signature: "random_float(min, max)",
			Description: "Returns a number drawn uniformly from min (included) to max (excluded); " +
				"returns min when they are equal. Per-operation only, like random_int.",
			Example: `random_float(0.5, 2)`,
		}, func(s Scope) function.Function {
			return randomFunc(s, randomSpec{
				name:   "random_float",
				params: []function.Parameter{num("min"), num("max")},
				ret:    cty.Number,
				check: func(args []cty.Value) error {
					lo, err := finiteArg(args, 0, "min")
					if err != nil {
						return err
					}
					hi, err := finiteArg(args, 1, "max")
					if err != nil {
						return err
					}
					if lo > hi {
						return function.NewArgErrorf(1, "max (%g) is less than min (%g)", hi, lo)
					}
					return nil
				},
				draw: func(r *rand.Rand, args []cty.Value, _ cty.Type) (cty.Value, error) {
					lo, _ := finiteArg(args, 0, "min")
					hi, _ := finiteArg(args, 1, "max")
					// Interpolating rather than lo+u*(hi-lo) avoids
					// overflow when hi-lo exceeds the float range.
					u := r.Float64()
					f := lo*(1-u) + hi*u
					// Rounding can step outside [min, max); clamp so the
					// documented bounds hold.
					if f < lo {
						f = lo
					}
					if hi > lo && f >= hi {
						f = math.Nextafter(hi, lo)
					}
					return cty.NumberFloatVal(f), nil
				},
			})
		}},
		{Doc{
			Name: "random_choice", Category: CategoryRandom,
			Signature: "random_choice(list)",
			Description: "Returns one element of a non-empty list, tuple or set, each equally likely. " +
				"Per-operation only, like random_int.",
			Example: `random_choice(["a", "b", "c"])`,
		}, func(s Scope) function.Function {
			return randomFunc(s, randomSpec{
				name: "random_choice",
				params: []function.Parameter{{
					Name: "list", Type: cty.DynamicPseudoType,
				}},
				typ: func(args []cty.Value) (cty.Type, error) {
					return choiceType(args[0].Type())
				},
				check: func(args []cty.Value) error {
					if args[0].LengthInt() == 0 {
						return function.NewArgErrorf(0, "the list is empty; there is nothing to choose from")
					}
					return nil
				},
				draw: func(r *rand.Rand, args []cty.Value, _ cty.Type) (cty.Value, error) {
					elems := args[0].AsValueSlice()
					return elems[r.IntN(len(elems))], nil
				},
			})
		}},
		{Doc{
			Name: "random_string", Category: CategoryRandom,
			Signature: "random_string(length)",
			Description: "Returns a string of length characters drawn uniformly from A-Z, a-z and 0-9, " +
				"for unique keys and payloads. Per-operation only, like random_int.",
			Example: `random_string(8)`,
		}, func(s Scope) function.Function {
			return randomFunc(s, randomSpec{
				name:   "random_string",
				params: []function.Parameter{num("length")},
				ret:    cty.String,
				check: func(args []cty.Value) error {
					n, err := wholeArg(args, 0, "length")
					if err != nil {
						return err
					}
					if n < 0 || n > maxRandomString {
						return function.NewArgErrorf(0, "length must be between 0 and %d, got %d", maxRandomString, n)
					}
					return nil
				},
				draw: func(r *rand.Rand, args []cty.Value, _ cty.Type) (cty.Value, error) {
					n, _ := wholeArg(args, 0, "length")
					b := make([]byte, n)
					for i := range b {
						b[i] = alphanumeric[r.IntN(len(alphanumeric))]
					}
					return cty.StringVal(string(b)), nil
				},
			})
		}},
		{Doc{
			Name: "random_bool", Category: CategoryRandom,
			Signature:   "random_bool()",
			Description: "Returns true or false with equal probability. Per-operation only, like random_int.",
			Example:     `random_bool() ? "read" : "write"`,
		}, func(s Scope) function.Function {
			return randomFunc(s, randomSpec{
				name: "random_bool",
				ret:  cty.Bool,
				draw: func(r *rand.Rand, _ []cty.Value, _ cty.Type) (cty.Value, error) {
					return cty.BoolVal(r.IntN(2) == 1), nil
				},
			})
		}},
	}
}

// choiceType is the result type of random_choice on a collection of type ty.
func choiceType(ty cty.Type) (cty.Type, error) {
	switch {
	case ty == cty.DynamicPseudoType:
		return cty.DynamicPseudoType, nil
	case ty.IsListType() || ty.IsSetType():
		return ty.ElementType(), nil
	case ty.IsTupleType():
		elems := ty.TupleElementTypes()
		for _, e := range elems[min(1, len(elems)):] {
			if !e.Equals(elems[0]) {
				// Mixed elements: the type depends on which one is drawn.
				return cty.DynamicPseudoType, nil
			}
		}
		if len(elems) == 0 {
			return cty.DynamicPseudoType, nil
		}
		return elems[0], nil
	default:
		return cty.NilType, function.NewArgErrorf(0, "random_choice needs a list, tuple or set, not %s", describeType(ty))
	}
}

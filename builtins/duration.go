package builtins

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// ParseDuration reads a plan duration: a string in Go's time.ParseDuration
// syntax ("20ms", "1m30s") or a number of seconds (fractions allowed).
// Negative durations are errors; use ParseSignedDuration where they make
// sense (a clock bump of "-5s").
func ParseDuration(v cty.Value) (time.Duration, error) {
	d, err := ParseSignedDuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %s is negative", d)
	}
	return d, nil
}

// ParseSignedDuration is ParseDuration allowing negative durations.
func ParseSignedDuration(v cty.Value) (time.Duration, error) {
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() {
		return 0, fmt.Errorf("the duration is not known until the test runs")
	}
	if v.IsNull() {
		return 0, fmt.Errorf("a duration is required, got null")
	}
	switch v.Type() {
	case cty.String:
		s := v.AsString()
		d, err := time.ParseDuration(s)
		if err == nil {
			return d, nil
		}
		if _, nerr := strconv.ParseFloat(strings.TrimSpace(s), 64); nerr == nil {
			return 0, fmt.Errorf("duration %q has no unit: write %q, or the number %s for seconds", s, strings.TrimSpace(s)+"s", strings.TrimSpace(s))
		}
		return 0, fmt.Errorf("invalid duration %q: want a string like \"20ms\" or \"1m30s\", or a number of seconds", s)
	case cty.Number:
		f := v.AsBigFloat()
		if f.IsInf() {
			return 0, fmt.Errorf("duration %s is infinite", f.Text('g', -1))
		}
		ns, _ := new(big.Float).Mul(f, big.NewFloat(1e9)).Float64()
		if math.Abs(ns) >= math.MaxInt64 {
			return 0, fmt.Errorf("duration of %s seconds is too long", f.Text('g', -1))
		}
		return time.Duration(math.Round(ns)), nil
	default:
		return 0, fmt.Errorf("a duration is a string like \"20ms\" or a number of seconds, not %s", describeType(v.Type()))
	}
}

// checkDurationType rejects, before the value is known, types that can
// never be durations.
func checkDurationType(ty cty.Type) error {
	if ty == cty.String || ty == cty.Number || ty == cty.DynamicPseudoType {
		return nil
	}
	return fmt.Errorf("a duration is a string like \"20ms\" or a number of seconds, not %s", describeType(ty))
}

// durationFunc converts a duration into a number of units. Negative
// durations are allowed: it is a plain conversion, and offsets such as clock
// bumps are legitimately negative.
func durationFunc(unit time.Duration) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{
			Name:             "duration",
			Type:             cty.DynamicPseudoType,
			AllowDynamicType: true,
		}},
		Type: func(args []cty.Value) (cty.Type, error) {
			if err := checkDurationType(args[0].Type()); err != nil {
				return cty.NilType, function.NewArgError(0, err)
			}
			return cty.Number, nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			d, err := ParseSignedDuration(args[0])
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			// Divide exactly in decimal so 20ms is 0.02 seconds, not the
			// nearest binary float's long expansion.
			r := new(big.Rat).SetFrac64(int64(d), int64(unit))
			return cty.ParseNumberVal(strings.TrimRight(strings.TrimRight(r.FloatString(9), "0"), "."))
		},
	})
}

func durationEntries() []entry {
	return []entry{
		{Doc{
			Name: "seconds", Category: CategoryDuration,
			Signature: "seconds(duration)",
			Description: "Converts a duration to a number of seconds, keeping fractions. A duration is written " +
				"as a string in Go's syntax (\"300ms\", \"1m30s\", \"2h\") or as a number of seconds; " +
				"negative durations convert to negative numbers.",
			Example: `seconds("1m30s")`,
		}, static(durationFunc(time.Second))},
		{Doc{
			Name: "milliseconds", Category: CategoryDuration,
			Signature: "milliseconds(duration)",
			Description: "Converts a duration to a number of milliseconds, keeping fractions, for systems " +
				"whose settings are in milliseconds. Accepts the same forms as seconds().",
			Example: `milliseconds("1.5s")`,
		}, static(durationFunc(time.Millisecond))},
	}
}

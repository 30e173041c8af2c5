package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"

	"github.com/zclconf/go-cty/cty"
)

// ToCty converts a history value (nil, bool, int64/int, float64, string,
// []any, map[string]any) into a cty value for plan expressions. Lists become
// tuples and maps objects, so elements may differ in type, as in JSON.
func ToCty(v any) cty.Value {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case bool:
		return cty.BoolVal(x)
	case int:
		return cty.NumberIntVal(int64(x))
	case int64:
		return cty.NumberIntVal(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return cty.NullVal(cty.Number)
		}
		return cty.NumberFloatVal(x)
	case string:
		return cty.StringVal(x)
	case json.Number:
		// JSON bodies keep numbers exact (a 64-bit id must not round).
		if n, err := cty.ParseNumberVal(x.String()); err == nil {
			return n
		}
		return cty.StringVal(x.String())
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal
		}
		vals := make([]cty.Value, len(x))
		for i, e := range x {
			vals[i] = ToCty(e)
		}
		return cty.TupleVal(vals)
	case map[string]any:
		if len(x) == 0 {
			return cty.EmptyObjectVal
		}
		vals := make(map[string]cty.Value, len(x))
		for k, e := range x {
			vals[k] = ToCty(e)
		}
		return cty.ObjectVal(vals)
	}
	return cty.StringVal(fmt.Sprint(v))
}

// FromCty converts a cty value into a history value. Whole numbers that fit
// become int64 (checkers compare registers by value), others float64.
func FromCty(v cty.Value) (any, error) {
	if v == cty.NilVal || v.IsNull() {
		return nil, nil
	}
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("value is not known")
	}
	ty := v.Type()
	switch {
	case ty == cty.Bool:
		return v.True(), nil
	case ty == cty.String:
		return v.AsString(), nil
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return i, nil
			}
		}
		f, _ := bf.Float64()
		return f, nil
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			g, err := FromCty(e)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	case ty.IsMapType() || ty.IsObjectType():
		out := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			g, err := FromCty(e)
			if err != nil {
				return nil, err
			}
			out[k.AsString()] = g
		}
		return out, nil
	case ty.IsCapsuleType():
		return nil, fmt.Errorf("a %s cannot be an operation value", ty.FriendlyName())
	}
	return nil, fmt.Errorf("unsupported value type %s", ty.FriendlyName())
}

// sortedKeys is for deterministic iteration in messages.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

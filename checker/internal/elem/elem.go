// Package elem gives history values (queue elements, generated ids) an
// identity usable as a map key and a total order for reporting, shared by
// the workload checkers. Scalars (nil, bool, int64, float64, string) are
// their own identity and compare by type and content (1 ≠ 1.0 ≠ "1");
// lists and maps are identified by their canonical JSON text, so [1 2]
// equals another [1 2] but never the string "[1,2]".
package elem

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jplan/jplan/history"
)

// Key is a comparable identity for a value. The zero Key is nil's.
type Key struct{ v any }

// composite marks the JSON text of a list or map, so that it never
// equals a string value with the same characters.
type composite string

// KeyOf returns v's identity. NaN has none (it equals nothing, not even
// itself), nor do values that are not plain data.
func KeyOf(v any) (Key, error) {
	// Scalars keep v's own box: re-boxing a typed copy would allocate.
	switch x := v.(type) {
	case nil, bool, int64, string:
		return Key{v}, nil
	case float64:
		if math.IsNaN(x) {
			return Key{}, fmt.Errorf("value NaN cannot be compared")
		}
		return Key{v}, nil
	case []any, map[string]any:
		b, err := history.AppendJSONValue(nil, x)
		if err != nil {
			return Key{}, fmt.Errorf("value %v: %w", v, err)
		}
		return Key{composite(b)}, nil
	}
	return Key{}, fmt.Errorf("value %v (%T) is not plain data", v, v)
}

// rank orders kinds: nil, bools, numbers, strings, then lists and maps.
func (k Key) rank() int {
	switch k.v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64, float64:
		return 2
	case string:
		return 3
	}
	return 4
}

// Less orders keys: by kind (nil, bools, numbers, strings, lists and maps),
// numbers by value with an int64 before an equal float64, strings and
// composites by their text.
func Less(a, b Key) bool {
	ra, rb := a.rank(), b.rank()
	if ra != rb {
		return ra < rb
	}
	switch x := a.v.(type) {
	case bool:
		return !x && b.v.(bool)
	case int64, float64:
		return numLess(a.v, b.v)
	case string:
		return x < b.v.(string)
	case composite:
		return x < b.v.(composite)
	}
	return false
}

func numLess(a, b any) bool {
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	if aInt && bInt {
		return ai < bi
	}
	af, bf := toFloat(a), toFloat(b)
	if af != bf {
		return af < bf
	}
	return aInt && !bInt
}

func toFloat(v any) float64 {
	if i, ok := v.(int64); ok {
		return float64(i)
	}
	return v.(float64)
}

// String renders the key so that a float never reads as an integer (1.0),
// strings are quoted and lists and maps are their JSON text.
func (k Key) String() string {
	switch x := k.v.(type) {
	case nil:
		return "nil"
	case string:
		return strconv.Quote(x)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eIN") {
			s += ".0"
		}
		return s
	case composite:
		return string(x)
	}
	return fmt.Sprint(k.v)
}

// List renders at most max of keys (already ordered), out of total, as
// "1, 2, … (3 more)".
func List(keys []Key, total, max int) string {
	n := min(len(keys), max)
	parts := make([]string, n)
	for i, k := range keys[:n] {
		parts[i] = k.String()
	}
	out := strings.Join(parts, ", ")
	if total > n {
		out += fmt.Sprintf(", … (%d more)", total-n)
	}
	return out
}

// Append appends k.String() to b, without allocating for integers and
// strings.
func (k Key) Append(b []byte) []byte {
	switch x := k.v.(type) {
	case int64:
		return strconv.AppendInt(b, x, 10)
	case string:
		return strconv.AppendQuote(b, x)
	}
	return append(b, k.String()...)
}

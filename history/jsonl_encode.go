package history

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends op as one JSON object (without a trailing newline) to
// dst and returns the extended slice. The encoder is hand-written because it
// sits on the runner's hot path: encoding/json's reflection costs several
// times more per op than the whole rest of the append.
//
// Field order is fixed (index, time, type, process, f, value, error, node)
// so that files diff cleanly; error and node are omitted when empty.
func AppendJSON(dst []byte, op *Op) ([]byte, error) {
	dst = append(dst, `{"index":`...)
	dst = strconv.AppendInt(dst, op.Index, 10)
	dst = append(dst, `,"time":`...)
	dst = strconv.AppendInt(dst, op.Time, 10)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, op.Type.String()...)
	dst = append(dst, `","process":`...)
	if op.Process == NemesisProcess {
		dst = append(dst, `"nemesis"`...)
	} else {
		dst = strconv.AppendInt(dst, int64(op.Process), 10)
	}
	dst = append(dst, `,"f":`...)
	dst = appendJSONString(dst, op.F)
	dst = append(dst, `,"value":`...)
	var err error
	dst, err = appendJSONValue(dst, op.Value, 0)
	if err != nil {
		return dst, fmt.Errorf("op %d: value: %w", op.Index, err)
	}
	if op.Error != "" {
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, op.Error)
	}
	if op.Node != "" {
		dst = append(dst, `,"node":`...)
		dst = appendJSONString(dst, op.Node)
	}
	return append(dst, '}'), nil
}

// maxEncodeDepth bounds recursion when encoding values, so a cyclic value
// built by a buggy client fails instead of overflowing the stack.
const maxEncodeDepth = 256

func appendJSONValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return dst, fmt.Errorf("value nested deeper than %d levels", maxEncodeDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		return appendJSONFloat(dst, x)
	case string:
		return appendJSONString(dst, x), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSONValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []int64:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, e, 10)
		}
		return append(dst, ']'), nil
	case map[string]any:
		// Sorted keys: output must not depend on map iteration order, or
		// two runs of the same test would produce different files.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSONValue(dst, x[k], depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	// Anything else (structs, other slices) goes through encoding/json; it
	// is off the fast path by construction since Op.Value is meant to hold
	// plain data.
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("encoding %T: %w", v, err)
	}
	return append(dst, b...), nil
}

func appendJSONFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("JSON cannot represent %v", f)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	// Keep floats recognisable as floats: the reader turns numbers without
	// '.', 'e' or 'E' into int64, so 2.0 must not be written as "2".
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' || c == 'E' || c == 'n' || c == 'N' {
			return dst, nil
		}
	}
	return append(dst, ".0"...), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does, so every line we write is valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

package history

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// WriteEDN writes ops in Jepsen's history.edn layout: one op map per line,
// e.g. {:index 0, :time 12, :type :invoke, :process 0, :f :read, :value nil}.
//
// :type, :f and a nemesis :process are written as keywords (f falls back to
// a string when it is not a valid keyword). In values, strings stay strings
// and map keys become keywords when they are valid keyword names, strings
// otherwise — Op.Value does not remember which they were, see ReadEDN.
func WriteEDN(w io.Writer, ops []Op) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf []byte
	for i := range ops {
		var err error
		buf, err = AppendEDN(buf[:0], &ops[i])
		if err != nil {
			return err
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("history: writing edn: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("history: writing edn: %w", err)
	}
	return nil
}

// AppendEDN appends op as one EDN map (no newline) to dst.
func AppendEDN(dst []byte, op *Op) ([]byte, error) {
	dst = append(dst, "{:index "...)
	dst = strconv.AppendInt(dst, op.Index, 10)
	dst = append(dst, ", :time "...)
	dst = strconv.AppendInt(dst, op.Time, 10)
	dst = append(dst, ", :type :"...)
	dst = append(dst, op.Type.String()...)
	dst = append(dst, ", :process "...)
	if op.Process == NemesisProcess {
		dst = append(dst, ":nemesis"...)
	} else {
		dst = strconv.AppendInt(dst, int64(op.Process), 10)
	}
	dst = append(dst, ", :f "...)
	if op.F == "" {
		dst = append(dst, "nil"...)
	} else if isKeywordName(op.F) {
		dst = append(dst, ':')
		dst = append(dst, op.F...)
	} else {
		dst = appendEDNString(dst, op.F)
	}
	dst = append(dst, ", :value "...)
	var err error
	if op.F == "txn" && isTxnValue(op.Value) {
		dst, err = appendEDNTxn(dst, op.Value.([]any))
	} else {
		dst, err = appendEDNValue(dst, op.Value, 0)
	}
	if err != nil {
		return dst, fmt.Errorf("history: op %d: value: %w", op.Index, err)
	}
	if op.Error != "" {
		dst = append(dst, ", :error "...)
		dst = appendEDNString(dst, op.Error)
	}
	if op.Node != "" {
		dst = append(dst, ", :node "...)
		dst = appendEDNString(dst, op.Node)
	}
	return append(dst, '}'), nil
}

// isKeywordName reports whether s can follow ':' and read back as the same
// keyword.
func isKeywordName(s string) bool {
	if s == "" || s[0] == ':' || s[0] == '#' || s[0] == '/' || s[len(s)-1] == '/' {
		return false
	}
	if s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '*' || c == '+' || c == '!' || c == '-' || c == '_' || c == '?' ||
			c == '<' || c == '>' || c == '=' || c == '$' || c == '%' || c == '&' ||
			c == '.' || c == '/' || c == '\'':
		case c == ':' || c == '#':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func appendEDNValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return dst, fmt.Errorf("value nested deeper than %d levels", maxEncodeDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "nil"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		dst = strconv.AppendUint(dst, x, 10)
		if x > math.MaxInt64 {
			dst = append(dst, 'N')
		}
		return dst, nil
	case float64:
		switch {
		case math.IsNaN(x):
			return append(dst, "##NaN"...), nil
		case math.IsInf(x, 1):
			return append(dst, "##Inf"...), nil
		case math.IsInf(x, -1):
			return append(dst, "##-Inf"...), nil
		}
		start := len(dst)
		dst = strconv.AppendFloat(dst, x, 'g', -1, 64)
		for _, c := range dst[start:] {
			if c == '.' || c == 'e' {
				return dst, nil
			}
		}
		return append(dst, ".0"...), nil
	case string:
		return appendEDNString(dst, x), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ' ')
			}
			var err error
			if dst, err = appendEDNValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []int64:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = strconv.AppendInt(dst, e, 10)
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			if isKeywordName(k) {
				dst = append(dst, ':')
				dst = append(dst, k...)
			} else {
				dst = appendEDNString(dst, k)
			}
			dst = append(dst, ' ')
			var err error
			if dst, err = appendEDNValue(dst, x[k], depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return dst, fmt.Errorf("cannot write %T as EDN; values must be plain data", v)
}

func appendEDNString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// A transaction's micro-ops are written as Jepsen writes them, with their
// functions as keywords: [[:append 9 2] [:r 9 [1 2]]], so that Elle reads
// jplan's histories. (Package txn owns the shape; it imports this package,
// so the test is repeated here.)
func isTxnValue(v any) bool {
	list, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range list {
		m, ok := e.([]any)
		if !ok || len(m) != 3 {
			return false
		}
		switch m[0] {
		case "r", "append", "w":
		default:
			return false
		}
	}
	return true
}

func appendEDNTxn(dst []byte, mops []any) ([]byte, error) {
	dst = append(dst, '[')
	for i, e := range mops {
		if i > 0 {
			dst = append(dst, ' ')
		}
		m := e.([]any)
		dst = append(dst, "[:"...)
		dst = append(dst, m[0].(string)...)
		for _, x := range m[1:] {
			dst = append(dst, ' ')
			var err error
			if dst, err = appendEDNValue(dst, x, 2); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, ']'), nil
}

package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// EDNError is a syntax or shape error in an EDN history, located by line and
// column (both from 1; columns count bytes).
type EDNError struct {
	Line, Col int
	Msg       string
}

func (e *EDNError) Error() string { return fmt.Sprintf("edn %d:%d: %s", e.Line, e.Col, e.Msg) }

// ReadEDN decodes a Jepsen history written as EDN: either a sequence of op
// maps (Jepsen's history.edn, one per line) or a single vector or list of op
// maps. Op maps may be tagged records (#jepsen.history.Op{...}).
//
// Values are converted to plain data (see Op.Value):
//   - keywords and symbols become strings without the colon (:read → "read",
//     :a/b → "a/b"); characters become one-character strings;
//   - integers become int64 (N suffix allowed); integers outside int64 become
//     their decimal text as a string;
//   - floats, M decimals and ratios (1/3) become float64; ##Inf, ##-Inf and
//     ##NaN are understood;
//   - vectors, lists and sets become []any (sets keep their written order);
//   - maps become map[string]any: string, keyword and symbol keys are used as
//     is, any other key by its EDN source text;
//   - #jepsen.independent.Tuple{:key k :value v} (any tag ending in
//     "Tuple" with :key and :value) becomes the 2-element []any{k, v}, the
//     same shape as a printed map-entry tuple [k v];
//   - any other tagged literal (#inst, #uuid, records) becomes its inner
//     value; #_ discards the next form; ^meta is skipped.
//
// In an op, :process :nemesis becomes NemesisProcess; :error that is not a
// string is kept as its EDN source text; unknown keys are ignored; a missing
// :index becomes the op's position. Nesting deeper than 512 levels is an
// error, never a stack overflow.
func ReadEDN(r io.Reader) ([]Op, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("history: reading edn: %w", err)
	}
	p := &ednParser{b: b, cache: strCache{}}
	var ops []Op
	if err := p.skip(0); err != nil {
		return nil, err
	}
	if p.i < len(b) && (b[p.i] == '[' || b[p.i] == '(') {
		closer := byte(']')
		if b[p.i] == '(' {
			closer = ')'
		}
		p.i++
		for {
			if err := p.skip(1); err != nil {
				return ops, err
			}
			if p.i >= len(b) {
				return ops, p.errAt(p.i, "unexpected end of input in history vector")
			}
			if b[p.i] == closer {
				p.i++
				break
			}
			op, err := p.readOp(int64(len(ops)), 1)
			if err != nil {
				return ops, err
			}
			ops = append(ops, op)
		}
		if err := p.skip(0); err != nil {
			return ops, err
		}
		if p.i < len(b) {
			return ops, p.errAt(p.i, "unexpected data after history vector")
		}
		return ops, nil
	}
	for {
		if err := p.skip(0); err != nil {
			return ops, err
		}
		if p.i >= len(b) {
			return ops, nil
		}
		op, err := p.readOp(int64(len(ops)), 0)
		if err != nil {
			return ops, err
		}
		ops = append(ops, op)
	}
}

type ednParser struct {
	b     []byte
	i     int
	cache strCache
}

// errAt builds an error at byte offset pos. Line and column are computed
// only here, so the happy path does not pay for position tracking.
func (p *ednParser) errAt(pos int, format string, args ...any) error {
	if pos > len(p.b) {
		pos = len(p.b)
	}
	line := 1 + bytes.Count(p.b[:pos], []byte{'\n'})
	col := pos + 1
	if nl := bytes.LastIndexByte(p.b[:pos], '\n'); nl >= 0 {
		col = pos - nl
	}
	return &EDNError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// skip moves past whitespace (commas included), comments, #_ discarded
// forms and ^metadata.
func (p *ednParser) skip(depth int) error {
	for p.i < len(p.b) {
		switch c := p.b[p.i]; c {
		case ' ', '\t', '\n', '\r', ',', '\f', '\v':
			p.i++
		case ';':
			for p.i < len(p.b) && p.b[p.i] != '\n' {
				p.i++
			}
		case '#':
			if p.i+1 < len(p.b) && p.b[p.i+1] == '_' {
				p.i += 2
				if _, err := p.value(depth + 1); err != nil {
					return err
				}
				continue
			}
			if p.i+1 < len(p.b) && p.b[p.i+1] == '!' { // shebang-style comment
				for p.i < len(p.b) && p.b[p.i] != '\n' {
					p.i++
				}
				continue
			}
			return nil
		case '^':
			p.i++
			if _, err := p.value(depth + 1); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', '\f', '\v', '(', ')', '[', ']', '{', '}', '"', ';':
		return true
	}
	return false
}

func (p *ednParser) token() []byte {
	start := p.i
	for p.i < len(p.b) && !isDelim(p.b[p.i]) {
		p.i++
	}
	return p.b[start:p.i]
}

// value reads one form and returns it as plain data.
func (p *ednParser) value(depth int) (any, error) {
	if depth > maxDecodeDepth {
		return nil, p.errAt(p.i, "nested deeper than %d levels", maxDecodeDepth)
	}
	if err := p.skip(depth); err != nil {
		return nil, err
	}
	if p.i >= len(p.b) {
		return nil, p.errAt(p.i, "unexpected end of input, expected a value")
	}
	start := p.i
	switch c := p.b[p.i]; {
	case c == '(':
		p.i++
		return p.seq(')', depth)
	case c == '[':
		p.i++
		return p.seq(']', depth)
	case c == '{':
		p.i++
		return p.mapValue(depth)
	case c == ')' || c == ']' || c == '}':
		return nil, p.errAt(p.i, "unexpected %q", c)
	case c == '"':
		return p.str()
	case c == '\\':
		return p.char()
	case c == ':':
		p.i++
		tok := p.token()
		if len(tok) == 0 {
			return nil, p.errAt(start, "empty keyword")
		}
		// Auto-resolved ::kw has no namespace to resolve against here;
		// keep its name.
		return p.cache.get(bytes.TrimPrefix(tok, []byte{':'})), nil
	case c == '#':
		return p.dispatch(depth)
	case c >= '0' && c <= '9':
		return p.number()
	case (c == '+' || c == '-') && p.i+1 < len(p.b) && p.b[p.i+1] >= '0' && p.b[p.i+1] <= '9':
		return p.number()
	}
	tok := p.token()
	if len(tok) == 0 {
		return nil, p.errAt(start, "unexpected %q", p.b[start])
	}
	switch string(tok) {
	case "nil":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return p.cache.get(tok), nil
}

func (p *ednParser) seq(closer byte, depth int) ([]any, error) {
	open := p.i - 1
	out := []any{}
	for {
		if err := p.skip(depth + 1); err != nil {
			return nil, err
		}
		if p.i >= len(p.b) {
			return nil, p.errAt(open, "unclosed %q", p.b[open])
		}
		if p.b[p.i] == closer {
			p.i++
			return out, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

func (p *ednParser) mapValue(depth int) (map[string]any, error) {
	open := p.i - 1
	m := map[string]any{}
	for {
		if err := p.skip(depth + 1); err != nil {
			return nil, err
		}
		if p.i >= len(p.b) {
			return nil, p.errAt(open, "unclosed '{'")
		}
		if p.b[p.i] == '}' {
			p.i++
			return m, nil
		}
		k, err := p.key(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.skip(depth + 1); err != nil {
			return nil, err
		}
		if p.i >= len(p.b) || p.b[p.i] == '}' {
			return nil, p.errAt(p.i, "map key %q has no value", k)
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
}

// key reads a map key and returns it as a string: strings, keywords and
// symbols by name, anything else by its source text.
func (p *ednParser) key(depth int) (string, error) {
	if err := p.skip(depth); err != nil {
		return "", err
	}
	start := p.i
	k, err := p.value(depth)
	if err != nil {
		return "", err
	}
	if s, ok := k.(string); ok {
		return s, nil
	}
	return string(bytes.TrimSpace(p.b[start:p.i])), nil
}

// dispatch handles forms starting with '#'.
func (p *ednParser) dispatch(depth int) (any, error) {
	start := p.i
	p.i++ // '#'
	if p.i >= len(p.b) {
		return nil, p.errAt(start, "unexpected end of input after '#'")
	}
	switch p.b[p.i] {
	case '{':
		p.i++
		return p.seq('}', depth)
	case '#':
		p.i++
		tok := string(p.token())
		switch tok {
		case "Inf":
			return math.Inf(1), nil
		case "-Inf":
			return math.Inf(-1), nil
		case "NaN":
			return math.NaN(), nil
		}
		return nil, p.errAt(start, "unknown symbolic value ##%s", tok)
	case '_':
		p.i++
		if _, err := p.value(depth + 1); err != nil {
			return nil, err
		}
		return p.value(depth)
	}
	tag := string(p.token())
	if tag == "" {
		return nil, p.errAt(start, "unsupported dispatch %q", "#"+string(p.b[p.i]))
	}
	v, err := p.value(depth + 1)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(tag, "Tuple") {
		if m, ok := v.(map[string]any); ok {
			return []any{m["key"], m["value"]}, nil
		}
	}
	return v, nil
}

func (p *ednParser) number() (any, error) {
	start := p.i
	tok := string(p.token())
	v, err := parseEDNNumber(tok)
	if err != nil {
		return nil, p.errAt(start, "%v", err)
	}
	return v, nil
}

func parseEDNNumber(tok string) (any, error) {
	body := tok
	neg := false
	if body[0] == '+' || body[0] == '-' {
		neg = body[0] == '-'
		body = body[1:]
	}
	sign := ""
	if neg {
		sign = "-"
	}
	switch {
	case strings.HasSuffix(body, "N"):
		return ednInt(sign+body[:len(body)-1], 10, tok)
	case strings.HasSuffix(body, "M"):
		return ednFloat(sign+body[:len(body)-1], tok)
	case strings.Contains(body, "/"):
		num, den, _ := strings.Cut(body, "/")
		n, err1 := strconv.ParseFloat(num, 64)
		d, err2 := strconv.ParseFloat(den, 64)
		if err1 != nil || err2 != nil || !isDigits(num) || !isDigits(den) || d == 0 {
			return nil, fmt.Errorf("invalid ratio %q", tok)
		}
		if neg {
			n = -n
		}
		return n / d, nil
	case strings.HasPrefix(body, "0x") || strings.HasPrefix(body, "0X"):
		return ednInt(sign+body[2:], 16, tok)
	case strings.ContainsAny(body, ".eE"):
		return ednFloat(sign+body, tok)
	case strings.ContainsAny(body, "rR"):
		radix, digits, _ := strings.Cut(strings.ToLower(body), "r")
		rb, err := strconv.Atoi(radix)
		if err != nil || rb < 2 || rb > 36 {
			return nil, fmt.Errorf("invalid radix in %q", tok)
		}
		return ednInt(sign+digits, rb, tok)
	case len(body) > 1 && body[0] == '0':
		return ednInt(sign+body[1:], 8, tok)
	}
	return ednInt(sign+body, 10, tok)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ednInt parses an integer; values outside int64 become their decimal text
// (see ReadEDN), since Op.Value has no big-integer type.
func ednInt(s string, base int, tok string) (any, error) {
	n, err := strconv.ParseInt(s, base, 64)
	if err == nil {
		return n, nil
	}
	if errors.Is(err, strconv.ErrRange) && base == 10 {
		return strings.TrimPrefix(s, "+"), nil
	}
	return nil, fmt.Errorf("invalid integer %q", tok)
}

func ednFloat(s, tok string) (any, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("invalid number %q", tok)
	}
	if strings.ContainsAny(s, "xXpP_") || strings.EqualFold(strings.TrimLeft(s, "+-"), "inf") {
		return nil, fmt.Errorf("invalid number %q", tok)
	}
	return f, nil
}

func (p *ednParser) str() (string, error) {
	start := p.i
	p.i++
	s := p.i
	for p.i < len(p.b) && p.b[p.i] != '"' && p.b[p.i] != '\\' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '"' {
		out := p.b[s:p.i]
		p.i++
		if utf8.Valid(out) {
			return p.cache.get(out), nil
		}
		return string(bytes.ToValidUTF8(out, []byte("\uFFFD"))), nil
	}
	out := append([]byte(nil), p.b[s:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch c {
		case '"':
			p.i++
			return string(bytes.ToValidUTF8(out, []byte("\uFFFD"))), nil
		case '\\':
			escPos := p.i
			p.i++
			if p.i >= len(p.b) {
				return "", p.errAt(escPos, "unterminated escape in string")
			}
			e := p.b[p.i]
			p.i++
			switch e {
			case '"', '\\', '\'':
				out = append(out, e)
			case 'n':
				out = append(out, '\n')
			case 't':
				out = append(out, '\t')
			case 'r':
				out = append(out, '\r')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'u':
				if p.i+4 > len(p.b) {
					return "", p.errAt(escPos, "short \\u escape")
				}
				n, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
				if err != nil {
					return "", p.errAt(escPos, "invalid \\u escape")
				}
				p.i += 4
				out = utf8.AppendRune(out, rune(n))
			default:
				if e >= '0' && e <= '7' {
					n := int(e - '0')
					for k := 0; k < 2 && p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '7'; k++ {
						n = n*8 + int(p.b[p.i]-'0')
						p.i++
					}
					if n > 0377 {
						return "", p.errAt(escPos, "octal escape out of range")
					}
					out = utf8.AppendRune(out, rune(n))
					continue
				}
				return "", p.errAt(escPos, "invalid escape \\%c", e)
			}
		default:
			out = append(out, c)
			p.i++
		}
	}
	return "", p.errAt(start, "unterminated string")
}

var namedChars = map[string]string{
	"newline": "\n", "space": " ", "tab": "\t", "return": "\r",
	"backspace": "\b", "formfeed": "\f",
}

func (p *ednParser) char() (string, error) {
	start := p.i
	p.i++ // backslash
	if p.i >= len(p.b) {
		return "", p.errAt(start, "unexpected end of input in character")
	}
	// The first character is taken literally even if it is a delimiter:
	// \( and \space are both characters.
	_, size := utf8.DecodeRune(p.b[p.i:])
	first := p.i
	p.i += size
	for p.i < len(p.b) && !isDelim(p.b[p.i]) {
		p.i++
	}
	tok := string(p.b[first:p.i])
	if utf8.RuneCountInString(tok) == 1 {
		return tok, nil
	}
	if s, ok := namedChars[tok]; ok {
		return s, nil
	}
	if len(tok) == 5 && tok[0] == 'u' {
		if n, err := strconv.ParseUint(tok[1:], 16, 32); err == nil {
			return string(rune(n)), nil
		}
	}
	if len(tok) >= 2 && len(tok) <= 4 && tok[0] == 'o' {
		if n, err := strconv.ParseUint(tok[1:], 8, 32); err == nil && n <= 0377 {
			return string(rune(n)), nil
		}
	}
	return "", p.errAt(start, "invalid character \\%s", tok)
}

// readOp reads one op map (optionally tagged) straight into an Op, without
// building an intermediate map: histories have millions of them.
func (p *ednParser) readOp(pos int64, depth int) (Op, error) {
	op := Op{Index: -1}
	if err := p.skip(depth); err != nil {
		return op, err
	}
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '#' {
		p.i++
		if len(p.token()) == 0 {
			return op, p.errAt(start, "expected an op map")
		}
		if err := p.skip(depth); err != nil {
			return op, err
		}
	}
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return op, p.errAt(p.i, "expected an op map")
	}
	open := p.i
	p.i++
	seenType := false
	for {
		if err := p.skip(depth + 1); err != nil {
			return op, err
		}
		if p.i >= len(p.b) {
			return op, p.errAt(open, "unclosed op map")
		}
		if p.b[p.i] == '}' {
			p.i++
			break
		}
		k, err := p.key(depth + 1)
		if err != nil {
			return op, err
		}
		if err := p.skip(depth + 1); err != nil {
			return op, err
		}
		if p.i >= len(p.b) || p.b[p.i] == '}' {
			return op, p.errAt(p.i, "op key :%s has no value", k)
		}
		vstart := p.i
		if n, ok := p.plainInt(k); ok {
			// Fast path for :index, :time and :process: boxing these into
			// an any would cost two allocations per op.
			switch k {
			case "index":
				if n < 0 {
					return op, p.errAt(vstart, ":index must be a non-negative integer")
				}
				op.Index = n
			case "time":
				op.Time = n
			case "process":
				if n < 0 || n > math.MaxInt32 {
					return op, p.errAt(vstart, ":process %d out of range", n)
				}
				op.Process = int(n)
			}
			continue
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return op, err
		}
		if err := p.setField(&op, k, v, vstart, &seenType); err != nil {
			return op, err
		}
	}
	if !seenType {
		return op, p.errAt(open, "op has no :type")
	}
	if op.Index < 0 {
		op.Index = pos
	}
	return op, nil
}

// plainInt consumes a plain decimal integer if the key is :index, :time or
// :process and one follows; otherwise it consumes nothing.
func (p *ednParser) plainInt(k string) (int64, bool) {
	if k != "index" && k != "time" && k != "process" {
		return 0, false
	}
	j := p.i
	if j < len(p.b) && p.b[j] == '-' {
		j++
	}
	d := j
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		j++
	}
	if j == d || j-d > 18 || (j < len(p.b) && !isDelim(p.b[j])) || (p.b[d] == '0' && j-d > 1) {
		return 0, false // let the general reader handle (or reject) it
	}
	n, err := strconv.ParseInt(string(p.b[p.i:j]), 10, 64)
	if err != nil {
		return 0, false
	}
	p.i = j
	return n, true
}

func (p *ednParser) setField(op *Op, k string, v any, vstart int, seenType *bool) error {
	switch k {
	case "index":
		n, ok := v.(int64)
		if !ok || n < 0 {
			return p.errAt(vstart, ":index must be a non-negative integer")
		}
		op.Index = n
	case "time":
		switch x := v.(type) {
		case int64:
			op.Time = x
		case nil:
		default:
			return p.errAt(vstart, ":time must be an integer (nanoseconds)")
		}
	case "type":
		s, _ := v.(string)
		t, ok := ParseType(s)
		if !ok {
			return p.errAt(vstart, ":type must be :invoke, :ok, :fail or :info")
		}
		op.Type = t
		*seenType = true
	case "process":
		switch x := v.(type) {
		case int64:
			if x < 0 || x > math.MaxInt32 {
				return p.errAt(vstart, ":process %d out of range", x)
			}
			op.Process = int(x)
		case string:
			if x != "nemesis" {
				return p.errAt(vstart, ":process must be an integer or :nemesis, got %s", x)
			}
			op.Process = NemesisProcess
		default:
			return p.errAt(vstart, ":process must be an integer or :nemesis")
		}
	case "f":
		switch x := v.(type) {
		case string:
			op.F = x
		case nil:
		default:
			op.F = string(bytes.TrimSpace(p.b[vstart:p.i]))
		}
	case "value":
		op.Value = v
	case "error":
		switch x := v.(type) {
		case string:
			op.Error = x
		case nil:
		default:
			// Keep Jepsen's structured errors ([:timeout], {...}) readable
			// exactly as written.
			op.Error = string(bytes.TrimSpace(p.b[vstart:p.i]))
		}
	case "node":
		if s, ok := v.(string); ok {
			op.Node = s
		}
	}
	return nil
}

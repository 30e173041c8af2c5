package history

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDecodeDepth bounds nesting in decoded values (JSON and EDN) so hostile
// input cannot overflow the stack.
const maxDecodeDepth = 512

// maxLineBytes bounds a single JSONL line; a longer line is an error rather
// than an unbounded allocation.
const maxLineBytes = 64 << 20

// ReadJSONL decodes a JSON Lines history as written by Writer.
//
// Blank lines are skipped. A final line that lacks its newline and does not
// parse is taken to be the tail of a killed run and dropped silently; any
// other malformed line is an error naming its line number. Integers decode
// as int64 (integers too large for int64 decode as float64), other numbers
// as float64, arrays as []any and objects as map[string]any. A missing
// "index" is replaced by the op's position in the file.
func ReadJSONL(r io.Reader) ([]Op, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	var ops []Op
	var long []byte // accumulates a line longer than the bufio buffer
	cache := strCache{}
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
				if len(long) > maxLineBytes {
					return ops, fmt.Errorf("history: line %d: longer than %d bytes", lineNo, maxLineBytes)
				}
			}
			line = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return ops, fmt.Errorf("history: reading line %d: %w", lineNo, err)
		}
		complete := len(line) > 0 && line[len(line)-1] == '\n'
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) > 0 {
			op, perr := parseJSONOp(trimmed, int64(len(ops)), cache)
			if perr != nil {
				if !complete {
					// Truncated tail of a killed run: drop it.
					return ops, nil
				}
				return ops, fmt.Errorf("history: line %d: %w", lineNo, perr)
			}
			ops = append(ops, op)
		}
		if err != nil { // io.EOF
			return ops, nil
		}
	}
}

// jsonParser is a small JSON parser over one line. It exists (instead of
// encoding/json) to decode integers straight to int64, report the column of
// errors and avoid reflection on the read path of large histories.
type jsonParser struct {
	b     []byte
	i     int
	cache strCache
}

type jsonError struct {
	col int
	msg string
}

func (e *jsonError) Error() string { return fmt.Sprintf("col %d: %s", e.col, e.msg) }

func (p *jsonParser) errf(format string, args ...any) error {
	return &jsonError{col: p.i + 1, msg: fmt.Sprintf(format, args...)}
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) expect(c byte) error {
	p.ws()
	if p.i >= len(p.b) {
		return p.errf("unexpected end of line, expected %q", c)
	}
	if p.b[p.i] != c {
		return p.errf("expected %q, found %q", c, p.b[p.i])
	}
	p.i++
	return nil
}

func parseJSONOp(line []byte, pos int64, cache strCache) (Op, error) {
	p := &jsonParser{b: line, cache: cache}
	op := Op{Index: -1}
	if err := p.expect('{'); err != nil {
		return op, err
	}
	seenType := false
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
	} else {
		for {
			p.ws()
			key, err := p.str()
			if err != nil {
				return op, err
			}
			if err := p.expect(':'); err != nil {
				return op, err
			}
			p.ws()
			if err := p.field(&op, key, &seenType); err != nil {
				return op, err
			}
			p.ws()
			if p.i >= len(p.b) {
				return op, p.errf("unexpected end of line in object")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == '}' {
				p.i++
				break
			}
			return op, p.errf("expected ',' or '}', found %q", p.b[p.i])
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return op, p.errf("trailing data after op")
	}
	if !seenType {
		return op, errors.New(`op has no "type"`)
	}
	if op.Index < 0 {
		op.Index = pos
	}
	return op, nil
}

// field decodes the value of key into op.
func (p *jsonParser) field(op *Op, key string, seenType *bool) error {
	valStart := p.i
	if (key == "index" || key == "time") && p.i < len(p.b) && (p.b[p.i] == '-' || (p.b[p.i] >= '0' && p.b[p.i] <= '9')) {
		// Fast path: avoid boxing two int64s per op into an any.
		if n, ok := p.plainInt(); ok {
			if key == "time" {
				op.Time = n
				return nil
			}
			if n < 0 {
				return &jsonError{col: valStart + 1, msg: `"index" must be a non-negative integer`}
			}
			op.Index = n
			return nil
		}
	}
	v, err := p.value(0)
	if err != nil {
		return err
	}
	if err := setJSONField(op, key, v, seenType); err != nil {
		return &jsonError{col: valStart + 1, msg: err.Error()}
	}
	return nil
}

func setJSONField(op *Op, key string, v any, seenType *bool) error {
	switch key {
	case "index":
		n, ok := v.(int64)
		if !ok || n < 0 {
			return fmt.Errorf(`"index" must be a non-negative integer, got %v`, v)
		}
		op.Index = n
	case "time":
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf(`"time" must be an integer, got %v`, v)
		}
		op.Time = n
	case "type":
		s, ok := v.(string)
		t, known := ParseType(s)
		if !ok || !known {
			return fmt.Errorf(`"type" must be one of invoke, ok, fail, info; got %v`, v)
		}
		op.Type = t
		*seenType = true
	case "process":
		switch x := v.(type) {
		case int64:
			if x < 0 || x > math.MaxInt32 {
				return fmt.Errorf(`"process" %d out of range`, x)
			}
			op.Process = int(x)
		case string:
			if x != "nemesis" {
				return fmt.Errorf(`"process" must be an integer or "nemesis", got %q`, x)
			}
			op.Process = NemesisProcess
		default:
			return fmt.Errorf(`"process" must be an integer or "nemesis", got %v`, v)
		}
	case "f":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf(`"f" must be a string, got %v`, v)
		}
		op.F = s
	case "value":
		op.Value = v
	case "error":
		switch x := v.(type) {
		case string:
			op.Error = x
		case nil:
		default:
			b, err := AppendJSONValue(nil, x)
			if err != nil {
				return err
			}
			op.Error = string(b)
		}
	case "node":
		s, ok := v.(string)
		if !ok && v != nil {
			return fmt.Errorf(`"node" must be a string, got %v`, v)
		}
		op.Node = s
	}
	// Unknown keys are ignored so newer writers stay readable.
	return nil
}

// AppendJSONValue appends the JSON encoding of a plain-data value (see
// Op.Value) to dst.
func AppendJSONValue(dst []byte, v any) ([]byte, error) {
	return appendJSONValue(dst, v, 0)
}

func (p *jsonParser) value(depth int) (any, error) {
	if depth > maxDecodeDepth {
		return nil, p.errf("nested deeper than %d levels", maxDecodeDepth)
	}
	p.ws()
	if p.i >= len(p.b) {
		return nil, p.errf("unexpected end of line, expected a value")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.str()
	case c == '{':
		p.i++
		m := map[string]any{}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return m, nil
		}
		for {
			p.ws()
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			if err := p.expect(':'); err != nil {
				return nil, err
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if err := p.expect('}'); err != nil {
				return nil, err
			}
			return m, nil
		}
	case c == '[':
		p.i++
		arr := []any{}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return arr, nil
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if err := p.expect(']'); err != nil {
				return nil, err
			}
			return arr, nil
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	}
	return nil, p.errf("unexpected %q", p.b[p.i])
}

// plainInt consumes an integer that is not followed by a fraction or
// exponent; otherwise it consumes nothing.
func (p *jsonParser) plainInt() (int64, bool) {
	j := p.i
	if p.b[j] == '-' {
		j++
	}
	d := j
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		j++
	}
	if j == d || j-d > 18 || (p.b[d] == '0' && j-d > 1) {
		return 0, false
	}
	if j < len(p.b) && (p.b[j] == '.' || p.b[j] == 'e' || p.b[j] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(p.b[p.i:j]), 10, 64)
	if err != nil {
		return 0, false
	}
	p.i = j
	return n, true
}

func (p *jsonParser) literal(word string, v any) (any, error) {
	if !bytes.HasPrefix(p.b[p.i:], []byte(word)) {
		return nil, p.errf("invalid literal")
	}
	p.i += len(word)
	return v, nil
}

func (p *jsonParser) number() (any, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits {
		return nil, p.errf("invalid number")
	}
	if p.b[digits] == '0' && p.i-digits > 1 {
		return nil, &jsonError{col: start + 1, msg: "invalid number: leading zero"}
	}
	isFloat := false
	if p.i < len(p.b) && p.b[p.i] == '.' {
		isFloat = true
		p.i++
		fd := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		if p.i == fd {
			return nil, p.errf("invalid number: no digits after '.'")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		isFloat = true
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		ed := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		if p.i == ed {
			return nil, p.errf("invalid number: no exponent digits")
		}
	}
	text := string(p.b[start:p.i])
	if !isFloat {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
		// Out of int64 range: fall through to float64.
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, &jsonError{col: start + 1, msg: "invalid number " + text}
	}
	return f, nil
}

func (p *jsonParser) str() (string, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", p.errf("expected a string")
	}
	p.i++
	start := p.i
	// Fast path: no escapes, valid UTF-8.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			if utf8.Valid(s) {
				return p.cache.get(s), nil
			}
			return string(bytes.ToValidUTF8(s, []byte("\uFFFD"))), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(bytes.ToValidUTF8(out, []byte("\uFFFD"))), nil
		case c < 0x20:
			return "", p.errf("control character in string")
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return "", p.errf("unterminated escape")
			}
			e := p.b[p.i]
			p.i++
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if r2, err = p.hex4(); err != nil {
							return "", err
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
						} else {
							p.i = save
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", p.errf("invalid escape \\%c", e)
			}
		default:
			out = append(out, c)
			p.i++
		}
	}
	return "", p.errf("unterminated string")
}

func (p *jsonParser) hex4() (rune, error) {
	if p.i+4 > len(p.b) {
		return 0, p.errf("short \\u escape")
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, p.errf("invalid \\u escape")
		}
	}
	p.i += 4
	return r, nil
}

// strCache interns short, repetitive strings (keys, keywords, f names,
// node names) while decoding, so a history of a million ops does not hold
// a million copies of "read". Lookups with string(b) do not allocate.
type strCache map[string]string

const (
	strCacheMaxLen     = 32
	strCacheMaxEntries = 4096
)

func (c strCache) get(b []byte) string {
	if len(b) > strCacheMaxLen {
		return string(b)
	}
	if s, ok := c[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(c) < strCacheMaxEntries {
		c[s] = s
	}
	return s
}

// ParseJSONValue parses one JSON value into the plain data ops hold
// (integers as int64), as the JSONL reader does for an op's value.
func ParseJSONValue(s string) (any, error) {
	line := `{"index":0,"time":0,"type":"invoke","process":0,"f":"v","value":` + s + "}\n"
	ops, err := ReadJSONL(strings.NewReader(line))
	if err != nil || len(ops) != 1 {
		return nil, fmt.Errorf("not a JSON value: %q", s)
	}
	return ops[0].Value, nil
}

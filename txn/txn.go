// Package txn is the shape of a transactional operation's value, shared by
// the plan side (generators), the clients that run transactions, the
// history formats and the isolation checkers.
//
// It is Jepsen's and Elle's shape: an op whose f is "txn" has as its value
// a list of micro-operations [f key value]:
//
//	[append 9 2]   append 2 to the list at key 9        (list-append)
//	[w 5 6]        set key 5 to 6                       (rw-register)
//	[r 9 nil]      read key 9; nil until the read completes
//	[r 9 [1 2]]    a completed list-append read
//	[r 5 6]        a completed rw-register read
//
// In EDN the micro-op functions are keywords ([:append 9 2]); in JSON lines
// they are strings (["append", 9, 2]). history reads both into the same
// []any values, and package txn parses those.
package txn

import (
	"fmt"
	"strings"

	"github.com/jplan/jplan/history"
)

// F is the f Jepsen records for a transaction.
const F = "txn"

// Kind is a micro-op's function.
type Kind uint8

const (
	// Read reads a key: its value is nil before the read completes, then
	// a list (list-append) or a scalar (rw-register; nil: never written).
	Read Kind = iota
	// Append appends the value to the list at the key.
	Append
	// Write sets the key to the value.
	Write
)

// String returns the name Jepsen records: "r", "append" or "w".
func (k Kind) String() string {
	switch k {
	case Read:
		return "r"
	case Append:
		return "append"
	case Write:
		return "w"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, bool) {
	switch s {
	case "r":
		return Read, true
	case "append":
		return Append, true
	case "w":
		return Write, true
	}
	return 0, false
}

// Mop is one micro-operation.
type Mop struct {
	Kind Kind
	// Key is the key as recorded: int64 usually, a string otherwise.
	Key any
	// Value is the appended or written value, or what a read saw (see the
	// package comment).
	Value any
}

// String renders the micro-op as Jepsen prints it: [:append 9 2].
func (m Mop) String() string {
	return fmt.Sprintf("[:%s %v %v]", m.Kind, fmtValue(m.Key), fmtValue(m.Value))
}

// Format renders a transaction as Jepsen prints it:
// [[:append 9 2] [:r 9 [1 2]]].
func Format(mops []Mop) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, m := range mops {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(m.String())
	}
	b.WriteByte(']')
	return b.String()
}

func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		s := "["
		for i, e := range x {
			if i > 0 {
				s += " "
			}
			s += fmtValue(e)
		}
		return s + "]"
	}
	return fmt.Sprint(v)
}

// Is reports whether op records a transaction.
func Is(op *history.Op) bool { return op.F == F }

// Parse reads a transaction's micro-ops from an op's value. A value that is
// not a list of [f key value] lists is an error naming what is wrong.
func Parse(v any) ([]Mop, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, fmt.Errorf("txn: value is nil, not a list of micro-ops")
		}
		return nil, fmt.Errorf("txn: value is %T, not a list of micro-ops", v)
	}
	out := make([]Mop, len(list))
	for i, e := range list {
		m, err := ParseMop(e)
		if err != nil {
			return nil, fmt.Errorf("txn: micro-op %d: %w", i, err)
		}
		out[i] = m
	}
	return out, nil
}

// ParseMop reads one [f key value] micro-op.
func ParseMop(v any) (Mop, error) {
	t, ok := v.([]any)
	if !ok || len(t) != 3 {
		return Mop{}, fmt.Errorf("%s is not a [f key value] list", fmtValue(v))
	}
	name, ok := t[0].(string)
	if !ok {
		return Mop{}, fmt.Errorf("function %s is not a name", fmtValue(t[0]))
	}
	k, ok := ParseKind(name)
	if !ok {
		return Mop{}, fmt.Errorf("unknown function %q (want r, append or w)", name)
	}
	switch t[1].(type) {
	case int64, string:
	default:
		return Mop{}, fmt.Errorf("key %s is neither an integer nor a string", fmtValue(t[1]))
	}
	return Mop{Kind: k, Key: t[1], Value: t[2]}, nil
}

// Value turns micro-ops back into an op's value.
func Value(mops []Mop) []any {
	out := make([]any, len(mops))
	for i, m := range mops {
		out[i] = []any{m.Kind.String(), m.Key, m.Value}
	}
	return out
}

package txn

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	v := []any{
		[]any{"append", int64(9), int64(2)},
		[]any{"r", int64(9), []any{int64(1), int64(2)}},
		[]any{"w", "x", int64(6)},
		[]any{"r", "x", nil},
	}
	mops, err := Parse(v)
	if err != nil {
		t.Fatal(err)
	}
	want := []Mop{
		{Append, int64(9), int64(2)},
		{Read, int64(9), []any{int64(1), int64(2)}},
		{Write, "x", int64(6)},
		{Read, "x", nil},
	}
	if !reflect.DeepEqual(mops, want) {
		t.Fatalf("Parse = %v, want %v", mops, want)
	}
	if back := Value(mops); !reflect.DeepEqual(back, v) {
		t.Fatalf("Value(Parse(v)) = %v, want %v", back, v)
	}
	if s := mops[1].String(); s != "[:r 9 [1 2]]" {
		t.Errorf("String = %s", s)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, "value is nil"},
		{int64(3), "value is int64"},
		{[]any{[]any{"append", int64(1)}}, "micro-op 0: [\"append\" 1] is not a [f key value] list"},
		{[]any{[]any{"cas", int64(1), int64(2)}}, `unknown function "cas"`},
		{[]any{[]any{int64(1), int64(1), int64(2)}}, "function 1 is not a name"},
		{[]any{[]any{"r", 1.5, nil}}, "key 1.5 is neither"},
	} {
		_, err := Parse(c.v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%v) error = %v, want it to contain %q", c.v, err, c.want)
		}
	}
}

func TestFormat(t *testing.T) {
	got := Format([]Mop{{Kind: Append, Key: int64(9), Value: int64(2)}, {Kind: Read, Key: int64(9), Value: []any{int64(1), int64(2)}}})
	if got != "[[:append 9 2] [:r 9 [1 2]]]" {
		t.Errorf("Format = %s", got)
	}
}

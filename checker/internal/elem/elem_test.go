package elem

import (
	"math"
	"sort"
	"testing"
)

func mustKey(t *testing.T, v any) Key {
	t.Helper()
	k, err := KeyOf(v)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestIdentity(t *testing.T) {
	same := [][2]any{
		{int64(1), int64(1)},
		{"a", "a"},
		{[]any{int64(1), "x"}, []any{int64(1), "x"}},
		{map[string]any{"a": int64(1), "b": int64(2)}, map[string]any{"b": int64(2), "a": int64(1)}},
	}
	for _, p := range same {
		if mustKey(t, p[0]) != mustKey(t, p[1]) {
			t.Errorf("%v and %v have different keys", p[0], p[1])
		}
	}
	differ := [][2]any{
		{int64(1), 1.0},
		{int64(1), "1"},
		{[]any{int64(1), int64(2)}, "[1,2]"},
		{nil, false},
	}
	for _, p := range differ {
		if mustKey(t, p[0]) == mustKey(t, p[1]) {
			t.Errorf("%v and %v share a key", p[0], p[1])
		}
	}
	if _, err := KeyOf(math.NaN()); err == nil {
		t.Error("NaN got a key")
	}
	if _, err := KeyOf(struct{}{}); err == nil {
		t.Error("a struct got a key")
	}
}

func TestOrder(t *testing.T) {
	vals := []any{"b", []any{int64(1)}, 2.5, int64(3), "a", int64(2), 2.0, nil, true, false}
	keys := make([]Key, len(vals))
	for i, v := range vals {
		keys[i] = mustKey(t, v)
	}
	sort.Slice(keys, func(i, j int) bool { return Less(keys[i], keys[j]) })
	got := List(keys, len(keys)+2, len(keys))
	want := `nil, false, true, 2, 2.0, 2.5, 3, "a", "b", [1], … (2 more)`
	if got != want {
		t.Errorf("order %s, want %s", got, want)
	}
}

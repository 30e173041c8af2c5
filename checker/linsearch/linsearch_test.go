package linsearch

import (
	"context"
	"testing"
	"time"
)

const inf = 1 << 40

// Value ids: 0 nil, 1..3 are values.
func TestCheckHandWritten(t *testing.T) {
	cases := []struct {
		name   string
		ops    []Op
		strict bool
		want   Verdict
	}{
		{"empty", nil, false, Ok},
		{"write then read", []Op{{Kind: Write, A: 2, Call: 0, Return: 1}, {Kind: Read, A: 2, Call: 2, Return: 3}}, false, Ok},
		{"stale read", []Op{
			{Kind: Write, A: 2, Call: 0, Return: 1},
			{Kind: Write, A: 3, Call: 2, Return: 3},
			{Kind: Read, A: 2, Call: 4, Return: 5}}, false, Illegal},
		{"concurrent write, either order", []Op{
			{Kind: Write, A: 2, Call: 0, Return: 3},
			{Kind: Read, A: 1, Call: 1, Return: 2}, // initial value, before the write
			{Kind: Read, A: 2, Call: 4, Return: 5}}, false, Ok},
		{"read before its write", []Op{
			{Kind: Read, A: 2, Call: 0, Return: 1},
			{Kind: Write, A: 2, Call: 2, Return: 3}}, false, Illegal},
		{"info write takes effect late", []Op{
			{Kind: Write, A: 2, Info: true, Call: 0, Return: inf},
			{Kind: Read, A: 1, Call: 1, Return: 2},
			{Kind: Read, A: 2, Call: 3, Return: 4}}, false, Ok},
		{"info write cannot be undone", []Op{
			{Kind: Write, A: 2, Info: true, Call: 0, Return: inf},
			{Kind: Read, A: 2, Call: 1, Return: 2},
			{Kind: Read, A: 1, Call: 3, Return: 4}}, false, Illegal},
		{"failed cas must match", []Op{{Kind: CAS, A: 3, B: 2, Call: 0, Return: 1}}, false, Illegal},
		{"info cas that misses is a no-op", []Op{
			{Kind: CAS, A: 3, B: 2, Info: true, Call: 0, Return: inf},
			{Kind: Read, A: 1, Call: 1, Return: 2}}, false, Ok},
		{"cas chain", []Op{
			{Kind: CAS, A: 1, B: 2, Call: 0, Return: 1},
			{Kind: CAS, A: 2, B: 3, Call: 2, Return: 3},
			{Kind: Read, A: 3, Call: 4, Return: 5}}, false, Ok},
		{"nil read is any state", []Op{{Kind: Read, A: 0, Call: 0, Return: 1}}, false, Ok},
		{"strict nil read", []Op{{Kind: Read, A: 0, Call: 0, Return: 1}}, true, Illegal},
	}
	for _, c := range cases {
		r := Check(context.Background(), c.ops, Options{Initial: 1, StrictNilReads: c.strict, TimeLimit: time.Second})
		if r.Verdict != c.want {
			t.Errorf("%s: got %v (%s), want %v", c.name, r.Verdict, r.Reason, c.want)
		}
	}
}

// TestStuck: an illegal search names the op it could not place.
func TestStuck(t *testing.T) {
	ops := []Op{
		{Kind: Write, A: 2, Call: 0, Return: 1},
		{Kind: Write, A: 3, Call: 2, Return: 3},
		{Kind: Read, A: 2, Call: 4, Return: 5},
	}
	r := Check(context.Background(), ops, Options{Initial: 1})
	if r.Verdict != Illegal || r.Stuck != 2 || r.Linearized != 2 || r.State != 3 {
		t.Fatalf("got %+v, want stuck at op 2 after 2 ops in state 3", r)
	}
	if r := Check(context.Background(), ops[:2], Options{Initial: 1}); r.Stuck != -1 {
		t.Fatalf("ok search: stuck %d", r.Stuck)
	}
}

// TestMemoClearIsSound: clearing the memo to stay within budget changes
// the cost, not the verdict.
func TestMemoClearIsSound(t *testing.T) {
	// Many concurrent writes of the same values, then reads: plenty of
	// equivalent configurations for the memo, and a budget that forces
	// clears must not change the verdict.
	var ops []Op
	for i := range 10 {
		ops = append(ops, Op{Kind: Write, A: int32(1 + i%3), Call: 0, Return: 100})
	}
	ops = append(ops, Op{Kind: Read, A: 2, Call: 101, Return: 102}, Op{Kind: Read, A: 3, Call: 103, Return: 104})
	for _, budget := range []int64{0, 6000} {
		r := Check(context.Background(), ops, Options{Initial: 1, MaxMemory: budget, TimeLimit: 10 * time.Second})
		if r.Verdict != Illegal {
			t.Fatalf("budget %d: got %v %s", budget, r.Verdict, r.Reason)
		}
		if budget > 0 && (r.MemoClears == 0 || r.Bytes > budget) {
			t.Fatalf("budget %d: %d clears, %d bytes", budget, r.MemoClears, r.Bytes)
		}
	}
}

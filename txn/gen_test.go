package txn

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func genAll(o GenOptions, n int, seed uint64) [][]Mop {
	p := NewPool(o)
	out := make([][]Mop, n)
	for i := range out {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		out[i] = p.Fill(o.Shape(r), seed)
	}
	return out
}

func TestGenerateElleShape(t *testing.T) {
	o := GenOptions{Write: Append, MaxWritesPerKey: 8}.Defaults()
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
	txns := genAll(o, 5000, 1)
	seen := map[[2]int64]bool{}
	writes := map[int64]int{}
	reads, keys := 0, map[int64]bool{}
	for _, tx := range txns {
		if len(tx) < 1 || len(tx) > 4 {
			t.Fatalf("txn of %d micro-ops, want 1..4: %v", len(tx), tx)
		}
		for _, m := range tx {
			k := m.Key.(int64)
			keys[k] = true
			switch m.Kind {
			case Read:
				reads++
				if m.Value != nil {
					t.Fatalf("read %v has a value before it ran", m)
				}
			case Append:
				v := m.Value.(int64)
				if seen[[2]int64{k, v}] {
					t.Fatalf("value %d appended to key %d twice", v, k)
				}
				seen[[2]int64{k, v}] = true
				writes[k]++
				if int64(writes[k]) != v {
					t.Fatalf("key %d: write %d has value %d; values count up from 1", k, writes[k], v)
				}
			default:
				t.Fatalf("unexpected kind in %v", m)
			}
		}
	}
	for k, n := range writes {
		if n > 8 {
			t.Errorf("key %d took %d writes, more than max_writes_per_key 8", k, n)
		}
	}
	// Keys retire: with ~5000 writes and at most 8 per key, many keys.
	if len(keys) < 5000/8/2 {
		t.Errorf("only %d distinct keys: keys do not rotate", len(keys))
	}
	if reads < 4000 || reads > 8500 {
		t.Errorf("%d reads of ~12500 micro-ops: reads and writes should be about even", reads)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	o := GenOptions{Write: Write}.Defaults()
	a, b := genAll(o, 200, 7), genAll(o, 200, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different transactions")
	}
	if c := genAll(o, 200, 8); reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same transactions")
	}
	for _, tx := range a {
		for _, m := range tx {
			if m.Kind == Append {
				t.Fatalf("rw-register generator appended: %v", m)
			}
		}
	}
}

func TestGenerateExponentialKeys(t *testing.T) {
	o := GenOptions{Write: Append, MaxWritesPerKey: 1 << 20}.Defaults()
	counts := make([]int, o.KeyCount)
	r := rand.New(rand.NewPCG(3, 3))
	for range 20000 {
		for _, m := range o.Shape(r) {
			counts[m.Slot]++
		}
	}
	// Base 2: slot 0 about twice as hot as slot 1, and so on.
	if ratio := float64(counts[0]) / float64(counts[1]); ratio < 1.7 || ratio > 2.3 {
		t.Errorf("slot 0 / slot 1 = %.2f, want about 2 (counts %v)", ratio, counts)
	}
	if counts[o.KeyCount-1] == 0 {
		t.Errorf("the coldest slot was never picked: %v", counts)
	}
	u := GenOptions{Write: Append, KeyDist: Uniform}.Defaults()
	if u.KeyCount != 3 {
		t.Errorf("uniform default key count %d, want Elle's 3", u.KeyCount)
	}
}

func TestGenOptionsCheck(t *testing.T) {
	for _, c := range []struct {
		o    GenOptions
		want string
	}{
		{GenOptions{Write: Append, MinLength: 5, MaxLength: 2}, "max_length (2) is less than min_length (5)"},
		{GenOptions{Write: Append, KeyCount: -1}, "key_count"},
		{GenOptions{Write: Append, KeyDist: "zipf"}, `key_dist must be "exponential" or "uniform"`},
		{GenOptions{Write: Append, KeyDistBase: 0.5}, "key_dist_base"},
		{GenOptions{Write: Read}, "write kind"},
	} {
		err := c.o.Defaults().Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.o, err, c.want)
		}
	}
}

func TestLongFork(t *testing.T) {
	g, err := NewLongFork(3)
	if err != nil {
		t.Fatal(err)
	}
	written := map[int64]bool{}
	reads := 0
	for i := range 3000 {
		r := rand.New(rand.NewPCG(1, uint64(i)))
		mops := g.Fill(LongForkShape(r), 1)
		if len(mops) == 1 && mops[0].Kind == Write {
			k := mops[0].Key.(int64)
			if written[k] || mops[0].Value != int64(1) {
				t.Fatalf("write %v: keys are written once, with 1", mops[0])
			}
			written[k] = true
			continue
		}
		reads++
		if len(mops) != 3 {
			t.Fatalf("read of %d keys, want the group's 3", len(mops))
		}
		group := mops[0].Key.(int64) / 3
		seen := map[int64]bool{}
		for _, m := range mops {
			k := m.Key.(int64)
			if m.Kind != Read || k/3 != group || seen[k] {
				t.Fatalf("read %v is not one group's keys each once", mops)
			}
			seen[k] = true
		}
	}
	if reads < 1000 || len(written) < 1000 {
		t.Fatalf("%d reads, %d writes", reads, len(written))
	}
	if _, err := NewLongFork(0); err == nil {
		t.Error("group size 0 accepted")
	}
}

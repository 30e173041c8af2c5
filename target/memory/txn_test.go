package memory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/jplan/jplan/generator"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/runner"
	"github.com/jplan/jplan/target/memory"
	"github.com/jplan/jplan/txn"
)

// pooled is a list-append value drawn the way a plan's list_append_txn
// draws it.
type pooled struct {
	pool  *txn.Pool
	shape []txn.SlotMop
}

func (p pooled) Resolve(seed uint64) (any, error) { return txn.Value(p.pool.Fill(p.shape, seed)), nil }

func runTxns(t *testing.T, iso string, n int) []history.Op {
	t.Helper()
	o := txn.GenOptions{Write: txn.Append, KeyCount: 3}.Defaults()
	pool := txn.NewPool(o)
	reg := memory.New(memory.Options{Isolation: iso, Seed: 1})
	mem := runner.NewMemRecorder()
	_, err := runner.Run(context.Background(), runner.Config{
		Nodes:       []string{"n1", "n2", "n3"},
		Concurrency: 6,
		Generator: generator.Clients(generator.Limit(n, generator.Repeat(generator.Invocation(txn.F, func(r *rand.Rand) (any, error) {
			return pooled{pool, o.Shape(r)}, nil
		})))),
		Client:   reg.Factory(),
		Recorder: mem,
		Seed:     1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mem.Ops()
}

// TestSerializableTxns: the reads of a key agree on one order of its
// appends (each is a prefix of the longest), every append is read by some
// later read or is at a list's end, and a transaction's read sees its own
// earlier appends.
func TestSerializableTxns(t *testing.T) {
	h := runTxns(t, memory.Serializable, 3000)
	longest := map[any][]any{}
	var reads [][2]any
	oks := 0
	for _, op := range h {
		if op.Type != history.OK {
			continue
		}
		oks++
		mops, err := txn.Parse(op.Value)
		if err != nil {
			t.Fatal(err)
		}
		mine := map[any][]any{}
		for _, m := range mops {
			switch m.Kind {
			case txn.Append:
				mine[m.Key] = append(mine[m.Key], m.Value)
			case txn.Read:
				got, _ := m.Value.([]any)
				if w := mine[m.Key]; len(w) > 0 && (len(got) < len(w) || fmt.Sprint(got[len(got)-len(w):]) != fmt.Sprint(w)) {
					t.Fatalf("op %d read %v of key %v, missing its own appends %v", op.Index, got, m.Key, w)
				}
				reads = append(reads, [2]any{m.Key, got})
				if len(got) > len(longest[m.Key]) {
					longest[m.Key] = got
				}
			}
		}
	}
	if oks != 3000 {
		t.Fatalf("%d ok txns of 3000", oks)
	}
	if len(reads) < 1000 {
		t.Fatalf("only %d reads", len(reads))
	}
	for _, r := range reads {
		got, whole := r[1].([]any), longest[r[0]]
		if fmt.Sprint(got) != fmt.Sprint(whole[:len(got)]) {
			t.Fatalf("read %v of key %v is not a prefix of %v: the reads disagree on the order of appends", got, r[0], whole)
		}
	}
}

package history

import (
	"errors"
	"strings"
	"testing"
)

func TestPairs(t *testing.T) {
	h := []Op{
		{Index: 0, Type: Invoke, Process: 0, F: "read"},
		{Index: 1, Type: Invoke, Process: 1, F: "write", Value: int64(1)},
		{Index: 2, Type: Info, Process: NemesisProcess, F: "start"},
		{Index: 3, Type: OK, Process: 0, F: "read", Value: int64(1)},
		{Index: 4, Type: Fail, Process: 1, F: "write", Value: int64(1)},
		{Index: 5, Type: Invoke, Process: 0, F: "cas", Value: []any{int64(1), int64(2)}},
	}
	ps, err := Pairs(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 4 {
		t.Fatalf("got %d pairs", len(ps))
	}
	if ps[0].InvokePos != 0 || ps[0].CompletionPos != 3 || ps[2].InvokePos != -1 || ps[3].CompletionPos != -1 {
		t.Errorf("positions wrong: %+v", ps)
	}
	if ps[0].Invoke.Index != 0 || ps[0].Completion.Index != 3 || ps[0].Value() != int64(1) || ps[0].Type() != OK {
		t.Errorf("read pair wrong: %+v", ps[0])
	}
	if ps[1].Type() != Fail || ps[1].Value() != int64(1) {
		t.Errorf("write pair wrong: %+v", ps[1])
	}
	if ps[2].Invoke != nil || ps[2].Completion.Index != 2 || ps[2].Process() != NemesisProcess {
		t.Errorf("bare info pair wrong: %+v", ps[2])
	}
	if ps[3].Completion != nil || ps[3].Type() != Info || ps[3].F() != "cas" {
		t.Errorf("pending invocation should pair with nothing and count as info: %+v", ps[3])
	}
}

func TestPairsErrors(t *testing.T) {
	cases := []struct {
		h    []Op
		want string
	}{
		{[]Op{{Index: 0, Type: OK, Process: 2, F: "read"}}, "completion without a prior invocation"},
		{[]Op{{Index: 0, Type: Invoke, Process: 2, F: "read"}, {Index: 1, Type: Invoke, Process: 2, F: "read"}}, "still pending"},
		{[]Op{{Index: 0, Type: Invoke, Process: 2, F: "read"}, {Index: 1, Type: OK, Process: 2, F: "write"}}, "whose f is"},
	}
	for _, c := range cases {
		_, err := Pairs(c.h)
		var pe *PairError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want PairError containing %q, got %v", c.want, err)
		}
	}
}

package checker

import (
	"context"
	"strings"
	"testing"

	"github.com/jplan/jplan/history"
)

// txnHistory builds a Knossos-style multi-register history from EDN.
func txnHistory(t *testing.T, edn string) []history.Op {
	t.Helper()
	h, err := history.ReadEDN(strings.NewReader(edn))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestTxnMultiRegister(t *testing.T) {
	valid := `
{:process 0 :type :invoke :f :txn :value [[:write :x 1] [:write :y 2]]}
{:process 1 :type :invoke :f :txn :value [[:read :x nil] [:read :y nil]]}
{:process 0 :type :ok     :f :txn :value [[:write :x 1] [:write :y 2]]}
{:process 1 :type :ok     :f :txn :value [[:read :x 1] [:read :y 2]]}
{:process 2 :type :invoke :f :txn :value [[:read :x nil]]}
{:process 2 :type :ok     :f :txn :value [[:read :x 1]]}`
	// A transaction that saw x's new value but y's old one: no order of
	// the two txns explains it (the write is atomic across keys).
	torn := `
{:process 0 :type :invoke :f :txn :value [[:write :x 1] [:write :y 2]]}
{:process 1 :type :invoke :f :txn :value [[:read :x nil] [:read :y nil]]}
{:process 0 :type :ok     :f :txn :value [[:write :x 1] [:write :y 2]]}
{:process 1 :type :ok     :f :txn :value [[:read :x 1] [:read :y 0]]}`
	initial := map[string]any{"x": int64(0), "y": int64(0)}
	l := Linearizable(LinearizableOptions{Model: ModelMultiRegister, Initial: initial})
	if r := l.Check(context.Background(), txnHistory(t, valid), Options{}); r.Valid != True {
		t.Errorf("valid txn history: %v %s %s", r.Valid, r.Summary, r.Error)
	}
	r := l.Check(context.Background(), txnHistory(t, torn), Options{Dir: t.TempDir()})
	if r.Valid != False {
		t.Errorf("torn read: %v %s %s", r.Valid, r.Summary, r.Error)
	}
	if len(r.Files) != 1 {
		t.Errorf("no visualization written: %v", r.Files)
	}
	// Without the initial state y=0 is not a value y ever held, so the
	// torn read is still invalid; with y read as nil it is consistent.
	nilRead := strings.Replace(torn, "[:read :y 0]", "[:read :y nil]", 1)
	if r := l.Check(context.Background(), txnHistory(t, nilRead), Options{}); r.Valid != True {
		t.Errorf("a read of nil must match any state (Knossos): %v %s", r.Valid, r.Error)
	}
	// An info txn may or may not have happened.
	info := strings.Replace(valid, "{:process 0 :type :ok     :f :txn :value [[:write :x 1] [:write :y 2]]}", "{:process 0 :type :info :f :txn :value nil}", 1)
	if r := l.Check(context.Background(), txnHistory(t, info), Options{}); r.Valid != True {
		t.Errorf("info write txn: %v %s %s", r.Valid, r.Summary, r.Error)
	}
	bad := Linearizable(LinearizableOptions{Model: ModelMultiRegister, Initial: int64(3)})
	if r := bad.Check(context.Background(), txnHistory(t, valid), Options{}); r.Valid != Unknown || r.Error == "" {
		t.Errorf("a scalar initial value for txns must be refused: %v", r.Valid)
	}
}

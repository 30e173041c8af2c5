package bank_test

import (
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/bank"
	"github.com/jplan/jplan/history"
)

// TestJepsenEDN: a history in the shape Jepsen's bank test writes, with
// integer account keys.
func TestJepsenEDN(t *testing.T) {
	h, err := history.ReadEDN(strings.NewReader(`
{:type :invoke, :f :transfer, :value {:from 0, :to 1, :amount 5}, :process 0, :time 100, :index 0}
{:type :invoke, :f :read, :value nil, :process 1, :time 200, :index 1}
{:type :ok, :f :transfer, :value {:from 0, :to 1, :amount 5}, :process 0, :time 300, :index 2}
{:type :ok, :f :read, :value {0 10, 1 10, 2 80}, :process 1, :time 400, :index 3}
{:type :invoke, :f :read, :value nil, :process 1, :time 500, :index 4}
{:type :ok, :f :read, :value {0 5, 1 10, 2 80}, :process 1, :time 600, :index 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	total := int64(100)
	res, d := check(t, bank.Options{Total: &total, Accounts: []int64{0, 1, 2}}, h, checker.Options{})
	if res.Valid != checker.False || d.ReadCount != 2 || d.ErrorCount != 1 || d.FirstError.Index != 5 ||
		d.FirstError.Total != 95 || d.TransferCount != 1 {
		t.Errorf("judged %v: %s; details %+v", res.Valid, res.Summary, *d)
	}
}

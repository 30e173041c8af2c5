package longfork_test

import (
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/longfork"
	"github.com/jplan/jplan/history"
)

// TestJepsenEDN: a history in the shape Jepsen's long-fork generator
// writes: :write and :read ops with keyword micro-ops.
func TestJepsenEDN(t *testing.T) {
	h, err := history.ReadEDN(strings.NewReader(`
{:type :invoke, :f :write, :value [[:w 4 1]], :process 0, :time 1, :index 0}
{:type :invoke, :f :write, :value [[:w 5 1]], :process 1, :time 2, :index 1}
{:type :ok, :f :write, :value [[:w 4 1]], :process 0, :time 3, :index 2}
{:type :ok, :f :write, :value [[:w 5 1]], :process 1, :time 4, :index 3}
{:type :invoke, :f :read, :value [[:r 5 nil] [:r 4 nil]], :process 2, :time 5, :index 4}
{:type :invoke, :f :read, :value [[:r 4 nil] [:r 5 nil]], :process 3, :time 6, :index 5}
{:type :ok, :f :read, :value [[:r 5 nil] [:r 4 1]], :process 2, :time 7, :index 6}
{:type :ok, :f :read, :value [[:r 4 nil] [:r 5 1]], :process 3, :time 8, :index 7}
{:type :invoke, :f :read, :value [[:r 4 nil] [:r 5 nil]], :process 2, :time 9, :index 8}
{:type :ok, :f :read, :value [[:r 4 1] [:r 5 1]], :process 2, :time 10, :index 9}
`))
	if err != nil {
		t.Fatal(err)
	}
	res, d := check(t, longfork.Options{GroupSize: 2}, h)
	if res.Valid != checker.False || d.ReadCount != 3 || d.LateReadCount != 1 || d.WriteCount != 2 || d.ForkCount != 1 ||
		d.Forks[0].A.Index != 6 || d.Forks[0].B.Index != 7 {
		t.Errorf("judged %v: %s; details %+v", res.Valid, res.Summary, d)
	}
}

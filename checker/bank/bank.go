// Package bank is Jepsen's bank checker: clients move money between
// accounts with transfers, and read every balance at once; a database that
// isolates transactions keeps the total constant, so every read must sum to
// it. It catches lost updates, read skew and partial transfers, which all
// make some snapshot's total wrong.
//
// Ops, with the default f names (Options renames them):
//
//	transfer  value {"from": 1, "to": 2, "amount": 5}
//	read      ok value {"0": 10, "1": 7, ...}: account id (decimal) to balance
//
// Only ok reads are judged. Like Jepsen, each bad read gets one error, the
// first that applies of: unexpected-key (an account not in Accounts),
// nil-balance (an account read as nil), wrong-total (balances do not sum
// to Total), negative-value (a balance below zero, unless allowed).
package bank

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/history"
)

// Options configure the checker.
type Options struct {
	// Total is the amount all accounts hold together; nil takes the total
	// of the first ok read.
	Total *int64
	// Accounts are the account ids; nil takes the accounts of the first
	// ok read.
	Accounts []int64
	// NegativeBalances allows balances below zero.
	NegativeBalances bool
	// ReadF and TransferF are the f names of reads and transfers; "read"
	// and "transfer" when empty.
	ReadF, TransferF string
}

// Error types, as Jepsen names them.
const (
	UnexpectedKey = "unexpected-key"
	NilBalance    = "nil-balance"
	WrongTotal    = "wrong-total"
	NegativeValue = "negative-value"
)

// Checker returns the bank checker. When Options.Dir is set it plots the
// total of every ok read over time (bank.svg).
func Checker(opts Options) checker.Checker {
	if opts.ReadF == "" {
		opts.ReadF = "read"
	}
	if opts.TransferF == "" {
		opts.TransferF = "transfer"
	}
	return bank{opts}
}

type bank struct{ o Options }

func (bank) Name() string { return "bank" }

// BadRead is an ok read that broke the rules.
type BadRead struct {
	Type string `json:"type"`
	// Index, Time and Process are those of the read's completion.
	Index   int64 `json:"index"`
	Time    int64 `json:"time"`
	Process int   `json:"process"`
	// Balances is the read's value, as recorded.
	Balances map[string]any `json:"balances"`
	// Total is the sum of the balances that are not nil.
	Total int64 `json:"total"`
	// Unexpected lists accounts not in Options.Accounts (unexpected-key),
	// Nils the accounts read as nil (nil-balance), Negative the balances
	// below zero (negative-value).
	Unexpected []string `json:"unexpected,omitempty"`
	Nils       []string `json:"nils,omitempty"`
	Negative   []int64  `json:"negative,omitempty"`
	// badness ranks errors of one type: bigger is worse (Jepsen's
	// err-badness).
	badness float64
}

// ErrorStats summarises the bad reads of one type.
type ErrorStats struct {
	Count int `json:"count"`
	// First and Last in history order; Worst by badness: the most
	// unexpected or nil accounts, the largest relative error of the
	// total, the most money below zero.
	First *BadRead `json:"first"`
	Worst *BadRead `json:"worst"`
	Last  *BadRead `json:"last"`
	// Lowest and Highest total, for wrong-total only.
	Lowest  *BadRead `json:"lowest,omitempty"`
	Highest *BadRead `json:"highest,omitempty"`
}

// Details is Result.Details.
type Details struct {
	ReadCount  int `json:"read-count"`
	ErrorCount int `json:"error-count"`
	// Total is the expected total, Accounts the expected accounts (given
	// or taken from the first ok read), numerically sorted.
	Total    int64    `json:"total"`
	Accounts []string `json:"accounts"`
	// TransferCount counts ok transfers (informative only).
	TransferCount int `json:"transfer-count"`
	// FirstError is the earliest bad read of any type.
	FirstError *BadRead `json:"first-error,omitempty"`
	// Errors holds the bad reads by type.
	Errors map[string]*ErrorStats `json:"errors,omitempty"`
}

// read is one ok read, kept for the plot.
type read struct {
	time  int64
	total int64
	bad   string // error type, "" when fine
}

func (c bank) Check(ctx context.Context, h []history.Op, opts checker.Options) checker.Result {
	fail := func(format string, args ...any) checker.Result {
		return checker.Result{Valid: checker.Unknown, Error: "bank: " + fmt.Sprintf(format, args...)}
	}
	d := &Details{Errors: map[string]*ErrorStats{}}
	var accounts map[string]bool
	if c.o.Accounts != nil {
		accounts = make(map[string]bool, len(c.o.Accounts))
		for _, a := range c.o.Accounts {
			accounts[strconv.FormatInt(a, 10)] = true
		}
	}
	haveTotal := c.o.Total != nil
	if haveTotal {
		d.Total = *c.o.Total
	}
	var reads []read
	for i := range h {
		if i%4096 == 0 && ctx.Err() != nil {
			return fail("%v", ctx.Err())
		}
		op := &h[i]
		if op.Type != history.OK || op.IsNemesis() {
			continue
		}
		if op.F == c.o.TransferF {
			d.TransferCount++
			continue
		}
		if op.F != c.o.ReadF {
			continue
		}
		m, ok := op.Value.(map[string]any)
		if !ok {
			return fail("read at index %d: value %v (%T) is not a map of account to balance", op.Index, op.Value, op.Value)
		}
		r := BadRead{Index: op.Index, Time: op.Time, Process: op.Process, Balances: m}
		var negative []int64
		for k, v := range m {
			if v == nil {
				r.Nils = append(r.Nils, k)
				continue
			}
			b, err := balance(v)
			if err != nil {
				return fail("read at index %d: account %s: %v", op.Index, k, err)
			}
			s := r.Total + b
			if (s > r.Total) != (b > 0) {
				return fail("read at index %d: total overflows int64", op.Index)
			}
			r.Total = s
			if b < 0 {
				negative = append(negative, b)
			}
		}
		if accounts == nil {
			accounts = make(map[string]bool, len(m))
			for k := range m {
				accounts[k] = true
			}
		}
		if !haveTotal {
			d.Total, haveTotal = r.Total, true
		}
		for k := range m {
			if !accounts[k] {
				r.Unexpected = append(r.Unexpected, k)
			}
		}
		switch {
		case len(r.Unexpected) > 0:
			r.Type, r.badness, r.Nils = UnexpectedKey, float64(len(r.Unexpected)), nil
			sortAccounts(r.Unexpected)
		case len(r.Nils) > 0:
			r.Type, r.badness = NilBalance, float64(len(r.Nils))
			sortAccounts(r.Nils)
		case r.Total != d.Total:
			r.Type = WrongTotal
			r.badness = math.Abs(float64(r.Total) - float64(d.Total))
			if d.Total != 0 {
				r.badness /= math.Abs(float64(d.Total))
			}
		case len(negative) > 0 && !c.o.NegativeBalances:
			r.Type = NegativeValue
			sort.Slice(negative, func(i, j int) bool { return negative[i] < negative[j] })
			r.Negative = negative
			for _, n := range negative {
				r.badness -= float64(n)
			}
		}
		d.ReadCount++
		reads = append(reads, read{time: op.Time, total: r.Total, bad: r.Type})
		if r.Type == "" {
			continue
		}
		d.ErrorCount++
		bad := new(BadRead)
		*bad = r
		if d.FirstError == nil {
			d.FirstError = bad
		}
		st := d.Errors[r.Type]
		if st == nil {
			st = &ErrorStats{First: bad, Worst: bad}
			if r.Type == WrongTotal {
				st.Lowest, st.Highest = bad, bad
			}
			d.Errors[r.Type] = st
		}
		st.Count++
		st.Last = bad
		if bad.badness > st.Worst.badness {
			st.Worst = bad
		}
		if r.Type == WrongTotal && bad.Total < st.Lowest.Total {
			st.Lowest = bad
		}
		if r.Type == WrongTotal && bad.Total > st.Highest.Total {
			st.Highest = bad
		}
	}
	for a := range accounts {
		d.Accounts = append(d.Accounts, a)
	}
	sortAccounts(d.Accounts)
	if len(d.Errors) == 0 {
		d.Errors = nil
	}

	res := checker.Result{Valid: checker.True, Details: d}
	switch {
	case d.ErrorCount > 0:
		res.Valid = checker.False
		var parts []string
		for _, t := range []string{UnexpectedKey, NilBalance, WrongTotal, NegativeValue} {
			if st := d.Errors[t]; st != nil {
				parts = append(parts, fmt.Sprintf("%d %s", st.Count, t))
			}
		}
		f := d.FirstError
		res.Summary = fmt.Sprintf("%d of %d reads bad (%s); first: %s at index %d, process %d, total %d of %d",
			d.ErrorCount, d.ReadCount, strings.Join(parts, ", "), f.Type, f.Index, f.Process, f.Total, d.Total)
	case d.ReadCount == 0:
		res.Summary = "no ok reads: nothing to check"
	default:
		res.Summary = fmt.Sprintf("all %d reads of %d accounts total %d", d.ReadCount, len(d.Accounts), d.Total)
	}
	if opts.Dir != "" && len(reads) > 0 {
		name, err := checker.WriteFile(opts.Dir, "bank.svg", plot(h, reads, d.Total))
		if err != nil {
			res.Error = "bank: " + err.Error()
		} else {
			res.Files = append(res.Files, name)
		}
	}
	return res
}

// balance reads a balance: an int64, or a float64 holding an integer (a
// JSON writer may print 5 as 5.0).
func balance(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
		return 0, fmt.Errorf("balance %v is not an integer", x)
	}
	return 0, fmt.Errorf("balance %v (%T) is not a number", v, v)
}

// sortAccounts orders account ids numerically when they are decimal
// integers, before any others, which sort as text.
func sortAccounts(as []string) {
	sort.Slice(as, func(i, j int) bool {
		a, errA := strconv.ParseInt(as[i], 10, 64)
		b, errB := strconv.ParseInt(as[j], 10, 64)
		switch {
		case errA == nil && errB == nil:
			return a < b
		case (errA == nil) != (errB == nil):
			return errA == nil
		}
		return as[i] < as[j]
	})
}

// plot draws each ok read's total over time, bad reads highlighted, and
// the expected total as a line, shaded by fault intervals.
func plot(h []history.Op, reads []read, total int64) []byte {
	ok := checker.PlotSeries{Name: "read", Shape: "circle"}
	wrong := checker.PlotSeries{Name: "wrong total", Color: "#d8403b", Shape: "cross"}
	other := checker.PlotSeries{Name: "other error", Color: "#f0a030", Shape: "triangle"}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range reads {
		pt := checker.PlotPoint{X: float64(r.time) / 1e9, Y: float64(r.total)}
		lo, hi = math.Min(lo, pt.X), math.Max(hi, pt.X)
		switch r.bad {
		case "":
			ok.Points = append(ok.Points, pt)
		case WrongTotal:
			wrong.Points = append(wrong.Points, pt)
		default:
			other.Points = append(other.Points, pt)
		}
	}
	expected := checker.PlotSeries{Name: fmt.Sprintf("expected %d", total), Color: "#2a9d5c",
		Points: []checker.PlotPoint{{X: lo, Y: float64(total)}, {X: hi, Y: float64(total)}}}
	p := checker.Plot{Title: "Bank: total of all accounts", XLabel: "time (s)", YLabel: "total", TightY: true,
		Faults: checker.FaultIntervals(h)}
	for _, s := range []checker.PlotSeries{expected, ok, wrong, other} {
		if len(s.Points) > 0 {
			p.Series = append(p.Series, s)
		}
	}
	return p.SVG()
}

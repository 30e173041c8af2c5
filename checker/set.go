package checker

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/jplan/jplan/history"
)

// SetOptions configure the set checker.
type SetOptions struct {
	// AddF and ReadF are the f names of adds and reads; "add" and "read"
	// when empty.
	AddF, ReadF string
	// MaxReported bounds each list of elements in the details (lost,
	// unexpected, recovered, failed-present); 0 means 100.
	MaxReported int
}

// Set returns Jepsen's set checker (jepsen.checker/set). Adds insert one
// element each (the invocation's value); a read returns the whole set as a
// list. Only the last ok read matters:
//
//   - lost: elements whose add completed ok but that the final read lacks;
//   - unexpected: elements in the final read that no add ever attempted;
//   - recovered: present elements whose adds were indeterminate (info, or
//     never completed) and none ok;
//   - ok: present elements that some add attempted.
//
// The history is valid iff nothing is lost or unexpected; unknown when
// there is no ok read. Elements whose every add failed but that are present
// are reported (failed-present) without invalidating the history, as in
// Jepsen, which counts them among the recovered. Elements are int64,
// float64 or strings and compare by type and content (1 ≠ 1.0).
func Set(opts SetOptions) Checker {
	if opts.AddF == "" {
		opts.AddF = "add"
	}
	if opts.ReadF == "" {
		opts.ReadF = "read"
	}
	if opts.MaxReported <= 0 {
		opts.MaxReported = 100
	}
	return setChecker{opts}
}

type setChecker struct{ o SetOptions }

func (setChecker) Name() string { return "set" }

// SetDetails is Result.Details for the set checker. The element lists are
// sorted (numbers, then strings) and hold at most SetOptions.MaxReported
// elements each; the counts are complete.
type SetDetails struct {
	AttemptCount       int   `json:"attempt-count"`
	AcknowledgedCount  int   `json:"acknowledged-count"`
	OKCount            int   `json:"ok-count"`
	LostCount          int   `json:"lost-count"`
	UnexpectedCount    int   `json:"unexpected-count"`
	RecoveredCount     int   `json:"recovered-count"`
	FailedPresentCount int   `json:"failed-present-count"`
	Lost               []any `json:"lost,omitempty"`
	Unexpected         []any `json:"unexpected,omitempty"`
	Recovered          []any `json:"recovered,omitempty"`
	FailedPresent      []any `json:"failed-present,omitempty"`
	// FinalReadIndex is the Index of the completion of the read judged.
	FinalReadIndex int64 `json:"final-read-index"`
	// FinalReadSize is the number of distinct elements it returned.
	FinalReadSize int `json:"final-read-size"`
}

// addOutcome records what became of an element's adds.
type addOutcome uint8

const (
	addFailed addOutcome = 1 << iota
	addIndeterminate
	addOK
)

func (c setChecker) Check(ctx context.Context, h []history.Op, _ Options) Result {
	ops := history.ClientOps(h)
	pairs, err := history.Pairs(ops)
	if err != nil {
		return Result{Valid: Unknown, Error: err.Error()}
	}
	attempts := map[any]addOutcome{}
	var final *history.Pair
	for i := range pairs {
		if i%4096 == 0 && ctx.Err() != nil {
			return Result{Valid: Unknown, Error: "set: " + ctx.Err().Error()}
		}
		p := &pairs[i]
		if p.Invoke == nil {
			// A bare info completion has no invocation: Jepsen counts
			// attempts from invocations only.
			continue
		}
		switch p.F() {
		case c.o.AddF:
			e, err := setElement(p.Invoke.Value)
			if err != nil {
				return Result{Valid: Unknown, Error: fmt.Sprintf("set: add at index %d: %v", p.Invoke.Index, err)}
			}
			switch p.Type() {
			case history.OK:
				attempts[e] |= addOK
			case history.Fail:
				attempts[e] |= addFailed
			default:
				attempts[e] |= addIndeterminate
			}
		case c.o.ReadF:
			if p.Type() == history.OK && (final == nil || p.CompletionPos > final.CompletionPos) {
				final = p
			}
		}
	}
	if final == nil {
		return Result{Valid: Unknown, Error: "set was never read: no ok " + c.o.ReadF,
			Summary: fmt.Sprintf("set was never read (no ok %s); %d adds attempted", c.o.ReadF, len(attempts))}
	}
	list, ok := final.Completion.Value.([]any)
	if !ok && final.Completion.Value != nil {
		return Result{Valid: Unknown, Error: fmt.Sprintf("set: final read at index %d: value %v (%T) is not a list",
			final.Completion.Index, final.Completion.Value, final.Completion.Value)}
	}
	read := make(map[any]bool, len(list))
	for _, v := range list {
		e, err := setElement(v)
		if err != nil {
			return Result{Valid: Unknown, Error: fmt.Sprintf("set: final read at index %d: %v", final.Completion.Index, err)}
		}
		read[e] = true
	}

	var lost, unexpected, recovered, failedPresent []any
	d := &SetDetails{AttemptCount: len(attempts), FinalReadIndex: final.Completion.Index, FinalReadSize: len(read)}
	for e, out := range attempts {
		if out&addOK != 0 {
			d.AcknowledgedCount++
		}
		switch {
		case !read[e]:
			if out&addOK != 0 {
				lost = append(lost, e)
			}
		case out&addOK != 0:
			d.OKCount++
		case out&addIndeterminate != 0:
			d.OKCount++
			recovered = append(recovered, e)
		default:
			d.OKCount++
			failedPresent = append(failedPresent, e)
		}
	}
	for e := range read {
		if _, ok := attempts[e]; !ok {
			unexpected = append(unexpected, e)
		}
	}
	d.LostCount, d.UnexpectedCount = len(lost), len(unexpected)
	d.RecoveredCount, d.FailedPresentCount = len(recovered), len(failedPresent)
	limit := c.o.MaxReported
	d.Lost = sortedElements(lost, limit)
	d.Unexpected = sortedElements(unexpected, limit)
	d.Recovered = sortedElements(recovered, limit)
	d.FailedPresent = sortedElements(failedPresent, limit)

	res := Result{Valid: True, Details: d}
	var parts []string
	if len(lost) > 0 {
		res.Valid = False
		parts = append(parts, fmt.Sprintf("%d of %d acknowledged adds lost: %s",
			len(lost), d.AcknowledgedCount, elementList(d.Lost, len(lost))))
	}
	if len(unexpected) > 0 {
		res.Valid = False
		parts = append(parts, fmt.Sprintf("%d unexpected elements never added: %s",
			len(unexpected), elementList(d.Unexpected, len(unexpected))))
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("all %d acknowledged adds present in the final read", d.AcknowledgedCount))
		if len(recovered) > 0 {
			parts = append(parts, fmt.Sprintf("%d indeterminate adds recovered", len(recovered)))
		}
	}
	if len(failedPresent) > 0 {
		parts = append(parts, fmt.Sprintf("%d failed adds present anyway", len(failedPresent)))
	}
	res.Summary = strings.Join(parts, "; ")
	return res
}

// setElement checks that v can be a set element: an int64, a finite or
// infinite (not NaN) float64, or a string. Such values are comparable and
// equal exactly when they have the same type and content.
func setElement(v any) (any, error) {
	switch x := v.(type) {
	case int64, string:
		return x, nil
	case float64:
		if math.IsNaN(x) {
			return nil, fmt.Errorf("element NaN cannot be compared")
		}
		return x, nil
	}
	return nil, fmt.Errorf("element %v (%T) is not an integer, float or string", v, v)
}

// elementLess orders elements: numbers by value (an int64 before an equal
// float64), then strings.
func elementLess(a, b any) bool {
	as, aStr := a.(string)
	bs, bStr := b.(string)
	switch {
	case aStr && bStr:
		return as < bs
	case aStr != bStr:
		return bStr
	}
	af, bf := numberFloat(a), numberFloat(b)
	if af != bf {
		return af < bf
	}
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	if aInt && bInt {
		return ai < bi // equal as floats, not as integers
	}
	return aInt && !bInt
}

func numberFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// sortedElements sorts es and returns at most limit of them.
func sortedElements(es []any, limit int) []any {
	sort.Slice(es, func(i, j int) bool { return elementLess(es[i], es[j]) })
	if len(es) > limit {
		es = es[:limit:limit]
	}
	return es
}

// elementList renders at most ten of the sorted elements es, out of total.
func elementList(es []any, total int) string {
	n := min(len(es), 10)
	parts := make([]string, n)
	for i, e := range es[:n] {
		parts[i] = formatNumberOrString(e)
	}
	out := strings.Join(parts, ", ")
	if total > n {
		out += fmt.Sprintf(", … (%d more)", total-n)
	}
	return out
}

// formatNumberOrString renders an element or counter value so that a float
// never reads as an integer (1.0, not 1) and strings are quoted.
func formatNumberOrString(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eIN") {
			s += ".0"
		}
		return s
	}
	return fmt.Sprint(v)
}

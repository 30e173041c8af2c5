package checker

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jplan/jplan/history"
)

// Stats returns Jepsen's stats checker: counts of ok, fail and info
// completions of client ops, overall and per f. The history is invalid if
// some f has no ok completion at all — a workload where, say, every cas
// fails is testing nothing. Invocations are not counted, so an op that
// never completed is not counted either, as in Jepsen.
func Stats() Checker { return statsChecker{} }

type statsChecker struct{}

func (statsChecker) Name() string { return "stats" }

// Counts are completion counts.
type Counts struct {
	Valid Validity `json:"valid"`
	Count int      `json:"count"`
	OK    int      `json:"ok-count"`
	Fail  int      `json:"fail-count"`
	Info  int      `json:"info-count"`
}

// StatsDetails is Result.Details for the stats checker.
type StatsDetails struct {
	Counts
	ByF map[string]Counts `json:"by-f"`
}

func (c *Counts) add(t history.Type) {
	switch t {
	case history.OK:
		c.OK++
	case history.Fail:
		c.Fail++
	case history.Info:
		c.Info++
	default:
		return
	}
	c.Count++
}

func (statsChecker) Check(_ context.Context, h []history.Op, _ Options) Result {
	d := &StatsDetails{ByF: map[string]Counts{}}
	for _, op := range h {
		if op.Process == history.NemesisProcess || op.Type == history.Invoke {
			continue
		}
		d.add(op.Type)
		c := d.ByF[op.F]
		c.add(op.Type)
		d.ByF[op.F] = c
	}
	fs := make([]string, 0, len(d.ByF))
	for f := range d.ByF {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	d.Valid = True
	var never []string
	for _, f := range fs {
		c := d.ByF[f]
		c.Valid = True
		if c.OK == 0 {
			c.Valid = False
			never = append(never, f)
		}
		d.ByF[f] = c
		d.Valid = Merge(d.Valid, c.Valid)
	}
	res := Result{Valid: d.Valid, Details: d}
	if len(never) > 0 {
		res.Summary = fmt.Sprintf("never succeeded: %s", strings.Join(never, ", "))
	} else {
		res.Summary = fmt.Sprintf("%d completions: %d ok, %d fail, %d info", d.Count, d.OK, d.Fail, d.Info)
	}
	return res
}

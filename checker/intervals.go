package checker

import (
	"strings"

	"github.com/jplan/jplan/history"
)

// FaultInterval is a period during which the nemesis had a fault active.
type FaultInterval struct {
	// Kind is what follows "start" in the opening op's f, without a
	// leading '-' or '_': "partition" for start-partition, "" for start.
	Kind string `json:"kind"`
	// Start is the time (ns) the opening op was invoked.
	Start int64 `json:"start"`
	// End is the time the closing op completed (or was invoked, if it
	// never completed); for a fault never stopped, the history's last
	// time. Open says which.
	End  int64 `json:"end"`
	Open bool  `json:"open,omitempty"`
}

// FaultIntervals pairs nemesis start and stop ops into intervals. A nemesis
// op whose f begins with "start" opens an interval of kind f minus "start";
// one whose f begins with "stop" closes every open interval of the same
// kind, and a bare "stop" closes all of them. Intervals span from the
// start op's invocation to the stop op's completion, the widest window in
// which the fault may have been active. Other nemesis ops are ignored.
func FaultIntervals(h []history.Op) []FaultInterval {
	var out []FaultInterval
	open := map[string][]int{} // kind -> indexes into out
	var last int64
	for i := range h {
		if h[i].Time > last {
			last = h[i].Time
		}
	}
	var nem []history.Op
	for _, op := range h {
		if op.Process == history.NemesisProcess {
			nem = append(nem, op)
		}
	}
	pairs, err := history.Pairs(nem)
	if err != nil {
		// A malformed nemesis history still deserves shading: treat every
		// op as its own invocation and completion.
		pairs = pairs[:0]
		for i := range nem {
			pairs = append(pairs, history.Pair{Invoke: &nem[i], Completion: &nem[i]})
		}
	}
	for _, p := range pairs {
		f := p.F()
		start := p.Start().Time
		end := start
		if p.Completion != nil {
			end = p.Completion.Time
		}
		switch {
		case strings.HasPrefix(f, "start"):
			kind := strings.TrimLeft(strings.TrimPrefix(f, "start"), "-_")
			open[kind] = append(open[kind], len(out))
			out = append(out, FaultInterval{Kind: kind, Start: start, End: last, Open: true})
		case strings.HasPrefix(f, "stop"):
			kind := strings.TrimLeft(strings.TrimPrefix(f, "stop"), "-_")
			for k, idxs := range open {
				if kind != "" && k != kind {
					continue
				}
				for _, i := range idxs {
					out[i].End, out[i].Open = end, false
				}
				delete(open, k)
			}
		}
	}
	return out
}

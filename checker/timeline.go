package checker

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"sort"
	"time"

	"github.com/jplan/jplan/history"
)

// TimelineOptions configures Timeline.
type TimelineOptions struct {
	// MaxOps bounds how many ops are drawn (the first ones); the page
	// says when it is truncated. Default 10000: browsers struggle beyond.
	MaxOps int
}

// Timeline returns a checker that writes timeline.html: one column per
// process (nemesis first), each op a box from its invocation to its
// completion, colored by outcome, with the details in a tooltip; fault
// intervals are shaded across all columns. Always valid.
func Timeline(o TimelineOptions) Checker {
	if o.MaxOps <= 0 {
		o.MaxOps = 10000
	}
	return timelineChecker{o}
}

type timelineChecker struct{ o TimelineOptions }

func (timelineChecker) Name() string { return "timeline" }

func (c timelineChecker) Check(ctx context.Context, h []history.Op, opts Options) Result {
	pairs, err := history.Pairs(h)
	if err != nil {
		return Result{Valid: Unknown, Error: "timeline: " + err.Error()}
	}
	res := Result{Valid: True, Summary: fmt.Sprintf("%d ops", len(pairs))}
	if opts.Dir == "" {
		return res
	}
	page := c.render(h, pairs)
	name, err := writeFile(opts.Dir, "timeline.html", page)
	if err != nil {
		res.Error = "timeline: " + err.Error()
		return res
	}
	res.Files = []string{name}
	return res
}

const (
	colWidth   = 110
	axisWidth  = 80
	minBoxPx   = 3
	targetPxOp = 18 // median op gets about this many pixels of height
	maxPagePx  = 400000
)

func (c timelineChecker) render(h []history.Op, pairs []history.Pair) []byte {
	truncated := false
	if len(pairs) > c.o.MaxOps {
		pairs = pairs[:c.o.MaxOps]
		truncated = true
	}
	var t0, t1 int64
	if len(pairs) > 0 {
		t0 = pairs[0].Start().Time
	}
	procs := map[int]bool{}
	var lats []int64
	for _, p := range pairs {
		procs[p.Process()] = true
		end := p.Start().Time
		if p.Completion != nil {
			end = p.Completion.Time
		}
		t1 = max(t1, end)
		if p.Invoke != nil && p.Completion != nil {
			lats = append(lats, p.Completion.Time-p.Invoke.Time)
		}
	}
	// Scale so a typical op is readable, but keep the page a sane height.
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	scale := 1e-6 // px per ns
	if len(lats) > 0 && lats[len(lats)/2] > 0 {
		scale = targetPxOp / float64(lats[len(lats)/2])
	}
	if span := float64(t1 - t0); span*scale > maxPagePx {
		scale = maxPagePx / span
	}
	order := make([]int, 0, len(procs))
	for p := range procs {
		order = append(order, p)
	}
	sort.Ints(order) // NemesisProcess (-1) sorts first
	col := map[int]int{}
	for i, p := range order {
		col[p] = i
	}
	height := int(float64(t1-t0)*scale) + 40

	var b bytes.Buffer
	b.WriteString(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Timeline</title>
<style>
body{font-family:sans-serif;font-size:11px;margin:0}
.hdr{position:sticky;top:0;background:#fff;z-index:2;height:22px;border-bottom:1px solid #999}
.hdr div{position:absolute;width:` + fmt.Sprint(colWidth-6) + `px;text-align:center;font-weight:bold;top:4px}
.ops{position:relative}
.op{position:absolute;width:` + fmt.Sprint(colWidth-6) + `px;overflow:hidden;border-radius:2px;box-sizing:border-box;border:1px solid rgba(0,0,0,.25);padding:0 2px;white-space:nowrap}
.ok{background:#a9cdf5}.info{background:#f8d79a}.fail{background:#f2a7a4}.invoke{background:#e8e8e8}
.fault{position:absolute;left:0;right:0;background:rgba(120,120,120,.15);border-top:1px dashed #888}
.tick{position:absolute;left:4px;color:#666}
.note{padding:6px;background:#fff3cd}
</style></head><body>
`)
	if truncated {
		fmt.Fprintf(&b, `<div class="note">Showing the first %d ops of %d.</div>`+"\n", c.o.MaxOps, len(h))
	}
	b.WriteString(`<div class="hdr">`)
	for i, p := range order {
		fmt.Fprintf(&b, `<div style="left:%dpx">%s</div>`, axisWidth+i*colWidth, html.EscapeString(history.ProcessName(p)))
	}
	b.WriteString("</div>\n")
	fmt.Fprintf(&b, `<div class="ops" style="height:%dpx;width:%dpx">`+"\n", height, axisWidth+len(order)*colWidth)
	for _, fi := range FaultIntervals(h) {
		top := float64(fi.Start-t0) * scale
		hgt := max(float64(fi.End-fi.Start)*scale, 1)
		fmt.Fprintf(&b, `<div class="fault" style="top:%.0fpx;height:%.0fpx" title="fault %s"></div>`+"\n", top, hgt, html.EscapeString(fi.Kind))
	}
	// Time ticks along the left edge.
	span := time.Duration(t1 - t0)
	step := autoWindow(span) * 10
	for t := time.Duration(0); t <= span; t += step {
		fmt.Fprintf(&b, `<div class="tick" style="top:%.0fpx">%.3fs</div>`, float64(t)*scale, (float64(t0)+float64(t))/1e9)
	}
	b.WriteString("\n")
	for _, p := range pairs {
		start := p.Start()
		top := float64(start.Time-t0) * scale
		cls := "invoke"
		end := start.Time
		if p.Completion != nil {
			cls = p.Completion.Type.String()
			end = p.Completion.Time
		}
		hgt := max(float64(end-start.Time)*scale, minBoxPx)
		tip := fmt.Sprintf("process %s\n%s %s\n%s", history.ProcessName(p.Process()), p.F(), fmtValue(p.Value()), timelineTimes(p))
		if p.Completion != nil && p.Completion.Error != "" {
			tip += "\nerror: " + p.Completion.Error
		}
		label := p.F() + " " + fmtValue(p.Value())
		fmt.Fprintf(&b, `<div class="op %s" style="left:%dpx;top:%.0fpx;height:%.0fpx" title="%s">%s</div>`+"\n",
			cls, axisWidth+col[p.Process()]*colWidth, top, hgt, html.EscapeString(tip), html.EscapeString(label))
	}
	b.WriteString("</div></body></html>\n")
	return b.Bytes()
}

func timelineTimes(p history.Pair) string {
	switch {
	case p.Invoke == nil:
		return fmt.Sprintf("%s at %s (index %d), no invocation", p.Completion.Type, fmtNanos(p.Completion.Time), p.Completion.Index)
	case p.Completion == nil:
		return fmt.Sprintf("invoked at %s (index %d), never completed", fmtNanos(p.Invoke.Time), p.Invoke.Index)
	}
	return fmt.Sprintf("%s: %s → %s (%s), index %d → %d", p.Completion.Type,
		fmtNanos(p.Invoke.Time), fmtNanos(p.Completion.Time),
		time.Duration(p.Completion.Time-p.Invoke.Time), p.Invoke.Index, p.Completion.Index)
}

package checker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"sort"
	"time"

	"github.com/jplan/jplan/history"
)

// TimelineOptions configures Timeline.
type TimelineOptions struct {
	// MaxOps bounds how many ops the page holds (the first ones); the
	// page says when it is truncated. Default 1,000,000.
	MaxOps int
	// StaticOps is how many ops are written as plain HTML boxes, which
	// need no script; a longer history is drawn by a small inline script
	// that creates boxes only for the part of the page in view, so 100k
	// ops scroll without freezing the browser. Default 5000.
	StaticOps int
}

// Timeline returns a checker that writes timeline.html: one column per
// process (nemesis first), each op a box from its invocation to its
// completion, colored by outcome, with the details in a tooltip; fault
// intervals are shaded across all columns. Always valid.
func Timeline(o TimelineOptions) Checker {
	if o.MaxOps <= 0 {
		o.MaxOps = 1_000_000
	}
	if o.StaticOps <= 0 {
		o.StaticOps = 5000
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

	page := timelinePage{BoxWidth: colWidth - 6, Truncated: truncated, MaxOps: c.o.MaxOps, Total: len(h),
		Height: height, Width: axisWidth + len(order)*colWidth}
	for i, p := range order {
		page.Procs = append(page.Procs, timelineHdr{Left: axisWidth + i*colWidth, Name: history.ProcessName(p)})
	}
	for _, fi := range FaultIntervals(h) {
		page.Faults = append(page.Faults, timelineFault{Top: px(float64(fi.Start-t0) * scale),
			Height: px(max(float64(fi.End-fi.Start)*scale, 1)), Kind: fi.Kind})
	}
	// Time ticks along the left edge.
	span := time.Duration(t1 - t0)
	step := autoWindow(span) * 10
	for t := time.Duration(0); t <= span; t += step {
		page.Ticks = append(page.Ticks, timelineTick{Top: px(float64(t) * scale), Label: fmt.Sprintf("%.3fs", (float64(t0)+float64(t))/1e9)})
	}
	if len(pairs) > c.o.StaticOps {
		page.Scripted = true
		page.Data = timelineData(pairs, t0, scale, col)
		page.Classes, page.Axis, page.Col = timelineClasses, axisWidth, colWidth
	} else {
		for _, p := range pairs {
			start := p.Start()
			cls := "invoke"
			end := start.Time
			if p.Completion != nil {
				cls = p.Completion.Type.String()
				end = p.Completion.Time
			}
			tip := fmt.Sprintf("process %s\n%s %s\n%s", history.ProcessName(p.Process()), p.F(), fmtValue(p.Value()), timelineTimes(p))
			if p.Completion != nil && p.Completion.Error != "" {
				tip += "\nerror: " + p.Completion.Error
			}
			page.Ops = append(page.Ops, timelineBox{Class: cls, Left: axisWidth + col[p.Process()]*colWidth,
				Top: px(float64(start.Time-t0) * scale), Height: px(max(float64(end-start.Time)*scale, minBoxPx)),
				Title: tip, Label: p.F() + " " + fmtValue(p.Value())})
		}
	}
	var b bytes.Buffer
	if err := timelineTemplate.Execute(&b, page); err != nil {
		// The template is fixed and its data plain: an error is a bug.
		panic("timeline: " + err.Error())
	}
	return b.Bytes()
}

// px rounds a position to whole pixels.
func px(f float64) int { return int(math.Round(f)) }

// timelinePage is what timelineTemplate draws. html/template escapes every
// name, value and error a history holds, in whichever part of the page
// (text, attribute, style, script) it lands.
type timelinePage struct {
	BoxWidth      int
	Truncated     bool
	MaxOps, Total int
	Procs         []timelineHdr
	Height, Width int
	Faults        []timelineFault
	Ticks         []timelineTick
	Ops           []timelineBox
	Scripted      bool
	Data          template.JS // the ops as JSON rows, for the script
	Classes       []string
	Axis, Col     int
}

type timelineHdr struct {
	Left int
	Name string
}

type timelineFault struct {
	Top, Height int
	Kind        string
}

type timelineTick struct {
	Top   int
	Label string
}

type timelineBox struct {
	Class             string
	Left, Top, Height int
	Title, Label      string
}

// timelineClasses are the box classes, indexed by the rows' class column.
var timelineClasses = []string{"invoke", "ok", "fail", "info"}

var timelineTemplate = template.Must(template.New("timeline").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Timeline</title>
<style>
body{font-family:sans-serif;font-size:11px;margin:0}
.hdr{position:sticky;top:0;background:#fff;z-index:2;height:22px;border-bottom:1px solid #999}
.hdr div{position:absolute;width:{{.BoxWidth}}px;text-align:center;font-weight:bold;top:4px}
.ops{position:relative}
.op{position:absolute;width:{{.BoxWidth}}px;overflow:hidden;border-radius:2px;box-sizing:border-box;border:1px solid rgba(0,0,0,.25);padding:0 2px;white-space:nowrap}
.ok{background:#a9cdf5}.info{background:#f8d79a}.fail{background:#f2a7a4}.invoke{background:#e8e8e8}
.fault{position:absolute;left:0;right:0;background:rgba(120,120,120,.15);border-top:1px dashed #888}
.tick{position:absolute;left:4px;color:#666}
.note{padding:6px;background:#fff3cd}
</style></head><body>
{{if .Truncated}}<div class="note">Showing the first {{.MaxOps}} ops of {{.Total}}.</div>
{{end -}}
<div class="hdr">{{range .Procs}}<div style="left:{{.Left}}px">{{.Name}}</div>{{end}}</div>
<div class="ops" style="height:{{.Height}}px;width:{{.Width}}px">
{{range .Faults}}<div class="fault" style="top:{{.Top}}px;height:{{.Height}}px" title="fault {{.Kind}}"></div>
{{end}}{{range .Ticks}}<div class="tick" style="top:{{.Top}}px">{{.Label}}</div>{{end}}
{{if .Scripted -}}
<noscript><div class="note">This history is long: the timeline is drawn by a script. Enable scripts to see it.</div></noscript>
<script type="application/json" id="ops-data">{{.Data}}</script>
<script>
(function(){
var D=JSON.parse(document.getElementById("ops-data").textContent);
var C={{.Classes}}, AX={{.Axis}}, CW={{.Col}}, box=document.querySelector(".ops"), layer=document.createElement("div");
var procs=[].map.call(document.querySelectorAll(".hdr div"),function(e){return e.textContent});
box.appendChild(layer);
var maxH=0; for(var i=0;i<D.length;i++){ if(D[i][2]>maxH) maxH=D[i][2]; }
function first(y){ var lo=0,hi=D.length; while(lo<hi){ var m=(lo+hi)>>1; if(D[m][1]<y) lo=m+1; else hi=m; } return lo; }
function tip(r){ var s="process "+procs[r[0]]+"\n"+r[4]+"\n";
  s+= r[5]<0 ? "no invocation" : "invoked at "+r[6].toFixed(6)+"s (index "+r[5]+")";
  s+= r[7]<0 ? ", never completed" : ", "+C[r[3]]+" at "+r[8].toFixed(6)+"s (index "+r[7]+")";
  if(r[9]) s+="\nerror: "+r[9]; return s; }
var shown=-1;
function draw(){
  var top=box.getBoundingClientRect().top+window.scrollY, y0=window.scrollY-top-400, y1=y0+window.innerHeight+800;
  var key=Math.floor(y0/200); if(key===shown) return; shown=key;
  var f=document.createDocumentFragment();
  for(var i=first(y0-maxH); i<D.length && D[i][1]<=y1; i++){ var r=D[i];
    if(r[1]+r[2]<y0) continue;
    var d=document.createElement("div"); d.className="op "+C[r[3]];
    d.style.left=(AX+r[0]*CW)+"px"; d.style.top=r[1]+"px"; d.style.height=r[2]+"px";
    d.title=tip(r); d.textContent=r[4]; f.appendChild(d); }
  layer.replaceChildren(f);
}
window.addEventListener("scroll",function(){ requestAnimationFrame(draw); });
window.addEventListener("resize",function(){ shown=-1; draw(); });
draw();
})();
</script>
{{else}}{{range .Ops}}<div class="op {{.Class}}" style="left:{{.Left}}px;top:{{.Top}}px;height:{{.Height}}px" title="{{.Title}}">{{.Label}}</div>
{{end}}{{end}}</div></body></html>
`))

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

// timelineData is the ops as JSON rows for the drawing script, which
// creates boxes only for the part of the page in view (plus a margin),
// redrawing on scroll: a browser then holds a few hundred elements instead
// of one per op. Rows: [column, top px, height px, class, label, invoke
// index, invoke time, completion index, completion time, error]; ordered by
// top, as pairs are by start.
func timelineData(pairs []history.Pair, t0 int64, scale float64, col map[int]int) template.JS {
	clsOf := map[string]int{}
	for i, c := range timelineClasses {
		clsOf[c] = i
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, p := range pairs {
		start := p.Start()
		cls, end, ci, ct, errs := "invoke", start.Time, int64(-1), int64(-1), ""
		if p.Completion != nil {
			cls, end = p.Completion.Type.String(), p.Completion.Time
			ci, ct, errs = p.Completion.Index, p.Completion.Time, p.Completion.Error
		}
		ii, it := int64(-1), int64(-1)
		if p.Invoke != nil {
			ii, it = p.Invoke.Index, p.Invoke.Time
		}
		row, _ := json.Marshal([]any{col[p.Process()], int64(float64(start.Time-t0) * scale), int64(max(float64(end-start.Time)*scale, minBoxPx)),
			clsOf[cls], p.F() + " " + fmtValue(p.Value()), ii, float64(it) / 1e9, ci, float64(ct) / 1e9, errs})
		if i > 0 {
			b.WriteByte(',')
		}
		// json.Marshal escapes <, > and &, so no "</script>" can end the
		// element early; the rows go in as they are.
		b.Write(row)
	}
	b.WriteByte(']')
	return template.JS(b.String())
}

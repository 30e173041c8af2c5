package checker

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strconv"
)

// A tiny SVG plotter: enough for scatter and line plots with a linear x
// axis, a linear or log y axis, shaded bands and a legend. Written here to
// keep jplan free of plotting dependencies.

type point struct{ x, y float64 }

type series struct {
	name   string
	color  string
	shape  string // circle, square, triangle, diamond, cross; "" for a line
	points []point
}

type band struct {
	x0, x1 float64
	label  string
	color  string
}

type plot struct {
	title, xlabel, ylabel string
	logY                  bool
	tightY                bool // y spans the data, not from zero
	series                []series
	bands                 []band
}

const (
	plotW, plotH                               = 960, 480
	marginL, marginR, marginT, marginB         = 70, 200, 40, 50
	innerW                                     = plotW - marginL - marginR
	innerH                                     = plotH - marginT - marginB
	bandOpacity                                = "0.18"
	pointRadius                        float64 = 2.2
)

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	// Multiply rather than accumulate, so ticks stay round numbers.
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		ticks = append(ticks, k*step)
	}
	return ticks
}

func fmtTick(v float64) string {
	// Six significant digits hide float noise like 0.0012000000000000001.
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func (p *plot) render() []byte {
	// Data ranges.
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range p.series {
		for _, pt := range s.points {
			xmin, xmax = math.Min(xmin, pt.x), math.Max(xmax, pt.x)
			if p.logY && pt.y <= 0 {
				continue
			}
			ymin, ymax = math.Min(ymin, pt.y), math.Max(ymax, pt.y)
		}
	}
	for _, b := range p.bands {
		xmin, xmax = math.Min(xmin, b.x0), math.Max(xmax, b.x1)
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	if math.IsInf(ymin, 0) {
		ymin, ymax = 0, 1
		if p.logY {
			ymin, ymax = 1, 10
		}
	}
	switch {
	case p.tightY && !p.logY:
		// Pad the data's own range, so that small differences (a bank
		// total off by one) show.
		pad := (ymax - ymin) * 0.05
		if pad == 0 {
			pad = math.Max(1, math.Abs(ymax)*0.01)
		}
		ymin, ymax = ymin-pad, ymax+pad
	case !p.logY:
		ymin = math.Min(0, ymin)
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	var yticks []float64
	ty := func(float64) float64 { return 0 }
	if p.logY {
		lo, hi := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
		if hi <= lo {
			hi = lo + 1
		}
		for e := lo; e <= hi; e++ {
			yticks = append(yticks, math.Pow(10, e))
		}
		ty = func(y float64) float64 {
			return marginT + innerH - (math.Log10(y)-lo)/(hi-lo)*innerH
		}
	} else {
		yticks = niceTicks(ymin, ymax, 6)
		top := math.Max(ymax, yticks[len(yticks)-1])
		if top <= ymin {
			top = ymin + 1
		}
		ty = func(y float64) float64 { return marginT + innerH - (y-ymin)/(top-ymin)*innerH }
	}
	tx := func(x float64) float64 { return marginL + (x-xmin)/(xmax-xmin)*innerW }

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", marginL, html.EscapeString(p.title))
	for _, bd := range p.bands {
		x0, x1 := tx(bd.x0), tx(bd.x1)
		if x1-x0 < 1 {
			x1 = x0 + 1
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" fill-opacity="%s"><title>%s</title></rect>`+"\n",
			x0, marginT, x1-x0, innerH, bd.color, bandOpacity, html.EscapeString(bd.label))
	}
	// Axes and grid.
	fmt.Fprintf(&b, `<g stroke="#ccc" stroke-width="0.5">`)
	for _, v := range yticks {
		y := ty(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, marginL, marginL+innerW, y, y)
	}
	xticks := niceTicks(xmin, xmax, 10)
	for _, v := range xticks {
		x := tx(v)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>`, x, x, marginT, marginT+innerH)
	}
	fmt.Fprintf(&b, "</g>\n")
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", marginL, marginT, innerW, innerH)
	for _, v := range yticks {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, marginL-6, ty(v), fmtTick(v))
	}
	for _, v := range xticks {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, tx(v), marginT+innerH+16, fmtTick(v))
	}
	fmt.Fprintf(&b, "\n"+`<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", marginL+innerW/2, plotH-10, html.EscapeString(p.xlabel))
	fmt.Fprintf(&b, `<text transform="translate(18 %d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", marginT+innerH/2, html.EscapeString(p.ylabel))

	// Data, clipped to the plot area.
	fmt.Fprintf(&b, `<clipPath id="area"><rect x="%d" y="%d" width="%d" height="%d"/></clipPath><g clip-path="url(#area)">`+"\n", marginL, marginT, innerW, innerH)
	for _, s := range p.series {
		if s.shape == "" {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="`, s.color)
			for _, pt := range s.points {
				if p.logY && pt.y <= 0 {
					continue
				}
				fmt.Fprintf(&b, "%.1f,%.1f ", tx(pt.x), ty(pt.y))
			}
			b.WriteString("\"/>\n")
			continue
		}
		fmt.Fprintf(&b, `<g fill="%s" fill-opacity="0.7">`, s.color)
		for _, pt := range s.points {
			if p.logY && pt.y <= 0 {
				continue
			}
			marker(&b, s.shape, tx(pt.x), ty(pt.y), pointRadius)
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</g>\n")

	// Legend.
	ly := marginT + 6
	lx := marginL + innerW + 16
	for _, s := range p.series {
		if s.shape == "" {
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`, lx, lx+14, ly, ly, s.color)
		} else {
			fmt.Fprintf(&b, `<g fill="%s">`, s.color)
			marker(&b, s.shape, float64(lx+7), float64(ly), 4)
			b.WriteString("</g>")
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s</text>`+"\n", lx+20, ly, html.EscapeString(s.name))
		ly += 18
	}
	seen := map[string]bool{}
	for _, bd := range p.bands {
		if seen[bd.label] {
			continue
		}
		seen[bd.label] = true
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="10" fill="%s" fill-opacity="0.4"/><text x="%d" y="%d" dominant-baseline="middle">%s</text>`+"\n",
			lx, ly-5, bd.color, lx+20, ly, html.EscapeString(bd.label))
		ly += 18
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func marker(b *bytes.Buffer, shape string, x, y, r float64) {
	switch shape {
	case "square":
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x-r, y-r, 2*r, 2*r)
	case "triangle":
		fmt.Fprintf(b, `<path d="M%.1f %.1fL%.1f %.1fL%.1f %.1fZ"/>`, x, y-r*1.2, x+r*1.1, y+r*0.8, x-r*1.1, y+r*0.8)
	case "diamond":
		fmt.Fprintf(b, `<path d="M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ"/>`, x, y-r*1.3, x+r*1.3, y, x, y+r*1.3, x-r*1.3, y)
	case "cross":
		fmt.Fprintf(b, `<path d="M%.1f %.1fh%.1fv%.1fh%.1fv%.1fh%.1fv%.1fh%.1fv%.1fh%.1fv%.1fh%.1fZ"/>`,
			x-r*0.4, y-r*1.2, r*0.8, r*0.8, r*0.8, r*0.8, -r*0.8, r*0.8, -r*0.8, -r*0.8, -r*0.8, -r*0.8, r*0.8)
	default:
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="%.1f"/>`, x, y, r)
	}
}

var shapes = []string{"circle", "square", "triangle", "diamond", "cross"}

// Completion colors, as in Jepsen's plots: ok blue, info orange, fail red.
var typeColors = map[string]string{"ok": "#3b7dd8", "info": "#f0a030", "fail": "#d8403b"}

// bandColors cycle over fault kinds.
var bandColors = []string{"#888888", "#c080e0", "#60c0a0", "#e0a0a0", "#a0a0e0", "#c0c060"}

package checker

// The exported face of the SVG plotter, for checkers in other packages
// (checker/bank). It is deliberately thin: the plot, its series and a
// file writer that follows Options.Dir's rules.

// PlotPoint is one (x, y) datum.
type PlotPoint struct{ X, Y float64 }

// PlotSeries is a named set of points. Shape is "circle", "square",
// "triangle", "diamond" or "cross" for a scatter, "" for a polyline. Color
// is an SVG color; "" picks the ok-blue of the perf plots.
type PlotSeries struct {
	Name, Color, Shape string
	Points             []PlotPoint
}

// Plot is a linear-x scatter or line plot, shaded by fault intervals as the
// perf plots are (x in seconds: give fault times in ns, as FaultIntervals
// returns them).
type Plot struct {
	Title, XLabel, YLabel string
	LogY                  bool
	// TightY makes a linear y axis span the data (padded), rather than
	// start at zero.
	TightY bool
	Series []PlotSeries
	Faults []FaultInterval
}

// SVG renders the plot.
func (p Plot) SVG() []byte {
	q := &plot{title: p.Title, xlabel: p.XLabel, ylabel: p.YLabel, logY: p.LogY, tightY: p.TightY, bands: faultBands(p.Faults)}
	for _, s := range p.Series {
		color := s.Color
		if color == "" {
			color = typeColors["ok"]
		}
		pts := make([]point, len(s.Points))
		for i, pt := range s.Points {
			pts[i] = point{pt.X, pt.Y}
		}
		q.series = append(q.series, series{name: s.Name, color: color, shape: s.Shape, points: pts})
	}
	return q.render()
}

// WriteFile writes data to dir/name, creating dir, and returns name for
// Result.Files. Callers skip it when Options.Dir is "".
func WriteFile(dir, name string, data []byte) (string, error) { return writeFile(dir, name, data) }

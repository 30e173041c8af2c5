package checker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
)

func TestPlotSVG(t *testing.T) {
	p := checker.Plot{Title: "T <1>", XLabel: "time (s)", YLabel: "total",
		Series: []checker.PlotSeries{
			{Name: "dots", Shape: "cross", Points: []checker.PlotPoint{{X: 1, Y: 2}, {X: 3, Y: 4}}},
			{Name: "line", Color: "#123456", Points: []checker.PlotPoint{{X: 0, Y: 3}, {X: 4, Y: 3}}},
		},
		Faults: []checker.FaultInterval{{Kind: "partition", Start: 1e9, End: 2e9}},
	}
	svg := string(p.SVG())
	for _, want := range []string{"<svg", "T &lt;1&gt;", ">dots<", ">line<", `stroke="#123456"`, "<polyline", ">partition<",
		`fill="#3b7dd8"`} { // the default color
		if !strings.Contains(svg, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	// The y axis starts at zero, unless TightY.
	zeroTick := `dominant-baseline="middle">0</text>`
	if !strings.Contains(svg, zeroTick) {
		t.Errorf("no zero tick on the y axis")
	}
	p.TightY = true
	if tight := string(p.SVG()); strings.Contains(tight, zeroTick) || !strings.Contains(tight, `dominant-baseline="middle">2</text>`) {
		t.Errorf("TightY: y ticks still from zero, or no tick at 2")
	}
	dir := filepath.Join(t.TempDir(), "sub")
	name, err := checker.WriteFile(dir, "p.svg", []byte(svg))
	if err != nil || name != "p.svg" {
		t.Fatalf("WriteFile: %q %v", name, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "p.svg")); err != nil || string(b) != svg {
		t.Errorf("written file: %v", err)
	}
}

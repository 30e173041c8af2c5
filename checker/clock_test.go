package checker_test

// An external test package, so that it can also check that verdict.Check
// adds the clock plot by itself.

import (
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/verdict"
)

// clockHistory has client ops from 0 to 10 s, a clock fault "skew" that
// bumps n1 and n2, bumps n1 again, and resets both, and a partition and
// a kill whose values must not be taken for offsets.
func clockHistory() []history.Op {
	s := int64(1e9)
	nem := history.NemesisProcess
	var h []history.Op
	add := func(t int64, typ history.Type, p int, f string, v any) {
		h = append(h, history.Op{Index: int64(len(h)), Time: t, Type: typ, Process: p, F: f, Value: v})
	}
	add(0, history.Invoke, 0, "read", nil)
	add(s/10, history.OK, 0, "read", int64(1))
	add(1*s, history.Invoke, nem, "start-skew", nil)
	add(1*s+s/10, history.Info, nem, "start-skew", map[string]any{"n1": 3600.0, "n2": int64(-30)})
	add(2*s, history.Invoke, nem, "start-cut", nil)
	add(2*s+s/10, history.Info, nem, "start-cut", map[string]any{"n1": []any{"n2"}, "n2": []any{"n1"}})
	add(3*s, history.Invoke, nem, "start-skew", nil)
	add(3*s+s/10, history.Info, nem, "start-skew", map[string]any{"n1": 7200.0, "n3": "not running"})
	add(4*s, history.Invoke, nem, "stop-cut", nil)
	add(4*s+s/10, history.Info, nem, "stop-cut", map[string]any{"n1": "healed", "n2": "healed"})
	add(5*s, history.Invoke, nem, "start-kill", nil)
	add(5*s+s/10, history.Info, nem, "start-kill", map[string]any{"n2": "not running"})
	add(6*s, history.Invoke, nem, "stop-skew", nil)
	add(6*s+s/10, history.Info, nem, "stop-skew", map[string]any{"n1": 0.004, "n2": int64(0)})
	add(7*s, history.Invoke, 1, "write", int64(2))
	add(10*s, history.OK, 1, "write", int64(2))
	return h
}

type svgDoc struct {
	XMLName   xml.Name
	Polylines []svgPolyline `xml:"g>polyline"`
}

type svgPolyline struct {
	Stroke string `xml:"stroke,attr"`
	Points string `xml:"points,attr"`
}

// steps counts vertical segments in a polyline's points.
func steps(t *testing.T, pts string) (n int, npts int) {
	var prev []float64
	for _, p := range strings.Fields(pts) {
		xy := strings.Split(p, ",")
		if len(xy) != 2 {
			t.Fatalf("bad point %q", p)
		}
		x, err1 := strconv.ParseFloat(xy[0], 64)
		y, err2 := strconv.ParseFloat(xy[1], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad point %q", p)
		}
		if prev != nil && prev[0] == x && prev[1] != y {
			n++
		}
		prev = []float64{x, y}
		npts++
	}
	return n, npts
}

func TestClockPlot(t *testing.T) {
	h := clockHistory()
	idx, faults := checker.ClockOps(h)
	if !reflect.DeepEqual(faults, []string{"skew"}) || !reflect.DeepEqual(idx, []int{3, 7, 13}) {
		t.Fatalf("checker.ClockOps = %v, %v", idx, faults)
	}
	dir := t.TempDir()
	res := checker.Run(context.Background(), checker.ClockPlot(), h, checker.Options{Dir: dir})
	if res.Valid != checker.True || res.Error != "" {
		t.Fatalf("result %+v", res)
	}
	if !reflect.DeepEqual(res.Files, []string{"clock.svg"}) {
		t.Fatalf("files %v", res.Files)
	}
	d := res.Details.(*checker.ClockDetails)
	if len(d.Offsets) != 2 || len(d.Offsets["n1"]) != 3 || len(d.Offsets["n2"]) != 2 || d.MaxOffset != 7200 {
		t.Errorf("details %+v", d)
	}
	if got := d.Offsets["n2"][0]; got.Offset != -30 || got.F != "start-skew" || got.Time != 1100000000 {
		t.Errorf("n2's first reading %+v", got)
	}
	if !strings.Contains(res.Summary, "3 clock ops (skew) on 2 nodes") || !strings.Contains(res.Summary, "7200") {
		t.Errorf("summary %q", res.Summary)
	}

	b, err := os.ReadFile(filepath.Join(dir, "clock.svg"))
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed: the whole document decodes token by token.
	dec := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("clock.svg is not well-formed XML: %v", err)
		}
	}
	var doc svgDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.XMLName.Local != "svg" {
		t.Fatalf("root %v", doc.XMLName)
	}
	if len(doc.Polylines) != 2 {
		t.Fatalf("%d polylines, want one per node (2)", len(doc.Polylines))
	}
	// n1: 0 → 3600 → 7200 → 0.004: three steps; n2: 0 → -30 → 0: two.
	// Points: start, two per step, end.
	for i, want := range []int{3, 2} {
		n, npts := steps(t, doc.Polylines[i].Points)
		if n != want || npts != 2*want+2 {
			t.Errorf("polyline %d: %d steps in %d points, want %d in %d", i, n, npts, want, 2*want+2)
		}
	}
	if doc.Polylines[0].Stroke == doc.Polylines[1].Stroke {
		t.Error("nodes share a color")
	}
	svg := string(b)
	for _, want := range []string{"offset (s)", "time (s)", ">n1<", ">n2<", "<title>skew</title>", "<title>cut</title>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("clock.svg lacks %q", want)
		}
	}
	if strings.Contains(svg, ">n3<") {
		t.Error("n3, which never reported an offset, is plotted")
	}
}

func TestClockPlotWithoutClockOps(t *testing.T) {
	var h []history.Op
	for _, op := range clockHistory() {
		if !strings.HasSuffix(op.F, "-skew") {
			h = append(h, op)
		}
	}
	if checker.HasClockOps(h) {
		t.Fatal("partition and kill values taken for clock offsets")
	}
	dir := t.TempDir()
	res := checker.ClockPlot().Check(context.Background(), h, checker.Options{Dir: dir})
	if res.Valid != checker.True || res.Summary != "no clock faults" || len(res.Files) != 0 {
		t.Errorf("result %+v", res)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("wrote %v", ents)
	}
}

func TestClockOpsShape(t *testing.T) {
	nem := history.NemesisProcess
	op := func(f string, v any) history.Op {
		return history.Op{Type: history.Info, Process: nem, F: f, Value: v}
	}
	for _, tc := range []struct {
		name string
		h    []history.Op
		want []string
	}{
		{"numbers", []history.Op{op("start-c", map[string]any{"n1": 1.5})}, []string{"c"}},
		{"invocation", []history.Op{{Type: history.Invoke, Process: nem, F: "start-c", Value: map[string]any{"n1": 1.5}}}, nil},
		{"client op", []history.Op{{Type: history.OK, Process: 3, F: "start-c", Value: map[string]any{"n1": 1.5}}}, nil},
		{"no start/stop", []history.Op{op("bump", map[string]any{"n1": 1.5})}, nil},
		{"statuses only", []history.Op{op("start-k", map[string]any{"n1": "not running"})}, nil},
		{"empty stop is neutral", []history.Op{op("start-c", map[string]any{"n1": int64(5)}), op("stop-c", map[string]any{})}, []string{"c"}},
		{"error value is neutral", []history.Op{op("start-c", map[string]any{"n1": int64(5)}), op("stop-c", "nothing to undo")}, []string{"c"}},
		{"mixed shapes disqualify", []history.Op{op("start-x", map[string]any{"n1": int64(5)}), op("start-x", map[string]any{"n1": "ok"})}, nil},
		{"nested maps", []history.Op{op("start-f", map[string]any{"n1": map[string]any{"files": int64(1)}})}, nil},
		{"membership", []history.Op{op("start-m", map[string]any{"change": "none", "members": []any{"n1"}})}, nil},
	} {
		idx, got := checker.ClockOps(tc.h)
		if !reflect.DeepEqual(got, tc.want) || (len(idx) > 0) != (tc.want != nil) {
			t.Errorf("%s: %v %v, want %v", tc.name, idx, got, tc.want)
		}
	}
}

func TestVerdictAddsClockPlot(t *testing.T) {
	perf := []eval.CheckerConfig{{Kind: "perf"}}
	dir := t.TempDir()
	res := verdict.Check(context.Background(), clockHistory(), perf, checker.Options{Dir: dir})
	c, ok := res.Results["clock"]
	if !ok {
		t.Fatalf("no clock result among %v", verdict.SortedNames(res.Results))
	}
	if c.Valid != checker.True || !reflect.DeepEqual(c.Files, []string{"clock/clock.svg"}) {
		t.Errorf("clock result %+v", c)
	}
	if _, err := os.Stat(filepath.Join(dir, "clock", "clock.svg")); err != nil {
		t.Error(err)
	}
	if _, ok := res.Results["perf"]; !ok || res.Valid != checker.True {
		t.Errorf("verdict %v with %v", res.Valid, verdict.SortedNames(res.Results))
	}

	var plain []history.Op
	for _, op := range clockHistory() {
		if !strings.HasSuffix(op.F, "-skew") {
			plain = append(plain, op)
		}
	}
	res = verdict.Check(context.Background(), plain, perf, checker.Options{})
	if _, ok := res.Results["clock"]; ok {
		t.Error("clock plot added to a history without clock faults")
	}
	// Asked for explicitly, it runs and says there is nothing to plot.
	res = verdict.Check(context.Background(), plain, []eval.CheckerConfig{{Kind: "clock"}}, checker.Options{})
	if c := res.Results["clock"]; c.Summary != "no clock faults" {
		t.Errorf("explicit clock checker: %+v", c)
	}
}

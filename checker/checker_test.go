package checker

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/history"
)

func TestValidityJSONAndMerge(t *testing.T) {
	for v, want := range map[Validity]string{True: "true", False: "false", Unknown: `"unknown"`} {
		b, err := json.Marshal(v)
		if err != nil || string(b) != want {
			t.Errorf("%v: got %s %v", v, b, err)
		}
		var back Validity
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("%s: decoded %v %v", b, back, err)
		}
	}
	if err := json.Unmarshal([]byte(`"maybe"`), new(Validity)); err == nil {
		t.Error("accepted a bogus validity")
	}
	cases := []struct {
		in   []Validity
		want Validity
	}{
		{nil, True},
		{[]Validity{True, True}, True},
		{[]Validity{True, Unknown}, Unknown},
		{[]Validity{Unknown, False, True}, False},
		{[]Validity{False, Unknown}, False},
	}
	for _, c := range cases {
		if got := Merge(c.in...); got != c.want {
			t.Errorf("Merge(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if (Result{}).Valid != Unknown {
		t.Error("an empty Result must not read as valid")
	}
}

type fixed struct {
	v     Validity
	file  string
	sleep time.Duration
	panic bool
}

func (f fixed) Name() string { return "fixed" }
func (f fixed) Check(ctx context.Context, _ []history.Op, o Options) Result {
	if f.panic {
		panic("boom")
	}
	if f.sleep > 0 {
		select {
		case <-time.After(f.sleep):
		case <-ctx.Done():
			return Result{Valid: Unknown, Error: ctx.Err().Error()}
		}
	}
	r := Result{Valid: f.v}
	if f.file != "" && o.Dir != "" {
		name, err := writeFile(o.Dir, f.file, []byte("x"))
		if err != nil {
			return Result{Valid: Unknown, Error: err.Error()}
		}
		r.Files = []string{name}
	}
	return r
}

func TestCompose(t *testing.T) {
	dir := t.TempDir()
	c := Compose(map[string]Checker{
		"a": fixed{v: True, file: "a.svg"},
		"b": fixed{v: Unknown},
		"c": fixed{v: True, panic: true},
		"d": Compose(map[string]Checker{"inner": fixed{v: True, file: "x.html"}}),
	})
	res := Run(context.Background(), c, nil, Options{Dir: dir})
	if res.Valid != Unknown {
		t.Fatalf("want unknown (b unknown, c panicked), got %v", res.Valid)
	}
	if r := res.Results["c"]; r.Valid != Unknown || !strings.Contains(r.Error, "boom") {
		t.Errorf("panic not contained: %+v", r)
	}
	if got := res.AllFiles(); !reflect.DeepEqual(got, []string{"a/a.svg", "d/inner/x.html"}) {
		t.Errorf("files: %v", got)
	}
	for _, f := range res.AllFiles() {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("listed file missing: %v", err)
		}
	}
	res = Compose(map[string]Checker{"a": fixed{v: Unknown}, "b": fixed{v: False}}).Check(context.Background(), nil, Options{})
	if res.Valid != False {
		t.Errorf("false must dominate: %v", res.Valid)
	}
	// Checkers run in parallel and the time limit reaches them.
	start := time.Now()
	res = Run(context.Background(), Compose(map[string]Checker{
		"slow1": fixed{v: True, sleep: time.Hour}, "slow2": fixed{v: True, sleep: time.Hour},
	}), nil, Options{TimeLimit: 50 * time.Millisecond})
	if res.Valid != Unknown || time.Since(start) > 5*time.Second {
		t.Errorf("time limit not applied: %v after %v", res.Valid, time.Since(start))
	}
}

func TestStats(t *testing.T) {
	h := edn(t, `
		{:process 0 :type :invoke :f :read}
		{:process 0 :type :ok :f :read :value 1}
		{:process 0 :type :invoke :f :cas :value [1 2]}
		{:process 0 :type :fail :f :cas :value [1 2]}
		{:process 1 :type :invoke :f :cas :value [1 2]}
		{:process 1 :type :info :f :cas :value [1 2]}
		{:process :nemesis :type :invoke :f :start}
		{:process :nemesis :type :info :f :start}
		{:process 2 :type :invoke :f :write :value 3}`)
	res := Stats().Check(context.Background(), h, Options{})
	d := res.Details.(*StatsDetails)
	if res.Valid != False || !strings.Contains(res.Summary, "cas") {
		t.Fatalf("cas never succeeded, want false: %v %s", res.Valid, res.Summary)
	}
	if d.Count != 3 || d.OK != 1 || d.Fail != 1 || d.Info != 1 {
		t.Errorf("totals: %+v", d.Counts)
	}
	if c := d.ByF["cas"]; c.Valid != False || c.Fail != 1 || c.Info != 1 {
		t.Errorf("cas: %+v", c)
	}
	if _, ok := d.ByF["start"]; ok {
		t.Error("nemesis ops counted")
	}
	if _, ok := d.ByF["write"]; ok {
		t.Error("pending invocation counted (Jepsen counts completions only)")
	}
	h = h[:2]
	if res := Stats().Check(context.Background(), h, Options{}); res.Valid != True {
		t.Errorf("all fs succeed: %v", res.Valid)
	}
}

func TestFaultIntervals(t *testing.T) {
	h := []history.Op{
		{Time: 10, Type: history.Invoke, Process: history.NemesisProcess, F: "start-partition"},
		{Time: 12, Type: history.Info, Process: history.NemesisProcess, F: "start-partition"},
		{Time: 15, Type: history.Invoke, Process: history.NemesisProcess, F: "start-kill"},
		{Time: 16, Type: history.Info, Process: history.NemesisProcess, F: "start-kill"},
		{Time: 20, Type: history.Invoke, Process: history.NemesisProcess, F: "stop-partition"},
		{Time: 25, Type: history.Info, Process: history.NemesisProcess, F: "stop-partition"},
		{Time: 30, Type: history.Invoke, Process: history.NemesisProcess, F: "start"},
		{Time: 31, Type: history.Info, Process: history.NemesisProcess, F: "start"},
		{Time: 40, Type: history.Invoke, Process: history.NemesisProcess, F: "stop"},
		{Time: 41, Type: history.Info, Process: history.NemesisProcess, F: "stop"},
		{Time: 50, Type: history.Invoke, Process: history.NemesisProcess, F: "start-clock"},
		{Time: 60, Type: history.Invoke, Process: 0, F: "read"},
	}
	got := FaultIntervals(h)
	want := []FaultInterval{
		{Kind: "partition", Start: 10, End: 25},
		{Kind: "kill", Start: 15, End: 41},
		{Kind: "", Start: 30, End: 41},
		{Kind: "clock", Start: 50, End: 60, Open: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestPerfAndTimelineWriteFiles(t *testing.T) {
	h := simulateRegister(simConfig{seed: 5, ops: 3000, procs: 5, cas: true, values: 5, infoRate: 0.02, nemesis: true})
	dir := t.TempDir()
	res := Perf(PerfOptions{}).Check(context.Background(), h, Options{Dir: dir})
	if res.Valid != True || res.Error != "" {
		t.Fatalf("perf: %v %s", res.Valid, res.Error)
	}
	if !reflect.DeepEqual(res.Files, []string{"latency-raw.svg", "rate.svg"}) {
		t.Fatalf("perf files: %v", res.Files)
	}
	d := res.Details.(*PerfDetails)
	q, ok := d.Latency["read"]
	if !ok || q.Count == 0 || !(q.P50 <= q.P95 && q.P95 <= q.P99 && q.P99 <= q.Max) || q.P50 <= 0 {
		t.Errorf("read latency quantiles: %+v", q)
	}
	if d.Throughput <= 0 || len(d.Faults) == 0 {
		t.Errorf("throughput %v faults %d", d.Throughput, len(d.Faults))
	}
	lat, _ := os.ReadFile(filepath.Join(dir, "latency-raw.svg"))
	for _, want := range []string{"<svg", "read ok", "cas fail", "partition", "<circle", "</svg>"} {
		if !strings.Contains(string(lat), want) {
			t.Errorf("latency plot lacks %q", want)
		}
	}
	rate, _ := os.ReadFile(filepath.Join(dir, "rate.svg"))
	if !strings.Contains(string(rate), "<polyline") || !strings.Contains(string(rate), "write ok") {
		t.Error("rate plot lacks lines")
	}
	for _, b := range [][]byte{lat, rate} {
		if err := xmlWellFormed(b); err != nil {
			t.Errorf("SVG not well-formed: %v", err)
		}
	}

	res = Timeline(TimelineOptions{MaxOps: 100}).Check(context.Background(), h, Options{Dir: dir})
	if res.Valid != True || len(res.Files) != 1 {
		t.Fatalf("timeline: %+v", res)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "timeline.html"))
	for _, want := range []string{"Showing the first 100 ops", `class="op ok"`, ">nemesis<", "process 0"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	if n := strings.Count(string(page), `class="op `); n != 100 {
		t.Errorf("timeline drew %d ops, want 100", n)
	}
}

func TestNiceTicks(t *testing.T) {
	got := niceTicks(0, 97, 10)
	if got[0] != 0 || got[1] != 10 || got[len(got)-1] != 90 {
		t.Errorf("ticks: %v", got)
	}
	if got := niceTicks(0.013, 0.061, 5); got[0] != 0.02 || got[1] != 0.03 {
		t.Errorf("small ticks: %v", got)
	}
}

func xmlWellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// TestTimelineLongHistory: past StaticOps the page carries the ops as data
// (one row per op, ordered by top, which the drawing script's binary
// search needs) and draws boxes with a script, not one element per op.
func TestTimelineLongHistory(t *testing.T) {
	var h []history.Op
	for i := range 20000 {
		p := i % 7
		h = append(h, history.Op{Index: int64(2 * i), Time: int64(i) * 1000, Type: history.Invoke, Process: p, F: "write", Value: int64(i)})
		h = append(h, history.Op{Index: int64(2*i + 1), Time: int64(i)*1000 + 500, Type: history.OK, Process: p, F: "write", Value: int64(i)})
	}
	dir := t.TempDir()
	res := Timeline(TimelineOptions{}).Check(context.Background(), h, Options{Dir: dir})
	if res.Valid != True {
		t.Fatalf("%+v", res)
	}
	page, err := os.ReadFile(filepath.Join(dir, "timeline.html"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	if n := strings.Count(s, `class="op `); n != 0 {
		t.Errorf("%d static boxes in a scripted timeline", n)
	}
	i, j := strings.Index(s, `<script type="application/json" id="ops-data">`), strings.Index(s, "]</script>")
	if i < 0 || j < 0 {
		t.Fatal("no ops data")
	}
	var rows [][]any
	if err := json.Unmarshal([]byte(s[i+len(`<script type="application/json" id="ops-data">`):j+1]), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 20000 {
		t.Fatalf("%d rows, want 20000", len(rows))
	}
	for k := 1; k < len(rows); k++ {
		if rows[k][1].(float64) < rows[k-1][1].(float64) {
			t.Fatalf("row %d is above row %d: rows must be ordered by top", k, k-1)
		}
	}
	if r := rows[5]; r[3].(float64) != 1 || r[4] != "write 5" || r[5].(float64) != 10 || r[7].(float64) != 11 {
		t.Errorf("row 5 = %v, want an ok write 5 invoked at index 10, completed at 11", r)
	}
	if !strings.Contains(s, "requestAnimationFrame(draw)") {
		t.Error("no drawing script")
	}
	if len(page) > 4<<20 {
		t.Errorf("timeline of 20k ops is %d bytes", len(page))
	}
}

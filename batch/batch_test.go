package batch

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/run"
)

func TestParseAxis(t *testing.T) {
	ax, err := ParseAxis(`isolation=["serializable", "read committed"]`)
	if err != nil {
		t.Fatal(err)
	}
	if ax.Name != "isolation" || !reflect.DeepEqual(ax.Values, []string{"serializable", "read committed"}) {
		t.Fatalf("%+v", ax)
	}
	ax, err = ParseAxis(`n=[1, 2.5, true, ["a"]]`)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ax.Values, []string{"1", "2.5", "true", `["a"]`}) {
		t.Fatalf("non-strings must become HCL literals: %q", ax.Values)
	}
	for in, want := range map[string]string{
		`isolation`:         "takes name=[values]",
		`1x=[1]`:            "takes name=[values]",
		`x=[]`:              "the list is empty",
		`x="a"`:             "want a list of values",
		`x=[1,`:             "-matrix x",
		`x=[var.y]`:         "-matrix x",
		`=["serializable"]`: "takes name=[values]",
	} {
		if _, err := ParseAxis(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestExpand(t *testing.T) {
	specs := Expand([]string{"a.hcl", "b.hcl"}, []Axis{{"x", []string{"1", "2"}}, {"y", []string{"p", "q"}}}, 2)
	if len(specs) != 2*4*2 {
		t.Fatalf("%d specs", len(specs))
	}
	if s := specs[0]; s.Plan != "a.hcl" || !reflect.DeepEqual(s.Vars, []string{"x=1", "y=p"}) || s.Iteration != 1 || s.Label() != "x=1 y=p #1" {
		t.Errorf("first %+v label %q", s, s.Label())
	}
	if s := specs[3]; !reflect.DeepEqual(s.Vars, []string{"x=1", "y=q"}) || s.Iteration != 2 {
		t.Errorf("the last axis varies fastest, then iterations: %+v", s)
	}
	if s := specs[8]; s.Plan != "b.hcl" {
		t.Errorf("plans vary slowest: %+v", s)
	}
	one := Expand([]string{"a.hcl"}, nil, 1)
	if len(one) != 1 || one[0].Label() != "" {
		t.Errorf("a single run has no label: %+v", one)
	}
}

func outcome(v checker.Validity, summary string) *run.Outcome {
	return &run.Outcome{Test: "t", Dir: "store/t/1", Seed: 7, Checked: true, Result: checker.Result{Valid: v,
		Results: map[string]checker.Result{"list-append": {Valid: v, Summary: summary}, "stats": {Valid: checker.True}}}}
}

func TestStatusAndWorst(t *testing.T) {
	valid := Result{Outcome: outcome(checker.True, "ok")}
	invalid := Result{Outcome: outcome(checker.False, "G2-item")}
	unknown := Result{Outcome: outcome(checker.Unknown, "timed out")}
	failed := Result{Outcome: &run.Outcome{}, Err: errors.New("n1: connection refused")}
	interrupted := Result{Outcome: &run.Outcome{Interrupted: true, Checked: true}}
	for _, c := range []struct {
		rs   []Result
		want string
	}{
		{nil, "valid"},
		{[]Result{valid, valid}, "valid"},
		{[]Result{valid, unknown}, "unknown"},
		{[]Result{unknown, failed}, "failed"},
		{[]Result{failed, invalid, unknown}, "invalid"},
		{[]Result{invalid, interrupted}, "interrupted"},
	} {
		if got := Worst(c.rs); got != c.want {
			t.Errorf("Worst(%v) = %s, want %s", c.rs, got, c.want)
		}
	}
	if p := invalid.Problem(); p != "list-append false: G2-item" {
		t.Errorf("problem %q", p)
	}
	if p := failed.Problem(); p != "n1: connection refused" {
		t.Errorf("problem %q", p)
	}
}

func TestJUnit(t *testing.T) {
	rs := []Result{
		{Spec: Spec{Plan: "p.hcl", Vars: []string{"isolation=serializable"}, Iteration: 1, Of: 1}, Outcome: outcome(checker.True, "ok"), Elapsed: time.Second},
		{Spec: Spec{Plan: "p.hcl", Vars: []string{"isolation=read committed"}, Iteration: 1, Of: 1}, Outcome: outcome(checker.False, "G2-item: T1 < T2 < T1"), Elapsed: 2 * time.Second},
		{Spec: Spec{Plan: "p.hcl", Iteration: 1, Of: 1}, Outcome: &run.Outcome{}, Err: errors.New("setup failed")},
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, rs, time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, buf.String())
	}
	s := doc.Suites[0]
	if doc.Tests != 3 || doc.Failures != 1 || doc.Errors != 1 || len(s.Cases) != 3 || s.Time != "3.000" {
		t.Fatalf("%+v", doc)
	}
	c := s.Cases[1]
	if c.Name != "t [isolation=read committed]" || c.Failure == nil || c.Failure.Message != "list-append false: G2-item: T1 < T2 < T1" {
		t.Errorf("invalid case %+v", c)
	}
	if !reflect.DeepEqual(c.Properties[1], junitProperty{Name: "run_dir", Value: "store/t/1"}) {
		t.Errorf("properties %+v", c.Properties)
	}
	if s.Cases[0].Failure != nil || s.Cases[0].Error != nil {
		t.Errorf("valid case %+v", s.Cases[0])
	}
	if e := s.Cases[2].Error; e == nil || e.Type != "failed" || e.Message != "setup failed" {
		t.Errorf("failed case %+v", s.Cases[2])
	}
}

func TestJSONLines(t *testing.T) {
	r := Result{Spec: Spec{Plan: "p.hcl", Vars: []string{"x=1"}, Iteration: 2, Of: 3}, Outcome: outcome(checker.False, "G0"), Elapsed: 1500 * time.Millisecond}
	b, _ := json.Marshal(JSONLine(r))
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["type"] != "run" || m["status"] != "invalid" || m["valid"] != false || m["problem"] != "list-append false: G0" ||
		m["iteration"] != 2.0 || m["dir"] != "store/t/1" || m["seconds"] != 1.5 {
		t.Errorf("%s", b)
	}
	if ck, _ := m["checkers"].(map[string]any); ck["stats"] != true || ck["list-append"] != false {
		t.Errorf("checkers %v", m["checkers"])
	}
	var buf bytes.Buffer
	WriteSummaryJSON(&buf, []Result{r, {Outcome: outcome(checker.True, "")}})
	if !strings.Contains(buf.String(), `"worst":"invalid"`) || !strings.Contains(buf.String(), `"runs":2`) {
		t.Errorf("summary %s", buf.String())
	}
}

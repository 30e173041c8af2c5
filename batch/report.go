package batch

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/jplan/jplan/checker"
)

// WriteTable prints the summary a person reads at the end of a batch: one
// row per run, then the counts.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TEST\tRUN\tVERDICT\tOPS\tTIME\tSEED\tDIRECTORY")
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.Status()]++
		test, ops, dir, seed := r.Plan, "-", "-", "-"
		if o := r.Outcome; o != nil {
			if o.Test != "" {
				seed = fmt.Sprint(o.Seed)
			}
			if o.Test != "" {
				test = o.Test
			}
			if o.Summary.Entries > 0 {
				ops = fmt.Sprint(o.Summary.Entries)
			}
			if o.Dir != "" {
				dir = o.Dir
			}
		}
		label := r.Label()
		if label == "" {
			label = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", test, label, r.Status(), ops, r.Elapsed.Round(100*time.Millisecond), seed, dir)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d runs: %d valid, %d invalid, %d unknown, %d failed, %d interrupted\n",
		len(rs), counts["valid"], counts["invalid"], counts["unknown"], counts["failed"], counts["interrupted"])
	return err
}

// Line is what `jplan run -json` prints for each run: one JSON object per
// line, stable field names.
type Line struct {
	Type      string            `json:"type"` // "run"
	Plan      string            `json:"plan"`
	Test      string            `json:"test,omitempty"`
	Vars      []string          `json:"vars,omitempty"`
	Iteration int               `json:"iteration"`
	Status    string            `json:"status"` // valid, invalid, unknown, failed, interrupted
	Valid     *checker.Validity `json:"valid"`  // true, false, "unknown"; null when not checked
	Problem   string            `json:"problem,omitempty"`
	Dir       string            `json:"dir,omitempty"`
	Seed      int64             `json:"seed"`
	Ops       int64             `json:"ops"`
	Seconds   float64           `json:"seconds"`
	// Checkers maps each checker to its verdict.
	Checkers map[string]checker.Validity `json:"checkers,omitempty"`
}

// SummaryLine ends `jplan run -json` output.
type SummaryLine struct {
	Type   string         `json:"type"` // "summary"
	Runs   int            `json:"runs"`
	Counts map[string]int `json:"counts"`
	Worst  string         `json:"worst"`
}

// JSONLine describes r for -json output.
func JSONLine(r Result) Line {
	l := Line{Type: "run", Plan: r.Plan, Vars: r.Vars, Iteration: r.Iteration, Status: r.Status(), Seconds: r.Elapsed.Seconds()}
	if r.Status() != "valid" {
		l.Problem = r.Problem()
	}
	if o := r.Outcome; o != nil {
		l.Test, l.Dir, l.Seed, l.Ops = o.Test, o.Dir, o.Seed, o.Summary.Entries
		if o.Checked {
			v := o.Result.Valid
			l.Valid = &v
			l.Checkers = map[string]checker.Validity{}
			for n, sub := range o.Result.Results {
				l.Checkers[n] = sub.Valid
			}
		}
	}
	return l
}

// WriteSummaryJSON writes the closing line of -json output.
func WriteSummaryJSON(w io.Writer, rs []Result) error {
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.Status()]++
	}
	return json.NewEncoder(w).Encode(SummaryLine{Type: "summary", Runs: len(rs), Counts: counts, Worst: Worst(rs)})
}

// JUnit XML, as CI systems (Jenkins, GitLab, GitHub test reporters) read it:
// one testsuite, one testcase per run. An invalid run is a failure (the
// property did not hold), with the anomaly summary as its message; an
// unknown, failed or interrupted run is an error (no verdict). The run
// directory is a property of the testcase, and in its system-out.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name       string          `xml:"name,attr"`
	Classname  string          `xml:"classname,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Failure    *junitProblem   `xml:"failure,omitempty"`
	Error      *junitProblem   `xml:"error,omitempty"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the batch as JUnit XML.
func WriteJUnit(w io.Writer, rs []Result, started time.Time) error {
	suite := junitSuite{Name: "jplan", Tests: len(rs)}
	if !started.IsZero() {
		suite.Timestamp = started.UTC().Format("2006-01-02T15:04:05")
	}
	var total time.Duration
	for _, r := range rs {
		total += r.Elapsed
		test := r.Plan
		if r.Outcome != nil && r.Outcome.Test != "" {
			test = r.Outcome.Test
		}
		name := test
		if l := r.Label(); l != "" {
			name += " [" + l + "]"
		}
		c := junitCase{Name: name, Classname: "jplan." + test, Time: seconds(r.Elapsed)}
		c.Properties = append(c.Properties, junitProperty{Name: "plan", Value: r.Plan})
		if o := r.Outcome; o != nil {
			if o.Dir != "" {
				c.Properties = append(c.Properties, junitProperty{Name: "run_dir", Value: o.Dir})
				c.SystemOut = "run directory: " + o.Dir + "\n"
			}
			c.Properties = append(c.Properties, junitProperty{Name: "seed", Value: fmt.Sprint(o.Seed)})
		}
		for _, v := range r.Vars {
			c.Properties = append(c.Properties, junitProperty{Name: "var", Value: v})
		}
		switch st := r.Status(); st {
		case "valid":
		case "invalid":
			suite.Failures++
			c.Failure = &junitProblem{Message: r.Problem(), Type: "invalid", Text: r.Problem()}
		default:
			suite.Errors++
			c.Error = &junitProblem{Message: r.Problem(), Type: st, Text: r.Problem()}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Time = seconds(total)
	doc := junitSuites{Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("batch: writing JUnit XML: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

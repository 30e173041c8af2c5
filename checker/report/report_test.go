package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/history"
)

func TestWriteReport(t *testing.T) {
	h, err := history.ReadEDN(strings.NewReader(`
		{:process 0 :type :invoke :f :write :value 1 :time 1000000}
		{:process 0 :type :ok :f :write :value 1 :time 2000000}
		{:process :nemesis :type :invoke :f :start-partition :time 2500000}
		{:process :nemesis :type :info :f :start-partition :time 2600000}
		{:process 1 :type :invoke :f :write :value 2 :time 3000000}
		{:process 1 :type :ok :f :write :value 2 :time 4000000}
		{:process 2 :type :invoke :f :read :value nil :time 5000000}
		{:process 2 :type :ok :f :read :value 1 :time 6000000}`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := checker.Compose(map[string]checker.Checker{
		"linear":   checker.Linearizable(checker.LinearizableOptions{Model: checker.ModelCASRegister}),
		"stats":    checker.Stats(),
		"perf":     checker.Perf(checker.PerfOptions{}),
		"timeline": checker.Timeline(checker.TimelineOptions{}),
	})
	res := checker.Run(context.Background(), c, h, checker.Options{Dir: dir})
	p, err := Write(dir, Input{Title: "etcd <register>", Meta: map[string]string{"nodes": "n1 n2"}, Result: res})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		"etcd &lt;register&gt;", // escaped
		`<span class="v v-false">false</span>`,
		`href="linear/linear.html"`,
		`<img src="perf/latency-raw.svg"`,
		`href="timeline/timeline.html"`,
		"cannot linearize process 2 read 1",
		"n1 n2",
		// The page opens on the verdict and on what went wrong: the
		// read that could not have happened, the ops before it, the
		// fault active then.
		`<div class="banner b-false" id="verdict">INVALID`,
		`<h2 id="findings">What went wrong</h2>`,
		`<td>could not have happened</td><td>2</td><td>read</td><td><code>1</code></td><td>ok</td><td>0.005s</td><td>0.006s</td>`,
		`<td>linearized just before</td><td>1</td><td>write</td><td><code>2</code></td>`,
		`Faults active then: <b>partition</b> 0.003s–end (never healed)`,
		`<h2>Latency of ok operations</h2>`,
		`<tr><td>read</td><td>1</td><td>1.00</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, f := range res.AllFiles() {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("linked file missing: %v", err)
		}
		if !strings.Contains(page, f) {
			t.Errorf("report does not link %s", f)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("report must be self-contained (no external resources)")
	}
}

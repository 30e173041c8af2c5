package checker

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/history"
)

// edn parses a hand-written history; ops get their position as index.
func edn(t testing.TB, s string) []history.Op {
	t.Helper()
	ops, err := history.ReadEDN(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ops {
		ops[i].Index = int64(i)
		ops[i].Time = int64(i) * 1e6
	}
	return ops
}

func checkLin(t testing.TB, o LinearizableOptions, h []history.Op) (Result, *LinearizableDetails) {
	t.Helper()
	res := Linearizable(o).Check(context.Background(), h, Options{})
	d, _ := res.Details.(*LinearizableDetails)
	return res, d
}

func TestLinearizableSemantics(t *testing.T) {
	reg0 := LinearizableOptions{Model: ModelCASRegister, Initial: int64(0)}
	cases := []struct {
		name string
		o    LinearizableOptions
		h    string
		want Validity
	}{
		{"sequential write then read", reg0, `
			{:process 0 :type :invoke :f :write :value 1}
			{:process 0 :type :ok :f :write :value 1}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 1}`, True},
		{"read of a value never written", reg0, `
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 3}`, False},
		{"stale read after a completed overwrite", reg0, `
			{:process 0 :type :invoke :f :write :value 1}
			{:process 0 :type :ok :f :write :value 1}
			{:process 1 :type :invoke :f :write :value 2}
			{:process 1 :type :ok :f :write :value 2}
			{:process 2 :type :invoke :f :read :value nil}
			{:process 2 :type :ok :f :read :value 1}`, False},
		{"read concurrent with the overwrite may see either", reg0, `
			{:process 0 :type :invoke :f :write :value 1}
			{:process 0 :type :ok :f :write :value 1}
			{:process 1 :type :invoke :f :write :value 2}
			{:process 2 :type :invoke :f :read :value nil}
			{:process 2 :type :ok :f :read :value 1}
			{:process 1 :type :ok :f :write :value 2}`, True},
		{"failed write never happened", reg0, `
			{:process 0 :type :invoke :f :write :value 5}
			{:process 0 :type :fail :f :write :value 5}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 5}`, False},
		{"info write may take effect later", reg0, `
			{:process 0 :type :invoke :f :write :value 1}
			{:process 0 :type :info :f :write :value 1}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 0}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 1}`, True},
		{"info write cannot be undone", reg0, `
			{:process 0 :type :invoke :f :write :value 1}
			{:process 0 :type :info :f :write :value 1}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 1}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 0}`, False},
		{"info write may never happen", reg0, `
			{:process 0 :type :invoke :f :write :value 1}
			{:process 0 :type :info :f :write :value 1}
			{:process 1 :type :invoke :f :write :value 2}
			{:process 1 :type :ok :f :write :value 2}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 2}`, True},
		{"invocation without completion is info", reg0, `
			{:process 0 :type :invoke :f :write :value 7}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 7}`, True},
		{"info cas applies when it matches", reg0, `
			{:process 0 :type :invoke :f :cas :value [0 2]}
			{:process 0 :type :info :f :cas :value [0 2]}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 2}`, True},
		{"info cas cannot apply to the wrong value", reg0, `
			{:process 1 :type :invoke :f :write :value 5}
			{:process 1 :type :ok :f :write :value 5}
			{:process 0 :type :invoke :f :cas :value [0 2]}
			{:process 0 :type :info :f :cas :value [0 2]}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value 2}`, False},
		{"ok cas requires its old value", reg0, `
			{:process 0 :type :invoke :f :cas :value [1 2]}
			{:process 0 :type :ok :f :cas :value [1 2]}`, False},
		{"ok cas on matching value", reg0, `
			{:process 0 :type :invoke :f :cas :value [0 2]}
			{:process 0 :type :ok :f :cas :value [0 2]}
			{:process 0 :type :invoke :f :read :value nil}
			{:process 0 :type :ok :f :read :value 2}`, True},
		{"info read carries no information", reg0, `
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :info :f :read :value 9}`, True},
		{"nil read matches any state (Knossos)", reg0, `
			{:process 0 :type :invoke :f :write :value 1}
			{:process 0 :type :ok :f :write :value 1}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value nil}`, True},
		{"strict nil reads", LinearizableOptions{Model: ModelCASRegister, Initial: int64(0), StrictNilReads: true}, `
			{:process 0 :type :invoke :f :write :value 1}
			{:process 0 :type :ok :f :write :value 1}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value nil}`, False},
		{"initial value nil by default", LinearizableOptions{Model: ModelRegister, StrictNilReads: true}, `
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value nil}`, True},
		{"nemesis ops are ignored", reg0, `
			{:process :nemesis :type :invoke :f :start-partition :value nil}
			{:process 0 :type :invoke :f :write :value 1}
			{:process :nemesis :type :info :f :start-partition :value [:isolated "n1"]}
			{:process 0 :type :ok :f :write :value 1}
			{:process :nemesis :type :info :f :unmatched :value nil}`, True},
		{"structured values compare by content", reg0, `
			{:process 0 :type :invoke :f :write :value {:a [1 2]}}
			{:process 0 :type :ok :f :write :value {:a [1 2]}}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value {"a" [1 2]}}`, True},
		{"int and string values differ", reg0, `
			{:process 0 :type :invoke :f :write :value 1}
			{:process 0 :type :ok :f :write :value 1}
			{:process 1 :type :invoke :f :read :value nil}
			{:process 1 :type :ok :f :read :value "1"}`, False},
		{"multi-register keys are independent", LinearizableOptions{Model: ModelMultiRegister, Initial: int64(0)}, `
			{:process 0 :type :invoke :f :write :value [1 5]}
			{:process 0 :type :ok :f :write :value [1 5]}
			{:process 1 :type :invoke :f :read :value [2 nil]}
			{:process 1 :type :ok :f :read :value [2 0]}
			{:process 1 :type :invoke :f :read :value [1 nil]}
			{:process 1 :type :ok :f :read :value [1 5]}`, True},
		{"multi-register violation on one key", LinearizableOptions{Model: ModelMultiRegister, Initial: int64(0)}, `
			{:process 0 :type :invoke :f :write :value [1 5]}
			{:process 0 :type :ok :f :write :value [1 5]}
			{:process 1 :type :invoke :f :read :value [2 nil]}
			{:process 1 :type :ok :f :read :value [2 5]}`, False},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, _ := checkLin(t, c.o, edn(t, c.h))
			if res.Valid != c.want {
				t.Fatalf("got %v (%s %s), want %v", res.Valid, res.Summary, res.Error, c.want)
			}
		})
	}
}

func TestLinearizableErrors(t *testing.T) {
	cases := []struct {
		o    LinearizableOptions
		h    string
		want string
	}{
		{LinearizableOptions{Model: ModelRegister}, `{:process 0 :type :invoke :f :cas :value [1 2]}`, "has no cas"},
		{LinearizableOptions{Model: ModelCASRegister}, `{:process 0 :type :invoke :f :incr :value 1}`, `"incr"`},
		{LinearizableOptions{Model: ModelCASRegister}, `{:process 0 :type :invoke :f :cas :value 1}`, "[old new]"},
		{LinearizableOptions{Model: ModelMultiRegister}, `{:process 0 :type :invoke :f :write :value 1}`, "tuples"},
		{LinearizableOptions{Model: "queue"}, ``, "unknown model"},
		{LinearizableOptions{Model: ModelCASRegister}, `
			{:process 0 :type :invoke :f :read}
			{:process 0 :type :invoke :f :read}`, "still pending"},
	}
	for _, c := range cases {
		res, _ := checkLin(t, c.o, edn(t, c.h))
		if res.Valid != Unknown || !strings.Contains(res.Error, c.want) {
			t.Errorf("%s: got %v %q, want unknown with %q", c.h, res.Valid, res.Error, c.want)
		}
	}
}

func TestLinearizableDescribesAnomalyAndWritesVisualization(t *testing.T) {
	h := edn(t, `
		{:process 0 :type :invoke :f :write :value 1}
		{:process 0 :type :ok :f :write :value 1}
		{:process 1 :type :invoke :f :write :value 2}
		{:process 1 :type :ok :f :write :value 2}
		{:process 2 :type :invoke :f :read :value nil}
		{:process 2 :type :ok :f :read :value 1}`)
	dir := t.TempDir()
	res := Linearizable(LinearizableOptions{Model: ModelCASRegister}).Check(context.Background(), h, Options{Dir: dir})
	if res.Valid != False {
		t.Fatalf("want false, got %v", res.Valid)
	}
	d := res.Details.(*LinearizableDetails)
	if len(d.Anomalies) != 1 {
		t.Fatalf("want one anomaly, got %+v", d.Anomalies)
	}
	a := d.Anomalies[0]
	if a.Op.Process != "2" || a.Op.F != "read" || a.Op.Value != int64(1) || a.Op.InvokeIndex != 4 || a.Op.CompleteIndex != 5 {
		t.Errorf("wrong culprit: %+v", a.Op)
	}
	if len(a.States) != 1 || a.States[0] != int64(2) || a.Linearized != 2 || a.Total != 3 {
		t.Errorf("wrong states/progress: %+v", a)
	}
	for _, want := range []string{"process 2 read 1", "index 4", "could only hold 2", "2 of 3 ops"} {
		if !strings.Contains(a.Description, want) || !strings.Contains(res.Summary, want) {
			t.Errorf("description %q lacks %q", a.Description, want)
		}
	}
	if len(res.Files) != 1 || res.Files[0] != "linear.html" {
		t.Fatalf("files: %v", res.Files)
	}
	html, err := os.ReadFile(filepath.Join(dir, "linear.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("read → 1")) || !bytes.Contains(html, []byte("process 2 read 1")) {
		t.Error("visualization lacks the op descriptions")
	}
	// Without a directory, nothing is written.
	res = Linearizable(LinearizableOptions{Model: ModelCASRegister}).Check(context.Background(), h, Options{})
	if len(res.Files) != 0 {
		t.Errorf("wrote files without a dir: %v", res.Files)
	}
}

func TestLinearizableSimulatedValid(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		h := simulateRegister(simConfig{seed: seed, ops: 2000, procs: 5, cas: true, values: 5, infoRate: 0.02, nemesis: true})
		res, d := checkLin(t, LinearizableOptions{Model: ModelCASRegister, Initial: int64(0)}, h)
		if res.Valid != True {
			t.Fatalf("seed %d: simulated linearizable history judged %v: %s %s", seed, res.Valid, res.Summary, res.Error)
		}
		if d.Ops < 500 {
			t.Fatalf("seed %d: only %d ops checked", seed, d.Ops)
		}
	}
}

func TestLinearizableSimulatedStaleReads(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		h := simulateRegister(simConfig{seed: seed, ops: 2000, procs: 5, cas: true, infoRate: 0.02, stale: true})
		res, d := checkLin(t, LinearizableOptions{Model: ModelCASRegister, Initial: int64(0)}, h)
		if res.Valid != False {
			t.Fatalf("seed %d: history with stale reads judged %v", seed, res.Valid)
		}
		if len(d.Anomalies) == 0 || d.Anomalies[0].Op.F != "read" {
			t.Fatalf("seed %d: anomaly should be a read: %+v", seed, d.Anomalies)
		}
		// The same run without stale reads is fine: the checker is
		// reacting to the injected anomaly, not to the simulation.
		h = simulateRegister(simConfig{seed: seed, ops: 2000, procs: 5, cas: true, infoRate: 0.02})
		if res, _ := checkLin(t, LinearizableOptions{Model: ModelCASRegister, Initial: int64(0)}, h); res.Valid != True {
			t.Fatalf("seed %d: unique-value history judged %v", seed, res.Valid)
		}
	}
}

func TestLinearizableSimulatedMultiRegister(t *testing.T) {
	o := LinearizableOptions{Model: ModelMultiRegister, Initial: int64(0)}
	h := simulateRegister(simConfig{seed: 7, ops: 6000, procs: 10, cas: true, values: 5, infoRate: 0.01, keys: 8})
	res, d := checkLin(t, o, h)
	if res.Valid != True || d.Keys != 8 {
		t.Fatalf("valid multi-register history: %v keys=%d %s", res.Valid, d.Keys, res.Error)
	}
	h = simulateRegister(simConfig{seed: 7, ops: 6000, procs: 10, cas: true, infoRate: 0.01, keys: 8, stale: true})
	res, d = checkLin(t, o, h)
	if res.Valid != False || len(d.FailedKeys) == 0 || d.Anomalies[0].Key == nil {
		t.Fatalf("stale multi-register history: %v %+v", res.Valid, d.FailedKeys)
	}
	if !strings.Contains(res.Summary, "keys not linearizable") {
		t.Errorf("summary: %s", res.Summary)
	}
}

func TestLinearizableCancelledIsUnknown(t *testing.T) {
	h := simulateRegister(simConfig{seed: 3, ops: 40000, procs: 10, cas: true, values: 5, infoRate: 0.01})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Linearizable(LinearizableOptions{Model: ModelCASRegister, Initial: int64(0)}).Check(ctx, h, Options{})
	if res.Valid != Unknown {
		t.Fatalf("cancelled check should be unknown, got %v", res.Valid)
	}
	res = Linearizable(LinearizableOptions{Model: ModelCASRegister, Initial: int64(0), TimeLimit: time.Nanosecond}).Check(context.Background(), h, Options{})
	if res.Valid != Unknown || !strings.Contains(res.Summary, "did not finish") {
		t.Fatalf("timed-out check should be unknown, got %v %s", res.Valid, res.Summary)
	}
}

func TestLinearizableEDNFixtures(t *testing.T) {
	cases := []struct {
		file string
		o    LinearizableOptions
		want Validity
		key  any
	}{
		{"etcd-register-valid.edn", LinearizableOptions{Model: ModelCASRegister}, True, nil},
		{"etcd-register-invalid.edn", LinearizableOptions{Model: ModelCASRegister}, False, nil},
		{"etcd-independent-invalid.edn", LinearizableOptions{Model: ModelMultiRegister}, False, int64(1)},
	}
	for _, c := range cases {
		f, err := os.Open(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		h, err := history.ReadEDN(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		res, d := checkLin(t, c.o, h)
		if res.Valid != c.want {
			t.Errorf("%s: got %v (%s %s), want %v", c.file, res.Valid, res.Summary, res.Error, c.want)
			continue
		}
		if c.key != nil && (len(d.FailedKeys) != 1 || d.FailedKeys[0] != c.key) {
			t.Errorf("%s: failed keys %v, want [%v]", c.file, d.FailedKeys, c.key)
		}
	}
}

func BenchmarkLinearizableCASRegister100k(b *testing.B) {
	h := simulateRegister(simConfig{seed: 1, ops: 100000, procs: 10, cas: true, values: 5, infoRate: 0.001})
	infos := 0
	for _, op := range h {
		if op.Type == history.Info {
			infos++
		}
	}
	c := Linearizable(LinearizableOptions{Model: ModelCASRegister, Initial: int64(0), Algorithm: "porcupine"})
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), h, Options{}); res.Valid != True {
			b.Fatalf("got %v %s %s", res.Valid, res.Summary, res.Error)
		}
	}
	b.ReportMetric(float64(len(h)), "history-ops")
	b.ReportMetric(float64(infos), "info-ops")
}

func BenchmarkLinearizableMultiRegister100k(b *testing.B) {
	h := simulateRegister(simConfig{seed: 1, ops: 100000, procs: 10, cas: true, values: 5, infoRate: 0.001, keys: 10})
	c := Linearizable(LinearizableOptions{Model: ModelMultiRegister, Initial: int64(0)})
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), h, Options{}); res.Valid != True {
			b.Fatalf("got %v %s %s", res.Valid, res.Summary, res.Error)
		}
	}
}

package run_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/history"
	"github.com/jplan/jplan/run"
	"github.com/jplan/jplan/storage"
	"github.com/jplan/jplan/verdict"
)

const memoryPlan = `
variable "stale_reads" {
  type    = bool
  default = false
}

test "mem" {
  nodes       = ["n1", "n2", "n3"]
  remote      = "local"
  concurrency = "2n"
  seed        = 3
}

client "memory" {
  stale_reads = var.stale_reads
  jitter      = "1ms"
}

operation "read" {}
operation "write" { value = random_int(0, 4) }
operation "cas" { value = [random_int(0, 4), random_int(0, 4)] }

phase "main" {
  time_limit = "2s"
  clients    = stagger("1ms", mix([operation.read, operation.write, operation.cas]))
}

phase "final" {
  clients = each_thread(once(operation.read))
}

checker "linearizable" { model = "cas-register" }
checker "stats" {}
`

func writePlan(t testing.TB, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plan.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMemoryRun: a real run over the in-memory register stores a complete
// run directory and is judged valid; the same plan with stale reads is
// judged invalid — the checker catches a real violation from a real run.
func TestMemoryRun(t *testing.T) {
	plan := writePlan(t, memoryPlan)
	for _, stale := range []bool{false, true} {
		store := t.TempDir()
		vars := []string{}
		if stale {
			vars = append(vars, "stale_reads=true")
		}
		out, err := run.Run(context.Background(), run.Options{Path: plan, Store: store, Inputs: evalInputs(vars)})
		if err != nil {
			t.Fatalf("stale=%v: %v", stale, err)
		}
		want := checker.True
		if stale {
			want = checker.False
		}
		if out.Result.Valid != want {
			t.Errorf("stale=%v: verdict %v, want %v: %s", stale, out.Result.Valid, want, out.Result.Results["linearizable"].Summary)
		}
		for _, f := range []string{"history.jsonl", "history.edn", "results.json", "report.html", "jplan.log", "plan/plan.hcl"} {
			if _, err := os.Stat(filepath.Join(out.Dir, f)); err != nil {
				t.Errorf("run directory lacks %s: %v", f, err)
			}
		}
		if !strings.HasPrefix(out.Dir, filepath.Join(store, "mem")) {
			t.Errorf("run dir %s not under store/mem", out.Dir)
		}
		// The stored history is the whole history: re-checking it gives the
		// same verdict, and every invocation was completed.
		h, _, err := verdict.ReadHistory(out.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(h)) != out.Summary.Entries {
			t.Errorf("stored %d ops, summary says %d", len(h), out.Summary.Entries)
		}
		if _, err := history.Pairs(h); err != nil {
			t.Errorf("stored history is not well formed: %v", err)
		}
		final := 0
		for _, op := range h {
			if op.Type == history.OK && op.F == "read" && op.Time > int64(2*time.Second) {
				final++
			}
		}
		if final < 6 {
			t.Errorf("final phase: %d ok reads after 2s, want one per thread (6)", final)
		}
		edn, _ := os.ReadFile(filepath.Join(out.Dir, "history.edn"))
		if !strings.Contains(string(edn), ":type :invoke") {
			t.Errorf("history.edn does not look like Jepsen's EDN")
		}
		// status.json ends done, with the verdict and the last counts.
		var st storage.Status
		if b, err := os.ReadFile(filepath.Join(out.Dir, storage.StatusFile)); err != nil {
			t.Error(err)
		} else if err := json.Unmarshal(b, &st); err != nil {
			t.Error(err)
		}
		if st.State != "done" || st.Valid != want.String() || st.OK == 0 || st.ElapsedSeconds < 2 {
			t.Errorf("status.json = %+v, want done, valid %v, counts", st, want)
		}
	}
}

// TestRunInterrupted: canceling mid-run still stores and checks the
// history recorded so far, and says the run was interrupted.
func TestRunInterrupted(t *testing.T) {
	plan := writePlan(t, strings.Replace(memoryPlan, `time_limit = "2s"`, `time_limit = "60s"`, 1))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(700 * time.Millisecond); cancel() }()
	out, _ := run.Run(ctx, run.Options{Path: plan, Store: t.TempDir()})
	if !out.Interrupted {
		t.Error("run not marked interrupted")
	}
	if !out.Checked || out.Summary.Entries == 0 {
		t.Fatalf("interrupted run was not checked (entries %d)", out.Summary.Entries)
	}
	if out.Summary.Elapsed > 30*time.Second {
		t.Errorf("cancel did not stop the run: ran %v", out.Summary.Elapsed)
	}
	h, _, err := verdict.ReadHistory(out.Dir)
	if err != nil || len(h) == 0 {
		t.Fatalf("no stored history after interrupt: %v", err)
	}
	if _, err := history.Pairs(h); err != nil {
		t.Errorf("interrupted history is not well formed: %v", err)
	}
}

func TestPlanErrors(t *testing.T) {
	plan := writePlan(t, strings.Replace(memoryPlan, "random_int(0, 4) }", "random_int(0, 4) + op.vlaue }", 1))
	_, err := run.Run(context.Background(), run.Options{Path: plan, Store: t.TempDir()})
	var pe *run.PlanError
	if !errors.As(err, &pe) || !strings.Contains(pe.Error(), "vlaue") {
		t.Fatalf("want a plan error about op.vlaue, got %v", err)
	}
}

// finalPlan's main phase writes until a time limit stops it (the test's
// own limit is a safety net far beyond --time-limit); only its final phase
// reads.
const finalPlan = `
test "mem-final" {
  nodes       = ["n1", "n2", "n3"]
  remote      = "local"
  concurrency = "2n"
  seed        = 9
  time_limit  = "30s"
}

client "memory" {
  jitter = "1ms"
}

operation "read" {}
operation "write" { value = random_int(0, 4) }
operation "cas" { value = [random_int(0, 4), random_int(0, 4)] }

phase "main" {
  clients = stagger("1ms", mix([operation.write, operation.cas]))
}

phase "final" {
  final   = true
  clients = each_thread(once(operation.read))
}

checker "linearizable" { model = "cas-register" }
`

// TestTimeLimitSparesFinalPhases: --time-limit ends the main phase, and
// the final phase still runs after it: every worker reads once, after the
// last write.
func TestTimeLimitSparesFinalPhases(t *testing.T) {
	plan := writePlan(t, finalPlan)
	limit := 500 * time.Millisecond
	out, err := run.Run(context.Background(), run.Options{Path: plan, Store: t.TempDir(), TimeLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	if out.Result.Valid != checker.True {
		t.Errorf("verdict %v, want valid: %s", out.Result.Valid, out.Result.Results["linearizable"].Summary)
	}
	h, _, err := verdict.ReadHistory(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var lastWrite int64
	var writes int
	var reads []history.Op
	for _, op := range h {
		switch {
		case op.Type != history.Invoke:
		case op.F == "read":
			reads = append(reads, op)
		default:
			writes++
			lastWrite = max(lastWrite, op.Time)
		}
	}
	// The main phase ran until --time-limit, not until the plan's 30s.
	if writes == 0 || lastWrite > int64(limit+time.Second) {
		t.Errorf("%d writes and cas, the last at %v: want them to stop at the %v --time-limit", writes, time.Duration(lastWrite), limit)
	}
	// The final phase was not cut by it: one read per worker, after the
	// main phase.
	if len(reads) != 6 {
		t.Fatalf("%d final reads, want one per worker (6): --time-limit cut the final phase", len(reads))
	}
	procs := map[int]bool{}
	for _, r := range reads {
		procs[r.Process%6] = true
		if r.Time < lastWrite {
			t.Errorf("final read at %v, before the last write at %v", time.Duration(r.Time), time.Duration(lastWrite))
		}
	}
	if len(procs) != 6 {
		t.Errorf("final reads on threads %v, want every worker", procs)
	}
}

// TestMemoryTxnIsolation runs the list-append example end to end: the
// serializable store is valid; at read committed the checker finds the
// anomalies read committed allows (read skew or write skew), and does not
// rule out read committed itself — Elle's semantics on a store whose
// isolation is known.
func TestMemoryTxnIsolation(t *testing.T) {
	for _, iso := range []string{"serializable", "read committed"} {
		out, err := run.Run(context.Background(), run.Options{Path: "../examples/memory-append.hcl", Store: t.TempDir(),
			Inputs: evalInputs([]string{"isolation=" + iso}), TimeLimit: 2 * time.Second})
		if err != nil {
			t.Fatalf("%s: %v", iso, err)
		}
		la := out.Result.Results["list-append"]
		b, _ := json.Marshal(la.Details)
		var d struct {
			AnomalyTypes []string `json:"anomaly_types"`
			Not          []string `json:"not"`
			AlsoNot      []string `json:"also_not"`
		}
		json.Unmarshal(b, &d)
		if iso == "serializable" {
			if la.Valid != checker.True {
				t.Errorf("serializable store judged %v: %s", la.Valid, la.Summary)
			}
			continue
		}
		if la.Valid != checker.False {
			t.Fatalf("read committed store judged %v: %s", la.Valid, la.Summary)
		}
		if !slices.Contains(d.AnomalyTypes, "G2-item") && !slices.Contains(d.AnomalyTypes, "G-single-item") {
			t.Errorf("read committed: anomalies %v, want G2-item or G-single-item", d.AnomalyTypes)
		}
		for _, bad := range []string{"G0", "G1a", "G1b", "G1c"} {
			if slices.Contains(d.AnomalyTypes, bad) {
				t.Errorf("read committed store showed %s, which read committed forbids: %v", bad, d.AnomalyTypes)
			}
		}
		if slices.Contains(append(d.Not, d.AlsoNot...), "read-committed") {
			t.Errorf("read committed ruled out: not %v, also not %v", d.Not, d.AlsoNot)
		}
		if !slices.Contains(append(d.Not, d.AlsoNot...), "serializable") {
			t.Errorf("serializable not ruled out: not %v, also not %v", d.Not, d.AlsoNot)
		}
		if _, err := os.Stat(filepath.Join(out.Dir, "list-append", "anomalies.html")); err != nil {
			t.Errorf("no anomalies page: %v", err)
		}
	}
}

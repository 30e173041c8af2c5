package listappend

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/elle"
	"github.com/jplan/jplan/history"
)

// The mirror of Elle's repository, when present, lets us judge Elle's own
// example histories and compare with what Elle's test suite expects. The
// histories are read from the mirror at test time, never copied here.
const mirror = "/work/.mirror/jepsen-io+elle/repo"

func mirrorHistory(t *testing.T, path string) []history.Op {
	t.Helper()
	if _, err := os.Stat(mirror); err != nil {
		t.Skip("no Elle mirror")
	}
	out, err := exec.Command("git", "--git-dir", mirror, "show", "HEAD:"+path).Output()
	if err != nil {
		t.Skipf("reading %s from the mirror: %v", path, err)
	}
	h, err := history.ReadEDN(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return h
}

func check(t *testing.T, h []history.Op, o elle.Options) elle.Result {
	t.Helper()
	a, err := Analyze(context.Background(), h, o)
	if err != nil {
		t.Fatal(err)
	}
	return elle.Check(context.Background(), a, o)
}

// Elle's list-append test "si-without-g-single": with snapshot isolation
// and repeatable read asked for, Elle finds only G2-item and rules out
// repeatable read.
func TestMirrorSIWithoutGSingle(t *testing.T) {
	h := mirrorHistory(t, "histories/si-without-g-single.edn")
	r := check(t, h, elle.Options{ConsistencyModels: []string{"snapshot-isolation", "repeatable-read"}})
	if !slices.Equal(r.AnomalyTypes, []string{"G2-item"}) {
		t.Errorf("anomaly types %v, want [G2-item]", r.AnomalyTypes)
	}
	if !slices.Equal(r.Not, []string{"repeatable-read"}) {
		t.Errorf("not %v, want [repeatable-read]", r.Not)
	}
	if r.Valid != checker.False {
		t.Errorf("valid %v, want false", r.Valid)
	}
}

// The paper's example history has a G1c-ish cycle among its first
// transactions; Elle's default (strict serializable) check rejects it.
func TestMirrorPaperExample(t *testing.T) {
	h := mirrorHistory(t, "histories/paper-example.edn")
	r := check(t, h, elle.Options{})
	t.Logf("%v not %v also %v", r.AnomalyTypes, r.Not, r.AlsoNot)
	for _, c := range r.Cycles {
		t.Log(c.Explanation)
	}
	if r.Valid != checker.False {
		t.Errorf("valid %v, want false", r.Valid)
	}
}

// Elle's huge-scc history: one enormous SCC. Elle's search times out and
// falls back to saying a cycle exists; ours may get further, but the
// verdict and the weakest model ruled out must agree.
func TestMirrorHugeSCC(t *testing.T) {
	h := mirrorHistory(t, "histories/huge-scc.edn")
	r := check(t, h, elle.Options{})
	t.Logf("%v not %v also %v", r.AnomalyTypes, r.Not, r.AlsoNot)
	if r.Valid != checker.False {
		t.Errorf("valid %v, want false", r.Valid)
	}
	if !slices.Equal(r.Not, []string{"strong-snapshot-isolation"}) {
		t.Errorf("not %v, want [strong-snapshot-isolation]", r.Not)
	}
}

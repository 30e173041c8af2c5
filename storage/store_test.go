package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jplan/jplan/history"
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestRunIDsNeverCollide(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC)
	s.now = fixedClock(at)
	var ids []string
	for i := 0; i < 12; i++ {
		r, err := s.Create("etcd", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if ids[0] != "20240501T120000.123Z" || ids[1] != "20240501T120000.123Z-001" || ids[11] != "20240501T120000.123Z-011" {
		t.Fatalf("ids %v", ids)
	}
	// A later millisecond sorts after every suffixed id of an earlier one.
	s.now = fixedClock(at.Add(time.Millisecond))
	r, err := s.Create("etcd", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	runs, err := s.Runs("etcd")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 13 || runs[12].ID != r.ID || runs[0].ID != ids[0] {
		t.Fatalf("runs not in time order: %v", runs)
	}
	if !runs[0].Start.Equal(at) || !runs[5].Start.Equal(at) {
		t.Fatalf("start times %v %v", runs[0].Start, runs[5].Start)
	}
}

func TestConcurrentCreates(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.now = fixedClock(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	errs := make(chan error, 20)
	ids := make(chan string, 20)
	for i := 0; i < 20; i++ {
		go func() {
			r, err := s.Create("t", nil)
			if err == nil {
				ids <- r.ID
				err = r.Close()
			}
			errs <- err
		}()
	}
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(ids)
	for id := range ids {
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
	if ri, err := s.Resolve("t"); err != nil || !seen[ri.ID] {
		t.Fatalf("latest %v %v", ri, err)
	}
}

func TestRunFilesAndRedaction(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Create("etcd", []string{"hunter2", "", "pass-hunter2-word"})
	if err != nil {
		t.Fatal(err)
	}
	err = r.SavePlan(map[string][]byte{
		"main.hcl":        []byte(`ssh { password = "pass-hunter2-word" }` + "\n"),
		"lib/clients.hcl": []byte(`token = "hunter2"` + "\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SavePlan(map[string][]byte{"../escape.hcl": nil}); err == nil {
		t.Fatal("plan file outside the plan directory was accepted")
	}
	fmt.Fprintf(r.Log(), "connecting with hunter2\n")
	ops := []history.Op{
		{Index: 0, Time: 1, Type: history.Invoke, Process: 0, F: "write", Value: int64(3)},
		{Index: 1, Time: 2, Type: history.OK, Process: 0, F: "write", Value: int64(3)},
	}
	for _, op := range ops {
		if err := r.History().Append(op); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.WriteEDN(ops); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteResults(map[string]any{"valid": true}); err != nil {
		t.Fatal(err)
	}
	nd, err := r.NodeDir("n1:2379")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nd, "etcd.log"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.NodeDir("../x"); err != nil {
		t.Fatal(err) // sanitised, not rejected
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal("second close:", err)
	}

	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(r.Dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("plan/main.hcl"); got != `ssh { password = "<redacted>" }`+"\n" {
		t.Fatalf("main.hcl %q", got)
	}
	if got := read("plan/lib/clients.hcl"); got != `token = "<redacted>"`+"\n" {
		t.Fatalf("clients.hcl %q", got)
	}
	if got := read(LogFile); got != "connecting with <redacted>\n" {
		t.Fatalf("log %q", got)
	}
	h, err := history.ReadJSONL(strings.NewReader(read(HistoryFile)))
	if err != nil || len(h) != 2 || h[1].Type != history.OK {
		t.Fatalf("history.jsonl %v %v", h, err)
	}
	e, err := history.ReadEDN(strings.NewReader(read(EDNFile)))
	if err != nil || len(e) != 2 {
		t.Fatalf("history.edn %v %v", e, err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(read(ResultsFile)), &res); err != nil || res["valid"] != true {
		t.Fatalf("results %v %v", res, err)
	}
	if read("nodes/n1:2379/etcd.log") != "x" {
		t.Fatal("node file")
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(r.Dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("left %s", e.Name())
		}
	}
}

func TestHistoryStreamsWhileRunning(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Create("t", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.History().Append(history.Op{Type: history.Invoke, F: "read"})
	// The writer flushes at least every second without Close.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(r.Dir, HistoryFile))
		if bytes.Contains(b, []byte(`"read"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("history not flushed within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLatestLinksAndResolve(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve("latest"); !errors.Is(err, ErrNoRuns) {
		t.Fatalf("empty store: %v", err)
	}
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	mk := func(test string, at time.Duration) RunInfo {
		s.now = fixedClock(base.Add(at))
		r, err := s.Create(test, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		return r.RunInfo
	}
	a1 := mk("a", 0)
	b1 := mk("b", time.Second)
	a2 := mk("a", 2*time.Second)

	check := func(ref string, want RunInfo) {
		t.Helper()
		got, err := s.Resolve(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if got.Test != want.Test || got.ID != want.ID || got.Dir != want.Dir {
			t.Fatalf("%s: got %+v want %+v", ref, got, want)
		}
	}
	check("", a2)
	check("latest", a2)
	check("a", a2)
	check("a/latest", a2)
	check("b", b1)
	check("a/"+a1.ID, a1)
	if _, err := s.Resolve("a/nope"); err == nil {
		t.Fatal("resolved a missing run")
	}
	if _, err := s.Resolve("a/.."); err == nil {
		t.Fatal("resolved ..")
	}

	// Links are relative, so the store can move.
	if tgt, _ := os.Readlink(filepath.Join(root, Latest)); tgt != filepath.Join("a", a2.ID) {
		t.Fatalf("store link -> %s", tgt)
	}
	if tgt, _ := os.Readlink(filepath.Join(root, "b", Latest)); tgt != b1.ID {
		t.Fatalf("test link -> %s", tgt)
	}
	// Without links, the newest directory wins.
	os.Remove(filepath.Join(root, Latest))
	os.Remove(filepath.Join(root, "a", Latest))
	check("latest", a2)
	check("a", a2)

	tests, err := s.Tests()
	if err != nil || strings.Join(tests, ",") != "a,b" {
		t.Fatalf("tests %v %v", tests, err)
	}
}

func TestTestNames(t *testing.T) {
	for _, bad := range []string{"", "a/b", `a\b`, "latest", ".hidden", ".."} {
		if ValidateTestName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := ValidateTestName("etcd-register"); err != nil {
		t.Error(err)
	}
}

func TestRedact(t *testing.T) {
	got := string(Redact([]byte("a secret and a secretive"), []string{"secret", "secretive"}))
	if got != "a <redacted> and a <redacted>" {
		t.Fatalf("got %q", got)
	}
}

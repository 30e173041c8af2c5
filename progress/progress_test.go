package progress

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

func TestTerminalRewritesOneLine(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, true)
	r.Update("reading: %d%%", 10)
	time.Sleep(termEvery + 10*time.Millisecond)
	r.Update("reading: %d%%", 20)
	r.Update("reading: %d%%", 30) // too soon: dropped
	r.Done()
	out := b.String()
	if strings.Count(out, "\r\033[K") != 3 || !strings.Contains(out, "reading: 10%") || !strings.Contains(out, "reading: 20%") || strings.Contains(out, "30%") {
		t.Fatalf("%q", out)
	}
	if strings.Contains(out, "\n") {
		t.Errorf("a terminal status is one line rewritten, not new lines: %q", out)
	}
}

func TestPipeQuietForQuickWork(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, false)
	r.Interval = 50 * time.Millisecond
	r.Update("checking") // before Interval has passed: nothing
	if b.Len() != 0 {
		t.Fatalf("quick work printed %q", b.String())
	}
	time.Sleep(60 * time.Millisecond)
	r.Update("checking a")
	r.Update("checking b") // within Interval of the last: nothing
	r.Done()
	if got := b.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "checking a") || strings.Contains(got, "\r") {
		t.Fatalf("%q", got)
	}
}

func TestReaderAndEvery(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, true)
	data := strings.Repeat("x", 3<<20)
	if _, err := io.Copy(io.Discard, r.Reader(strings.NewReader(data), int64(len(data)), "history.edn")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "history.edn: ") || !strings.Contains(b.String(), "of 3 MB)") {
		t.Errorf("%q", b.String())
	}
	b.Reset()
	stop := r.Every(20*time.Millisecond, func() string { return "waiting for list-append" })
	time.Sleep(150 * time.Millisecond)
	stop()
	stop() // idempotent
	if !strings.Contains(b.String(), "waiting for list-append") || !strings.HasSuffix(b.String(), "\r\033[K") {
		t.Errorf("%q", b.String())
	}
}

func TestLogClearsTheStatus(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, true)
	r.Update("building")
	io.WriteString(r.Log(), "started n1\n")
	r.Update("building") // shown again at once, below the log line
	got := b.String()
	if want := "\r\033[K   0.0s  building\r\033[Kstarted n1\n\r\033[K   0.0s  building"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

func TestShowAndFinish(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, false)
	r.Show("10 ops/s", false) // quick work, off a terminal: nothing
	r.Show("done: 20 ops/s", true)
	if got := b.String(); got != "done: 20 ops/s\n" {
		t.Fatalf("%q", got)
	}
	b.Reset()
	r = New(&b, true)
	r.Show("30 ops/s", false)
	r.Finish()
	r.Finish() // nothing on screen any more
	if got := b.String(); got != "\r\033[K30 ops/s\n" {
		t.Fatalf("%q", got)
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe to read while a command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeCommand: jplan serve prints its URL, serves the table there,
// and stops cleanly (exit 0) when interrupted.
func TestServeCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	old := serveContext
	serveContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	defer func() { serveContext = old }()

	var stdout, stderr lockedBuffer
	env := &cliEnv{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }, environ: func() []string { return nil }}
	done := make(chan int, 1)
	go func() { done <- runMain(env, []string{"serve", "--store", t.TempDir(), "--addr", "127.0.0.1:0"}) }()

	urlRE := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		url = urlRE.FindString(stdout.String())
	}
	if url == "" {
		cancel()
		t.Fatalf("no URL printed; stdout %q stderr %q", stdout.String(), stderr.String())
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "jplan runs") {
		t.Errorf("GET %s: %s %q", url, res.Status, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK || !strings.Contains(stdout.String(), "stopped") {
			t.Errorf("after interrupt: exit %d, stdout %q", code, stdout.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("jplan serve did not stop on interrupt")
	}
}

func TestServeUsage(t *testing.T) {
	for _, args := range [][]string{{"serve", "extra"}, {"serve", "--bogus"}} {
		var stdout, stderr lockedBuffer
		env := &cliEnv{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
		if code := runMain(env, args); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (usage); stderr %q", args, code, exitUsage, stderr.String())
		}
	}
	var stdout, stderr lockedBuffer
	env := &cliEnv{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	if code := runMain(env, []string{"serve", "--store", t.TempDir(), "--addr", "256.0.0.1:bad"}); code == exitOK {
		t.Errorf("a bad address: exit 0")
	}
}

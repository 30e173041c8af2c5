package client

import (
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jplan/jplan/eval"
	"github.com/jplan/jplan/history"
)

// httpClient opens an http client of testdata/http.hcl against url.
func httpClient(t *testing.T, url string) *HTTP {
	t.Helper()
	ev := loadPlan(t, "http.hcl", eval.Node{Name: "n1", Host: "127.0.0.1"})
	cfg, _ := configFor(t, ev, func(nc *eval.ClientConfig) { nc.BaseURL = url + "/api" })
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	return open(t, NewFactory(cfg), "n1").(*HTTP)
}

func TestHTTPResultMapsJSON(t *testing.T) {
	var (
		mu  sync.Mutex
		got *http.Request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Clone(r.Context())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"value": 7}`)
	}))
	defer srv.Close()
	c := httpClient(t, srv.URL)
	op, err := invoke(t, c, "read", nil)
	wantType(t, op, err, history.OK)
	if op.Value != int64(7) {
		t.Errorf("value = %#v, want int64 7", op.Value)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Method != "GET" || got.URL.Path != "/api/r" || got.URL.Query().Get("consistent") != "true" {
		t.Errorf("request %s %s", got.Method, got.URL)
	}
	// The op's headers win over the client's; the client's others stay.
	if h := got.Header.Get("X-Both"); h != "op" {
		t.Errorf("X-Both = %q, want the op's", h)
	}
	if h := got.Header.Get("X-Client"); h != "client" {
		t.Errorf("X-Client = %q, want the client's", h)
	}
}

func TestHTTPStatuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/r":
			if r.Method == "PUT" {
				body, _ := io.ReadAll(r.Body)
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil || m["value"] != float64(4) || m["node"] != "n1" || m["process"] != float64(3) {
					http.Error(w, "bad body "+string(body), 400)
					return
				}
				w.WriteHeader(204)
				return
			}
			http.NotFound(w, r)
		case "/api/boom":
			http.Error(w, "boom", 500)
		case "/api/teapot":
			w.WriteHeader(418)
		}
	}))
	defer srv.Close()
	c := httpClient(t, srv.URL)

	// Default result: 2xx is ok and keeps the op's value.
	op, err := invoke(t, c, "write", int64(4))
	wantType(t, op, err, history.OK)
	if op.Value != int64(4) {
		t.Errorf("write value = %#v, want 4 kept", op.Value)
	}
	// Default result: 5xx is info (the server may have applied it).
	op, err = invoke(t, c, "get", "boom")
	wantType(t, op, err, history.Info)
	if !strings.Contains(op.Error, "500") {
		t.Errorf("error %q does not name the status", op.Error)
	}
	op, err = invoke(t, c, "get", "teapot")
	wantType(t, op, err, history.Info)
	// The plan's result: 404 is a definite fail.
	op, err = invoke(t, c, "read", nil)
	wantType(t, op, err, history.Fail)
	if op.Error != "status 404" {
		t.Errorf("error = %q", op.Error)
	}
}

func TestHTTPRefusedIsFail(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := httpClient(t, "http://"+addr)
	op, err := invoke(t, c, "write", int64(1))
	wantType(t, op, err, history.Fail)
	if !strings.Contains(op.Error, "connection refused") {
		t.Errorf("error %q does not say the connection was refused", op.Error)
	}
}

func TestHTTPDNSFailureIsFail(t *testing.T) {
	c := httpClient(t, "http://no-such-host.invalid")
	op, err := invoke(t, c, "write", int64(1))
	wantType(t, op, err, history.Fail)
}

func TestHTTPTLSFailureIsFail(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the request reached the server despite the untrusted certificate")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	c := httpClient(t, srv.URL) // the client does not trust httptest's CA
	op, err := invoke(t, c, "write", int64(1))
	wantType(t, op, err, history.Fail)
	if !strings.Contains(op.Error, "TLS") {
		t.Errorf("error %q does not mention TLS", op.Error)
	}
}

// A connection that never completes its TLS handshake carried no request:
// the op's timeout expiring there is a fail, not an info.
func TestHTTPTimeoutBeforeConnectedIsFail(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // accept, then say nothing
		}
	}()
	c := httpClient(t, "https://"+ln.Addr().String())
	op, err := invoke(t, c, "slow", nil)
	wantType(t, op, err, history.Fail)
}

func TestHTTPTimeoutIsInfo(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := httpClient(t, srv.URL)
	start := time.Now()
	op, err := invoke(t, c, "slow", nil) // the op's own timeout: 200ms
	wantType(t, op, err, history.Info)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v; the op's 200ms timeout was not applied", d)
	}
	if !strings.Contains(op.Error, "timed out") {
		t.Errorf("error = %q", op.Error)
	}
}

func TestHTTPResetAfterSendIsInfo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		// Linger 0 makes Close send RST: the client sees a reset after its
		// request was read, as when a node crashes mid-request.
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}))
	defer srv.Close()
	c := httpClient(t, srv.URL)
	op, err := invoke(t, c, "write", int64(4))
	wantType(t, op, err, history.Info)
	if op.Error == "" {
		t.Error("info without an error")
	}
}

func TestHTTPBodyCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 1<<20)
		for range MaxOutput>>20 + 1 {
			io.WriteString(w, chunk)
		}
	}))
	defer srv.Close()
	c := httpClient(t, srv.URL)
	op, err := invoke(t, c, "write", int64(1))
	wantType(t, op, err, history.Info)
	if !strings.Contains(op.Error, "larger than 16 MiB") {
		t.Errorf("error = %q", op.Error)
	}
}

func TestHTTPKeepsConnectionAlive(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		io.WriteString(w, `{"value": 1}`)
	}))
	defer srv.Close()
	c := httpClient(t, srv.URL)
	for range 5 {
		op, err := invoke(t, c, "read", nil)
		wantType(t, op, err, history.OK)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 1 {
		t.Errorf("5 requests used %d connections, want 1", len(remotes))
	}
}

func TestHTTPUnknownF(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c := httpClient(t, srv.URL)
	_, err := invoke(t, c, "frobnicate", nil)
	if err == nil || !strings.Contains(err.Error(), `"frobnicate"`) || !strings.Contains(err.Error(), "n1") {
		t.Fatalf("err = %v, want an error naming the f and the node", err)
	}
}

func TestHTTPBadBaseURL(t *testing.T) {
	ev := loadPlan(t, "http.hcl", eval.Node{Name: "n1", Host: "127.0.0.1"})
	cfg, _ := configFor(t, ev, func(nc *eval.ClientConfig) { nc.BaseURL = "127.0.0.1:80" })
	c := NewFactory(cfg)()
	if err := c.Open(t.Context(), "n1"); err == nil || !strings.Contains(err.Error(), "n1") {
		t.Fatalf("open with a base_url without scheme: %v", err)
	}
	if err := c.Open(t.Context(), "n9"); err == nil || !strings.Contains(err.Error(), "n9") {
		t.Fatalf("open on an unknown node: %v", err)
	}
}

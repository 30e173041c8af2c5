package control

// Edge cases of the SSH remote against an in-process SSH server (x/crypto's
// server side) that runs exec requests with the local /bin/sh. Real OpenSSH
// is covered by integration_test.go.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

type testServer struct {
	t           *testing.T
	ln          net.Listener
	hostKey     ssh.Signer
	maxSessions int32
	active      atomic.Int32
	accepted    atomic.Int32

	mu    sync.Mutex
	conns []net.Conn
}

func newKey(t *testing.T) (ssh.Signer, []byte) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

// startServer accepts user "u" with password "pw" or the given client key.
func startServer(t *testing.T, clientKey ssh.PublicKey, maxSessions int32) *testServer {
	hostKey, _ := newKey(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, hostKey: hostKey, maxSessions: maxSessions}
	conf := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == "u" && string(pw) == "pw" {
				return nil, nil
			}
			return nil, errors.New("bad password")
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if clientKey != nil && c.User() == "u" && string(key.Marshal()) == string(clientKey.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	conf.AddHostKey(hostKey)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			go s.handle(c, conf)
		}
	}()
	t.Cleanup(func() { ln.Close(); s.dropAll() })
	return s
}

func (s *testServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// dropAll closes every connection, as a restarted sshd or a dropped
// network would.
func (s *testServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *testServer) handle(c net.Conn, conf *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(c, conf)
	if err != nil {
		return
	}
	s.accepted.Add(1)
	go ssh.DiscardRequests(reqs) // answers keepalives with "failure", like OpenSSH
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		if s.maxSessions > 0 && s.active.Load() >= s.maxSessions {
			nc.Reject(ssh.Prohibited, "open failed") // what OpenSSH says past MaxSessions
			continue
		}
		s.active.Add(1)
		ch, chReqs, err := nc.Accept()
		if err != nil {
			s.active.Add(-1)
			continue
		}
		go s.session(ch, chReqs)
	}
}

func (s *testServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	// Free the slot before closing: the client may open the next session
	// as soon as it sees the close.
	defer ch.Close()
	defer s.active.Add(-1)
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		n := binary.BigEndian.Uint32(req.Payload)
		cmd := exec.Command("/bin/sh", "-c", string(req.Payload[4:4+n]))
		req.Reply(true, nil)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
		err := cmd.Run()
		status := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				status = 128 + int(ws.Signal())
			}
		}
		ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(status)))
		return
	}
}

// knownHostsFor writes a known_hosts file binding the server's address to
// key.
func knownHostsFor(t *testing.T, s *testServer, key ssh.PublicKey) string {
	p := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{s.ln.Addr().String()}, key)
	if err := os.WriteFile(p, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func testRemote(t *testing.T, s *testServer, adjust func(*SSHConfig)) *SSH {
	cfg := SSHConfig{
		Node: "node1", Host: "127.0.0.1", Port: s.port(), User: "u", Password: "pw", NoAgent: true,
		KnownHostsFile: knownHostsFor(t, s, s.hostKey.PublicKey()), ConnectTimeout: 2 * time.Second,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	r, err := NewSSH(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestSSHServerExecAndReconnect(t *testing.T) {
	s := startServer(t, nil, 0)
	r := testRemote(t, s, func(c *SSHConfig) { c.KeepaliveInterval = -1 })
	ctx := context.Background()
	res, err := r.Exec(ctx, Command{Argv: []string{"echo", "hi there"}, Stdin: strings.NewReader("ignored")})
	if err != nil || res.Stdout != "hi there\n" {
		t.Fatalf("%q %v", res.Stdout, err)
	}
	// Drop the connection. Whether the watcher notices first or the next
	// session open fails, the command must run, once, on a new connection.
	s.dropAll()
	res, err = r.Exec(ctx, Command{Script: "echo again"})
	if err != nil || res.Stdout != "again\n" {
		t.Fatalf("after drop: %q %v", res.Stdout, err)
	}
	if n := s.accepted.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
	// Exit statuses come through.
	_, err = r.Exec(ctx, Command{Script: "exit 5"})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitStatus != 5 || ee.Node != "node1" {
		t.Fatalf("want exit 5 from node1, got %v", err)
	}
}

func TestSSHServerAuthErrors(t *testing.T) {
	clientKey, pemBytes := newKey(t)
	s := startServer(t, clientKey.PublicKey(), 0)
	who := "u@" + s.ln.Addr().String()
	ctx := context.Background()

	r := testRemote(t, s, func(c *SSHConfig) { c.Password = "nope" })
	_, err := r.Exec(ctx, Command{Argv: []string{"true"}})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "wrong password") || !strings.Contains(err.Error(), who) {
		t.Fatalf("wrong password: %v", err)
	}

	_, otherPEM := newKey(t)
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, otherPEM, 0o600)
	r = testRemote(t, s, func(c *SSHConfig) { c.Password, c.KeyFile = "", keyFile })
	_, err = r.Exec(ctx, Command{Argv: []string{"true"}})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "key rejected") || !strings.Contains(err.Error(), who) {
		t.Fatalf("key rejected: %v", err)
	}

	os.WriteFile(keyFile, pemBytes, 0o600)
	r = testRemote(t, s, func(c *SSHConfig) { c.Password, c.KeyFile = "", keyFile })
	if _, err := r.Exec(ctx, Command{Argv: []string{"true"}}); err != nil {
		t.Fatalf("right key: %v", err)
	}

	if _, err := NewSSH(SSHConfig{Host: "127.0.0.1", KeyFile: filepath.Join(t.TempDir(), "missing"), InsecureIgnoreHostKey: true}); err == nil {
		t.Fatal("missing key file accepted")
	}
	r = testRemote(t, s, func(c *SSHConfig) { c.Password = "" })
	_, err = r.Exec(ctx, Command{Argv: []string{"true"}})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "no credentials") {
		t.Fatalf("no credentials: %v", err)
	}
}

func TestSSHServerHostKeys(t *testing.T) {
	s := startServer(t, nil, 0)
	other, _ := newKey(t)
	ctx := context.Background()
	r := testRemote(t, s, func(c *SSHConfig) { c.KnownHostsFile = knownHostsFor(t, s, other.PublicKey()) })
	_, err := r.Exec(ctx, Command{Argv: []string{"true"}})
	if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "MISMATCH") || !strings.Contains(err.Error(), "node1") {
		t.Fatalf("mismatch: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o644)
	r = testRemote(t, s, func(c *SSHConfig) { c.KnownHostsFile = empty })
	_, err = r.Exec(ctx, Command{Argv: []string{"true"}})
	if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "not in") {
		t.Fatalf("unknown host: %v", err)
	}
	if _, err := NewSSH(SSHConfig{Host: "h", KnownHostsFile: filepath.Join(t.TempDir(), "nope"), Password: "x"}); err == nil {
		t.Fatal("missing known_hosts file accepted")
	}
}

// Past the server's session limit, commands queue instead of failing.
func TestSSHServerSessionLimit(t *testing.T) {
	s := startServer(t, nil, 2)
	r := testRemote(t, s, func(c *SSHConfig) { c.MaxSessions = 2 })
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Exec(context.Background(), Command{Script: "sleep 0.2"})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := s.accepted.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// blackhole forwards TCP to target until frozen; then it stops forwarding
// without closing, like a network that silently drops packets.
type blackhole struct {
	ln     net.Listener
	frozen atomic.Bool
}

func newBlackhole(t *testing.T, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go b.pipe(c, u)
			go b.pipe(u, c)
		}
	}()
	return b
}

func (b *blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		if b.frozen.Load() {
			continue // swallow
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// Keepalives find a connection that went silent and drop it, so the next
// command dials afresh instead of hanging on it.
func TestSSHServerKeepaliveDropsSilentConnection(t *testing.T) {
	s := startServer(t, nil, 0)
	b := newBlackhole(t, s.ln.Addr().String())
	port := b.ln.Addr().(*net.TCPAddr).Port
	kh := filepath.Join(t.TempDir(), "kh")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{b.ln.Addr().String()}, s.hostKey.PublicKey())+"\n"), 0o644)
	r := testRemote(t, s, func(c *SSHConfig) {
		c.Port, c.KnownHostsFile, c.KeepaliveInterval = port, kh, 200*time.Millisecond
	})
	ctx := context.Background()
	if _, err := r.Exec(ctx, Command{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	b.frozen.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		dropped := r.client == nil
		r.mu.Unlock()
		if dropped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("silent connection not dropped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.frozen.Store(false)
	if _, err := r.Exec(ctx, Command{Argv: []string{"true"}}); err != nil {
		t.Fatalf("after keepalive drop: %v", err)
	}
}

func TestSSHUnreachableAndWedged(t *testing.T) {
	// A closed port: refused at once.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	r, err := NewSSH(SSHConfig{Node: "gone", Host: "127.0.0.1", Port: addr.Port, Password: "x", InsecureIgnoreHostKey: true, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Exec(context.Background(), Command{Argv: []string{"true"}})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "gone") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("closed port: %v", err)
	}
	// A server that accepts TCP and never speaks: ConnectTimeout bounds
	// the wait.
	ln, _ = net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	r, _ = NewSSH(SSHConfig{Node: "wedged", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Password: "x", InsecureIgnoreHostKey: true, ConnectTimeout: 500 * time.Millisecond})
	t0 := time.Now()
	_, err = r.Exec(context.Background(), Command{Argv: []string{"true"}})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("wedged: %v", err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("wedged server held us %s", d)
	}
}

func TestSSHServerCancelKillsCommand(t *testing.T) {
	s := startServer(t, nil, 0)
	r := testRemote(t, s, nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := r.Exec(ctx, Command{Script: "sleep 300 & echo $! > " + Quote(pidFile) + "; wait"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	pid, _ := os.ReadFile(pidFile)
	waitGone(t, NewLocal("local"), strings.TrimSpace(string(pid)))
}

// Keys held by ssh-agent (SSH_AUTH_SOCK) are offered, and NoAgent turns
// that off.
func TestSSHServerAgentAuth(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	s := startServer(t, signer.PublicKey(), 0)
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, c)
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	r := testRemote(t, s, func(c *SSHConfig) { c.Password, c.NoAgent = "", false })
	if _, err := r.Exec(context.Background(), Command{Argv: []string{"true"}}); err != nil {
		t.Fatalf("agent auth: %v", err)
	}
	r = testRemote(t, s, func(c *SSHConfig) { c.Password, c.NoAgent = "", true })
	if _, err := r.Exec(context.Background(), Command{Argv: []string{"true"}}); !errors.Is(err, ErrAuth) {
		t.Fatalf("NoAgent: want ErrAuth, got %v", err)
	}
}

// Servers that take passwords only through keyboard-interactive (PAM
// setups with PasswordAuthentication no) still let us in.
func TestSSHServerKeyboardInteractive(t *testing.T) {
	hostKey, _ := newKey(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conf := &ssh.ServerConfig{
		KeyboardInteractiveCallback: func(c ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := ask("", "", []string{"Password: "}, []bool{false})
			if err != nil || len(ans) != 1 || ans[0] != "pw" {
				return nil, errors.New("no")
			}
			return nil, nil
		},
	}
	conf.AddHostKey(hostKey)
	s := &testServer{t: t, ln: ln, hostKey: hostKey}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handle(c, conf)
		}
	}()
	r := testRemote(t, s, nil)
	if _, err := r.Exec(context.Background(), Command{Argv: []string{"true"}}); err != nil {
		t.Fatalf("keyboard-interactive: %v", err)
	}
	r = testRemote(t, s, func(c *SSHConfig) { c.Password = "wrong" })
	_, err = r.Exec(context.Background(), Command{Argv: []string{"true"}})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "wrong password") {
		t.Fatalf("wrong keyboard-interactive password: %v", err)
	}
}

package control

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHConfig describes how to reach one node over SSH.
type SSHConfig struct {
	Node string // name in errors; defaults to Host
	Host string
	Port int    // default 22
	User string // default "root", as in Jepsen

	// Credentials, tried in this order: the key file, keys from the agent
	// at SSH_AUTH_SOCK (unless NoAgent), then Password for both the
	// "password" and "keyboard-interactive" methods.
	KeyFile       string
	KeyPassphrase string
	NoAgent       bool
	Password      string

	// SudoPassword is the default password for commands run with Sudo.
	SudoPassword string

	// KnownHostsFile is checked strictly: an unknown host or a changed key
	// refuses the connection. Empty means ~/.ssh/known_hosts.
	// InsecureIgnoreHostKey skips verification altogether; it is never the
	// default.
	KnownHostsFile        string
	InsecureIgnoreHostKey bool

	ConnectTimeout    time.Duration // TCP connect plus SSH handshake; default 10s
	KeepaliveInterval time.Duration // default 10s; negative disables keepalives
	// MaxSessions caps concurrent sessions on the node's one connection.
	// OpenSSH refuses more than its MaxSessions (10 by default), so the
	// default is 10; extra commands wait their turn.
	MaxSessions int
}

// SSH is a Remote over one SSH connection per node, opened on first use
// and shared by concurrent commands (one session each). A connection that
// dies (found by keepalives, by the server closing it, or by a failed
// session open) is replaced on the next command; a command whose session
// could not be opened is retried once on a fresh connection, but a command
// that had started is never re-run.
type SSH struct {
	cfg      SSHConfig
	addr     string // host:port
	who      string // user@host:port, for errors
	signers  []ssh.Signer
	hostKeys ssh.HostKeyCallback
	hostAlgs []string
	sem      chan struct{}
	e        execer

	mu     sync.Mutex
	client *ssh.Client
	closed bool
}

// NewSSH checks cfg, loads the key and known_hosts, and returns a Remote.
// It does not connect: the first command does.
func NewSSH(cfg SSHConfig) (*SSH, error) {
	if cfg.Host == "" {
		return nil, errors.New("ssh remote: no host given")
	}
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	if cfg.User == "" {
		cfg.User = "root"
	}
	if cfg.Node == "" {
		cfg.Node = cfg.Host
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.KeepaliveInterval == 0 {
		cfg.KeepaliveInterval = 10 * time.Second
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10
	}
	s := &SSH{
		cfg:  cfg,
		addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		sem:  make(chan struct{}, cfg.MaxSessions),
	}
	s.who = cfg.User + "@" + s.addr
	s.e = execer{node: cfg.Node, r: sshRunner{s}, sudoPassword: cfg.SudoPassword}

	if cfg.KeyFile != "" {
		signer, err := loadKey(cfg.KeyFile, cfg.KeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Node, err)
		}
		s.signers = append(s.signers, signer)
	}
	if err := s.loadHostKeys(); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Node, err)
	}
	return s, nil
}

func loadKey(path, passphrase string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return signer, nil
	case errors.As(err, &missing):
		if passphrase == "" {
			return nil, fmt.Errorf("private key %s is encrypted: give its passphrase (or load it into ssh-agent)", path)
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase))
		if err != nil {
			return nil, fmt.Errorf("private key %s: wrong passphrase or unreadable key: %w", path, err)
		}
		return signer, nil
	default:
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
}

func (s *SSH) loadHostKeys() error {
	if s.cfg.InsecureIgnoreHostKey {
		s.hostKeys = ssh.InsecureIgnoreHostKey()
		return nil
	}
	file := s.cfg.KnownHostsFile
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("no known_hosts file configured and no home directory: %w", err)
		}
		file = filepath.Join(home, ".ssh", "known_hosts")
		if _, err := os.Stat(file); err != nil {
			return fmt.Errorf("no known_hosts file configured and %s is missing; configure one, or explicitly skip host key checking", file)
		}
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	s.hostKeys = cb
	// The server offers keys of several types; if we let it pick one we
	// have no line for (say ECDSA when known_hosts holds ED25519), the check
	// fails although the host is known. Ask for the types we can verify.
	// Probing with a throwaway key makes the callback list what it knows.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	probe, _ := ssh.NewPublicKey(pub)
	var ke *knownhosts.KeyError
	remote := &net.TCPAddr{IP: net.ParseIP(s.cfg.Host), Port: s.cfg.Port}
	if err := cb(s.addr, remote, probe); errors.As(err, &ke) {
		seen := map[string]bool{}
		for _, k := range ke.Want {
			for _, alg := range algorithmsFor(k.Key.Type()) {
				if !seen[alg] {
					seen[alg] = true
					s.hostAlgs = append(s.hostAlgs, alg)
				}
			}
		}
	}
	return nil
}

// algorithmsFor maps a key type to the signature algorithms that verify it
// (RSA keys sign with SHA-2 in modern OpenSSH).
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

func (s *SSH) Node() string { return s.cfg.Node }

// Addr is user@host:port.
func (s *SSH) Addr() string { return s.who }

func (s *SSH) Exec(ctx context.Context, cmd Command) (Result, error) { return s.e.exec(ctx, cmd) }

func (s *SSH) Upload(ctx context.Context, src io.Reader, remotePath string, mode fs.FileMode) error {
	return uploadVia(ctx, s.Exec, s.Node(), src, remotePath, mode)
}

func (s *SSH) Download(ctx context.Context, remotePath string, dst io.Writer) error {
	return downloadVia(ctx, s.Exec, remotePath, dst)
}

// Connect opens the connection now rather than on the first command, to
// find unreachable nodes and bad credentials early.
func (s *SSH) Connect(ctx context.Context) error {
	_, err := s.getClient(ctx)
	return err
}

// Close closes the connection. Running commands fail.
func (s *SSH) Close() error {
	s.mu.Lock()
	c := s.client
	s.client, s.closed = nil, true
	s.mu.Unlock()
	if c != nil {
		return c.Close()
	}
	return nil
}

func (s *SSH) nodeErr(kind error, err error) *NodeError {
	return &NodeError{Node: s.cfg.Node, Addr: s.who, Kind: kind, Err: err}
}

// getClient returns the live connection, dialing if there is none. The
// lock is held while dialing so that concurrent commands share one dial.
func (s *SSH) getClient(ctx context.Context) (*ssh.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, s.nodeErr(nil, errors.New("remote is closed"))
	}
	if s.client != nil {
		return s.client, nil
	}
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.client = c
	go s.watch(c)
	return c, nil
}

// drop forgets c if it is still the current connection and closes it.
func (s *SSH) drop(c *ssh.Client) {
	s.mu.Lock()
	if s.client == c {
		s.client = nil
	}
	s.mu.Unlock()
	_ = c.Close()
}

// watch drops c when the server closes it or stops answering keepalives,
// so the next command dials afresh instead of failing on a dead socket.
func (s *SSH) watch(c *ssh.Client) {
	dead := make(chan struct{})
	go func() {
		_ = c.Wait()
		close(dead)
	}()
	if s.cfg.KeepaliveInterval < 0 {
		<-dead
		s.drop(c)
		return
	}
	t := time.NewTicker(s.cfg.KeepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-dead:
			s.drop(c)
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			// OpenSSH answers unknown global requests with a failure,
			// which still proves the connection is alive.
			_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err != nil {
				s.drop(c)
				return
			}
		case <-dead:
			s.drop(c)
			return
		case <-time.After(s.cfg.KeepaliveInterval):
			s.drop(c)
			return
		}
	}
}

// authGrace is added to ConnectTimeout for authentication, once the key
// exchange has finished.
const authGrace = 15 * time.Second

// authLog records which credentials the server asked for during one
// handshake, so an authentication failure can say what was rejected.
type authLog struct {
	mu        sync.Mutex
	keys      int // public keys offered
	password  bool
	kbdPrompt bool
}

func (s *SSH) dial(ctx context.Context) (*ssh.Client, error) {
	var log authLog
	var hostKeyErr error
	var agentConn net.Conn
	defer func() {
		if agentConn != nil {
			agentConn.Close()
		}
	}()

	var auths []ssh.AuthMethod
	signers := s.signers
	if !s.cfg.NoAgent {
		if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
			if c, err := net.Dial("unix", sock); err == nil {
				agentConn = c
				if more, err := agent.NewClient(c).Signers(); err == nil {
					signers = append(append([]ssh.Signer(nil), signers...), more...)
				}
			}
		}
	}
	if len(signers) > 0 {
		auths = append(auths, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			log.mu.Lock()
			log.keys = len(signers)
			log.mu.Unlock()
			return signers, nil
		}))
	}
	if s.cfg.Password != "" {
		pw := s.cfg.Password
		auths = append(auths, ssh.PasswordCallback(func() (string, error) {
			log.mu.Lock()
			log.password = true
			log.mu.Unlock()
			return pw, nil
		}))
		auths = append(auths, ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			// PAM asks "Password: " with echo off; answer hidden prompts
			// with the password and visible ones with nothing.
			answers := make([]string, len(questions))
			for i := range questions {
				if !echos[i] {
					answers[i] = pw
					log.mu.Lock()
					log.kbdPrompt = true
					log.mu.Unlock()
				}
			}
			return answers, nil
		}))
	}
	if len(auths) == 0 {
		return nil, s.nodeErr(ErrAuth, errors.New("no credentials configured: give a key file, a password, or run ssh-agent"))
	}

	d := net.Dialer{Timeout: s.cfg.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s (node down or cut off?): %w", s.cfg.ConnectTimeout, err)
		}
		return nil, s.nodeErr(ErrUnreachable, err)
	}
	conf := &ssh.ClientConfig{
		User: s.cfg.User,
		Auth: auths,
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			err := s.hostKeys(host, remote, key)
			hostKeyErr = err
			if err == nil && ctx.Err() == nil {
				// Key exchange is done; authentication gets extra time,
				// since PAM delays each rejected password by seconds and a
				// wrong password must be reported as such, not as a timeout.
				_ = conn.SetDeadline(time.Now().Add(s.cfg.ConnectTimeout + authGrace))
			}
			return err
		},
		HostKeyAlgorithms: s.hostAlgs,
	}
	// Bound the handshake too: a node that accepts TCP but never speaks
	// SSH (sshd wedged, wrong port) must not hang us. Cancelling ctx aborts
	// the handshake as well.
	_ = conn.SetDeadline(time.Now().Add(s.cfg.ConnectTimeout))
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	cc, chans, reqs, err := ssh.NewClientConn(conn, s.addr, conf)
	stop()
	if err != nil {
		conn.Close()
		return nil, s.classifyHandshake(ctx, err, hostKeyErr, &log)
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(cc, chans, reqs), nil
}

func (s *SSH) classifyHandshake(ctx context.Context, err, hostKeyErr error, log *authLog) error {
	if ctx.Err() != nil {
		return s.nodeErr(ErrUnreachable, fmt.Errorf("connecting: %w", ctx.Err()))
	}
	var ke *knownhosts.KeyError
	if hostKeyErr != nil && errors.As(hostKeyErr, &ke) {
		if len(ke.Want) == 0 {
			return s.nodeErr(ErrHostKey, fmt.Errorf("host %s is not in %s; add its key (jplan cluster up writes one for its nodes)",
				knownhosts.Normalize(s.addr), s.knownHostsName()))
		}
		var want []string
		for _, k := range ke.Want {
			want = append(want, fmt.Sprintf("%s:%d %s %s", k.Filename, k.Line, k.Key.Type(), ssh.FingerprintSHA256(k.Key)))
		}
		return s.nodeErr(ErrHostKey, fmt.Errorf("HOST KEY MISMATCH: the server's key differs from %s; "+
			"either the node was rebuilt (update known_hosts; for jplan's local cluster, `jplan cluster nodes-file` writes a fresh nodes file and known_hosts for the running nodes) or someone is intercepting the connection", strings.Join(want, ", ")))
	}
	var re *knownhosts.RevokedError
	if hostKeyErr != nil && errors.As(hostKeyErr, &re) {
		return s.nodeErr(ErrHostKey, fmt.Errorf("host key is revoked in %s", re.Revoked.String()))
	}
	if hostKeyErr != nil {
		return s.nodeErr(ErrHostKey, hostKeyErr)
	}
	if strings.Contains(err.Error(), "unable to authenticate") || strings.Contains(err.Error(), "no supported methods remain") {
		log.mu.Lock()
		defer log.mu.Unlock()
		var why []string
		if log.password || log.kbdPrompt {
			why = append(why, "wrong password (the server rejected it)")
		}
		if log.keys > 0 {
			why = append(why, fmt.Sprintf("key rejected (%d key(s) offered, none accepted for %s)", log.keys, s.cfg.User))
		}
		if len(why) == 0 {
			why = append(why, "the server accepts none of the configured methods")
		}
		return s.nodeErr(ErrAuth, fmt.Errorf("%s [%v]", strings.Join(why, "; "), err))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return s.nodeErr(ErrUnreachable, fmt.Errorf("SSH handshake timed out: %w", err))
	}
	return s.nodeErr(ErrUnreachable, fmt.Errorf("SSH handshake: %w", err))
}

func (s *SSH) knownHostsName() string {
	if s.cfg.KnownHostsFile != "" {
		return s.cfg.KnownHostsFile
	}
	return "~/.ssh/known_hosts"
}

// newSession opens a session, replacing a dead connection once.
func (s *SSH) newSession(ctx context.Context) (*ssh.Session, *ssh.Client, error) {
	c, err := s.getClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	sess, err := c.NewSession()
	if err == nil {
		return sess, c, nil
	}
	var oce *ssh.OpenChannelError
	if errors.As(err, &oce) {
		// The server is alive and said no (e.g. over its MaxSessions).
		return nil, nil, s.nodeErr(nil, fmt.Errorf("opening session: %w", err))
	}
	// The connection is dead (the server restarted, the network dropped):
	// nothing ran yet, so retrying on a new connection is safe.
	s.drop(c)
	c, err = s.getClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	sess, err = c.NewSession()
	if err != nil {
		s.drop(c)
		return nil, nil, s.nodeErr(ErrConnLost, fmt.Errorf("opening session on a fresh connection: %w", err))
	}
	return sess, c, nil
}

type sshRunner struct{ s *SSH }

// errWriter remembers a local write error so it is not mistaken for a
// network failure when Session.Wait reports it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

func (r sshRunner) run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer, onCancel func()) (int, string, error) {
	s := r.s
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return -1, "", ctx.Err()
	}
	defer func() { <-s.sem }()

	sess, client, err := s.newSession(ctx)
	if err != nil {
		return -1, "", err
	}
	defer sess.Close()
	ow, ew := &errWriter{w: stdout}, &errWriter{w: stderr}
	sess.Stdout, sess.Stderr = ow, ew
	// Feed stdin ourselves: Session.Wait would otherwise report the error
	// of writing stdin to a command that exited without reading it all.
	var in io.WriteCloser
	if stdin != nil {
		if in, err = sess.StdinPipe(); err != nil {
			return -1, "", s.nodeErr(ErrConnLost, fmt.Errorf("stdin: %w", err))
		}
	}
	if err := sess.Start(script); err != nil {
		s.drop(client)
		return -1, "", s.nodeErr(ErrConnLost, fmt.Errorf("starting command: %w", err))
	}
	if in != nil {
		go func() {
			_, _ = io.Copy(in, stdin)
			_ = in.Close()
		}()
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		onCancel()
		select {
		case <-done:
		case <-time.After(KillGrace + 3*time.Second):
		}
		return -1, "", ctx.Err()
	}
	var xe *ssh.ExitError
	switch {
	case err == nil:
		return 0, "", nil
	case errors.As(err, &xe):
		if xe.Signal() != "" {
			return -1, xe.Signal(), nil
		}
		return xe.ExitStatus(), "", nil
	case ow.err != nil:
		return -1, "", fmt.Errorf("%s: writing stdout: %w", s.cfg.Node, ow.err)
	case ew.err != nil:
		return -1, "", fmt.Errorf("%s: writing stderr: %w", s.cfg.Node, ew.err)
	default:
		// No exit status: the connection or the server process went away
		// mid-command. Whether the command ran is unknown, so it is not
		// retried.
		s.drop(client)
		return -1, "", s.nodeErr(ErrConnLost, fmt.Errorf("while running a command (it may or may not have completed): %w", err))
	}
}

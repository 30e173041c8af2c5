package control_test

// Integration tests: real OpenSSH in real containers (see cluster/). They
// share one 3-node cluster, skipped without Docker (see clustertest).

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/jplan/jplan/cluster"
	"github.com/jplan/jplan/cluster/clustertest"
	"github.com/jplan/jplan/control"
	"golang.org/x/crypto/ssh"
)

var env = clustertest.New("jplan-ctltest", "10.213.58.0/24", 3)

func TestMain(m *testing.M) { os.Exit(env.Main(m)) }

// sshTo opens an SSH remote for node i (0-based) from the nodes file,
// letting tests adjust the config first.
func sshTo(t *testing.T, info *cluster.Info, i int, adjust func(*control.SSHConfig)) *control.SSH {
	t.Helper()
	n := info.Nodes[i]
	cfg := control.SSHConfig{
		Node: n.Name, Host: n.IP, User: "root",
		KeyFile: info.KeyFile, KnownHostsFile: info.KnownHostsFile,
		NoAgent: true, ConnectTimeout: 5 * time.Second,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	r, err := control.NewSSH(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func allNodes(t *testing.T, info *cluster.Info) []control.Remote {
	nf, err := control.ReadNodesFile(info.NodesFile)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := nf.OpenAll(control.OpenOptions{ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { control.CloseAll(rs) })
	return rs
}

var hostile = []string{
	"", " ", "it's", `"double"`, "$(touch /tmp/pwned)", "`touch /tmp/pwned`", "${HOME}",
	"a\nb", "tab\there", `back\slash`, "'", `'\''`, "*", "~", "#x", "a;b", "a|b", ">f",
	"!x", "=y", "-n", "ünïcödé ✓ 日本語", "\x01\x7f", "trailing\n", "{a,b}", "%s",
}

func TestSSHExecQuotingHostileStrings(t *testing.T) {
	info := env.Need(t)
	ctx := context.Background()
	for _, user := range []string{"root", "jplan"} { // root's shell is bash, jplan's too; both parse the wrapper
		r := sshTo(t, info, 0, func(c *control.SSHConfig) { c.User = user })
		res, err := r.Exec(ctx, control.Command{Argv: append([]string{"printf", `%s\0`}, hostile...)})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Split(res.Stdout, "\x00")
		got = got[:len(got)-1]
		if len(got) != len(hostile) {
			t.Fatalf("%s: %d args back, want %d: %q", user, len(got), len(hostile), got)
		}
		for i := range hostile {
			if got[i] != hostile[i] {
				t.Errorf("%s: arg %d: got %q want %q", user, i, got[i], hostile[i])
			}
		}
		// Env values and the working directory are quoted as well.
		res, err = r.Exec(ctx, control.Command{
			Script: `printf '%s|%s' "$V" "$(pwd)"`,
			Env:    map[string]string{"V": "$(id) 'x' \"y\"\nz"},
			Dir:    "/tmp",
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := "$(id) 'x' \"y\"\nz|/tmp"; res.Stdout != want {
			t.Errorf("%s: got %q want %q", user, res.Stdout, want)
		}
	}
	res, _ := sshTo(t, info, 0, nil).Exec(ctx, control.Command{Script: "ls /tmp/pwned 2>/dev/null || echo clean"})
	if strings.TrimSpace(res.Stdout) != "clean" {
		t.Fatal("a quoted argument was executed")
	}
}

func TestSSHExitErrorNamesNodeCommandStatusStderr(t *testing.T) {
	info := env.Need(t)
	r := sshTo(t, info, 1, nil)
	res, err := r.Exec(context.Background(), control.Command{Argv: []string{"cat", "/no/such file"}})
	var ee *control.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want ExitError, got %v", err)
	}
	if ee.ExitStatus != 1 || res.ExitStatus != 1 {
		t.Fatalf("status %d", ee.ExitStatus)
	}
	for _, w := range []string{"n2", "cat '/no/such file'", "status 1", "No such file or directory"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if strings.Contains(res.Stderr, "__jplan_pid__") {
		t.Errorf("wrapper's PID line leaked into stderr: %q", res.Stderr)
	}
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestSSHUploadDownload5MB(t *testing.T) {
	info := env.Need(t)
	r := sshTo(t, info, 0, nil)
	ctx := context.Background()
	data := make([]byte, 5<<20)
	rand.Read(data)
	dir := t.TempDir()
	local := filepath.Join(dir, "blob")
	if err := os.WriteFile(local, data, 0o751); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := control.UploadFile(ctx, r, local, "/tmp/blob with space"); err != nil {
		t.Fatal(err)
	}
	up := time.Since(t0)
	res, err := r.Exec(ctx, control.Command{Script: "sha256sum < '/tmp/blob with space'; stat -c %a '/tmp/blob with space'"})
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(res.Stdout)
	if len(f) < 3 || f[0] != sha(data) || f[2] != "751" {
		t.Fatalf("remote sha/mode %q, want %s 751", res.Stdout, sha(data))
	}
	t0 = time.Now()
	back := filepath.Join(dir, "back")
	if err := control.DownloadFile(ctx, r, "/tmp/blob with space", back); err != nil {
		t.Fatal(err)
	}
	down := time.Since(t0)
	got, _ := os.ReadFile(back)
	if sha(got) != sha(data) {
		t.Fatal("downloaded file differs")
	}
	t.Logf("5 MiB up %s, down %s", up.Round(time.Millisecond), down.Round(time.Millisecond))

	// A source failing half-way leaves the old file and no temporary.
	err = r.Upload(ctx, io.MultiReader(bytes.NewReader(data[:1<<20]), iotest.ErrReader(errors.New("source broke"))), "/tmp/blob with space", 0o644)
	if err == nil || !strings.Contains(err.Error(), "source broke") {
		t.Fatalf("want the source's error, got %v", err)
	}
	res, err = r.Exec(ctx, control.Command{Script: "sha256sum < '/tmp/blob with space'; ls -a /tmp | grep -c jplan-upload || true"})
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(res.Stdout); len(f) != 3 || f[0] != sha(data) || f[2] != "0" {
		t.Fatalf("after failed upload: %q", res.Stdout)
	}
}

// Many commands at once share one TCP connection (one session each), and
// more than sshd's session limit simply queue.
func TestSSHConcurrentSessionsOneConnection(t *testing.T) {
	info := env.Need(t)
	r := sshTo(t, info, 2, nil)
	ctx := context.Background()
	const n = 30
	var wg sync.WaitGroup
	errs := make([]error, n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Exec(ctx, control.Command{Script: "sleep 0.5; echo " + strconv.Itoa(i)})
			if err == nil && strings.TrimSpace(res.Stdout) != strconv.Itoa(i) {
				err = fmt.Errorf("got %q", res.Stdout)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("30 half-second commands took %s: not concurrent", d)
	}
	// Count established connections to sshd from the control machine.
	res, err := r.Exec(ctx, control.Command{Script: "ss -Htn state established '( sport = :22 )' | grep -c " + control.Quote(info.Gateway+":")})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(res.Stdout); got != "1" {
		t.Fatalf("%s connections from the control machine, want 1", got)
	}
}

// The per-command timeout kills the remote command's whole process group,
// and so does cancelling the context.
func TestSSHTimeoutAndCancelKillRemoteProcess(t *testing.T) {
	info := env.Need(t)
	r := sshTo(t, info, 0, nil)
	ctx := context.Background()
	t0 := time.Now()
	_, err := r.Exec(ctx, control.Command{Script: "sleep 311 & sleep 312", Timeout: time.Second})
	var ee *control.ExitError
	if !errors.As(err, &ee) || !ee.TimedOut {
		t.Fatalf("want timed-out ExitError, got %v", err)
	}
	if d := time.Since(t0); d > 6*time.Second {
		t.Fatalf("timeout took %s", d)
	}
	if !strings.Contains(err.Error(), "timed out after 1s") {
		t.Errorf("error %q", err)
	}
	waitNoProcess(t, r, "[s]leep 31[12]")

	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = r.Exec(cctx, control.Command{Script: "sleep 313 & sleep 314"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context deadline error, got %v", err)
	}
	waitNoProcess(t, r, "[s]leep 31[34]")

	// Also when the command runs as root through sudo for a normal user.
	rj := sshTo(t, info, 0, func(c *control.SSHConfig) { c.User = "jplan"; c.SudoPassword = "jplan" })
	_, err = rj.Exec(ctx, control.Command{Script: "sleep 315 & sleep 316", Timeout: time.Second, Sudo: true})
	if !errors.As(err, &ee) || !ee.TimedOut {
		t.Fatalf("sudo: want timed-out ExitError, got %v", err)
	}
	waitNoProcess(t, r, "[s]leep 31[56]")
}

// waitNoProcess waits until no process's command line matches pattern. Write
// the pattern so it does not match itself (e.g. "[s]leep 5"): pgrep's own
// wrapper shell has the pattern on its command line.
func waitNoProcess(t *testing.T, r control.Remote, pattern string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := r.Exec(context.Background(), control.Command{Argv: []string{"pgrep", "-af", pattern}})
		if err != nil { // pgrep exits 1 when nothing matches
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: processes still running: %s", r.Node(), res.Stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Killing sshd's per-connection processes drops our connection: a command
// in flight reports the loss (it is not silently re-run), and the next
// command reconnects.
func TestSSHReconnectAfterConnectionDrop(t *testing.T) {
	info := env.Need(t)
	r := sshTo(t, info, 1, func(c *control.SSHConfig) { c.KeepaliveInterval = time.Second })
	ctx := context.Background()
	if _, err := r.Exec(ctx, control.Command{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	inflight := make(chan error, 1)
	go func() {
		_, err := r.Exec(ctx, control.Command{Argv: []string{"sleep", "30"}})
		inflight <- err
	}()
	time.Sleep(500 * time.Millisecond)
	killSessions := func() {
		// Through docker, not SSH: we are cutting the connection we would
		// use. The listener ("sshd: /usr/sbin/sshd -D -e [listener]") stays.
		out, err := exec.Command("docker", "exec", info.Nodes[1].Container, "pkill", "-KILL", "-f", "^sshd: root").CombinedOutput()
		if err != nil {
			t.Fatalf("pkill: %v %s", err, out)
		}
	}
	killSessions()
	select {
	case err := <-inflight:
		if !errors.Is(err, control.ErrConnLost) {
			t.Fatalf("in-flight command: want ErrConnLost, got %v", err)
		}
		if !strings.Contains(err.Error(), "n2") {
			t.Errorf("error %q does not name the node", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("in-flight command did not notice the dropped connection")
	}
	res, err := r.Exec(ctx, control.Command{Argv: []string{"hostname"}})
	if err != nil || strings.TrimSpace(res.Stdout) != "n2" {
		t.Fatalf("after reconnect: %q %v", res.Stdout, err)
	}
	// Drop it again while idle, and run at once, before keepalives can
	// notice: the failed session open is retried on a fresh connection.
	killSessions()
	if _, err := r.Exec(ctx, control.Command{Argv: []string{"true"}}); err != nil {
		t.Fatalf("after idle drop: %v", err)
	}
}

func TestSSHSudo(t *testing.T) {
	info := env.Need(t)
	ctx := context.Background()
	r := sshTo(t, info, 2, func(c *control.SSHConfig) {
		c.User, c.KeyFile, c.Password = "jplan", "", "jplan"
	})
	res, err := r.Exec(ctx, control.Command{Argv: []string{"id", "-un"}})
	if err != nil || strings.TrimSpace(res.Stdout) != "jplan" {
		t.Fatalf("password login: %q %v", res.Stdout, err)
	}
	// sudo -n without a password fails fast with a clear hint.
	_, err = r.Exec(ctx, control.Command{Argv: []string{"id", "-u"}, Sudo: true})
	if err == nil || !strings.Contains(err.Error(), "sudo needs a password") {
		t.Fatalf("sudo without password: %v", err)
	}
	// sudo -S with the password; stdin after the password line reaches the
	// command intact, and env/dir apply to the privileged command.
	res, err = r.Exec(ctx, control.Command{
		Script: `printf '%s %s %s ' "$(id -u)" "$X" "$(pwd)"; cat`, Sudo: true, SudoPassword: "jplan",
		Env: map[string]string{"X": "kept"}, Dir: "/root", Stdin: strings.NewReader("line1\nline2\n"),
	})
	if err != nil || res.Stdout != "0 kept /root line1\nline2\n" {
		t.Fatalf("sudo -S: %q %v", res.Stdout, err)
	}
	// Uploading a binary file into root's home through sudo.
	data := make([]byte, 1<<20)
	rand.Read(data)
	sr := control.WithSudo(r, "", "jplan")
	if err := sr.Upload(ctx, bytes.NewReader(data), "/root/secret.bin", 0o600); err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if err := sr.Download(ctx, "/root/secret.bin", &back); err != nil {
		t.Fatal(err)
	}
	if sha(back.Bytes()) != sha(data) {
		t.Fatal("sudo upload/download corrupted the file")
	}
	res, err = r.Exec(ctx, control.Command{Argv: []string{"stat", "-c", "%U %a", "/root/secret.bin"}, Sudo: true, SudoPassword: "jplan"})
	if err != nil || strings.TrimSpace(res.Stdout) != "root 600" {
		t.Fatalf("owner/mode: %q %v", res.Stdout, err)
	}
	// A wrong sudo password is reported as such.
	_, err = r.Exec(ctx, control.Command{Argv: []string{"true"}, Sudo: true, SudoPassword: "wrong"})
	if err == nil || !strings.Contains(err.Error(), "sudo rejected the password") {
		t.Fatalf("wrong sudo password: %v", err)
	}
	// Root needs no password: the probe notices and the password is not
	// fed to the command's stdin.
	rr := sshTo(t, info, 2, nil)
	res, err = rr.Exec(ctx, control.Command{Argv: []string{"cat"}, Sudo: true, SudoUser: "jplan", SudoPassword: "unused", Stdin: strings.NewReader("only this")})
	if err != nil || res.Stdout != "only this" {
		t.Fatalf("sudo as root: %q %v", res.Stdout, err)
	}
}

func TestSSHAuthFailures(t *testing.T) {
	info := env.Need(t)
	ctx := context.Background()
	ip := info.Nodes[0].IP
	r := sshTo(t, info, 0, func(c *control.SSHConfig) { c.User, c.KeyFile, c.Password = "jplan", "", "not-the-password" })
	_, err := r.Exec(ctx, control.Command{Argv: []string{"true"}})
	if !errors.Is(err, control.ErrAuth) {
		t.Fatalf("want ErrAuth, got %v", err)
	}
	for _, w := range []string{"n1", "jplan@" + ip + ":22", "wrong password"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	// A key the node does not know.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	keyFile := filepath.Join(t.TempDir(), "other")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	r = sshTo(t, info, 0, func(c *control.SSHConfig) { c.KeyFile = keyFile })
	_, err = r.Exec(ctx, control.Command{Argv: []string{"true"}})
	if !errors.Is(err, control.ErrAuth) || !strings.Contains(err.Error(), "key rejected") || !strings.Contains(err.Error(), "root@"+ip+":22") {
		t.Fatalf("want key rejected for root@%s:22, got %v", ip, err)
	}
	// An encrypted key without its passphrase is refused before dialing.
	block, _ = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	_, err = control.NewSSH(control.SSHConfig{Host: ip, KeyFile: keyFile, KnownHostsFile: info.KnownHostsFile})
	if err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("encrypted key: %v", err)
	}
}

func TestSSHHostKeyVerification(t *testing.T) {
	info := env.Need(t)
	ctx := context.Background()
	// known_hosts claiming n1's address has n2's key: a mismatch.
	kh, err := os.ReadFile(info.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	var n2key string
	for _, line := range strings.Split(string(kh), "\n") {
		if strings.HasPrefix(line, info.Nodes[1].IP+",") {
			n2key = line[strings.IndexByte(line, ' ')+1:]
		}
	}
	bad := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(bad, []byte(info.Nodes[0].IP+" "+n2key+"\n"), 0o644)
	r := sshTo(t, info, 0, func(c *control.SSHConfig) { c.KnownHostsFile = bad })
	_, err = r.Exec(ctx, control.Command{Argv: []string{"true"}})
	if !errors.Is(err, control.ErrHostKey) || !strings.Contains(err.Error(), "MISMATCH") || !strings.Contains(err.Error(), "n1") {
		t.Fatalf("want host key mismatch naming n1, got %v", err)
	}
	// A host missing from known_hosts is refused too (strict checking).
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o644)
	r = sshTo(t, info, 0, func(c *control.SSHConfig) { c.KnownHostsFile = empty })
	_, err = r.Exec(ctx, control.Command{Argv: []string{"true"}})
	if !errors.Is(err, control.ErrHostKey) || !strings.Contains(err.Error(), "not in") {
		t.Fatalf("want unknown-host refusal, got %v", err)
	}
	// Only an explicit opt-out skips verification.
	r = sshTo(t, info, 0, func(c *control.SSHConfig) { c.KnownHostsFile, c.InsecureIgnoreHostKey = bad, true })
	if _, err := r.Exec(ctx, control.Command{Argv: []string{"true"}}); err != nil {
		t.Fatalf("insecure mode: %v", err)
	}
}

// A stopped node is reported as unreachable, by name, quickly.
func TestSSHUnreachableNode(t *testing.T) {
	info := env.Need(t)
	n := info.Nodes[2]
	if out, err := exec.Command("docker", "stop", "-t", "1", n.Container).CombinedOutput(); err != nil {
		t.Fatalf("docker stop: %v %s", err, out)
	}
	t.Cleanup(func() { restartNode(t, info, 2) })
	r := sshTo(t, info, 2, func(c *control.SSHConfig) { c.ConnectTimeout = 2 * time.Second })
	t0 := time.Now()
	_, err := r.Exec(context.Background(), control.Command{Argv: []string{"true"}})
	if !errors.Is(err, control.ErrUnreachable) {
		t.Fatalf("want ErrUnreachable, got %v", err)
	}
	if !strings.Contains(err.Error(), "n3") || !strings.Contains(err.Error(), n.IP) {
		t.Errorf("error %q should name n3 and %s", err, n.IP)
	}
	if d := time.Since(t0); d > 8*time.Second {
		t.Errorf("took %s to give up", d)
	}
	// The docker remote says the same about the stopped container.
	d, _ := control.NewDocker(control.DockerConfig{Node: "n3", Container: n.Container})
	_, err = d.Exec(context.Background(), control.Command{Argv: []string{"true"}})
	if !errors.Is(err, control.ErrUnreachable) || !strings.Contains(err.Error(), "n3") {
		t.Fatalf("docker remote: want ErrUnreachable naming n3, got %v", err)
	}
}

func restartNode(t *testing.T, info *cluster.Info, i int) {
	if out, err := exec.Command("docker", "start", info.Nodes[i].Container).CombinedOutput(); err != nil {
		t.Errorf("docker start: %v %s", err, out)
		return
	}
	r := sshTo(t, info, i, func(c *control.SSHConfig) { c.ConnectTimeout = time.Second })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := r.Exec(context.Background(), control.Command{Argv: []string{"true"}}); err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Errorf("node %d did not come back: %v", i+1, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestDockerRemote(t *testing.T) {
	info := env.Need(t)
	ctx := context.Background()
	d, err := control.NewDocker(control.DockerConfig{Node: "n1", Container: info.Nodes[0].Container})
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Exec(ctx, control.Command{Argv: append([]string{"printf", `%s\0`}, hostile...)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != strings.Join(hostile, "\x00")+"\x00" {
		t.Fatalf("quoting through docker exec: %q", res.Stdout)
	}
	data := make([]byte, 2<<20)
	rand.Read(data)
	if err := d.Upload(ctx, bytes.NewReader(data), "/tmp/docker-blob", 0o644); err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if err := d.Download(ctx, "/tmp/docker-blob", &back); err != nil {
		t.Fatal(err)
	}
	if sha(back.Bytes()) != sha(data) {
		t.Fatal("docker download differs")
	}
	// The same file is visible over SSH: both remotes reach one node.
	res, err = sshTo(t, info, 0, nil).Exec(ctx, control.Command{Argv: []string{"sha256sum", "/tmp/docker-blob"}})
	if err != nil || !strings.HasPrefix(res.Stdout, sha(data)) {
		t.Fatalf("over ssh: %q %v", res.Stdout, err)
	}
	// Timeouts kill the process in the container, not just the docker CLI.
	_, err = d.Exec(ctx, control.Command{Script: "sleep 321 & sleep 322", Timeout: time.Second})
	var ee *control.ExitError
	if !errors.As(err, &ee) || !ee.TimedOut {
		t.Fatalf("want timeout, got %v", err)
	}
	waitNoProcess(t, d, "[s]leep 32[12]")
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := d.Exec(cctx, control.Command{Argv: []string{"sleep", "323"}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline error, got %v", err)
	}
	waitNoProcess(t, d, "[s]leep 323")
	// Exit status passes through.
	_, err = d.Exec(ctx, control.Command{Script: "echo bad >&2; exit 42"})
	if !errors.As(err, &ee) || ee.ExitStatus != 42 || !strings.Contains(err.Error(), "bad") {
		t.Fatalf("exit status: %v", err)
	}
}

func TestOnNodesOverSSH(t *testing.T) {
	info := env.Need(t)
	rs := allNodes(t, info)
	hosts, err := control.OnNodesMap(context.Background(), rs, func(ctx context.Context, r control.Remote) (string, error) {
		res, err := r.Exec(ctx, control.Command{Argv: []string{"hostname"}})
		return strings.TrimSpace(res.Stdout), err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range info.Nodes {
		if hosts[n.Name] != n.Name {
			t.Errorf("%s reports hostname %q", n.Name, hosts[n.Name])
		}
	}
	err = control.OnNodes(context.Background(), rs, func(ctx context.Context, r control.Remote) error {
		if r.Node() == "n1" {
			return nil
		}
		_, err := r.Exec(ctx, control.Command{Script: "echo 'no db on " + r.Node() + "' >&2; exit 3"})
		return err
	})
	var ne *control.NodesError
	if !errors.As(err, &ne) || strings.Join(ne.Failed(), ",") != "n2,n3" {
		t.Fatalf("want n2,n3 failed, got %v", err)
	}
	for _, w := range []string{"2 of 3 nodes failed", "n2: command", "no db on n2", "n3: command", "no db on n3", "status 3"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

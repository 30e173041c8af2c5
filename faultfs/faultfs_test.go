package faultfs

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mount serves a fresh backing directory through faultfs. Without FUSE
// the test is skipped, unless JPLAN_REQUIRE_DOCKER=1 demands the real
// thing.
func mount(t *testing.T) (f *FS, backing, mnt string) {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("JPLAN_REQUIRE_DOCKER") == "1" {
		fail = t.Fatalf
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		fail("FUSE unavailable: no /dev/fuse (%v)", err)
	}
	dir := t.TempDir()
	backing, mnt = filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Mount(Options{Backing: backing, Mountpoint: mnt, Seed: 1})
	if err != nil {
		fail("FUSE unavailable: %v (as root, or install fuse3 for fusermount3)", err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		f.Wait()
	})
	return f, backing, mnt
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// write writes data to path (created or truncated), fsyncing if asked.
func write(t *testing.T, path, data string, fsync bool) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if fsync {
		if err := fh.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, data string, fsync bool) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if fsync {
		if err := fh.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

// Writes reach the layer, not the backing directory: the layer counts
// them and holds their bytes, the backing file stays empty, and readers
// of the mount see the data.
func TestWritesGoThroughTheLayer(t *testing.T) {
	f, backing, mnt := mount(t)
	data := strings.Repeat("0123456789", 100_000) // 1 MB: several FUSE writes
	write(t, filepath.Join(mnt, "a"), data, false)
	st := f.Stats()
	if st.Writes < 2 || st.WriteBytes != int64(len(data)) || st.DirtyBytes != int64(len(data)) || st.DirtyFiles != 1 {
		t.Errorf("stats after writing %d bytes: %+v", len(data), st)
	}
	if got := read(t, filepath.Join(backing, "a")); got != "" {
		t.Errorf("backing file has %d bytes before any fsync", len(got))
	}
	if got := read(t, filepath.Join(mnt, "a")); got != data {
		t.Errorf("mount reads %d bytes, want %d", len(got), len(data))
	}
	fi, err := os.Stat(filepath.Join(mnt, "a"))
	if err != nil || fi.Size() != int64(len(data)) {
		t.Errorf("stat: %v, %v", fi, err)
	}
	// cp uses copy_file_range where it can; it must still go through us.
	if out, err := exec.Command("cp", filepath.Join(mnt, "a"), filepath.Join(mnt, "b")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if got := read(t, filepath.Join(backing, "b")); got != "" {
		t.Errorf("cp's copy reached the backing file unsynced (%d bytes)", len(got))
	}
	if got := read(t, filepath.Join(mnt, "b")); got != data {
		t.Errorf("copy reads %d bytes", len(got))
	}
}

func TestLoseKeepsOnlyFsyncedData(t *testing.T) {
	f, backing, mnt := mount(t)
	write(t, filepath.Join(mnt, "synced"), "durable", true)
	write(t, filepath.Join(mnt, "unsynced"), "volatile", false)
	appendTo(t, filepath.Join(mnt, "log"), "first;", true)
	appendTo(t, filepath.Join(mnt, "log"), "second;", false)
	if got := read(t, filepath.Join(mnt, "log")); got != "first;second;" {
		t.Fatalf("log before loss: %q", got)
	}
	if got := read(t, filepath.Join(backing, "synced")); got != "durable" {
		t.Errorf("fsync did not reach the backing file: %q", got)
	}
	rep := f.Lose(false)
	if rep.Files != 2 || rep.Bytes != int64(len("volatile")+len("second;")) {
		t.Errorf("loss report %+v", rep)
	}
	for name, want := range map[string]string{"synced": "durable", "unsynced": "", "log": "first;"} {
		if got := read(t, filepath.Join(mnt, name)); got != want {
			t.Errorf("%s after loss: %q, want %q", name, got, want)
		}
		if got := read(t, filepath.Join(backing, name)); got != want {
			t.Errorf("backing %s after loss: %q, want %q", name, got, want)
		}
	}
	// Appends after the loss land at the end of what survived.
	appendTo(t, filepath.Join(mnt, "log"), "third;", true)
	if got := read(t, filepath.Join(backing, "log")); got != "first;third;" {
		t.Errorf("append after loss: %q", got)
	}
}

// A file kept open across the loss sees it too.
func TestLoseSeenByOpenFile(t *testing.T) {
	f, _, mnt := mount(t)
	fh, err := os.OpenFile(filepath.Join(mnt, "open"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fh.WriteString("abc")
	fh.Sync()
	fh.WriteString("def")
	f.Lose(false)
	buf := make([]byte, 10)
	n, _ := fh.ReadAt(buf, 0)
	if string(buf[:n]) != "abc" {
		t.Errorf("open file reads %q after loss", buf[:n])
	}
	if fi, _ := fh.Stat(); fi.Size() != 3 {
		t.Errorf("open file's size %d after loss", fi.Size())
	}
}

func TestTruncationIsBuffered(t *testing.T) {
	f, backing, mnt := mount(t)
	p := filepath.Join(mnt, "t")
	write(t, p, "abcdef", true)
	if err := os.Truncate(p, 2); err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteAt([]byte("Z"), 4) // extends over a hole: bytes 2, 3 must be zero, not "cd"
	fh.Close()
	if got := read(t, p); got != "ab\x00\x00Z" {
		t.Errorf("after truncate and write: %q", got)
	}
	if got := read(t, filepath.Join(backing, "t")); got != "abcdef" {
		t.Errorf("backing changed before fsync: %q", got)
	}
	// O_TRUNC is buffered too.
	write(t, p, "new", false)
	if got := read(t, filepath.Join(backing, "t")); got != "abcdef" {
		t.Errorf("O_TRUNC reached the backing file: %q", got)
	}
	f.Lose(false)
	if got := read(t, p); got != "abcdef" {
		t.Errorf("after loss: %q", got)
	}
	if err := os.Truncate(p, 3); err != nil {
		t.Fatal(err)
	}
	if err := f.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(backing, "t")); got != "abc" {
		t.Errorf("checkpointed truncation: %q", got)
	}
}

// close and rename do not persist data; the write-fsync-rename idiom does.
func TestRenameAndClose(t *testing.T) {
	f, _, mnt := mount(t)
	write(t, filepath.Join(mnt, "tmp1"), "careless", false)
	if err := os.Rename(filepath.Join(mnt, "tmp1"), filepath.Join(mnt, "careless")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(mnt, "tmp2"), "careful", true)
	if err := os.Rename(filepath.Join(mnt, "tmp2"), filepath.Join(mnt, "careful")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(mnt, "careless")); got != "careless" {
		t.Errorf("renamed file reads %q before the loss", got)
	}
	f.Lose(false)
	if got := read(t, filepath.Join(mnt, "careless")); got != "" {
		t.Errorf("unsynced renamed file reads %q after loss (metadata survives, data does not)", got)
	}
	if got := read(t, filepath.Join(mnt, "careful")); got != "careful" {
		t.Errorf("fsynced renamed file reads %q after loss", got)
	}
}

func TestODSYNCWritesAreDurable(t *testing.T) {
	f, backing, mnt := mount(t)
	fh, err := os.OpenFile(filepath.Join(mnt, "sync"), os.O_WRONLY|os.O_CREATE|syscall.O_DSYNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString("now")
	fh.Close()
	if got := read(t, filepath.Join(backing, "sync")); got != "now" {
		t.Errorf("O_DSYNC write not on the backing store: %q", got)
	}
	f.Lose(false)
	if got := read(t, filepath.Join(mnt, "sync")); got != "now" {
		t.Errorf("O_DSYNC write lost: %q", got)
	}
}

func TestCheckpointAndUnmountFlush(t *testing.T) {
	f, backing, mnt := mount(t)
	write(t, filepath.Join(mnt, "c"), "checkpointed", false)
	if err := f.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(backing, "c")); got != "checkpointed" {
		t.Errorf("after checkpoint the backing file holds %q", got)
	}
	f.Lose(false)
	if got := read(t, filepath.Join(mnt, "c")); got != "checkpointed" {
		t.Errorf("checkpointed data lost: %q", got)
	}
	write(t, filepath.Join(mnt, "u"), "at unmount", false)
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	f.Wait()
	if got := read(t, filepath.Join(backing, "u")); got != "at unmount" {
		t.Errorf("unmount did not flush: %q", got)
	}
	// The cleanup unmounts again: harmless.
}

func isEIO(err error) bool { return errors.Is(err, syscall.EIO) }

func TestErrorWrites(t *testing.T) {
	f, _, mnt := mount(t)
	p := filepath.Join(mnt, "e")
	write(t, p, "before", true)
	if err := f.Set(ErrorWrites, Rule{Prob: 1}); err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString("during"); !isEIO(err) {
		t.Errorf("write while error-writes: %v, want EIO", err)
	}
	if err := fh.Sync(); !isEIO(err) {
		t.Errorf("fsync while error-writes: %v, want EIO", err)
	}
	f.Clear("all")
	if _, err := fh.WriteString("after"); err != nil {
		t.Errorf("write after clear: %v", err)
	}
	if got := read(t, p); got != "beforeafter" {
		t.Errorf("file: %q", got)
	}
	if f.Stats().WriteErrors != 2 {
		t.Errorf("stats: %+v", f.Stats())
	}
}

func TestErrorReads(t *testing.T) {
	f, _, mnt := mount(t)
	p := filepath.Join(mnt, "r")
	write(t, p, "data", true)
	f.Set(ErrorReads, Rule{Prob: 1})
	if _, err := os.ReadFile(p); !isEIO(err) {
		t.Errorf("read while error-reads: %v, want EIO", err)
	}
	f.Clear(ErrorReads)
	if got := read(t, p); got != "data" {
		t.Errorf("read after clear: %q", got)
	}
}

func TestDropWrites(t *testing.T) {
	f, backing, mnt := mount(t)
	p := filepath.Join(mnt, "d")
	write(t, p, "kept", true)
	f.Set(DropWrites, Rule{Prob: 1})
	appendTo(t, p, "-dropped", true) // reported as written and synced
	f.Clear("")
	if got := read(t, p); got != "kept" {
		t.Errorf("mount: %q", got)
	}
	if got := read(t, filepath.Join(backing, "d")); got != "kept" {
		t.Errorf("backing: %q", got)
	}
	if f.Stats().Dropped != 1 {
		t.Errorf("stats: %+v", f.Stats())
	}
}

func TestCorrupt(t *testing.T) {
	f, backing, mnt := mount(t)
	data := strings.Repeat("x", 4096)
	p := filepath.Join(mnt, "c")
	write(t, p, data, true)
	f.Set(CorruptReads, Rule{Prob: 1})
	if got := read(t, p); got == data || len(got) != len(data) {
		t.Errorf("corrupt read returned the data unchanged (or resized)")
	}
	f.Clear(CorruptReads)
	if got := read(t, filepath.Join(backing, "c")); got != data {
		t.Errorf("corrupt reads changed the stored data")
	}
	f.Set(CorruptWrites, Rule{Prob: 1})
	write(t, filepath.Join(mnt, "w"), data, true)
	f.Clear("all")
	got := read(t, filepath.Join(backing, "w"))
	diff := 0
	for i := range min(len(got), len(data)) {
		if got[i] != data[i] {
			diff++
		}
	}
	if len(got) != len(data) || diff == 0 {
		t.Errorf("corrupt write stored %d bytes with %d differing", len(got), diff)
	}
}

func TestTornWrites(t *testing.T) {
	f, backing, mnt := mount(t)
	p := filepath.Join(mnt, "torn")
	write(t, p, "", true)
	f.Set(TornWrites, Rule{Prob: 1})
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("abcdefgh", 512)
	_, err = fh.WriteAt([]byte(data), 0)
	fh.Sync()
	fh.Close()
	f.Clear("all")
	if !isEIO(err) {
		t.Errorf("torn write returned %v, want EIO", err)
	}
	got := read(t, filepath.Join(backing, "torn"))
	if len(got) >= len(data) || !strings.HasPrefix(data, got) {
		t.Errorf("torn write stored %d bytes, want a strict prefix of %d", len(got), len(data))
	}
}

// With torn losses, what survives is a prefix of the unsynced writes.
func TestLoseTorn(t *testing.T) {
	f, _, mnt := mount(t)
	p := filepath.Join(mnt, "seq")
	var all string
	for i := range 50 {
		s := strings.Repeat(string(rune('a'+i%26)), 100)
		appendTo(t, p, s, false)
		all += s
	}
	rep := f.Lose(true)
	got := read(t, p)
	if !strings.HasPrefix(all, got) || len(got) == len(all) || int64(len(got)) != rep.Kept {
		t.Errorf("after a torn loss %d of %d bytes survive (report %+v); want a strict prefix", len(got), len(all), rep)
	}
}

func TestPrefixAndProbability(t *testing.T) {
	f, _, mnt := mount(t)
	os.Mkdir(filepath.Join(mnt, "wal"), 0o755)
	f.Set(ErrorWrites, Rule{Prob: 1, Prefix: "/wal/"})
	if err := os.WriteFile(filepath.Join(mnt, "other"), []byte("x"), 0o644); err != nil {
		t.Errorf("write outside the prefix: %v", err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "wal", "1"), []byte("x"), 0o644); !isEIO(err) {
		t.Errorf("write under the prefix: %v, want EIO", err)
	}
	f.Set(ErrorWrites, Rule{Prob: 0.5})
	failed := 0
	fh, _ := os.OpenFile(filepath.Join(mnt, "half"), os.O_WRONLY|os.O_CREATE, 0o644)
	defer fh.Close()
	for i := range 200 {
		if _, err := fh.WriteAt([]byte("y"), int64(i)); err != nil {
			failed++
		}
	}
	if failed < 50 || failed > 150 {
		t.Errorf("%d of 200 writes failed at probability 0.5", failed)
	}
}

func TestControlSocket(t *testing.T) {
	f, _, mnt := mount(t)
	sock := filepath.Join(t.TempDir(), "ctl")
	l, err := f.ServeControl(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if out, err := Ctl(sock, "set", "error-writes", "p=1", "prefix=x"); err != nil || out != "error-writes" {
		t.Errorf("set: %q %v", out, err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "x"), []byte("1"), 0o644); !isEIO(err) {
		t.Errorf("write after set over the socket: %v", err)
	}
	if _, err := Ctl(sock, "clear", "all"); err != nil {
		t.Error(err)
	}
	write(t, filepath.Join(mnt, "y"), "unsynced", false)
	out, err := Ctl(sock, "lose")
	if err != nil || out != `{"files":1,"bytes":8}` {
		t.Errorf("lose: %q %v", out, err)
	}
	if _, err := Ctl(sock, "set", "sideways"); err == nil || !strings.Contains(err.Error(), "unknown mode") {
		t.Errorf("bad mode: %v", err)
	}
	if out, err := Ctl(sock, "status"); err != nil || !strings.Contains(out, `"losses":1`) {
		t.Errorf("status: %q %v", out, err)
	}
}

// Many writers at once, fsyncing at random, then a loss: every file is
// exactly its last fsynced content.
func TestConcurrentWritersAndLoss(t *testing.T) {
	f, _, mnt := mount(t)
	const n = 8
	want := make([]string, n)
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			p := filepath.Join(mnt, "w"+string(rune('0'+i)))
			fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				t.Error(err)
				return
			}
			defer fh.Close()
			var buf bytes.Buffer
			for j := range 200 {
				s := strings.Repeat(string(rune('a'+j%26)), 1+j%37)
				fh.WriteString(s)
				buf.WriteString(s)
				if j%17 == 0 {
					fh.Sync()
					want[i] = buf.String()
				}
			}
		}()
	}
	for range n {
		<-done
	}
	time.Sleep(10 * time.Millisecond)
	f.Lose(false)
	for i := range n {
		if got := read(t, filepath.Join(mnt, "w"+string(rune('0'+i)))); got != want[i] {
			t.Errorf("file %d: %d bytes after loss, want the %d fsynced", i, len(got), len(want[i]))
		}
	}
}

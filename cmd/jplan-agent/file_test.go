package main

import (
	"bytes"
	"encoding/json"
	"math/bits"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// flips counts differing bytes and checks each differs in exactly one bit.
func flips(t *testing.T, a, b []byte) int {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("length changed: %d → %d", len(a), len(b))
	}
	n := 0
	for i := range a {
		if d := bits.OnesCount8(a[i] ^ b[i]); d > 1 {
			t.Fatalf("byte %d differs in %d bits", i, d)
		} else if d == 1 {
			n++
		}
	}
	return n
}

func TestBitflipEveryByte(t *testing.T) {
	f := filepath.Join(t.TempDir(), "data")
	orig := bytes.Repeat([]byte("jplan"), 3*chunkSize/5+7) // spans chunks
	writeFile(t, f, orig)
	res, err := bitflip(f, 1, 42)
	if err != nil {
		t.Fatal(err)
	}
	if n := flips(t, orig, readFile(t, f)); n != len(orig) || res.Flipped != int64(len(orig)) || res.Bytes != int64(len(orig)) || res.Files != 1 {
		t.Errorf("p=1 flipped %d of %d bytes (reported %+v)", n, len(orig), res)
	}
}

func TestBitflipIsSeededAndProportional(t *testing.T) {
	dir := t.TempDir()
	orig := make([]byte, 200000)
	for _, name := range []string{"a", "b"} {
		writeFile(t, filepath.Join(dir, name), orig)
	}
	if _, err := bitflip(filepath.Join(dir, "a"), 0.01, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := bitflip(filepath.Join(dir, "b"), 0.01, 7); err != nil {
		t.Fatal(err)
	}
	a, b := readFile(t, filepath.Join(dir, "a")), readFile(t, filepath.Join(dir, "b"))
	if !bytes.Equal(a, b) {
		t.Error("the same seed flipped different bits")
	}
	if n := flips(t, orig, a); n < 1700 || n > 2300 {
		t.Errorf("p=0.01 flipped %d of 200000 bytes, want about 2000", n)
	}
	writeFile(t, filepath.Join(dir, "c"), orig)
	bitflip(filepath.Join(dir, "c"), 0.01, 8)
	if bytes.Equal(a, readFile(t, filepath.Join(dir, "c"))) {
		t.Error("different seeds flipped the same bits")
	}
	if res, _ := bitflip(filepath.Join(dir, "c"), 0, 1); res.Flipped != 0 {
		t.Errorf("p=0 flipped %d", res.Flipped)
	}
}

func TestBitflipDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "x", "1"), []byte("hello"))
	writeFile(t, filepath.Join(dir, "2"), []byte("world!"))
	os.Symlink("/etc/passwd", filepath.Join(dir, "link")) // never followed
	res, err := bitflip(dir, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 2 || res.Bytes != 11 || res.Flipped != 11 {
		t.Errorf("directory: %+v", res)
	}
}

func TestTruncate(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "log")
	writeFile(t, f, []byte("0123456789"))
	res, err := truncateFiles(f, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(readFile(t, f)); got != "0123456" || res.Before != 10 || res.After != 7 {
		t.Errorf("truncate 3: %q %+v", got, res)
	}
	truncateFiles(f, 100)
	if got := readFile(t, f); len(got) != 0 {
		t.Errorf("truncating more than the size left %q", got)
	}
}

func TestSnapshotRestoreDirectory(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "db")
	writeFile(t, filepath.Join(data, "wal", "0001"), []byte("first"))
	writeFile(t, filepath.Join(data, "snap"), []byte("state"))
	os.Symlink("snap", filepath.Join(data, "current"))
	os.Chmod(filepath.Join(data, "snap"), 0o600)
	mtime := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(filepath.Join(data, "snap"), mtime, mtime)
	store := filepath.Join(root, "snapshots", "rewind")
	if _, err := snapshot(data, store, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The database moves on: new files, changed files, deleted files.
	writeFile(t, filepath.Join(data, "wal", "0002"), []byte("second"))
	writeFile(t, filepath.Join(data, "snap"), []byte("newer state"))
	os.Remove(filepath.Join(data, "wal", "0001"))
	before, _ := os.Stat(data)

	dir, err := newestSnapshot(filepath.Join(root, "snapshots"), data+"/")
	if err != nil || dir != store {
		t.Fatalf("newest snapshot: %q %v", dir, err)
	}
	res, err := restore(data, store)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 2 {
		t.Errorf("restore: %+v", res)
	}
	if got := string(readFile(t, filepath.Join(data, "wal", "0001"))); got != "first" {
		t.Errorf("wal/0001: %q", got)
	}
	if _, err := os.Stat(filepath.Join(data, "wal", "0002")); !os.IsNotExist(err) {
		t.Errorf("a file written after the snapshot survived: %v", err)
	}
	st, _ := os.Stat(filepath.Join(data, "snap"))
	if got := string(readFile(t, filepath.Join(data, "snap"))); got != "state" || st.Mode().Perm() != 0o600 || !st.ModTime().Equal(mtime) {
		t.Errorf("snap: %q mode %v mtime %v", got, st.Mode(), st.ModTime())
	}
	if l, _ := os.Readlink(filepath.Join(data, "current")); l != "snap" {
		t.Errorf("symlink: %q", l)
	}
	after, _ := os.Stat(data)
	if !os.SameFile(before, after) {
		t.Error("the directory was replaced rather than restored in place")
	}
}

func TestSnapshotRestoreFileCommand(t *testing.T) {
	root := t.TempDir()
	f := filepath.Join(root, "state.json")
	writeFile(t, f, []byte(`{"v":1}`))
	var out bytes.Buffer
	store := filepath.Join(root, "snaps", "s1")
	if err := fileCommand([]string{"snapshot", "--path", f, "--store", store}, &out); err != nil {
		t.Fatal(err)
	}
	var sr snapResult
	if err := json.Unmarshal(out.Bytes(), &sr); err != nil || sr.Files != 1 || sr.Bytes != 7 {
		t.Fatalf("snapshot output %q: %v", out.String(), err)
	}
	writeFile(t, f, []byte(`{"v":2, "more": true}`))
	out.Reset()
	if err := fileCommand([]string{"restore", "--path", f, "--search", filepath.Join(root, "snaps")}, &out); err != nil {
		t.Fatal(err)
	}
	if got := string(readFile(t, f)); got != `{"v":1}` {
		t.Errorf("restored %q", got)
	}
	if err := fileCommand([]string{"restore", "--path", filepath.Join(root, "other"), "--search", filepath.Join(root, "snaps")}, &out); err == nil {
		t.Error("restore of a path never snapshotted succeeded")
	}
}

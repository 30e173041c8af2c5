package faultfs

import (
	"os"
	"path/filepath"
	"testing"
)

// The buffered view of a file, without FUSE: backing data with the
// pending writes and truncations applied in order; apply reproduces it on
// the backing file, and a limit keeps only a prefix of the data.
func TestDirtyFileView(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("abcdefgh"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	d := &dirtyFile{fd: fd, size: 8}
	d.write([]byte("XY"), 2) // abXYefgh
	d.truncate(3)            // abX
	d.write([]byte("Z"), 5)  // abX\0\0Z
	d.write([]byte("W"), 6)  // coalesced: abX\0\0ZW
	if len(d.ops) != 3 || d.size != 7 || d.bytes != 4 {
		t.Fatalf("ops %d size %d bytes %d", len(d.ops), d.size, d.bytes)
	}
	buf := make([]byte, 16)
	n, err := d.readAt(fd, buf, 0)
	if err != nil || string(buf[:n]) != "abX\x00\x00ZW" {
		t.Fatalf("view %q %v", buf[:n], err)
	}
	n, _ = d.readAt(fd, buf[:2], 4)
	if string(buf[:n]) != "\x00Z" {
		t.Errorf("view at 4: %q", buf[:n])
	}
	// One byte of data may pass: "XY" is torn after "X", and what comes
	// after it (the truncation) never happens.
	if err := d.apply(d.ops, 1); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "abXdefgh" {
		t.Errorf("after applying a prefix: %q", b)
	}
	if err := d.apply(d.ops, -1); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "abX\x00\x00ZW" {
		t.Errorf("after applying all: %q", b)
	}
}

package main

// The file subcommand damages or rewinds files.
//
//	jplan-agent file bitflip  --path P --prob p --seed S
//	jplan-agent file truncate --path P --bytes N
//	jplan-agent file snapshot --path P --store DIR
//	jplan-agent file restore  --path P (--store DIR | --search ROOT)
//
// P is a file or a directory (every regular file under it, in lexical
// order). bitflip flips one random bit in each byte with probability p,
// the same bits for the same seed; truncate cuts N bytes off the end of
// each file. snapshot copies P into DIR (replacing an older snapshot
// there); restore puts it back, from DIR or from the newest snapshot of P
// under ROOT. The result is one JSON line.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

func init() { register("file", fileMain) }

func fileMain(args []string) error { return fileCommand(args, os.Stdout) }

func fileCommand(args []string, out io.Writer) error {
	if len(args) < 1 {
		return errors.New("usage: file bitflip|truncate|snapshot|restore --path P [flags]")
	}
	action := args[0]
	fset := flag.NewFlagSet("file "+action, flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	path := fset.String("path", "", "the file or directory")
	prob := fset.Float64("prob", 0.01, "bitflip: probability that a byte has a bit flipped")
	seed := fset.Uint64("seed", 0, "bitflip: random seed")
	n := fset.Int64("bytes", 1, "truncate: bytes cut from the end")
	store := fset.String("store", "", "snapshot/restore: the snapshot directory")
	search := fset.String("search", "", "restore: a directory of snapshots; the newest of path is used")
	if err := fset.Parse(args[1:]); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("--path is required")
	}
	var res any
	var err error
	switch action {
	case "bitflip":
		res, err = bitflip(*path, *prob, *seed)
	case "truncate":
		res, err = truncateFiles(*path, *n)
	case "snapshot":
		if *store == "" {
			return errors.New("snapshot needs --store")
		}
		res, err = snapshot(*path, *store, time.Now())
	case "restore":
		dir := *store
		if dir == "" {
			if *search == "" {
				return errors.New("restore needs --store or --search")
			}
			dir, err = newestSnapshot(*search, *path)
			if err != nil {
				return err
			}
		}
		res, err = restore(*path, dir)
	default:
		return fmt.Errorf("unknown action %q (bitflip, truncate, snapshot or restore)", action)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(res)
}

// regularFiles lists path, or the regular files under it, in lexical
// order. Symlinks are not followed.
func regularFiles(path string) ([]string, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().IsRegular() {
		return []string{path}, nil
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is neither a regular file nor a directory", path)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

type flipResult struct {
	Files   int   `json:"files"`
	Bytes   int64 `json:"bytes"`
	Flipped int64 `json:"flipped"`
}

// flipper chooses which bytes flip: the gap to the next flipped byte is
// geometric, so sparse flips in large files cost nothing per byte.
type flipper struct {
	rng *rand.Rand
	p   float64
}

func newFlipper(p float64, seed uint64) *flipper {
	return &flipper{rng: rand.New(rand.NewPCG(seed, seed^0x6269746669697073)), p: p}
}

// gap is how many bytes are skipped before the next flipped one.
func (f *flipper) gap() int64 {
	if f.p >= 1 {
		return 0
	}
	if f.p <= 0 {
		return math.MaxInt64
	}
	g := math.Floor(math.Log(1-f.rng.Float64()) / math.Log(1-f.p))
	if g >= math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(g)
}

func (f *flipper) bit() byte { return 1 << f.rng.IntN(8) }

func bitflip(path string, p float64, seed uint64) (flipResult, error) {
	var res flipResult
	if p < 0 || p > 1 || math.IsNaN(p) {
		return res, fmt.Errorf("probability %v is not between 0 and 1", p)
	}
	files, err := regularFiles(path)
	if err != nil {
		return res, err
	}
	fl := newFlipper(p, seed)
	for _, name := range files {
		size, flipped, err := flipFile(name, fl)
		if err != nil {
			return res, err
		}
		res.Files++
		res.Bytes += size
		res.Flipped += flipped
	}
	return res, nil
}

const chunkSize = 1 << 20

func flipFile(name string, fl *flipper) (size, flipped int64, err error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size = st.Size()
	next := fl.gap()
	buf := make([]byte, chunkSize)
	for off := int64(0); off < size && next < size; off += chunkSize {
		end := min(off+chunkSize, size)
		if next >= end {
			continue // no flip in this chunk: skip it without reading
		}
		b := buf[:end-off]
		if _, err := f.ReadAt(b, off); err != nil {
			return size, flipped, err
		}
		for next < end {
			b[next-off] ^= fl.bit()
			flipped++
			next += 1 + fl.gap()
		}
		if _, err := f.WriteAt(b, off); err != nil {
			return size, flipped, err
		}
	}
	if flipped > 0 {
		err = f.Sync()
	}
	return size, flipped, err
}

type truncResult struct {
	Files  int   `json:"files"`
	Before int64 `json:"before"`
	After  int64 `json:"after"`
}

// truncateFiles cuts n bytes off the end of each file (a shorter file
// becomes empty).
func truncateFiles(path string, n int64) (truncResult, error) {
	var res truncResult
	if n < 0 {
		return res, fmt.Errorf("bytes %d is negative", n)
	}
	files, err := regularFiles(path)
	if err != nil {
		return res, err
	}
	for _, name := range files {
		st, err := os.Stat(name)
		if err != nil {
			return res, err
		}
		after := max(st.Size()-n, 0)
		if err := os.Truncate(name, after); err != nil {
			return res, err
		}
		res.Files++
		res.Before += st.Size()
		res.After += after
	}
	return res, nil
}

// A snapshot directory holds meta.json and data, a copy of the file or
// directory.
type snapshotMeta struct {
	Path string    `json:"path"`
	Time time.Time `json:"time"`
	Dir  bool      `json:"dir"`
}

type snapResult struct {
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	Store string `json:"store"`
}

func snapshot(path, store string, now time.Time) (snapResult, error) {
	res := snapResult{Store: store}
	st, err := os.Lstat(path)
	if err != nil {
		return res, err
	}
	if !st.Mode().IsRegular() && !st.IsDir() {
		return res, fmt.Errorf("%s is neither a regular file nor a directory", path)
	}
	// Build the new snapshot beside the old one and swap, so a failed
	// snapshot leaves the previous one intact.
	if err := os.MkdirAll(filepath.Dir(store), 0o700); err != nil {
		return res, err
	}
	tmp := store + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return res, err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return res, err
	}
	var c copier
	if err := c.copy(path, filepath.Join(tmp, "data")); err != nil {
		os.RemoveAll(tmp)
		return res, fmt.Errorf("copying %s: %w", path, err)
	}
	meta, _ := json.Marshal(snapshotMeta{Path: path, Time: now.UTC(), Dir: st.IsDir()})
	if err := os.WriteFile(filepath.Join(tmp, "meta.json"), meta, 0o600); err != nil {
		return res, err
	}
	if err := os.RemoveAll(store); err != nil {
		return res, err
	}
	if err := os.Rename(tmp, store); err != nil {
		return res, err
	}
	res.Files, res.Bytes = c.files, c.bytes
	return res, nil
}

// newestSnapshot finds the newest snapshot of path among root's
// subdirectories.
func newestSnapshot(root, path string) (string, error) {
	entries, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	type cand struct {
		dir string
		t   time.Time
	}
	var cands []cand
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		m, err := readMeta(dir)
		if err != nil || filepath.Clean(m.Path) != filepath.Clean(path) {
			continue
		}
		cands = append(cands, cand{dir, m.Time})
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no snapshot of %s under %s (a snapshot fault on this path must start first)", path, root)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].t.After(cands[j].t) })
	return cands[0].dir, nil
}

func readMeta(dir string) (snapshotMeta, error) {
	var m snapshotMeta
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(data, &m)
	return m, err
}

type restoreResult struct {
	Files int       `json:"files"`
	Bytes int64     `json:"bytes"`
	From  string    `json:"from"`
	Taken time.Time `json:"taken"`
}

// restore puts a snapshot back. A file is replaced atomically (copied
// beside it, then renamed over it). A directory keeps its inode (it may be
// a mount point): its contents are removed and the snapshot's copied in.
func restore(path, store string) (restoreResult, error) {
	res := restoreResult{From: store}
	m, err := readMeta(store)
	if err != nil {
		return res, fmt.Errorf("reading snapshot %s: %w", store, err)
	}
	res.Taken = m.Time
	data := filepath.Join(store, "data")
	var c copier
	if !m.Dir {
		if st, err := os.Lstat(path); err == nil && st.IsDir() {
			return res, fmt.Errorf("%s is now a directory; the snapshot is of a file", path)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return res, err
		}
		tmp := path + ".jplan-restore"
		if err := c.copy(data, tmp); err != nil {
			os.Remove(tmp)
			return res, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return res, err
		}
	} else {
		st, err := os.Lstat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := c.copy(data, path); err != nil {
				return res, err
			}
		case err != nil:
			return res, err
		case !st.IsDir():
			return res, fmt.Errorf("%s is now a file; the snapshot is of a directory", path)
		default:
			entries, err := os.ReadDir(path)
			if err != nil {
				return res, err
			}
			for _, e := range entries {
				if err := os.RemoveAll(filepath.Join(path, e.Name())); err != nil {
					return res, err
				}
			}
			src, err := os.ReadDir(data)
			if err != nil {
				return res, err
			}
			for _, e := range src {
				if err := c.copy(filepath.Join(data, e.Name()), filepath.Join(path, e.Name())); err != nil {
					return res, err
				}
			}
			if err := c.attrs(data, path); err != nil {
				return res, err
			}
		}
	}
	syncDir(filepath.Dir(path))
	res.Files, res.Bytes = c.files, c.bytes
	return res, nil
}

// copier copies files, directories and symlinks, keeping modes, owners
// and modification times; other kinds of file (sockets, fifos, devices)
// are skipped.
type copier struct {
	files int
	bytes int64
}

func (c *copier) copy(src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	case st.IsDir():
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		entries, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := c.copy(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
		return c.attrs(src, dst)
	case st.Mode().IsRegular():
		if err := c.copyFile(src, dst, st); err != nil {
			return err
		}
		return c.attrs(src, dst)
	}
	return nil
}

func (c *copier) copyFile(src, dst string, st fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	c.files++
	c.bytes += n
	return err
}

// attrs gives dst src's mode, owner and modification time. The owner is
// best effort (it needs root).
func (c *copier) attrs(src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		_ = os.Lchown(dst, int(sys.Uid), int(sys.Gid))
	}
	if err := os.Chmod(dst, st.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	return os.Chtimes(dst, st.ModTime(), st.ModTime())
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

package faultfs

import (
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"
)

// fileKey names a backing file by device and inode number, so buffered
// data follows the file through renames and hard links.
type fileKey struct{ dev, ino uint64 }

func keyOf(st *syscall.Stat_t) fileKey { return fileKey{uint64(st.Dev), st.Ino} }

// pendingOp is one change not yet on the backing store: a write of data at
// off, or (trunc) a truncation to size.
type pendingOp struct {
	trunc bool
	off   int64 // write offset, or the truncation size
	data  []byte
}

// dirtyFile holds the changes to one backing file since its last fsync, in
// the order they were made. Reads see the backing file with the changes
// applied; fsync applies them to the backing file; a loss forgets them.
type dirtyFile struct {
	mu     sync.Mutex
	key    fileKey
	fd     int // a writable descriptor of the backing file, owned
	ops    []pendingOp
	size   int64 // the file's size as readers see it
	bytes  int64 // bytes buffered
	mtime  time.Time
	dead   bool // flushed or lost: no longer in the table
	inodes map[*fs.Inode]struct{}
}

// write buffers data at off; the caller's slice is copied.
func (d *dirtyFile) write(data []byte, off int64) {
	if n := len(d.ops); n > 0 {
		last := &d.ops[n-1]
		if !last.trunc && last.off+int64(len(last.data)) == off {
			last.data = append(last.data, data...)
			d.grew(off, len(data))
			return
		}
	}
	d.ops = append(d.ops, pendingOp{off: off, data: append([]byte(nil), data...)})
	d.grew(off, len(data))
}

func (d *dirtyFile) grew(off int64, n int) {
	if end := off + int64(n); end > d.size {
		d.size = end
	}
	d.bytes += int64(n)
	d.mtime = time.Now()
}

func (d *dirtyFile) truncate(size int64) {
	d.ops = append(d.ops, pendingOp{trunc: true, off: size})
	d.size = size
	d.mtime = time.Now()
}

// readAt reads the file as it currently is — backing data (through fd,
// which must be readable) with the pending changes applied.
func (d *dirtyFile) readAt(fd int, buf []byte, off int64) (int, error) {
	if off >= d.size {
		return 0, nil
	}
	n := int64(len(buf))
	if off+n > d.size {
		n = d.size - off
	}
	w := buf[:n]
	if err := preadFull(fd, w, off); err != nil {
		return 0, err
	}
	end := off + n
	for _, op := range d.ops {
		if op.trunc {
			if op.off < end {
				from := max(op.off, off)
				clear(w[from-off:])
			}
			continue
		}
		lo, hi := max(op.off, off), min(op.off+int64(len(op.data)), end)
		if lo < hi {
			copy(w[lo-off:hi-off], op.data[lo-op.off:hi-op.off])
		}
	}
	return int(n), nil
}

// preadFull fills buf from fd at off, with zeros past the end of the file.
func preadFull(fd int, buf []byte, off int64) error {
	for len(buf) > 0 {
		n, err := unix.Pread(fd, buf, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			clear(buf)
			return nil
		}
		buf, off = buf[n:], off+int64(n)
	}
	return nil
}

// apply writes ops to the backing file, in order; limit (when ≥ 0) is how
// many bytes of data may reach it before the rest is torn off.
func (d *dirtyFile) apply(ops []pendingOp, limit int64) error {
	for _, op := range ops {
		if op.trunc {
			if err := unix.Ftruncate(d.fd, op.off); err != nil {
				return err
			}
			continue
		}
		data := op.data
		if limit >= 0 {
			if int64(len(data)) > limit {
				data = data[:limit]
			}
			limit -= int64(len(data))
		}
		if err := pwriteFull(d.fd, data, op.off); err != nil {
			return err
		}
		if limit == 0 {
			return nil
		}
	}
	return nil
}

func pwriteFull(fd int, data []byte, off int64) error {
	for len(data) > 0 {
		n, err := unix.Pwrite(fd, data, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		data, off = data[n:], off+int64(n)
	}
	return nil
}

// cache is the table of dirty files.
type cache struct {
	mu    sync.Mutex
	files map[fileKey]*dirtyFile
}

func newCache() *cache { return &cache{files: map[fileKey]*dirtyFile{}} }

// lookup returns the live dirty state of key, locked, or nil when the file
// has no unsynced changes.
func (c *cache) lookup(key fileKey) *dirtyFile {
	for {
		c.mu.Lock()
		d := c.files[key]
		c.mu.Unlock()
		if d == nil {
			return nil
		}
		d.mu.Lock()
		if !d.dead {
			return d
		}
		d.mu.Unlock()
	}
}

// acquire returns key's dirty state, locked, creating it with a duplicate
// of fd (which must be writable) when the file was clean.
func (c *cache) acquire(key fileKey, fd int, ino *fs.Inode) (*dirtyFile, error) {
	for {
		c.mu.Lock()
		d := c.files[key]
		if d == nil {
			var st syscall.Stat_t
			if err := syscall.Fstat(fd, &st); err != nil {
				c.mu.Unlock()
				return nil, err
			}
			dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				c.mu.Unlock()
				return nil, err
			}
			d = &dirtyFile{key: key, fd: dup, size: st.Size, inodes: map[*fs.Inode]struct{}{}}
			c.files[key] = d
		}
		c.mu.Unlock()
		d.mu.Lock()
		if d.dead {
			d.mu.Unlock()
			continue
		}
		if ino != nil {
			d.inodes[ino] = struct{}{}
		}
		return d, nil
	}
}

// retire removes a locked dirty file from the table and closes its
// descriptor; the caller still unlocks it.
func (c *cache) retire(d *dirtyFile) {
	d.dead = true
	d.ops = nil
	syscall.Close(d.fd)
	c.mu.Lock()
	if c.files[d.key] == d {
		delete(c.files, d.key)
	}
	c.mu.Unlock()
}

// flush applies a locked dirty file's changes to the backing file, makes
// them durable, and retires it. On error the changes stay buffered.
func (c *cache) flush(d *dirtyFile) error {
	if err := d.apply(d.ops, -1); err != nil {
		return err
	}
	if err := unix.Fsync(d.fd); err != nil {
		return err
	}
	c.retire(d)
	return nil
}

func (c *cache) all() []*dirtyFile {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*dirtyFile, 0, len(c.files))
	for _, d := range c.files {
		out = append(out, d)
	}
	return out
}

// LossReport says what a loss discarded.
type LossReport struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Kept is how many buffered bytes reached the store anyway, when the
	// loss tore the pending writes instead of discarding them whole.
	Kept int64 `json:"kept,omitempty"`
}

// lose forgets every unsynced change, as a power failure would. With torn,
// a random prefix of each file's pending changes reaches the store first
// (the part of the cache the kernel had written back when power went).
// It returns the inodes whose kernel caches must be invalidated.
func (c *cache) lose(torn bool, pick func(n int64) int64) (LossReport, []*fs.Inode) {
	var rep LossReport
	var inodes []*fs.Inode
	for _, d := range c.all() {
		d.mu.Lock()
		if d.dead {
			d.mu.Unlock()
			continue
		}
		rep.Files++
		rep.Bytes += d.bytes
		if torn && d.bytes > 0 {
			keep := pick(d.bytes)
			if d.apply(d.ops, keep) == nil {
				rep.Kept += keep
			}
		}
		for ino := range d.inodes {
			inodes = append(inodes, ino)
		}
		c.retire(d)
		d.mu.Unlock()
	}
	return rep, inodes
}

// checkpoint flushes every dirty file.
func (c *cache) checkpoint() error {
	var first error
	for _, d := range c.all() {
		d.mu.Lock()
		if !d.dead {
			if err := c.flush(d); err != nil && first == nil {
				first = err
			}
		}
		d.mu.Unlock()
	}
	return first
}

// dirty reports how many files and bytes are buffered.
func (c *cache) dirty() (files int, bytes int64) {
	for _, d := range c.all() {
		d.mu.Lock()
		if !d.dead {
			files++
			bytes += d.bytes
		}
		d.mu.Unlock()
	}
	return
}

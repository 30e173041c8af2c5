// Package faultfs is a fault-injecting loopback filesystem on FUSE. It
// serves a backing directory at a mountpoint and misbehaves on command:
//
//   - It keeps written data in memory until the file is fsynced, as the
//     kernel's page cache does, and can lose everything not yet fsynced,
//     as a power failure would (Jepsen's LazyFS semantics).
//   - Like dm-flakey, it can drop writes, fail writes or reads with EIO,
//     corrupt data read or written, and tear writes, each with a
//     probability and for paths under a prefix.
//
// Every write and read of file data passes through this package: files are
// opened with FOPEN_DIRECT_IO (no kernel page cache, so no writeback cache
// and nothing lost can linger in the kernel), FUSE passthrough and splice
// are disabled, and copy_file_range and O_TMPFILE are refused so the
// kernel falls back to plain reads and writes.
//
// Durability rules (what survives Lose):
//
//   - File data (writes, truncations, O_TRUNC) is buffered per file, in
//     order, until fsync or fdatasync on any descriptor of that file, a
//     write through a descriptor opened O_SYNC or O_DSYNC, Checkpoint, or
//     unmount. close(2) does not flush: like LazyFS, data stays cached. A
//     rename does not flush either (ext4's auto_da_alloc is not emulated),
//     and neither does sync(2) or syncfs(2): FUSE does not forward them.
//   - Metadata — creating, renaming, linking and removing files and
//     directories, permissions, ownership — goes straight to the backing
//     directory and is never lost. A file created and written but never
//     fsynced is therefore empty (not absent) after a loss.
package faultfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Options configure a mount.
type Options struct {
	// Backing is the directory whose contents are served.
	Backing string
	// Mountpoint is where they appear.
	Mountpoint string
	// Seed seeds the fault probabilities and tears.
	Seed uint64
	// Debug logs every FUSE request.
	Debug bool
}

// FS is a mounted faultfs.
type FS struct {
	opts   Options
	root   *fs.LoopbackRoot
	server *fuse.Server
	cache  *cache
	faults *faults
	st     counters
}

type counters struct {
	writes, writeBytes, reads, fsyncs                    atomic.Int64
	dropped, writeErrors, readErrors                     atomic.Int64
	corruptReads, corruptWrites, torn, losses, lostBytes atomic.Int64
}

// Stats are counters since mount, and the current state.
type Stats struct {
	Writes        int64           `json:"writes"`
	WriteBytes    int64           `json:"write_bytes"`
	Reads         int64           `json:"reads"`
	Fsyncs        int64           `json:"fsyncs"`
	Dropped       int64           `json:"dropped_writes"`
	WriteErrors   int64           `json:"write_errors"`
	ReadErrors    int64           `json:"read_errors"`
	CorruptReads  int64           `json:"corrupt_reads"`
	CorruptWrites int64           `json:"corrupt_writes"`
	Torn          int64           `json:"torn_writes"`
	Losses        int64           `json:"losses"`
	LostBytes     int64           `json:"lost_bytes"`
	DirtyFiles    int             `json:"dirty_files"`
	DirtyBytes    int64           `json:"dirty_bytes"`
	Rules         map[string]Rule `json:"rules"`
}

// Mount serves opts.Backing at opts.Mountpoint until Unmount.
func Mount(opts Options) (*FS, error) {
	backing, err := filepath.Abs(opts.Backing)
	if err != nil {
		return nil, err
	}
	opts.Backing = backing
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("backing directory: %w", err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil, fmt.Errorf("backing %s is not a directory", backing)
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	f := &FS{opts: opts, cache: newCache(), faults: newFaults(opts.Seed)}
	f.root = &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	f.root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, ffs: f}
	}
	rootNode := f.root.NewNode(f.root, nil, "", &st)
	f.root.RootNode = rootNode

	// No attribute or entry caching: sizes change behind the kernel's
	// back when writes are lost.
	zero := time.Duration(0)
	f.server, err = fs.Mount(opts.Mountpoint, rootNode, &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			AllowOther:  os.Getuid() == 0,
			FsName:      "faultfs",
			Name:        "faultfs",
			DirectMount: true,
			Debug:       opts.Debug,
			DisabledCapabilities: fuse.CAP_PASSTHROUGH | fuse.CAP_WRITEBACK_CACHE |
				fuse.CAP_SPLICE_READ | fuse.CAP_SPLICE_WRITE | fuse.CAP_SPLICE_MOVE,
			// Shared mmap despite direct I/O (Linux ≥ 6.6); older
			// kernels refuse MAP_SHARED on this filesystem.
			ExtraCapabilities: fuse.CAP_DIRECT_IO_ALLOW_MMAP,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mounting %s: %w", opts.Mountpoint, err)
	}
	return f, nil
}

// Unmount flushes every buffered write to the backing store (as a clean
// shutdown of a real disk would) and unmounts.
func (f *FS) Unmount() error {
	err := f.cache.checkpoint()
	if uerr := f.server.Unmount(); uerr != nil {
		return errors.Join(err, uerr)
	}
	return err
}

// Wait returns when the filesystem is unmounted (by Unmount or umount(8)).
func (f *FS) Wait() { f.server.Wait() }

// Lose discards every write not yet fsynced, as a power failure would.
// With torn (or while torn-writes is on), a random prefix of each file's
// pending writes reaches the store first.
func (f *FS) Lose(torn bool) LossReport {
	torn = torn || f.faults.active(TornWrites)
	rep, inodes := f.cache.lose(torn, f.faults.int64N)
	f.st.losses.Add(1)
	f.st.lostBytes.Add(rep.Bytes - rep.Kept)
	// Drop whatever the kernel still caches about these files (their
	// sizes, above all).
	for _, ino := range inodes {
		ino.NotifyContent(0, 0)
	}
	return rep
}

// Checkpoint writes every buffered write to the backing store and fsyncs.
func (f *FS) Checkpoint() error { return f.cache.checkpoint() }

// Set switches a behaviour on (see Modes; "corrupt" means both corrupt
// modes).
func (f *FS) Set(mode string, r Rule) error { return f.faults.set(mode, r) }

// Clear switches a behaviour off; "" or "all" switches every one off.
func (f *FS) Clear(mode string) error { return f.faults.clearMode(mode) }

// Stats returns the counters.
func (f *FS) Stats() Stats {
	files, bytes := f.cache.dirty()
	return Stats{
		Writes: f.st.writes.Load(), WriteBytes: f.st.writeBytes.Load(), Reads: f.st.reads.Load(),
		Fsyncs: f.st.fsyncs.Load(), Dropped: f.st.dropped.Load(), WriteErrors: f.st.writeErrors.Load(),
		ReadErrors: f.st.readErrors.Load(), CorruptReads: f.st.corruptReads.Load(),
		CorruptWrites: f.st.corruptWrites.Load(), Torn: f.st.torn.Load(), Losses: f.st.losses.Load(),
		LostBytes: f.st.lostBytes.Load(), DirtyFiles: files, DirtyBytes: bytes, Rules: f.faults.snapshot(),
	}
}

// adjust makes attributes read from the backing file reflect buffered
// writes.
func (f *FS) adjust(st *syscall.Stat_t) {
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return
	}
	d := f.cache.lookup(keyOf(st))
	if d == nil {
		return
	}
	defer d.mu.Unlock()
	st.Size = d.size
	if b := (d.size + 511) / 512; b > st.Blocks {
		st.Blocks = b
	}
	if !d.mtime.IsZero() && d.mtime.After(time.Unix(st.Mtim.Sec, st.Mtim.Nsec)) {
		st.Mtim = syscall.NsecToTimespec(d.mtime.UnixNano())
		st.Ctim = st.Mtim
	}
}

// node is a file or directory. Metadata operations are the loopback's;
// everything touching file data is overridden.
type node struct {
	fs.LoopbackNode
	ffs *FS
}

var (
	_ fs.NodeLookuper  = (*node)(nil)
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeGetattrer = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeStatxer   = (*node)(nil)
	_ fs.NodeTmpfiler  = (*node)(nil)
)

// rel is the node's path relative to the mount, for prefix rules.
func (n *node) rel() string { return n.Path(n.RootData.RootNode.EmbeddedInode()) }

func (n *node) backingPath() string { return filepath.Join(n.RootData.Path, n.rel()) }

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch, errno := n.LoopbackNode.Lookup(ctx, name, out)
	if errno != 0 {
		return ch, errno
	}
	var st syscall.Stat_t
	if syscall.Lstat(filepath.Join(n.backingPath(), name), &st) == nil {
		n.ffs.adjust(&st)
		out.Attr.Size = uint64(st.Size)
		out.Attr.Blocks = uint64(st.Blocks)
	}
	return ch, 0
}

func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if h, ok := f.(*handle); ok {
		return h.Getattr(ctx, out)
	}
	var st syscall.Stat_t
	var err error
	if n.IsRoot() {
		err = syscall.Stat(n.backingPath(), &st)
	} else {
		err = syscall.Lstat(n.backingPath(), &st)
	}
	if err != nil {
		return fs.ToErrno(err)
	}
	n.ffs.adjust(&st)
	out.FromStat(&st)
	return 0
}

func (n *node) Statx(ctx context.Context, f fs.FileHandle, flags, mask uint32, out *fuse.StatxOut) syscall.Errno {
	var x unix.Statx_t
	var err error
	if h, ok := f.(*handle); ok {
		err = unix.Statx(h.fd, "", unix.AT_EMPTY_PATH|int(flags), int(mask), &x)
	} else {
		err = unix.Statx(unix.AT_FDCWD, n.backingPath(), unix.AT_SYMLINK_NOFOLLOW|int(flags), int(mask), &x)
	}
	if err != nil {
		return fs.ToErrno(err)
	}
	if x.Mode&syscall.S_IFMT == syscall.S_IFREG {
		st := syscall.Stat_t{Dev: unix.Mkdev(x.Dev_major, x.Dev_minor), Ino: x.Ino, Mode: uint32(x.Mode), Size: int64(x.Size), Blocks: int64(x.Blocks),
			Mtim: syscall.Timespec{Sec: x.Mtime.Sec, Nsec: int64(x.Mtime.Nsec)}}
		n.ffs.adjust(&st)
		x.Size, x.Blocks = uint64(st.Size), uint64(st.Blocks)
		x.Mtime = unix.StatxTimestamp{Sec: st.Mtim.Sec, Nsec: uint32(st.Mtim.Nsec)}
	}
	out.FromStatx(&x)
	return 0
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if h, ok := f.(*handle); ok {
		return h.Setattr(ctx, in, out)
	}
	p := n.backingPath()
	if sz, ok := in.GetSize(); ok {
		fd, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return fs.ToErrno(err)
		}
		errno := n.ffs.truncate(fd, n, int64(sz))
		syscall.Close(fd)
		if errno != 0 {
			return errno
		}
	}
	if m, ok := in.GetMode(); ok {
		if err := syscall.Chmod(p, m); err != nil {
			return fs.ToErrno(err)
		}
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		u, g := -1, -1
		if uok {
			u = int(uid)
		}
		if gok {
			g = int(gid)
		}
		if err := syscall.Lchown(p, u, g); err != nil {
			return fs.ToErrno(err)
		}
	}
	if ts, ok := times(in); ok {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fs.ToErrno(err)
		}
		n.ffs.forgetMtime(p)
	}
	return n.Getattr(ctx, nil, out)
}

// times returns the atime and mtime a setattr sets, UTIME_OMIT for those
// it leaves alone.
func times(in *fuse.SetAttrIn) ([]unix.Timespec, bool) {
	mtime, mok := in.GetMTime()
	atime, aok := in.GetATime()
	if !mok && !aok {
		return nil, false
	}
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	if aok {
		ts[0] = unix.NsecToTimespec(atime.UnixNano())
	}
	if mok {
		ts[1] = unix.NsecToTimespec(mtime.UnixNano())
	}
	return ts, true
}

// forgetMtime lets an explicitly set mtime show through buffered writes.
func (f *FS) forgetMtime(path string) {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return
	}
	if d := f.cache.lookup(keyOf(&st)); d != nil {
		d.mtime = time.Time{}
		d.mu.Unlock()
	}
}

// truncate buffers a truncation of the file open as fd (writable).
func (f *FS) truncate(fd int, n *node, size int64) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fs.ToErrno(err)
	}
	if st.Size == size {
		// Nothing to do unless buffered writes changed the size.
		if d := f.cache.lookup(keyOf(&st)); d == nil {
			return 0
		} else {
			d.mu.Unlock()
		}
	}
	d, err := f.cache.acquire(keyOf(&st), fd, n.EmbeddedInode())
	if err != nil {
		return fs.ToErrno(err)
	}
	d.truncate(size)
	d.mu.Unlock()
	return 0
}

// Tmpfile is refused: an O_TMPFILE file has no path for the loopback to
// reopen. Callers fall back to a named temporary file.
func (n *node) Tmpfile(ctx context.Context, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

// openFlags are the flags the backing file is opened with, and what the
// handle must emulate.
func openFlags(flags uint32) (backing int, trunc, sync bool) {
	f := int(flags)
	trunc = f&syscall.O_TRUNC != 0 && f&syscall.O_ACCMODE != syscall.O_RDONLY
	sync = f&(syscall.O_SYNC|syscall.O_DSYNC) != 0
	backing = f &^ (syscall.O_APPEND | syscall.O_TRUNC | syscall.O_SYNC | syscall.O_DSYNC |
		syscall.O_DIRECT | syscall.O_CREAT | syscall.O_EXCL | fuse.FMODE_EXEC)
	return backing | syscall.O_CLOEXEC | syscall.O_NOFOLLOW, trunc, sync
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	bflags, trunc, sync := openFlags(flags)
	fd, err := syscall.Open(n.backingPath(), bflags, 0)
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	h, errno := n.ffs.newHandle(n, fd, trunc, sync)
	if errno != 0 {
		return nil, 0, errno
	}
	return h, fuse.FOPEN_DIRECT_IO, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	bflags, trunc, sync := openFlags(flags)
	// The loopback creates the file and its inode; we take over its
	// descriptor.
	ch, lfh, _, errno := n.LoopbackNode.Create(ctx, name, uint32(bflags|syscall.O_CREAT|int(flags)&syscall.O_EXCL), mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	lf := lfh.(*fs.LoopbackFile)
	lfd, _ := lf.PassthroughFd()
	fd, err := unix.FcntlInt(uintptr(lfd), unix.F_DUPFD_CLOEXEC, 0)
	lf.Release(ctx)
	if err != nil {
		return nil, nil, 0, fs.ToErrno(err)
	}
	cn := ch.Operations().(*node)
	h, errno := n.ffs.newHandle(cn, fd, trunc, sync)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) == nil {
		n.ffs.adjust(&st)
		out.Attr.Size = uint64(st.Size)
	}
	return ch, h, fuse.FOPEN_DIRECT_IO, 0
}

func (f *FS) newHandle(n *node, fd int, trunc, sync bool) (*handle, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, fs.ToErrno(err)
	}
	h := &handle{ffs: f, node: n, fd: fd, key: keyOf(&st), sync: sync}
	if trunc {
		if errno := f.truncate(fd, n, 0); errno != 0 {
			syscall.Close(fd)
			return nil, errno
		}
	}
	return h, 0
}

// handle is an open file. All data goes through it.
type handle struct {
	ffs  *FS
	node *node
	fd   int
	key  fileKey
	sync bool // O_SYNC / O_DSYNC: every write is flushed before it returns
}

var (
	_ fs.FileReader    = (*handle)(nil)
	_ fs.FileWriter    = (*handle)(nil)
	_ fs.FileWritever  = (*handle)(nil)
	_ fs.FileFsyncer   = (*handle)(nil)
	_ fs.FileFlusher   = (*handle)(nil)
	_ fs.FileReleaser  = (*handle)(nil)
	_ fs.FileGetattrer = (*handle)(nil)
	_ fs.FileSetattrer = (*handle)(nil)
)

func (h *handle) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f := h.ffs
	f.st.reads.Add(1)
	rel := h.node.rel()
	if f.faults.hit(ErrorReads, rel) {
		f.st.readErrors.Add(1)
		return nil, syscall.EIO
	}
	var n int
	var err error
	if d := f.cache.lookup(h.key); d != nil {
		n, err = d.readAt(h.fd, buf, off)
		d.mu.Unlock()
	} else {
		n, err = preadSome(h.fd, buf, off)
	}
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	if n > 0 && f.faults.hit(CorruptReads, rel) {
		f.st.corruptReads.Add(1)
		f.faults.corrupt(buf[:n])
	}
	return fuse.ReadResultData(buf[:n]), 0
}

// preadSome reads until buf is full or the file ends.
func preadSome(fd int, buf []byte, off int64) (int, error) {
	total := 0
	for total < len(buf) {
		n, err := unix.Pread(fd, buf[total:], off+int64(total))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
		total += n
	}
	return total, nil
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	f := h.ffs
	f.st.writes.Add(1)
	rel := h.node.rel()
	if f.faults.hit(ErrorWrites, rel) {
		f.st.writeErrors.Add(1)
		return 0, syscall.EIO
	}
	if f.faults.hit(DropWrites, rel) {
		f.st.dropped.Add(1)
		return uint32(len(data)), 0
	}
	want := len(data)
	torn := false
	if len(data) > 0 && f.faults.hit(TornWrites, rel) {
		torn = true
		f.st.torn.Add(1)
		data = data[:f.faults.intN(len(data))]
	}
	if len(data) > 0 && f.faults.hit(CorruptWrites, rel) {
		f.st.corruptWrites.Add(1)
		data = append([]byte(nil), data...)
		f.faults.corrupt(data)
	}
	d, err := f.cache.acquire(h.key, h.fd, h.node.EmbeddedInode())
	if err != nil {
		return 0, fs.ToErrno(err)
	}
	d.write(data, off)
	if h.sync {
		err = f.cache.flush(d)
	}
	d.mu.Unlock()
	f.st.writeBytes.Add(int64(len(data)))
	if err != nil {
		return 0, fs.ToErrno(err)
	}
	if torn {
		return 0, syscall.EIO
	}
	return uint32(want), 0
}

// Writev is Write on the buffers joined: the kernel may hand a request's
// data over in pieces.
func (h *handle) Writev(ctx context.Context, iov [][]byte, off int64) (uint32, syscall.Errno) {
	if len(iov) == 1 {
		return h.Write(ctx, iov[0], off)
	}
	var all []byte
	for _, b := range iov {
		all = append(all, b...)
	}
	return h.Write(ctx, all, off)
}

// Fsync (and fdatasync) makes the file's buffered writes durable.
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	f := h.ffs
	f.st.fsyncs.Add(1)
	if f.faults.hit(ErrorWrites, h.node.rel()) {
		f.st.writeErrors.Add(1)
		return syscall.EIO
	}
	if d := f.cache.lookup(h.key); d != nil {
		err := f.cache.flush(d)
		d.mu.Unlock()
		return fs.ToErrno(err)
	}
	return fs.ToErrno(unix.Fsync(h.fd))
}

// Flush (on close) writes nothing back: data stays buffered until fsync.
func (h *handle) Flush(ctx context.Context) syscall.Errno { return 0 }

func (h *handle) Release(ctx context.Context) syscall.Errno {
	return fs.ToErrno(syscall.Close(h.fd))
}

func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Fstat(h.fd, &st); err != nil {
		return fs.ToErrno(err)
	}
	h.ffs.adjust(&st)
	out.FromStat(&st)
	return 0
}

func (h *handle) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok {
		if errno := h.ffs.truncate(h.fd, h.node, int64(sz)); errno != 0 {
			return errno
		}
	}
	if m, ok := in.GetMode(); ok {
		if err := syscall.Fchmod(h.fd, m); err != nil {
			return fs.ToErrno(err)
		}
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		u, g := -1, -1
		if uok {
			u = int(uid)
		}
		if gok {
			g = int(gid)
		}
		if err := syscall.Fchown(h.fd, u, g); err != nil {
			return fs.ToErrno(err)
		}
	}
	if ts, ok := times(in); ok {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", h.fd), ts, 0); err != nil {
			return fs.ToErrno(err)
		}
		if d := h.ffs.cache.lookup(h.key); d != nil {
			d.mtime = time.Time{}
			d.mu.Unlock()
		}
	}
	return h.Getattr(ctx, out)
}

package aiofs

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/afero"
)

// File is an open file of an Fs. It implements afero.File, fs.ReadDirFile,
// io.WriterTo and io.ReaderFrom.
//
// The data of regular files goes through the Fs's cache and engine, at an
// offset the File keeps itself; everything else (directories, devices,
// terminals, pipes, sockets, and the files of pseudo-filesystems such as
// procfs and sysfs, which change without their size or times changing) is
// served by the file underneath, exactly as afero.OsFs (or the base of a
// wrapped Fs) serves it.
type File struct {
	fs   *Fs
	name string
	bf   afero.File // the file underneath: the base's, or an *os.File
	osf  *os.File   // bf, in an Fs over the OS; nil in a wrapped one
	data afero.File // what the engine reads and writes: osf, or a *baseFile
	kind fileKind
	n    *node // shared state of a cached file; nil for anything else

	readable, writable bool
	appendMode         bool
	writeThrough       bool // O_SYNC, O_DSYNC, O_DIRECT, or an Fs without write-behind
	directIO           bool // O_DIRECT: buffers must be aligned
	// stray is set, under Fs.mu, on a File opened only for reading once
	// its file was renamed or removed through a wrapped Fs that knows it
	// by path: the base file may now reach another file (see readStray).
	// Every read loads it, so it sits with the fields reads only read.
	stray atomic.Bool

	mu  sync.Mutex // guards off, fdOff and fdMoved; held across Read, Write and Seek
	off int64
	// fdOff is the descriptor's own offset, which the File's pread and
	// pwrite leave alone and only a lent Read (SyscallConn) or a SEEK_DATA
	// moves, or -1 when not known; fdMoved is set once a lent Read may have
	// moved it, and the File's offset is then where the descriptor's is
	// (see settleOff).
	fdOff   int64
	fdMoved bool

	// Guarded by Fs.mu.
	werr    error       // sticky background write error
	lost    bool        // the data werr stands for was dropped: no Sync clears it
	seen    os.FileInfo // the base's Stat at Open, for Stat in a wrapped Fs
	seenSeq uint64      // node.changedSeq then

	// Every read writes ops's count and ra's lock and first words: they
	// come last, next to each other, so that readers sharing the File on
	// other cores pass one or two cache lines between them rather than
	// four, and more than a line away from the fields above that reads
	// only read, so that those stay cached in every core.
	ops opGuard   // keeps bf open while operations use it
	ra  readahead // has a lock of its own
}

var (
	_ afero.File     = (*File)(nil)
	_ fs.ReadDirFile = (*File)(nil)
	_ io.WriterTo    = (*File)(nil)
	_ io.ReaderFrom  = (*File)(nil)
)

// errWriteAtInAppendMode has the text package os uses for the same misuse.
var errWriteAtInAppendMode = errors.New("os: invalid use of WriteAt on file opened with O_APPEND")

// openFile opens name and wraps it. The descriptor is opened without
// O_APPEND: appends are placed by the File at the size the Fs knows,
// which includes buffered data.
func (fs *Fs) openFile(name string, flag int, perm os.FileMode) (*File, error) {
	if fs.closed.Load() {
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrClosed}
	}
	// open(2) truncates; attach makes sure no flush of data from before
	// the open lands after it.
	seq := fs.flushSeq.Load()
	changes := fs.changedSeq.Load() // to tell whether the Stat below may be old
	defer fs.store.rlockNames()()
	bf, err := fs.store.open(name, flag&^os.O_APPEND, perm)
	if err != nil {
		return nil, err
	}
	f := &File{fs: fs, name: name, bf: bf}
	fi, err := bf.Stat()
	if err != nil {
		bf.Close()
		return nil, err
	}
	f.appendMode = flag&os.O_APPEND != 0
	f.data = fs.store.dataFile(bf)
	f.osf, _ = f.data.(*os.File)
	if f.osf != nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		if f.osf, err = asOpened(f.osf); err != nil {
			return nil, err
		}
		f.bf, f.data = f.osf, f.osf
	}
	if !fi.Mode().IsRegular() || f.osf != nil && onPseudoFS(f.osf, fi) {
		// Served as afero.OsFs or the base serves it, O_APPEND included.
		if f.appendMode {
			if err := f.restoreAppend(flag, perm); err != nil {
				return nil, err
			}
		}
		return f, nil
	}
	f.kind = kindCached
	// The access mode 3 that Linux accepts allows neither.
	acc := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	f.readable = acc == os.O_RDONLY || acc == os.O_RDWR
	f.writable = acc == os.O_WRONLY || acc == os.O_RDWR
	f.directIO = directFlag != 0 && flag&directFlag != 0
	f.writeThrough = flag&(os.O_SYNC|dsyncFlag) != 0 || f.directIO || fs.cfg.writeBehind <= 0
	if err := fs.attach(f, fi, flag&os.O_TRUNC != 0, seq, changes); err != nil {
		bf.Close()
		return nil, f.pathErr("open", err)
	}
	return f, nil
}

// restoreAppend gives a file the File does not serve itself the O_APPEND
// mode it was opened without: its descriptor's, or for a base file, a
// new handle opened with it.
func (f *File) restoreAppend(flag int, perm os.FileMode) error {
	if f.osf != nil {
		if err := setAppend(f.osf); err != nil {
			f.osf.Close()
			return f.pathErr("open", err)
		}
		return nil
	}
	f.bf.Close()
	bf, err := f.fs.base.OpenFile(f.name, flag, perm)
	if err != nil {
		return err
	}
	f.bf = bf
	return nil
}

// flushable reports whether flushes may write through f: a descriptor
// that takes any buffer and writes where it is told.
func (f *File) flushable() bool { return f.writable && !f.directIO }

// pathErr returns err as the File reports it: the bare errno of an engine
// or system call in an *os.PathError, as package os does; a wrapped
// base's error as the base gave it.
func (f *File) pathErr(op string, err error) error { return f.fs.store.pathErr(op, f.name, err) }

// Name returns the name as given to Open or OpenFile; in a wrapped Fs,
// the base file's Name, which some bases normalize (BasePathFs, MemMapFs).
func (f *File) Name() string {
	if f.fs.store.remote() {
		return f.bf.Name()
	}
	return f.name
}

// Read reads up to len(p) bytes at the file's offset and advances it. At
// end of file it returns 0, io.EOF.
func (f *File) Read(p []byte) (int, error) {
	nd := needRead
	if len(p) == 0 && !f.baseJudges() {
		nd = needNothing // os.File reads nothing at once
	}
	if err := f.admit("read", nd); err != nil {
		if err == errUnderneath {
			return f.bf.Read(p)
		}
		return 0, err
	}
	defer f.ops.exit()
	if len(p) == 0 {
		return 0, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.settleOff(); err != nil {
		return 0, f.pathErr("read", err)
	}
	if overflows(f.off, len(p)) {
		switch err := f.refuse(f.pathErr("read", syscall.EINVAL)); {
		case err == errUnderneath:
			return f.bf.ReadAt(p, f.off)
		case !clipsAtMaxOffset:
			return 0, err
		}
		p = p[:math.MaxInt64-f.off]
	}
	n, err := f.n.readAt(f, p, f.off)
	f.off += int64(n)
	if err != nil {
		return n, f.pathErr("read", err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// overflows reports whether a transfer of n bytes at off would end past
// the largest offset, which read(2) and write(2) refuse with EINVAL or cut
// short (see clipsAtMaxOffset). Like them it counts at most the 1 GiB
// that package os passes in one call.
func overflows(off int64, n int) bool {
	return off > math.MaxInt64-int64(min(n, 1<<30))
}

// ReadAt reads len(p) bytes at off. It returns fewer only with an error,
// io.EOF at end of file.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if f.readHot(p, off) {
		return len(p), nil
	}
	done, err := f.admitAt("read", needRead, off, len(p))
	if err == errUnderneath {
		return f.bf.ReadAt(p, off)
	}
	if done || err != nil {
		return 0, err
	}
	defer f.ops.exit()
	want := len(p)
	if overflows(off, len(p)) {
		if !clipsAtMaxOffset {
			if err := f.refuse(f.pathErr("read", syscall.EINVAL)); err != errUnderneath {
				return 0, err
			}
			return f.bf.ReadAt(p, off)
		}
		p = p[:math.MaxInt64-off] // the rest is past the largest offset
	}
	n, err := f.n.readPastHot(f, p, off)
	if err != nil {
		return n, f.pathErr("read", err)
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// Write writes p at the file's offset, or at the end of the file in
// O_APPEND mode, and advances the offset. With write-behind it returns
// once p is copied into the Fs's buffers; a failure of an earlier
// background write is returned instead of accepting p.
func (f *File) Write(p []byte) (int, error) {
	if err := f.admit("write", needWrite); err != nil {
		if err == errUnderneath {
			return f.bf.Write(p)
		}
		return 0, err
	}
	defer f.ops.exit()
	if len(p) == 0 {
		// Like write(2), an empty write leaves even an appender's offset.
		if err := f.stickyErr(); err != nil {
			return 0, f.pathErr("write", err)
		}
		return 0, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.settleOff(); err != nil {
		return 0, f.pathErr("write", err)
	}
	off := f.off
	if f.appendMode {
		off = -1
	}
	n, end, err := f.n.writeAt(f, p, off)
	if n > 0 {
		f.off = end
	}
	if err != nil {
		return n, f.pathErr("write", err)
	}
	return n, nil
}

// WriteAt writes p at off. It is an error on a file opened with O_APPEND.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if f.appendMode {
		return 0, errWriteAtInAppendMode
	}
	done, err := f.admitAt("write", needWrite, off, len(p))
	if err == errUnderneath {
		return f.bf.WriteAt(p, off)
	}
	if done || err != nil {
		return 0, err
	}
	defer f.ops.exit()
	n, _, err := f.n.writeAt(f, p, off)
	if err != nil {
		return n, f.pathErr("write", err)
	}
	return n, nil
}

// failedWrite gives f the error of a background write of its file, unless
// it has one to report already. Called with fs.mu held.
func (f *File) failedWrite(err error) {
	if f.werr == nil {
		f.werr = err
	}
}

// writeLost marks f's write error, if any, as standing for data dropped,
// which no Sync can mend. Called with fs.mu held.
func (f *File) writeLost() {
	if f.werr != nil {
		f.lost = true
	}
}

// clearWriteErr clears f's write error after a Sync wrote and committed
// all the Fs had of the file, unless the data it stood for was lost.
// Called with fs.mu held.
func (f *File) clearWriteErr() {
	if !f.lost {
		f.werr = nil
	}
}

// stickyErr returns f's background write error.
func (f *File) stickyErr() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.werr
}

// WriteString is Write of the bytes of s.
func (f *File) WriteString(s string) (int, error) {
	return f.Write([]byte(s))
}

// Seek sets the offset of the next Read or Write, as os.File.Seek. Seeking
// relative to the end uses the size including buffered data.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if err := f.admit("seek", needNothing); err != nil {
		if err == errUnderneath {
			return f.bf.Seek(offset, whence)
		}
		return 0, err
	}
	defer f.ops.exit()
	f.mu.Lock()
	defer f.mu.Unlock()
	var base int64
	switch {
	case whence == io.SeekStart:
	case whence == io.SeekCurrent:
		if err := f.settleOff(); err != nil {
			return 0, f.pathErr("seek", err)
		}
		base = f.off
	case whence == io.SeekEnd && !f.stray.Load():
		size, err := f.size()
		if err != nil {
			return 0, f.pathErr("seek", err)
		}
		base = size
	default:
		// SEEK_DATA, SEEK_HOLE and the like, and the end of a stray
		// File's file: the file knows, once it holds the buffered data.
		if f.stray.Load() {
			f.flushForStray()
		} else {
			f.n.flushNode()
		}
		pos, err := f.bf.Seek(offset, whence)
		if err == nil {
			f.off, f.fdOff, f.fdMoved = pos, pos, false
		}
		return pos, err
	}
	pos := base + offset
	if pos < 0 || offset > 0 && pos < base {
		err := f.pathErr("seek", syscall.EINVAL)
		if offset > 0 {
			err = f.pathErr("seek", errSeekOverflow)
		}
		if err = f.refuse(err); err == errUnderneath {
			return f.bf.Seek(offset, whence)
		}
		return 0, err
	}
	if f.baseJudges() && f.pastSize(pos) {
		// Only the base knows how far it may seek.
		if err := f.data.(*baseFile).seekable(pos); err != nil {
			return 0, err
		}
	}
	if !f.n.limit.seekable(pos, f.n.seeksOn(f.osf)) {
		// The file system's largest offset, which lseek(2) refuses.
		return 0, f.pathErr("seek", syscall.EINVAL)
	}
	if f.fdMoved {
		// The File's offset is set: the descriptor's is unknown.
		f.fdMoved, f.fdOff = false, -1
	}
	f.off = pos
	return pos, nil
}

// pastSize reports whether pos lies past the end of the file as the Fs
// knows it, or the Fs does not know it, or f is stray, when only its base
// file knows where its file ends.
func (f *File) pastSize(pos int64) bool {
	if f.stray.Load() {
		return true
	}
	size, ok := f.n.bufferedSize()
	return !ok || pos > size
}

// Stat returns the file's FileInfo, with a size that includes buffered
// data. A wrapped File answers with what the base's Stat said at Open
// while the Fs has not changed the file since (close-to-open), sparing a
// round trip to a remote base.
func (f *File) Stat() (os.FileInfo, error) {
	if err := f.admit("stat", needNothing); err != nil {
		if err == errUnderneath {
			return f.bf.Stat()
		}
		return nil, err
	}
	defer f.ops.exit()
	if f.stray.Load() {
		f.flushForStray()
		return f.bf.Stat()
	}
	if fi := f.seenInfo(); fi != nil {
		return fi, nil
	}
	return f.fs.stat(f.bf.Stat, func(os.FileInfo) *node { return f.n })
}

// Sync writes the file's buffered data, waits for it, and commits the file
// to stable storage through the engine. It returns the error that stopped
// it, or a background write error this handle has not yet seen cleared;
// a Sync that succeeds clears it, unless the data it stood for is lost.
func (f *File) Sync() error {
	if err := f.admit("sync", needNothing); err != nil {
		if err == errUnderneath {
			return f.bf.Sync()
		}
		return err
	}
	defer f.ops.exit()
	via, errSeq, written, err := f.n.syncData(f)
	if err != nil {
		return f.pathErr("write", err)
	}
	err = f.fs.eng.fsync(via.data)
	via.ops.exit()
	if err != nil {
		return f.pathErr("sync", f.ownErr(err, via))
	}
	if err := f.n.syncedBy(f, errSeq, written); err != nil {
		return f.pathErr("write", err)
	}
	return nil
}

// ownErr returns err, met by a call through via's base file for f, as
// f's base file reports it: a base's *fs.PathError names the file it
// was called on, and the caller called f.
func (f *File) ownErr(err error, via *File) error {
	if pe, ok := err.(*fs.PathError); ok && via != f && pe.Path == via.bf.Name() {
		return &fs.PathError{Op: pe.Op, Path: f.bf.Name(), Err: pe.Err}
	}
	return err
}

// Truncate changes the size of the file, as os.File.Truncate, in order
// with the writes made before it.
func (f *File) Truncate(size int64) error {
	if err := f.admit("truncate", needNothing); err != nil {
		if err == errUnderneath {
			return f.bf.Truncate(size)
		}
		return err
	}
	defer f.ops.exit()
	if size < 0 || !f.writable {
		return f.bf.Truncate(size) // fails as the OS or the base fails it
	}
	return f.n.truncate(f, size)
}

// Close writes the file's buffered data, waits for its operations, and
// closes it. It does not commit the data to stable storage, as
// os.File.Close does not; it returns any write error not yet cleared.
func (f *File) Close() error {
	if f.kind == kindPassthrough {
		return f.bf.Close()
	}
	if !f.ops.close() {
		if err := f.refuse(f.pathErr("close", os.ErrClosed)); err != errUnderneath {
			return err
		}
		return f.bf.Close()
	}
	keptBase, werr := f.fs.detach(f)
	var err error
	if !keptBase {
		err = f.bf.Close()
	}
	if werr != nil {
		return f.pathErr("write", werr)
	}
	return err
}

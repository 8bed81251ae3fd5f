package aiofs

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"sync"
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
	n    *node      // shared state of a regular file; nil for anything else

	readable, writable bool
	appendMode         bool
	writeThrough       bool // O_SYNC, O_DSYNC, O_DIRECT, or an Fs without write-behind
	directIO           bool // O_DIRECT: buffers must be aligned

	ops opGuard // keeps bf open while operations use it

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
	werr   error       // sticky background write error
	lost   bool        // the data werr stands for was dropped: no Sync clears it
	seen   os.FileInfo // the base's Stat at Open, for Stat in a wrapped Fs
	seenAt uint64      // node.changes then

	ra readahead // has a lock of its own
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
	changes := fs.changes.Load() // to tell whether the Stat below may be old
	defer fs.rlockNames()()
	bf, err := fs.openBase(name, flag&^os.O_APPEND, perm)
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
	if fs.wrapped {
		f.data = newBaseFile(bf)
	} else {
		f.osf = osFile(bf)
		f.data = f.osf
	}
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

// openBase opens name in the base, through its own Open and Create when
// the flags are theirs, so that errors name the operation the base's own
// do ("open", "create"); the OS's files as package os opens them.
func (fs *Fs) openBase(name string, flag int, perm os.FileMode) (afero.File, error) {
	if !fs.wrapped {
		f, err := openOS(name, flag, perm)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	switch {
	case flag == os.O_RDONLY:
		return fs.base.Open(name)
	case flag == os.O_RDWR|os.O_CREATE|os.O_TRUNC && perm == 0o666:
		return fs.base.Create(name)
	}
	return fs.base.OpenFile(name, flag, perm)
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

// enter admits an operation, reporting ErrClosed once Close of the file or
// of its Fs has begun. The caller must call f.ops.exit when enter returns
// nil.
func (f *File) enter(op string) error {
	if f.fs.closed.Load() || !f.ops.tryHold() {
		return f.pathErr(op, os.ErrClosed)
	}
	return nil
}

// refers reports whether a call the File refuses goes to the base file
// instead, for the base's own error: in a wrapped Fs that is open, a call
// after the handle's Close or one that misuses it (its access mode, a bad
// offset).
func (f *File) refers() bool { return f.fs.wrapped && !f.fs.closed.Load() }

// pathErr returns err as the File reports it: the bare errno of an engine
// or system call in an *os.PathError, as package os does; a wrapped
// base's error as the base gave it.
func (f *File) pathErr(op string, err error) error { return f.fs.pathErr(op, f.name, err) }

// Name returns the name as given to Open or OpenFile; in a wrapped Fs,
// the base file's Name, which some bases normalize (BasePathFs, MemMapFs).
func (f *File) Name() string {
	if f.fs.wrapped {
		return f.bf.Name()
	}
	return f.name
}

// Read reads up to len(p) bytes at the file's offset and advances it. At
// end of file it returns 0, io.EOF.
func (f *File) Read(p []byte) (int, error) {
	if f.n == nil {
		return f.bf.Read(p)
	}
	if err := f.enter("read"); err != nil {
		if f.refers() {
			return f.bf.Read(p)
		}
		return 0, err
	}
	defer f.ops.exit()
	if len(p) == 0 && (f.readable || !f.refers()) { // misuse is the base's to judge
		return 0, nil
	}
	if !f.readable {
		if f.refers() {
			return f.bf.Read(p)
		}
		return 0, f.pathErr("read", syscall.EBADF)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.settleOff(); err != nil {
		return 0, f.pathErr("read", err)
	}
	if overflows(f.off, len(p)) {
		if f.refers() {
			return f.bf.ReadAt(p, f.off)
		}
		if !clipsAtMaxOffset {
			return 0, f.pathErr("read", syscall.EINVAL)
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
	if f.n == nil || off < 0 && f.refers() {
		return f.bf.ReadAt(p, off)
	}
	if off < 0 {
		return 0, f.pathErr("readat", errors.New("negative offset"))
	}
	// Nothing to do, unless a wrapped base's handle is to say whether it
	// is closed or used against its mode (os.File does not say; others
	// do).
	if len(p) == 0 && !f.refers() {
		return 0, nil
	}
	if err := f.enter("read"); err != nil {
		if f.refers() {
			return f.bf.ReadAt(p, off)
		}
		return 0, err
	}
	defer f.ops.exit()
	if len(p) == 0 && f.readable {
		return 0, nil
	}
	if !f.readable || overflows(off, len(p)) && !clipsAtMaxOffset {
		if f.refers() {
			return f.bf.ReadAt(p, off)
		}
		if !f.readable {
			return 0, f.pathErr("read", syscall.EBADF)
		}
		return 0, f.pathErr("read", syscall.EINVAL)
	}
	want := len(p)
	if overflows(off, len(p)) {
		p = p[:math.MaxInt64-off] // the rest is past the largest offset
	}
	n, err := f.n.readAt(f, p, off)
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
	if f.n == nil {
		return f.bf.Write(p)
	}
	if err := f.enter("write"); err != nil {
		if f.refers() {
			return f.bf.Write(p)
		}
		return 0, err
	}
	defer f.ops.exit()
	if !f.writable {
		if f.refers() {
			return f.bf.Write(p)
		}
		return 0, f.pathErr("write", syscall.EBADF)
	}
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
	if f.n == nil || off < 0 && f.refers() {
		return f.bf.WriteAt(p, off)
	}
	if off < 0 {
		return 0, f.pathErr("writeat", errors.New("negative offset"))
	}
	// Nothing to do, unless a wrapped base's handle is to say whether it
	// is closed or used against its mode (os.File does not say; others
	// do).
	if len(p) == 0 && !f.refers() {
		return 0, nil
	}
	if err := f.enter("write"); err != nil {
		if f.refers() {
			return f.bf.WriteAt(p, off)
		}
		return 0, err
	}
	defer f.ops.exit()
	if len(p) == 0 && f.writable {
		return 0, nil
	}
	if !f.writable {
		if f.refers() {
			return f.bf.WriteAt(p, off)
		}
		return 0, f.pathErr("write", syscall.EBADF)
	}
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
	if f.n == nil {
		return f.bf.Seek(offset, whence)
	}
	if err := f.enter("seek"); err != nil {
		if f.refers() {
			return f.bf.Seek(offset, whence)
		}
		return 0, err
	}
	defer f.ops.exit()
	f.mu.Lock()
	defer f.mu.Unlock()
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		if err := f.settleOff(); err != nil {
			return 0, f.pathErr("seek", err)
		}
		base = f.off
	case io.SeekEnd:
		size, err := f.size()
		if err != nil {
			return 0, f.pathErr("seek", err)
		}
		base = size
	default:
		// SEEK_DATA, SEEK_HOLE and the like: the file knows, once it holds
		// the buffered data.
		f.n.flushNode()
		pos, err := f.bf.Seek(offset, whence)
		if err == nil {
			f.off, f.fdOff, f.fdMoved = pos, pos, false
		}
		return pos, err
	}
	pos := base + offset
	if pos < 0 || offset > 0 && pos < base {
		if f.refers() {
			return f.bf.Seek(offset, whence)
		}
		if offset > 0 {
			return 0, f.pathErr("seek", errSeekOverflow)
		}
		return 0, f.pathErr("seek", syscall.EINVAL)
	}
	if f.refers() && f.pastSize(pos) {
		// Only the base knows how far it may seek.
		if err := f.data.(*baseFile).seekable(pos); err != nil {
			return 0, err
		}
	}
	if !f.n.limit.seekable(f.osf, pos) {
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
// knows it, or the Fs does not know it.
func (f *File) pastSize(pos int64) bool {
	size, ok := f.n.bufferedSize()
	return !ok || pos > size
}

// Stat returns the file's FileInfo, with a size that includes buffered
// data. A wrapped File answers with what the base's Stat said at Open
// while the Fs has not changed the file since (close-to-open), sparing a
// round trip to a remote base.
func (f *File) Stat() (os.FileInfo, error) {
	if f.n == nil {
		return f.bf.Stat()
	}
	if err := f.enter("stat"); err != nil {
		if f.refers() {
			return f.bf.Stat()
		}
		return nil, err
	}
	defer f.ops.exit()
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
	if f.n == nil {
		return f.bf.Sync()
	}
	if err := f.enter("sync"); err != nil {
		if f.refers() {
			return f.bf.Sync()
		}
		return err
	}
	defer f.ops.exit()
	errSeq, written, err := f.n.syncData(f)
	if err != nil {
		return f.pathErr("write", err)
	}
	if err := f.fs.eng.fsync(f.data); err != nil {
		return f.pathErr("sync", err)
	}
	if err := f.n.syncedBy(f, errSeq, written); err != nil {
		return f.pathErr("write", err)
	}
	return nil
}

// Truncate changes the size of the file, as os.File.Truncate, in order
// with the writes made before it.
func (f *File) Truncate(size int64) error {
	if f.n == nil {
		return f.bf.Truncate(size)
	}
	if err := f.enter("truncate"); err != nil {
		if f.refers() {
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
	if f.n == nil {
		return f.bf.Close()
	}
	if !f.ops.close() {
		if f.refers() {
			return f.bf.Close()
		}
		return f.pathErr("close", os.ErrClosed)
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

// Readdir reads the directory's entries, as os.File.Readdir.
func (f *File) Readdir(count int) ([]os.FileInfo, error) {
	fis, err := f.bf.Readdir(count)
	f.fs.withBufferedSizes(f.name, fis)
	return fis, err
}

// Readdirnames reads the directory's entry names, as os.File.Readdirnames.
func (f *File) Readdirnames(n int) ([]string, error) { return f.bf.Readdirnames(n) }

// ReadDir reads the directory's entries, as os.File.ReadDir.
func (f *File) ReadDir(n int) ([]fs.DirEntry, error) {
	des, err := f.readDir(n)
	f.fs.withBufferedEntries(f.name, des)
	return des, err
}

// readDir is ReadDir of the file underneath, made from Readdir for a base
// file without one.
func (f *File) readDir(n int) ([]fs.DirEntry, error) {
	if rd, ok := f.bf.(fs.ReadDirFile); ok {
		return rd.ReadDir(n)
	}
	fis, err := f.bf.Readdir(n)
	des := make([]fs.DirEntry, len(fis))
	for i, fi := range fis {
		des[i] = fs.FileInfoToDirEntry(fi)
	}
	return des, err
}

// chunk is the buffer size WriteTo and ReadFrom copy with: the initial
// readahead window, so that WriteTo reads are seen as a stream.
const chunk = initialWindow

// chunks recycles WriteTo's and ReadFrom's buffers: allocating and
// clearing one per call cost a small file's io.Copy five times its reads.
var chunks = sync.Pool{New: func() any { return new([chunk]byte) }}

// WriteTo writes the rest of the file to w, reading through the cache and
// readahead, so that io.Copy from a File streams.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	if f.n == nil {
		if wt, ok := f.bf.(io.WriterTo); ok {
			return wt.WriteTo(w)
		}
		return io.Copy(w, struct{ io.Reader }{f.bf})
	}
	bp := chunks.Get().(*[chunk]byte)
	defer chunks.Put(bp)
	buf := bp[:]
	var total int64
	for {
		n, err := f.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
			if m != n {
				return total, io.ErrShortWrite
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// ReadFrom writes what r yields to the file, so that io.Copy to a File
// fills write-behind buffers in large pieces.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	if f.n == nil {
		if rf, ok := f.bf.(io.ReaderFrom); ok {
			return rf.ReadFrom(r)
		}
		return io.Copy(struct{ io.Writer }{f.bf}, r)
	}
	bp := chunks.Get().(*[chunk]byte)
	defer chunks.Put(bp)
	buf := bp[:]
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := f.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

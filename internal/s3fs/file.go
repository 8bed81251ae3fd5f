package s3fs

import (
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/minio/minio-go/v7"

	"github.com/aiofs/aiofs/internal/remotefile"
)

// A File is an open object or directory.
//
// ReadAt and WriteAt may be called concurrently, with each other and with
// the other methods: a ReadAt is a request of its own, and a WriteAt
// writes the spool's file at its offset. Read, Write, Seek and Readdir
// share the file offset and are serialized, as on an *os.File.
type File struct {
	fsys     *Fs
	name     string // as given to OpenFile
	key      string
	dir      bool
	readable bool
	writable bool
	append   bool   // O_APPEND: every Write goes to the end of file
	sp       *spool // for a writable file
	closed   atomic.Bool

	mu      sync.Mutex // guards the fields below
	offset  int64
	listing remotefile.Listing
}

// Name returns the name as given to OpenFile.
func (f *File) Name() string { return f.name }

// check returns the error os gives for an operation on a closed file, or
// on a directory when data is asked for.
func (f *File) check(data bool) error {
	if f.closed.Load() {
		return os.ErrClosed
	}
	if data && f.dir {
		return syscall.EISDIR
	}
	return nil
}

// checkIO is check for a read (or a write) of data, which also needs a
// handle open for it: the *fs.PathError os gives, or nil.
func (f *File) checkIO(read bool) error {
	op, open := "write", f.writable
	if read {
		op, open = "read", f.readable
	}
	err := f.check(read)
	if err == nil && !open {
		err = syscall.EBADF
	}
	if err != nil {
		return pathError(op, f.name, err)
	}
	return nil
}

// Read reads from the file offset, as os.File.Read: io.EOF only once
// nothing is left.
func (f *File) Read(b []byte) (int, error) {
	if err := f.checkIO(true); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := remotefile.ReadAtOffset(b, &f.offset, f.readAt)
	return n, remotefile.ReadError(f.name, cause(err))
}

// ReadAt reads len(b) bytes at off with one ranged GET, or from the
// file's spool, as os.File.ReadAt reads: fewer only with an error, io.EOF
// at the end of file.
func (f *File) ReadAt(b []byte, off int64) (int, error) {
	if err := remotefile.CheckReadAt(f.name, off); err != nil {
		return 0, err
	}
	if err := f.checkIO(true); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	n, err := f.readAt(b, off)
	return n, remotefile.ReadError(f.name, cause(err))
}

// readAt reads from the file's spool, this handle's or another handle's
// of the Fs, or else with one ranged GET.
func (f *File) readAt(b []byte, off int64) (int, error) {
	sp := f.sp
	if sp == nil {
		sp = f.fsys.spoolOf(f.key)
	}
	if sp != nil {
		n, err := sp.f.ReadAt(b, off)
		if !errors.Is(err, os.ErrClosed) { // else its last writer closed it: the object has it
			return n, err
		}
	}
	return f.fsys.get(f.key, b, off)
}

// get reads len(b) bytes of key at off with a ranged GET, fewer and
// io.EOF where the object ends.
func (fsys *Fs) get(key string, b []byte, off int64) (int, error) {
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+int64(len(b))-1); err != nil {
		return 0, err
	}
	body, oi, _, err := fsys.core.GetObject(ctx(), fsys.bucket, key, opts)
	if err != nil {
		if badRange(err) {
			return 0, io.EOF
		}
		return 0, err
	}
	defer body.Close()
	n, err := io.ReadFull(body, b[:min(int64(len(b)), oi.Size)])
	if err != nil {
		// Fewer bytes than the response announced: the connection
		// failed, which is no end of file.
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// Write writes at the file offset, or at the end of file for O_APPEND.
func (f *File) Write(b []byte) (int, error) {
	if err := f.checkIO(false); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.append && len(b) > 0 { // an empty write leaves the offset, as os.File's
		f.sp.appendMu.Lock()
		defer f.sp.appendMu.Unlock()
		size, err := f.sp.size()
		if err != nil {
			return 0, pathError("write", f.name, err)
		}
		f.offset = size
	}
	n, err := f.sp.writeAt(b, f.offset)
	f.offset += int64(n)
	return n, pathError("write", f.name, err)
}

// WriteAt writes len(b) bytes at off; like os.File.WriteAt it refuses a
// file opened with O_APPEND.
// os checks the mode and the offset before it finds the file closed.
func (f *File) WriteAt(b []byte, off int64) (int, error) {
	if err := remotefile.CheckWriteAt(f.name, f.append, off); err != nil {
		return 0, err
	}
	if err := f.checkIO(false); err != nil {
		return 0, err
	}
	n, err := f.sp.writeAt(b, off)
	return n, pathError("write", f.name, err)
}

// WriteString is Write of s.
func (f *File) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

// Seek sets the file offset, as os.File.Seek; SeekEnd costs a HEAD unless
// the file is spooled.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if err := f.check(false); err != nil {
		return 0, pathError("seek", f.name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	offset, err := remotefile.Seek(offset, whence, f.offset, f.stat)
	if err != nil {
		return 0, pathError("seek", f.name, err)
	}
	f.offset = offset
	if f.dir && offset == 0 {
		f.listing.Reset() // rewinddir
	}
	return offset, nil
}

// Stat returns the FileInfo of the open file: its spool's, or the
// object's as a HEAD finds it now.
func (f *File) Stat() (os.FileInfo, error) {
	if err := f.check(false); err != nil {
		return nil, pathError("stat", f.name, err)
	}
	fi, err := f.stat()
	if err != nil {
		return nil, pathError("stat", f.name, err)
	}
	return fi, nil
}

func (f *File) stat() (os.FileInfo, error) {
	base := path.Base(path.Clean("/" + filepath.ToSlash(f.name)))
	if f.sp != nil {
		return f.sp.info(base)
	}
	_, fi, err := f.fsys.existing(f.name, f.key)
	if err != nil {
		return nil, err
	}
	return fi, nil
}

// Sync uploads the file's spool, this handle's or another's of the Fs, if
// it changed since its last upload: once it returns nil the object holds
// every write made before it.
func (f *File) Sync() error {
	if err := f.check(false); err != nil {
		return pathError("sync", f.name, err)
	}
	sp := f.sp
	if sp == nil {
		sp = f.fsys.spoolOf(f.key)
	}
	if sp == nil {
		return nil
	}
	return pathError("sync", f.name, sp.upload())
}

// Truncate changes the size of the spooled file.
func (f *File) Truncate(size int64) error {
	if err := f.check(false); err != nil {
		return pathError("truncate", f.name, err)
	}
	if size < 0 || !f.writable {
		return pathError("truncate", f.name, syscall.EINVAL)
	}
	return pathError("truncate", f.name, f.sp.truncate(size))
}

// Close closes the file; a writable one uploads what changed first. A
// second Close fails with os.ErrClosed.
func (f *File) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return pathError("close", f.name, os.ErrClosed)
	}
	f.mu.Lock()
	f.listing.Reset()
	f.mu.Unlock()
	if f.sp == nil {
		return nil
	}
	return pathError("close", f.name, f.sp.release())
}

// Readdir returns the directory's entries as os.File.Readdir does: for
// count > 0 at most count of them and io.EOF once none are left, for
// count <= 0 all that are left and a nil error. The listing is read from
// the server at the first call.
func (f *File) Readdir(count int) ([]os.FileInfo, error) {
	if err := f.check(false); err != nil {
		return nil, pathError("readdirent", f.name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.dir {
		return nil, pathError("readdirent", f.name, syscall.ENOTDIR)
	}
	return f.listing.Readdir(count, func() ([]os.FileInfo, error) {
		list, err := f.fsys.readdir(f.key)
		return list, pathError("readdirent", f.name, err)
	})
}

// Readdirnames is Readdir's names.
func (f *File) Readdirnames(n int) ([]string, error) { return remotefile.Names(f.Readdir(n)) }

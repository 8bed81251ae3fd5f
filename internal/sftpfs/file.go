package sftpfs

import (
	"errors"
	"os"
	"sync"
	"syscall"

	"github.com/pkg/sftp"

	"github.com/aiofs/aiofs/internal/remotefile"
)

// A File is an open file or directory on the server.
//
// ReadAt and WriteAt may be called concurrently, with each other and with
// the other methods: pkg/sftp's File.ReadAt and WriteAt hold only a read
// lock on the handle and send their own requests, so calls overlap on the
// link (its Close waits for them). Read, Write, Seek and Readdir share the
// file offset and are serialized, as on an *os.File.
type File struct {
	fsys   *Fs
	name   string     // as given to OpenFile
	path   string     // on the server
	f      *sftp.File // nil for a directory the server would not open
	append bool       // O_APPEND: every Write goes to the end of file

	mu      sync.Mutex // guards the fields below
	offset  int64
	closed  bool
	listing remotefile.Listing
}

// Name returns the name as given to OpenFile.
func (f *File) Name() string { return f.name }

// handle returns the sftp file, or the error os gives for I/O on a closed
// file or on a directory.
func (f *File) handle() (*sftp.File, error) {
	if f.f == nil {
		f.mu.Lock()
		closed := f.closed
		f.mu.Unlock()
		if closed {
			return nil, os.ErrClosed
		}
		return nil, syscall.EISDIR
	}
	return f.f, nil
}

// Read reads from the file offset, as os.File.Read: io.EOF only once
// nothing is left.
func (f *File) Read(b []byte) (int, error) {
	h, err := f.handle()
	if err != nil {
		return 0, pathError("read", f.name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := remotefile.ReadAtOffset(b, &f.offset, h.ReadAt)
	return n, remotefile.ReadError(f.name, cause(err))
}

// ReadAt reads len(b) bytes at off, in as many SFTP read requests as the
// client needs, as os.File.ReadAt reads: fewer only with an error, io.EOF
// at the end of file.
func (f *File) ReadAt(b []byte, off int64) (int, error) {
	if err := remotefile.CheckReadAt(f.name, off); err != nil {
		return 0, err
	}
	h, err := f.handle()
	if err != nil {
		return 0, pathError("read", f.name, err)
	}
	n, err := h.ReadAt(b, off)
	return n, remotefile.ReadError(f.name, cause(err))
}

// Write writes at the file offset, or at the end of file for O_APPEND.
func (f *File) Write(b []byte) (int, error) {
	h, err := f.handle()
	if err != nil {
		return 0, pathError("write", f.name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.append && len(b) > 0 { // an empty write leaves the offset, as os.File's
		fi, err := h.Stat()
		if err != nil {
			return 0, pathError("write", f.name, err)
		}
		f.offset = fi.Size()
	}
	n, err := h.WriteAt(b, f.offset)
	f.offset += int64(n)
	return n, pathError("write", f.name, err)
}

// WriteAt writes len(b) bytes at off; like os.File.WriteAt it refuses a
// file opened with O_APPEND.
func (f *File) WriteAt(b []byte, off int64) (int, error) {
	if err := remotefile.CheckWriteAt(f.name, f.append, off); err != nil {
		return 0, err
	}
	h, err := f.handle()
	if err != nil {
		return 0, pathError("write", f.name, err)
	}
	n, err := h.WriteAt(b, off)
	return n, pathError("write", f.name, err)
}

// WriteString is Write of s.
func (f *File) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

// Seek sets the file offset, as os.File.Seek; SeekEnd costs a stat.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, pathError("seek", f.name, os.ErrClosed)
	}
	offset, err := remotefile.Seek(offset, whence, f.offset, f.stat)
	if err != nil {
		return 0, pathError("seek", f.name, err)
	}
	f.offset = offset
	if f.f == nil && offset == 0 {
		f.listing.Reset() // rewinddir
	}
	return offset, nil
}

// Stat returns the FileInfo of the open file.
func (f *File) Stat() (os.FileInfo, error) {
	fi, err := f.stat()
	if err != nil {
		return nil, pathError("stat", f.name, err)
	}
	return fi, nil
}

func (f *File) stat() (os.FileInfo, error) {
	if f.f == nil {
		if _, err := f.handle(); errors.Is(err, os.ErrClosed) {
			return nil, err
		}
		return f.fsys.c.Stat(f.path)
	}
	return f.f.Stat()
}

// Sync asks the server to fsync the file. Without the server's
// fsync@openssh.com extension it fails with ErrNoFsync.
func (f *File) Sync() error {
	h, err := f.handle()
	if errors.Is(err, syscall.EISDIR) || (err == nil && !f.fsys.fsync) {
		err = ErrNoFsync
	}
	if err == nil {
		err = h.Sync()
	}
	return pathError("sync", f.name, err)
}

// Truncate changes the size of the file.
func (f *File) Truncate(size int64) error {
	if size < 0 {
		return pathError("truncate", f.name, syscall.EINVAL)
	}
	h, err := f.handle()
	if err == nil {
		err = h.Truncate(size)
	}
	return pathError("truncate", f.name, err)
}

// Close closes the file; a second Close fails with os.ErrClosed.
func (f *File) Close() error {
	f.mu.Lock()
	closed := f.closed
	f.closed = true
	f.listing.Reset()
	f.mu.Unlock()
	if closed {
		return pathError("close", f.name, os.ErrClosed)
	}
	if f.f == nil {
		return nil
	}
	return pathError("close", f.name, f.f.Close())
}

// Readdir returns the directory's entries as os.File.Readdir does: for
// count > 0 at most count of them and io.EOF once none are left, for
// count <= 0 all that are left and a nil error. The listing is read from
// the server at the first call.
func (f *File) Readdir(count int) ([]os.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, pathError("readdirent", f.name, os.ErrClosed)
	}
	return f.listing.Readdir(count, func() ([]os.FileInfo, error) {
		list, err := f.fsys.c.ReadDir(f.path)
		if err != nil {
			if fi, serr := f.stat(); serr == nil && !fi.IsDir() {
				err = syscall.ENOTDIR
			}
			return nil, pathError("readdirent", f.name, err)
		}
		sortByName(list)
		return list, nil
	})
}

// Readdirnames is Readdir's names.
func (f *File) Readdirnames(n int) ([]string, error) { return remotefile.Names(f.Readdir(n)) }

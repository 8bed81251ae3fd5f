package aiofs

import (
	"errors"
	"io"
	"syscall"
)

// SyscallConn returns a raw connection to the file's descriptor, as
// os.File.SyscallConn does, so that net/http sends the file with
// sendfile(2) instead of copying it. For a regular file, its Read brings
// the descriptor in line with the File first: the Fs's buffered data of
// the file is written, and the descriptor's offset is the File's, and
// afterwards the File's offset is where the descriptor's ended. The
// descriptor is seeked only when its offset is not the File's already. Its
// Write is not supported: bytes written behind the cache's back would
// make it disagree with the file. The files of a wrapped Fs have no
// descriptor and return errors.ErrUnsupported.
func (f *File) SyscallConn() (syscall.RawConn, error) {
	if f.osf == nil {
		// A wrapped file has no descriptor of the OS to lend.
		return nil, f.pathErr("syscallconn", errors.ErrUnsupported)
	}
	if f.kind == kindPassthrough {
		return f.osf.SyscallConn()
	}
	if err := f.enter("syscallconn"); err != nil {
		return nil, err
	}
	defer f.ops.exit()
	rc, err := f.osf.SyscallConn()
	if err != nil {
		return nil, err
	}
	return rawConn{f, rc}, nil
}

var _ syscall.Conn = (*File)(nil)

// rawConn is a regular file's syscall.RawConn.
type rawConn struct {
	f  *File
	rc syscall.RawConn
}

func (c rawConn) Control(fn func(fd uintptr)) error { return c.rc.Control(fn) }

func (c rawConn) Read(fn func(fd uintptr) bool) error {
	f := c.f
	if err := f.enter("read"); err != nil {
		return err
	}
	defer f.ops.exit()
	f.mu.Lock()
	defer f.mu.Unlock()
	fs := f.fs
	fs.mu.Lock()
	err := f.n.flushLocked(f)
	fs.mu.Unlock()
	if err != nil {
		return f.pathErr("write", err)
	}
	if err := f.settleOff(); err != nil {
		return err
	}
	if f.fdOff != f.off {
		if _, err := f.osf.Seek(f.off, io.SeekStart); err != nil {
			return err
		}
		f.fdOff = f.off
	}
	// Where fn leaves the descriptor is asked only when the File's offset
	// is next used: a server closes the file after sendfile.
	f.fdMoved = true
	return c.rc.Read(fn)
}

// settleOff makes the File's offset the descriptor's after a lent Read
// may have moved it. Called with f.mu held.
func (f *File) settleOff() error {
	if !f.fdMoved {
		return nil
	}
	pos, err := f.osf.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	f.off, f.fdOff, f.fdMoved = pos, pos, false
	return nil
}

var errRawWrite = errors.New("aiofs: writing a regular file through its raw descriptor is not supported")

func (c rawConn) Write(func(fd uintptr) bool) error { return errRawWrite }

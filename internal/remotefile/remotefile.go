// Package remotefile holds what the remote afero backends of the tests
// and examples (internal/s3fs, internal/sftpfs) share to behave as an
// *os.File does: the errors os returns, and Readdir's paging over a
// directory listed once.
package remotefile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrWriteAtInAppendMode is the error os.File.WriteAt returns for a file
// opened with O_APPEND; its text is os's.
var ErrWriteAtInAppendMode = errors.New("os: invalid use of WriteAt on file opened with O_APPEND")

// ErrNegativeOffset is the cause os gives for a ReadAt or WriteAt at a
// negative offset.
var ErrNegativeOffset = errors.New("negative offset")

// CheckReadAt returns the error os.File.ReadAt gives a negative offset
// before it looks at the file, or nil.
func CheckReadAt(name string, off int64) error {
	if off < 0 {
		return &fs.PathError{Op: "readat", Path: name, Err: ErrNegativeOffset}
	}
	return nil
}

// CheckWriteAt returns the errors os.File.WriteAt gives before it looks
// at the file: ErrWriteAtInAppendMode, bare, for a file opened with
// O_APPEND, then a negative offset's; or nil.
func CheckWriteAt(name string, appendMode bool, off int64) error {
	if appendMode {
		return ErrWriteAtInAppendMode
	}
	if off < 0 {
		return &fs.PathError{Op: "writeat", Path: name, Err: ErrNegativeOffset}
	}
	return nil
}

// PathError returns err as the *fs.PathError os would return for op on
// name, or nil for nil. err is the cause, already made os's.
func PathError(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Bare returns the cause under err if err is an *fs.PathError (a client
// library's, naming the server's path), so that the caller's name and Op
// can replace it; else err.
func Bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadError is PathError for the error of a read, but for io.EOF, which
// os returns bare.
func ReadError(name string, err error) error {
	if err == io.EOF {
		return io.EOF
	}
	return PathError("read", name, err)
}

// LinkError is PathError for the two-name operations, which os reports
// as *os.LinkError.
func LinkError(op, oldname, newname string, err error) error {
	if err == nil {
		return nil
	}
	return &os.LinkError{Op: op, Old: oldname, New: newname, Err: err}
}

// ReadAtOffset is os.File.Read for a file whose reads are positioned:
// it reads b with readAt at *offset, moves *offset past what it read, and
// returns io.EOF only when nothing is left. The caller serializes calls.
func ReadAtOffset(b []byte, offset *int64, readAt func([]byte, int64) (int, error)) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := readAt(b, *offset)
	*offset += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek returns where os.File.Seek would move an offset now at cur: to
// offset from the start, from cur, or from the end of file, which stat
// is asked for only then. The error is EINVAL for an unknown whence or a
// negative result, or stat's.
func Seek(offset int64, whence int, cur int64, stat func() (os.FileInfo, error)) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += cur
	case io.SeekEnd:
		fi, err := stat()
		if err != nil {
			return 0, err
		}
		offset += fi.Size()
	default:
		return 0, syscall.EINVAL
	}
	if offset < 0 {
		return 0, syscall.EINVAL
	}
	return offset, nil
}

// A Listing is what Readdir has yet to return of a directory, listed
// whole at the first call. The zero Listing is not listed yet.
type Listing struct {
	listed bool
	list   []os.FileInfo
	err    error
}

// Readdir returns the entries as os.File.Readdir does: for count > 0 at
// most count of them and an empty slice and io.EOF once none are left,
// for count <= 0 all that are left and a nil error. The first call lists the directory with
// list, whose error every call then returns.
func (l *Listing) Readdir(count int, list func() ([]os.FileInfo, error)) ([]os.FileInfo, error) {
	if !l.listed {
		l.listed = true
		l.list, l.err = list()
	}
	if l.err != nil {
		return nil, l.err
	}
	if count <= 0 {
		all := l.list
		l.list = nil
		if all == nil {
			all = []os.FileInfo{}
		}
		return all, nil
	}
	if len(l.list) == 0 {
		return []os.FileInfo{}, io.EOF
	}
	n := min(count, len(l.list))
	some := l.list[:n:n]
	l.list = l.list[n:]
	return some, nil
}

// Reset forgets the listing, so that the next Readdir lists the directory
// again, as a seek to its start does on an *os.File.
func (l *Listing) Reset() { *l = Listing{} }

// Names returns the names of Readdir's entries, with its error: what
// Readdirnames returns.
func Names(list []os.FileInfo, err error) ([]string, error) {
	names := make([]string, len(list))
	for i, fi := range list {
		names[i] = fi.Name()
	}
	return names, err
}

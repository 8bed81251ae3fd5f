//go:build unix

package aiofs

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileKey identifies a file independently of its names; in an Fs made by
// Wrap, where the base has no such identity, by its cleaned path, or once
// the file is removed or replaced through the Fs, by a serial number
// (unnamed, see unname).
type fileKey struct {
	dev, ino uint64
	path     string
	unnamed  uint64
}

// identifiesFiles says that the OS's FileInfo carries device and inode
// numbers, which identify a file whatever its names.
const identifiesFiles = true

// identityOf returns the key of the file fi describes, if fi carries its
// device and inode numbers.
func identityOf(fi os.FileInfo) (fileKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}

// setAppend puts f's descriptor in O_APPEND mode, for a file that package
// os serves: the Fs opens every file without it.
func setAppend(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		var fl int
		if fl, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0); ferr == nil {
			_, ferr = unix.FcntlInt(fd, unix.F_SETFL, fl|unix.O_APPEND)
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// pwrite writes b at off, and unlike os.File.WriteAt, which drops the count
// when a later part fails, returns how much was written before an error,
// as write(2) and os.File.Write report it (ENOSPC after a short write).
func pwrite(f *os.File, b []byte, off int64) (int, error) {
	fd := int(f.Fd())
	n := 0
	for n < len(b) {
		m, err := unix.Pwrite(fd, b[n:min(len(b), n+1<<30)], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if m > 0 {
			n += m
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrUnexpectedEOF
		}
	}
	return n, nil
}

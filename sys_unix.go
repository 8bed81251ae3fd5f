//go:build unix

package aiofs

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileKey identifies a file independently of its names.
type fileKey struct {
	dev, ino uint64
}

func keyOf(_ string, fi os.FileInfo) fileKey {
	st := fi.Sys().(*syscall.Stat_t)
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}
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

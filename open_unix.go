//go:build linux || freebsd

package aiofs

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// openOS opens name as os.OpenFile does, with the same errors, but makes
// the *os.File with os.NewFile: os.OpenFile first tries each descriptor
// in the netpoller, which for a regular file or a directory costs four
// fcntl calls and a failing epoll_ctl (on FreeBSD an fstat) per open, a
// good part of a small file's cost. A file of another kind is given that
// state afterwards (see asOpened).
func openOS(name string, flag int, perm os.FileMode) (*os.File, error) {
	if runtime.GOOS != "linux" && flag&os.O_CREATE != 0 && perm&os.ModeSticky != 0 {
		// BSD open(2) drops the sticky bit of a new file; os.OpenFile
		// sets it afterwards, as OsFs's files have it.
		return os.OpenFile(name, flag, perm)
	}
	mode := uint32(perm.Perm())
	if perm&os.ModeSetuid != 0 {
		mode |= syscall.S_ISUID
	}
	if perm&os.ModeSetgid != 0 {
		mode |= syscall.S_ISGID
	}
	if perm&os.ModeSticky != 0 {
		mode |= syscall.S_ISVTX
	}
	for {
		fd, err := unix.Open(name, flag|unix.O_CLOEXEC, mode)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// asOpened returns f, a file opened by openOS that is neither regular nor
// a directory, in the state os.OpenFile would have given it: in the
// netpoller when the kernel can poll it (pipes, sockets, terminals), so
// that a read waits without holding a thread and Close ends it; blocking
// otherwise. f is closed; the file stays open through a duplicate.
func asOpened(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	if cerr := rc.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); cerr != nil {
		err = cerr
	}
	f.Close()
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: f.Name(), Err: err}
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: f.Name(), Err: err}
	}
	nf := os.NewFile(uintptr(fd), f.Name())
	if errors.Is(nf.SetReadDeadline(time.Time{}), os.ErrNoDeadline) {
		// Not in the netpoller: reads must block, as os.OpenFile leaves
		// such a descriptor.
		unix.SetNonblock(fd, false)
	}
	return nf, nil
}

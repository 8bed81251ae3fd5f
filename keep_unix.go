//go:build unix

package aiofs

import (
	"os"
	"syscall"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"
)

// keepFile returns a new descriptor of the file f is open on, for
// committing the file after f closes, or nil if f has no descriptor (a
// base file other than the OS's) or none can be had.
func keepFile(f afero.File) afero.File {
	osf := osFileUnder(f)
	if osf == nil {
		return nil
	}
	rc, err := osf.SyscallConn()
	if err != nil {
		return nil
	}
	fd := -1
	rc.Control(func(s uintptr) {
		// Close-on-exec, as package os opens every file.
		fd, _ = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if fd < 0 {
		return nil
	}
	return os.NewFile(uintptr(fd), osf.Name())
}

// keepBudget is how many descriptors an Fs keeps for committing closed
// files: an eighth of the soft RLIMIT_NOFILE, which Go raises to the hard
// limit at start, so that the program keeps nearly all it may open.
func keepBudget() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return int(min(rl.Cur/8, maxKept))
}

// linked reports whether the file k is open on still has a name: a file
// removed by its last name needs no commit.
func linked(k afero.File) bool {
	fi, err := k.Stat()
	if err != nil {
		return true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || st.Nlink > 0
}

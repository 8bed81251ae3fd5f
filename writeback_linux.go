package aiofs

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// startWriteback has the kernel start writing f's dirty pages to the disk,
// in the background, and calls done once it has. sync_file_range with
// SYNC_FILE_RANGE_WRITE alone neither waits for the disk nor takes the
// file's write errors, which the next fsync reports as before. It works on
// a duplicate of the descriptor, so that f may close meanwhile.
func startWriteback(f *os.File, done func()) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	runtime.KeepAlive(f)
	if err != nil {
		done() // only a hint: the next fsync writes the pages anyway
		return
	}
	go func() {
		defer done()
		unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE)
		unix.Close(fd)
	}()
}

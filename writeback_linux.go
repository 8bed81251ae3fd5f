package aiofs

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// writebackRuns bounds the goroutines starting writeback in the process,
// each of which may hold a thread in sync_file_range while the disk's
// queue is full: files written at once beyond that wait for their Sync,
// or the kernel, as without aiofs.
var writebackRuns = make(chan struct{}, 4)

// startWriteback has the kernel start writing f's dirty pages to the disk,
// in the background, as often as wb says it is due, then ends wb's run.
// sync_file_range with SYNC_FILE_RANGE_WRITE alone neither waits for the
// disk nor takes the file's write errors, which the next fsync reports as
// before. It works on a duplicate of the descriptor, so that f may close
// meanwhile.
func startWriteback(f *os.File, wb *writeback) {
	select {
	case writebackRuns <- struct{}{}:
	default:
		wb.running.Store(false) // only a hint: the next fsync writes the pages anyway
		return
	}
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	runtime.KeepAlive(f)
	if err != nil {
		<-writebackRuns
		wb.running.Store(false)
		return
	}
	go func() {
		for {
			unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE)
			if !wb.again() {
				break
			}
		}
		unix.Close(fd)
		<-writebackRuns
	}()
}

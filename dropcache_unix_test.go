//go:build linux || freebsd

package aiofs

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache asks the kernel to drop f's cached pages in [off, off+n), so
// that the next read of them waits for the disk. It is advice: the test
// works either way, only less of it runs cold.
func dropCache(f *os.File, off, n int64) {
	unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}

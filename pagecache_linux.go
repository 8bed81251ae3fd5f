package aiofs

import (
	"os"

	"golang.org/x/sys/unix"
)

// inPageCache reports whether the byte of f at off is in the page cache.
// A window whose last byte is there has been read ahead by the kernel
// already, and prefetching it again would only copy it.
func inPageCache(f *os.File, off int64) bool {
	var b [1]byte
	n, err := unix.Preadv2(int(f.Fd()), [][]byte{b[:]}, off, unix.RWF_NOWAIT)
	return err == nil && n == 1
}

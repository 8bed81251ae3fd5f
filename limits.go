package aiofs

import (
	"math"
	"os"
	"sync/atomic"
)

// A fileLimit knows how far into a file writes may reach before they fail
// with EFBIG: past the file system's largest file size or the process's
// RLIMIT_FSIZE. Buffered writes stay within it, so that a write past it
// goes to the OS and fails there, as with package os.
type fileLimit struct {
	ok atomic.Int64 // an offset writes are known to reach
}

// covers reports whether writes are known to reach end.
func (l *fileLimit) covers(end int64) bool { return end <= l.ok.Load() }

// fits reports whether writes to f may reach end, asking the system. It
// asks for twice as far first, so that a growing file asks rarely.
func (l *fileLimit) fits(f *os.File, end int64) bool {
	far := end
	if end <= math.MaxInt64/2 {
		far = 2 * end
	}
	for _, try := range [...]int64{far, end} {
		if reachable(f, try) {
			for {
				ok := l.ok.Load()
				if ok >= try || l.ok.CompareAndSwap(ok, try) {
					return true
				}
			}
		}
	}
	return false
}

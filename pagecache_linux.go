package aiofs

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// noCachestat is set once cachestat(2) (Linux 6.5) turns out missing.
var noCachestat atomic.Bool

// inPageCache reports whether the page cache holds all of [off, end) of f.
// Such a window has been read ahead by the kernel already, and
// prefetching it again would only copy it. cachestat starts no I/O, unlike
// a probing read.
func inPageCache(f *os.File, off, end int64) bool {
	if noCachestat.Load() {
		return false
	}
	r := unix.CachestatRange{Off: uint64(off), Len: uint64(end - off)}
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &r, &st, 0); err != nil {
		if err == unix.ENOSYS {
			noCachestat.Store(true)
		}
		return false
	}
	pages := (end-1)/int64(os.Getpagesize()) - off/int64(os.Getpagesize()) + 1
	return int64(st.Cache) >= pages
}

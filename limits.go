package aiofs

import (
	"math"
	"os"
	"sync/atomic"
)

// A fileLimit knows how far into a file writes may reach before they fail
// with EFBIG: past the file system's largest file size or the process's
// RLIMIT_FSIZE. Buffered writes stay within it, so that a write past it
// goes to the OS and fails there, as with package os. It also knows how
// far lseek(2) goes, which on Linux stops at the largest file size
// (RLIMIT_FSIZE limits writes only).
type fileLimit struct {
	ok   atomic.Int64 // an offset writes are known to reach
	seek atomic.Int64 // an offset lseek is known to accept
}

// covers reports whether writes are known to reach end.
func (l *fileLimit) covers(end int64) bool { return end <= l.ok.Load() }

// fits reports whether writes may reach end, asking the system: the
// process's limit, and seeks, which tells whether lseek(2) takes an
// offset on the file. It asks for twice as far first, so that a growing
// file asks rarely.
func (l *fileLimit) fits(end int64, seeks func(pos int64) bool) bool {
	return l.learn(&l.ok, end, func(try int64) bool { return withinRlimit(try) && seeks(try) })
}

// seekable reports whether lseek(2) takes pos, asking seeks. Where writes
// reach, lseek goes.
func (l *fileLimit) seekable(pos int64, seeks func(pos int64) bool) bool {
	if l.covers(pos) || pos <= l.seek.Load() {
		return true
	}
	return l.learn(&l.seek, pos, seeks)
}

// seeksOn returns what tells whether lseek(2) takes an offset on f, a
// handle of n: the record of n's device, or else f's file itself.
func (n *node) seeksOn(f *os.File) func(pos int64) bool {
	return func(pos int64) bool { return n.fs.seeks.accepts(n.key, f, pos) }
}

// learn reports whether ok(end), trying twice end first, and raises known
// to what it found.
func (l *fileLimit) learn(known *atomic.Int64, end int64, ok func(int64) bool) bool {
	far := end
	if end <= math.MaxInt64/2 {
		far = 2 * end
	}
	for _, try := range [...]int64{far, end} {
		if ok(try) {
			for {
				k := known.Load()
				if k >= try || known.CompareAndSwap(k, try) {
					return true
				}
			}
		}
	}
	return false
}

//go:build linux || openbsd || solaris || illumos || dragonfly || darwin || ios || freebsd || netbsd

package aiofs

import (
	"os"
	"syscall"
	"time"
)

// changeTime returns the file's status change time, which no one can set
// back, so a rewrite that restores the modification time still shows. A
// wrapped base's FileInfo may have none: then it is the zero time.
func changeTime(fi os.FileInfo) time.Time {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}
	}
	ts := ctimespec(st)
	return time.Unix(ts.Unix())
}

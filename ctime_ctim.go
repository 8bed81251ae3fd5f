//go:build linux || openbsd || solaris || illumos || dragonfly

package aiofs

import (
	"os"
	"syscall"
	"time"
)

// changeTime returns the file's status change time, which no one can set
// back, so a rewrite that restores the modification time still shows.
func changeTime(fi os.FileInfo) time.Time {
	st := fi.Sys().(*syscall.Stat_t)
	return time.Unix(st.Ctim.Unix())
}

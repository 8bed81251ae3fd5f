//go:build linux || openbsd || solaris || illumos || dragonfly

package aiofs

import "syscall"

// ctimespec returns the status change time of st, named Ctim here.
func ctimespec(st *syscall.Stat_t) syscall.Timespec { return st.Ctim }

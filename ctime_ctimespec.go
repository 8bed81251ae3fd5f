//go:build darwin || ios || freebsd || netbsd

package aiofs

import "syscall"

// ctimespec returns the status change time of st, named Ctimespec here.
func ctimespec(st *syscall.Stat_t) syscall.Timespec { return st.Ctimespec }

//go:build unix

package aiofs

import "syscall"

// withinRlimit reports whether RLIMIT_FSIZE lets writes reach offset end.
// It is asked each time, as the process may change its limits.
func withinRlimit(end int64) bool {
	var rl syscall.Rlimit
	return syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl) != nil || uint64(end) <= uint64(rl.Cur)
}

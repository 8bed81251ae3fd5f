//go:build unix

package aiofs

import (
	"os"
	"syscall"
)

// reachable reports whether writes to f may reach offset end: within
// RLIMIT_FSIZE, and where lseek(2) goes (Linux's lseek stops at the file
// system's largest file size, s_maxbytes).
func reachable(f *os.File, end int64) bool {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl); err == nil && uint64(end) > uint64(rl.Cur) {
		return false
	}
	return seekAccepts(f, end)
}

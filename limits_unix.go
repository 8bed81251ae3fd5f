//go:build unix

package aiofs

import (
	"io"
	"os"
	"syscall"
)

// reachable reports whether writes to f may reach offset end. lseek(2)
// refuses an offset past the file system's largest file size on Linux
// (s_maxbytes); the File keeps its own offset, so moving the descriptor's
// is harmless.
func reachable(f *os.File, end int64) bool {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl); err == nil && uint64(end) > uint64(rl.Cur) {
		return false
	}
	_, err := f.Seek(end, io.SeekStart)
	return err == nil
}

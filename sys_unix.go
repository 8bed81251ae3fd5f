//go:build unix

package aiofs

import (
	"os"
	"syscall"
)

// fileKey identifies a file independently of its names.
type fileKey struct {
	dev, ino uint64
}

func keyOf(_ string, fi os.FileInfo) fileKey {
	st := fi.Sys().(*syscall.Stat_t)
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}
}

//go:build unix

package aiofs

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileKey identifies a file independently of its names.
type fileKey struct {
	dev, ino uint64
}

func keyOf(_ string, fi os.FileInfo) fileKey {
	st := fi.Sys().(*syscall.Stat_t)
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}
}

// syncFlag is the open flag besides O_SYNC that asks for writes to be
// durable when they return.
const syncFlag = unix.O_DSYNC

package aiofs

import (
	"bytes"
	"os"

	"golang.org/x/sys/unix"
)

// onPseudoFS reports whether f lives on a file system whose files change
// without their size or times changing (procfs, linsysfs and the like), so
// that nothing of them may be cached.
func onPseudoFS(f *os.File, _ os.FileInfo) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return true // unknown: leave it to the OS
	}
	name, _, _ := bytes.Cut(st.Fstypename[:], []byte{0})
	switch string(name) {
	case "procfs", "linprocfs", "linsysfs", "devfs", "fdescfs", "mqueuefs":
		return true
	}
	return false
}

package aiofs

import (
	"os"
	"strconv"
	"syscall"
)

// seekAccepts reports whether lseek(2) takes pos on f's file: Linux
// refuses an offset past the file system's largest file size (s_maxbytes)
// with EINVAL. It asks a descriptor of its own, opened again through
// /proc/self/fd, since f's may be lent (File.SyscallConn) and its offset
// moves only with the File's. When that open fails, it reports true: a
// write then goes ahead and the OS judges it where it lands.
func seekAccepts(f *os.File, pos int64) bool {
	name := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0)
	if err == syscall.EACCES {
		// A file only its writers may open.
		fd, err = syscall.Open(name, syscall.O_WRONLY|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		return true
	}
	defer syscall.Close(fd)
	_, err = syscall.Seek(fd, pos, 0)
	return err == nil
}

package aiofs

import (
	"os"
	"strconv"
	"sync"
	"syscall"
)

// sharedSeekLimit is the offset up to which one file's answer holds for
// every file of its device. Linux's lseek(2) stops at the file system's
// largest file size (s_maxbytes), or for some at a per-file size (ext4's
// block-mapped files, f2fs's), which is 16 GiB or more on every file
// system that has one; the kernel's default largest size, for file
// systems that set none, is just below 2 GiB.
const sharedSeekLimit = 1<<31 - 1

// deviceSeeks remembers, per device, an offset lseek(2) took on one of
// its files, so that the other files there need not ask: asking opens the
// file again, which costs about as much as creating a small file. A
// device number unmounted and given to another file system keeps its
// record; that one then fails a write past its largest size at the flush,
// and the next Write, Sync or Close reports it. Its mutex is a leaf lock.
type deviceSeeks struct {
	mu    sync.Mutex
	known map[uint64]int64 // by device: an offset lseek took there
}

// accepts reports whether lseek(2) takes pos on f, the file key names.
// The first file of a device is asked for sharedSeekLimit at once, so
// that files growing within it never ask again.
func (d *deviceSeeks) accepts(key fileKey, f *os.File, pos int64) bool {
	if key.dev == 0 && key.ino == 0 {
		accepted, _ := seekAccepts(f, pos) // keyed by path: the device is unknown
		return accepted
	}
	d.mu.Lock()
	known := d.known[key.dev]
	d.mu.Unlock()
	if pos <= known {
		return true
	}
	try := pos
	if pos <= sharedSeekLimit {
		try = sharedSeekLimit
	}
	accepted, asked := seekAccepts(f, try)
	if !accepted && try != pos {
		accepted, asked = seekAccepts(f, pos)
		try = pos
	}
	if !accepted || !asked {
		return accepted
	}
	d.mu.Lock()
	if d.known == nil {
		d.known = make(map[uint64]int64)
	}
	d.known[key.dev] = max(d.known[key.dev], min(try, sharedSeekLimit))
	d.mu.Unlock()
	return true
}

// seekAccepts reports whether lseek(2) takes pos on f's file: Linux
// refuses an offset past the file system's largest file size (s_maxbytes)
// with EINVAL. It asks a descriptor of its own, opened again through
// /proc/self/fd, since f's may be lent (File.SyscallConn) and its offset
// moves only with the File's. When that open fails, it reports accepted
// but not asked: a write then goes ahead and the OS judges it where it
// lands.
func seekAccepts(f *os.File, pos int64) (accepted, asked bool) {
	name := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0)
	if err == syscall.EACCES {
		// A file only its writers may open.
		fd, err = syscall.Open(name, syscall.O_WRONLY|syscall.O_CLOEXEC|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		return true, false
	}
	defer syscall.Close(fd)
	_, err = syscall.Seek(fd, pos, 0)
	return err == nil, true
}

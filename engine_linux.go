package aiofs

import (
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/aiofs/aiofs/internal/uring"
)

// platformEngine is io_uring, available since Linux 5.1. When the kernel
// refuses it (seccomp in containers, kernel.io_uring_disabled, a small
// RLIMIT_MEMLOCK) the pool takes over.
const platformEngine = "uring"

const (
	// uringFastPathMax is the largest read that is first tried
	// synchronously with preadv2(RWF_NOWAIT), which copies what the page
	// cache holds and fails with EAGAIN rather than wait for the disk:
	// below it a ring round trip's handoffs cost more than the copy, and
	// a failed try costs little next to the disk (and starts readahead).
	uringFastPathMax = 128 << 10

	// After uringWarmAfter reads in a row from the page cache, reads use
	// plain pread (see preadWarm) but for one in uringWarmCheck, which
	// checks that the cache still serves them. At most uringPlainReaders
	// are in preadPlain at once, so that when the cache goes cold, the
	// threads blocked on the disk before a check notices are about as
	// many as the reads a check takes to come round, not one per reader.
	// The bound is as large as the check interval, since goroutines
	// preempted inside preadPlain count against it too.
	uringWarmAfter    = 64
	uringWarmCheck    = 32
	uringPlainReaders = uringWarmCheck
)

// uringEngine is the adapter between the engine interface and one
// io_uring (package internal/uring), and holds the policy for when to
// bypass the ring: reads the page cache can serve are copied at once
// with preadv2(RWF_NOWAIT), or with plain pread after a run of such hits;
// a lone cold read waits in its own thread; writes go directly to file
// systems that refuse RWF_NOWAIT writes.
type uringEngine struct {
	ring   *uring.Ring
	gate   gate
	nowait bool // try preadv2(RWF_NOWAIT) and pwritev2(RWF_NOWAIT) before the ring

	// syncWrites is set once a file system refuses RWF_NOWAIT writes; see
	// writeNow.
	syncWrites atomic.Bool
	// warm counts reads the page cache served in a row, up to
	// uringWarmAfter; plain counts the reads in preadPlain. plain has a
	// cache line of its own: every warm read writes it twice, and the
	// words every read only reads stay cached in every core.
	warm  atomic.Int32
	_     [60]byte
	plain atomic.Int32
	_     [60]byte

	c engineCounters
}

func newPlatformEngine(depth int) (engine, error) {
	e, err := newUringEngine(uring.Config{Entries: depth})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// newUringEngine starts a ring as cfg says, with the fast paths on; cfg's
// counters are the engine's own.
func newUringEngine(cfg uring.Config) (*uringEngine, error) {
	e := &uringEngine{nowait: true}
	cfg.Counters = uring.Counters{Submitted: &e.c.submitted, Completed: &e.c.completed, InFlight: &e.c.inFlight}
	r, err := uring.Open(cfg)
	if err != nil {
		return nil, err
	}
	e.ring = r
	return e, nil
}

// preadWarm reads with plain pread(2), for when the page cache has served
// the last uringWarmAfter reads: preadv2 with RWF_NOWAIT costs more in the
// kernel, a good part of a cached small read. One read in uringWarmCheck,
// picked at random, goes the RWF_NOWAIT way instead, and its first miss
// ends the warm spell. It reports false when it did not read.
func (e *uringEngine) preadWarm(fd int, p []byte, off int64) (n int, ok bool, err error) {
	if rand.Uint32()%uringWarmCheck == 0 { // no counter every reader writes
		return 0, false, nil
	}
	return e.preadPlain(fd, p, off, uringPlainReaders)
}

// preadPlain reads with plain pread(2) in the calling thread, unless limit
// such reads are running already: then it reports false and the ring
// serves.
func (e *uringEngine) preadPlain(fd int, p []byte, off int64, limit int32) (n int, ok bool, err error) {
	if e.plain.Add(1) > limit {
		e.plain.Add(-1)
		return 0, false, nil
	}
	for n < len(p) {
		var m int
		m, err = syscall.Pread(fd, p[n:], off+int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil || m == 0 {
			break
		}
		n += m
	}
	e.plain.Add(-1)
	return n, true, err
}

// preadNow reads p at off without the ring: from the page cache as far as
// it serves, or, for a lone reader, waiting for the disk in this thread.
// It reports ok when the read is done (all of p, up to end of file, or an
// error); otherwise the ring must read from byte n on. Reads the cache
// served count as fast-path operations.
func (e *uringEngine) preadNow(fd int, p []byte, off int64) (n int, ok bool, err error) {
	if e.warm.Load() >= uringWarmAfter {
		if n, ok, err := e.preadWarm(fd, p, off); ok {
			e.c.fastPath.Add(off, 1)
			return n, true, err
		}
	}
	// RWF_NOWAIT fails with EAGAIN rather than wait for the disk, and
	// stops short at the first page not in the cache, or at the end of
	// the file: only another call can tell which.
	for {
		m, err := unix.Preadv2(fd, [][]byte{p[n:]}, off+int64(n), unix.RWF_NOWAIT)
		if err == unix.EAGAIN {
			e.warm.Store(0)
			// Not cached; the failed try has started the disk read. A
			// lone reader waits for it in its thread, sparing the ring's
			// hand-offs, most of a single cold read's latency. With
			// others about, the ring serves: a thread blocked on the disk
			// holds its P until sysmon notices, which with few Ps stalls
			// the ring's own goroutines.
			if e.c.inFlight.Load() == 0 {
				if m, ok, err := e.preadPlain(fd, p[n:], off+int64(n), 1); ok {
					return n + m, true, err
				}
			}
		}
		if err != nil {
			return n, false, nil // the ring continues, and reports its own errors
		}
		n += m
		if m == 0 || n == len(p) { // end of file, or done
			if e.warm.Load() < uringWarmAfter {
				e.warm.Add(1)
			}
			e.c.fastPath.Add(off, 1)
			return n, true, nil
		}
	}
}

// pread enters the gate only to use the ring: reads the page cache serves
// are system calls on the caller's descriptor, which the caller keeps
// open, so they check that the gate is not shut and leave it alone: the
// gate's word, written twice per read, went between the cores on every
// read when many goroutines read at once.
func (e *uringEngine) pread(file afero.File, p []byte, off int64) (n int, err error) {
	if e.gate.shut() {
		return 0, os.ErrClosed
	}
	if off < 0 {
		// The kernel would take -1 as "the file position".
		return 0, syscall.EINVAL
	}
	if len(p) == 0 {
		return 0, nil
	}
	f := osFile(file)
	fd := int(f.Fd())
	defer runtime.KeepAlive(f) // f's finalizer must not close fd meanwhile
	defer func() { e.c.bytesRead.Add(off, uint64(n)) }()
	if e.nowait && len(p) <= uringFastPathMax {
		var ok bool
		if n, ok, err = e.preadNow(fd, p, off); ok {
			return n, err
		}
	}
	if !e.gate.enter() {
		return n, os.ErrClosed
	}
	defer e.gate.exit()
	m, err := e.ring.Read(fd, p[n:], off+int64(n))
	return n + m, err
}

func (e *uringEngine) pwritev(file afero.File, bufs [][]byte, off int64) (n int, err error) {
	if !e.gate.enter() {
		return 0, os.ErrClosed
	}
	defer e.gate.exit()
	if off < 0 {
		return 0, syscall.EINVAL
	}
	// Skip empty buffers here so that every iovec below is non-empty.
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	f := osFile(file)
	fd := int(f.Fd())
	defer runtime.KeepAlive(f)
	defer func() { e.c.bytesWritten.Add(off, uint64(n)) }()

	if e.nowait {
		var ok bool
		if n, ok, err = e.writeNow(fd, bufs, off); ok {
			e.c.fastPath.Add(off, 1)
			return n, err
		}
	}
	m, err := e.ring.Writev(fd, bufs, n, off+int64(n))
	return n + m, err
}

// writeNow writes bufs at off without the ring when that costs no more
// than the ring would. A file system that takes RWF_NOWAIT buffered writes
// (XFS, btrfs) copies them into the page cache at syscall cost and says
// EAGAIN when it would block; the ring takes over from there. One that
// refuses RWF_NOWAIT writes (ext4, tmpfs) makes the ring hand every write
// to an io-wq worker thread, which blocks in the very write the caller
// could make itself, after two more thread wake-ups; then the engine
// writes directly. It reports ok when it is done, and otherwise that the
// ring must finish the job from byte n on.
func (e *uringEngine) writeNow(fd int, bufs [][]byte, off int64) (n int, ok bool, err error) {
	for len(bufs) > 0 {
		iov := bufs[:min(len(bufs), uring.MaxIov)]
		var m int
		blocking := e.syncWrites.Load()
		switch {
		case blocking && len(iov) == 1:
			m, err = unix.Pwrite(fd, iov[0], off+int64(n)) // no vector to copy in
		case blocking:
			m, err = unix.Pwritev(fd, iov, off+int64(n))
		default:
			m, err = unix.Pwritev2(fd, iov, off+int64(n), unix.RWF_NOWAIT)
			if err == unix.EOPNOTSUPP {
				e.syncWrites.Store(true)
				continue
			}
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return n, false, nil
		case err != nil:
			return n, true, err
		case m == 0:
			return n, true, io.ErrUnexpectedEOF
		}
		n += m
		for m > 0 && len(bufs) > 0 {
			if m < len(bufs[0]) {
				// Copy the slice header: the caller's slice stays as it was.
				bufs = append([][]byte{bufs[0][m:]}, bufs[1:]...)
				break
			}
			m -= len(bufs[0])
			bufs = bufs[1:]
		}
	}
	return n, true, nil
}

func (e *uringEngine) fsync(file afero.File) error {
	f := osFile(file)
	if !e.gate.enter() {
		return os.ErrClosed
	}
	defer e.gate.exit()
	err := e.ring.Fsync(int(f.Fd()))
	runtime.KeepAlive(f)
	return err
}

func (e *uringEngine) close() error {
	return e.gate.close(func() error {
		e.ring.Close()
		return nil
	})
}

func (e *uringEngine) name() string              { return "uring" }
func (e *uringEngine) counters() *engineCounters { return &e.c }

package aiofs

import (
	"os"
	"runtime"
	"sync/atomic"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/aiofs/aiofs/internal/kqaio"
)

// platformEngine is the name of this system's own engine.
const platformEngine = "kqueue"

const (
	// kqueueDirectReadMax is the largest read that may skip the AIO
	// queue, and kqueueDirectReaders how many such reads may run at once.
	// FreeBSD has no cheap page-cache probe (no RWF_NOWAIT, no
	// cachestat), so a small read is simply tried with pread(2) in the
	// caller's thread: from the cache it costs a copy where AIO costs a
	// job, a daemon's wake-up and a kevent (see bench/RESULTS.md); a
	// cold one blocks the thread on the disk, which is why at most a few
	// run so, and the queue serves the rest.
	kqueueDirectReadMax = 128 << 10
	kqueueDirectReaders = 4
)

// kqueueEngine is the adapter between the engine interface and a POSIX
// AIO queue whose completions arrive on a kqueue (package internal/kqaio,
// described in FREEBSD.md), and holds the policy for when a read skips
// the queue.
type kqueueEngine struct {
	q    *kqaio.Queue
	gate gate
	c    engineCounters

	// direct counts the reads in preadDirect; directMax bounds them
	// (kqueueDirectReaders; the benchmarks vary it).
	direct, directMax atomic.Int32
}

func newPlatformEngine(depth int) (engine, error) {
	if !kqaio.Supported {
		return nil, errNoPlatformEngine
	}
	e := &kqueueEngine{}
	e.directMax.Store(kqueueDirectReaders)
	q, err := kqaio.Open(depth, kqaio.Counters{Submitted: &e.c.submitted, Completed: &e.c.completed, InFlight: &e.c.inFlight})
	if err != nil {
		return nil, err
	}
	e.q = q
	return e, nil
}

func (e *kqueueEngine) name() string              { return platformEngine }
func (e *kqueueEngine) counters() *engineCounters { return &e.c }

func (e *kqueueEngine) pread(f afero.File, p []byte, off int64) (int, error) {
	if len(p) <= kqueueDirectReadMax {
		if n, ok, err := e.preadDirect(osFile(f), p, off); ok {
			return n, err
		}
	}
	one := [1][]byte{p}
	return e.transfer(f, false, one[:], off, &e.c.bytesRead)
}

// preadDirect reads p at off with pread(2) in the calling thread, unless
// directMax such reads are running: then it reports false and the queue
// serves. Errors are bare errnos, as the queue's.
func (e *kqueueEngine) preadDirect(f *os.File, p []byte, off int64) (n int, ok bool, err error) {
	if !e.gate.enter() {
		return 0, true, os.ErrClosed
	}
	defer e.gate.exit()
	if e.direct.Add(1) > e.directMax.Load() {
		e.direct.Add(-1)
		return 0, false, nil
	}
	defer e.direct.Add(-1)
	defer runtime.KeepAlive(f) // f's finalizer must not close fd meanwhile
	fd := int(f.Fd())
	for n < len(p) {
		var m int
		m, err = unix.Pread(fd, p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			break
		}
		n += m
	}
	e.c.fastPath.Add(off, 1)
	e.c.bytesRead.Add(off, uint64(n))
	return n, true, err
}

func (e *kqueueEngine) pwritev(f afero.File, bufs [][]byte, off int64) (int, error) {
	return e.transfer(f, true, bufs, off, &e.c.bytesWritten)
}

// transfer runs one read or write through the queue and counts its bytes.
func (e *kqueueEngine) transfer(f afero.File, write bool, bufs [][]byte, off int64, bytes *counter) (int, error) {
	if !e.gate.enter() {
		return 0, os.ErrClosed
	}
	defer e.gate.exit()
	n, err := e.q.Transfer(osFile(f), write, bufs, off)
	bytes.Add(off, uint64(n))
	return n, err
}

func (e *kqueueEngine) fsync(f afero.File) error {
	if !e.gate.enter() {
		return os.ErrClosed
	}
	defer e.gate.exit()
	return e.q.Fsync(osFile(f))
}

// close waits for every operation to return, then closes the queue.
func (e *kqueueEngine) close() error {
	return e.gate.close(e.q.Close)
}

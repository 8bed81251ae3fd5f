package aiofs

import (
	"os"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs/internal/kqaio"
)

// platformEngine is the name of this system's own engine.
const platformEngine = "kqueue"

// kqueueEngine is the adapter between the engine interface and a POSIX
// AIO queue whose completions arrive on a kqueue (package internal/kqaio,
// described in FREEBSD.md). There is no fast path: FreeBSD offers no
// cheap page-cache probe.
type kqueueEngine struct {
	q    *kqaio.Queue
	gate gate
	c    engineCounters
}

func newPlatformEngine(depth int) (engine, error) {
	if !kqaio.Supported {
		return nil, errNoPlatformEngine
	}
	e := &kqueueEngine{}
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
	one := [1][]byte{p}
	return e.transfer(f, false, one[:], off, &e.c.bytesRead)
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

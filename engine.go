package aiofs

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"

	"github.com/spf13/afero"
)

// An engine performs the positioned data I/O of every File of an Fs.
//
// Its methods block the calling goroutine, not necessarily an OS thread,
// until the operation has completed. Short transfers are continued inside
// the engine: pread returns fewer than len(p) bytes only at end of file,
// and pwritev returns fewer than the total only with an error. Errors are
// the bare errno (a syscall.Errno), so the File can wrap them in an
// *os.PathError exactly as package os does, or io.ErrShortWrite for a
// write the file took none of without saying why, as os.File.Write
// reports it; after close every method returns os.ErrClosed.
//
// The caller keeps f open until the call returns; the engine keeps p and
// bufs reachable and unmoved until the kernel is done with them, even if
// that outlives the caller's interest.
//
// The file is an afero.File so that one interface serves both kinds of Fs:
// the engines of the OS (uring, kqueue, pool) work on the descriptor of
// an *os.File, which every File of an Fs made by New holds, and the pool
// of an Fs made by Wrap calls the base file's ReadAt, WriteAt and Sync.
// Errors from a base file are the base's own, passed on unchanged.
type engine interface {
	pread(f afero.File, p []byte, off int64) (int, error)
	pwritev(f afero.File, bufs [][]byte, off int64) (int, error)
	fsync(f afero.File) error

	// close waits for in-flight operations that use what it releases,
	// then releases the engine.
	close() error
	// name is the value Stats reports: "uring", "kqueue", "pool" or
	// "wrap".
	name() string
	// counters returns the engine's live counters.
	counters() *engineCounters
}

// engineCounters are updated by every engine and read by Fs.Stats.
type engineCounters struct {
	submitted    atomic.Uint64 // operations handed to the kernel or pool
	completed    atomic.Uint64 // operations whose result arrived
	bytesRead    counter
	bytesWritten counter
	inFlight     atomic.Int64 // submitted but not yet completed
	fastPath     counter      // operations done synchronously without a submission
}

// A gate is an engine's closing gate. Every operation passes enter before
// it touches the engine and, if enter returned true, calls exit when it is
// done; enter returns false once the gate is shut, and the operation then
// returns os.ErrClosed. close shuts the gate: it waits until every
// operation that entered has exited, runs release with the gate shut (so
// release knows nothing is in flight and nothing will start), and returns
// its error. Only the first close runs release; later ones wait for it and
// return nil. Operations hold the gate shared, so they never wait for each
// other, but once close is waiting, new ones wait for it.
//
// An operation that uses nothing close releases (a system call on the
// caller's own descriptor) need not enter: it checks shut instead, a load
// where enter and exit write a word every operation shares.
type gate struct {
	mu     sync.RWMutex
	closed bool
	down   atomic.Bool // close has begun
}

// shut reports whether close has begun: from then on, an operation that
// does not enter returns os.ErrClosed, as enter would have it do.
func (g *gate) shut() bool { return g.down.Load() }

func (g *gate) enter() bool {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return false
	}
	return true
}

func (g *gate) exit() { g.mu.RUnlock() }

func (g *gate) close(release func() error) error {
	g.down.Store(true)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	return release()
}

// errNoPlatformEngine is returned by newPlatformEngine on systems whose
// only engine is the pool.
var errNoPlatformEngine = errors.New("no asynchronous I/O engine for this system")

// openEngine starts the engine named by want ("" picks the platform's
// own) with at most depth operations in flight (0 lets the engine choose).
// When the platform engine cannot start, it falls back to the pool
// and returns why.
func openEngine(want string, depth int) (e engine, fallback error) {
	if want == "pool" {
		return newPoolEngine(depth), nil
	}
	if want != "" && want != platformEngine {
		return newPoolEngine(depth), errors.New("engine " + want + " is not available on this system")
	}
	pe, err := newPlatformEngine(depth)
	if err != nil {
		return newPoolEngine(depth), err
	}
	return pe, nil
}

// osFile returns the *os.File that an engine of the OS works on. Only the
// Files of an Fs made by New reach those engines, and they hold one.
func osFile(f afero.File) *os.File { return f.(*os.File) }

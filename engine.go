package aiofs

import (
	"errors"
	"os"
	"sync/atomic"
)

// An engine performs the positioned data I/O of every File of an Fs.
//
// Its methods block the calling goroutine, not necessarily an OS thread,
// until the operation has completed. Short transfers are continued inside
// the engine: pread returns fewer than len(p) bytes only at end of file,
// and pwritev returns fewer than the total only with an error. Errors are
// the bare errno (a syscall.Errno), so the File can wrap them in an
// *os.PathError exactly as package os does; after close every method
// returns os.ErrClosed.
//
// The caller keeps f open until the call returns; the engine keeps p and
// bufs reachable and unmoved until the kernel is done with them, even if
// that outlives the caller's interest.
type engine interface {
	pread(f *os.File, p []byte, off int64) (int, error)
	pwritev(f *os.File, bufs [][]byte, off int64) (int, error)
	fsync(f *os.File) error

	// close waits for in-flight operations, then releases the engine.
	close() error
	// name is the value Stats reports: "uring", "kqueue" or "pool".
	name() string
	// counters returns the engine's live counters.
	counters() *engineCounters
}

// engineCounters are updated by every engine and read by Fs.Stats.
type engineCounters struct {
	submitted    atomic.Uint64 // operations handed to the kernel or pool
	completed    atomic.Uint64 // operations whose result arrived
	bytesRead    atomic.Uint64
	bytesWritten atomic.Uint64
	inFlight     atomic.Int64  // submitted but not yet completed
	fastPath     atomic.Uint64 // operations done synchronously without a submission
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

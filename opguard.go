package aiofs

import (
	"sync"
	"sync/atomic"
)

// An opGuard keeps a File's descriptor open while operations use it, as
// internal/poll's fdMutex does for package os. Its rules:
//
//   - Every operation on the descriptor is counted, those that other
//     goroutines run for the File included (flushes, readahead loads):
//     tryHold admits one unless close has begun, and exit ends it.
//   - hold admits an operation started on behalf of one already counted
//     (a flush through a handle whose caller holds it), so it is admitted
//     even while close waits, and cannot be the first.
//   - close marks the guard closed, so that tryHold fails from then on,
//     and waits until the count drops to zero. Only then may the
//     descriptor be closed.
type opGuard struct {
	mu    sync.Mutex
	idle  sync.Cond    // signalled on mu when the count reaches zero after close began
	state atomic.Int64 // operations in progress, plus guardClosed once close began; last, for File's layout
}

const guardClosed = 1 << 62

// tryHold counts an operation unless close has begun. It never touches
// the count once close has begun: callers still trying a closed File
// would otherwise keep the count from reaching zero, and close from
// returning (TestOpGuardClose).
func (g *opGuard) tryHold() bool {
	for {
		s := g.state.Load()
		if s&guardClosed != 0 {
			return false
		}
		if g.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// closing reports whether close has begun.
func (g *opGuard) closing() bool { return g.state.Load()&guardClosed != 0 }

// hold counts an operation on behalf of one already counted.
func (g *opGuard) hold() { g.state.Add(1) }

// exit ends an operation.
func (g *opGuard) exit() {
	if g.state.Add(-1) == guardClosed {
		g.mu.Lock()
		g.idle.Broadcast()
		g.mu.Unlock()
	}
}

// close marks the guard closed and waits for its operations. It reports
// false if close had begun already.
func (g *opGuard) close() bool {
	for {
		s := g.state.Load()
		if s&guardClosed != 0 {
			return false
		}
		if g.state.CompareAndSwap(s, s|guardClosed) {
			break
		}
	}
	g.mu.Lock()
	g.idle.L = &g.mu // only the one closer gets here
	for g.state.Load() != guardClosed {
		g.idle.Wait()
	}
	g.mu.Unlock()
	return true
}

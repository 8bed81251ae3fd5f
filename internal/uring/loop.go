//go:build linux

package uring

import (
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func (r *Ring) enter(toSubmit, minComplete, flags uint32) (int, error) {
	// Syscall6, not RawSyscall6: the call may block, and the runtime must
	// be able to hand this thread's P to other goroutines meanwhile.
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd),
		uintptr(toSubmit), uintptr(minComplete), uintptr(flags), 0, 0)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}

// push queues sqe and wakes the submitter. There is room: every queued
// SQE belongs to a slot, no slot has two, and there are no more slots
// than SQ entries.
func (r *Ring) push(sqe *sqEntry) {
	r.sqMu.Lock()
	r.sqes[r.tail&r.sqMask] = *sqe
	r.tail++
	// Publish the SQE; the atomic store orders the copy above before it.
	atomic.StoreUint32(r.sqTail, r.tail)
	r.sqMu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default: // the submitter is already due to run
	}
}

// submitter enters the kernel on behalf of all callers, so that what
// many goroutines queue while it is in io_uring_enter goes in one call.
//
// A request belongs to the thread that submitted it: that thread's io-wq
// runs it if it must block, and a thread's exit cancels its requests.
// Callers never enter the ring with SQEs (one may be locked to a thread
// that ends when it returns), and the reaper enters it only to collect
// completions, which makes no io-wq.
//
// A goroutine that moves between threads gives the ring an io-wq on each
// thread it submits from, each with as many workers as the kernel is
// told. Locked to one thread, the submitter gives the ring one io-wq, at
// the price of a thread handoff each time it is woken from parking, which
// fast storage feels. So the
// submitter starts unlocked, with few workers per io-wq (startWorkers),
// and locks itself to its thread, for good, once requests are slow for
// the storage's concurrency (see noteLatency): there they wait in io-wq
// workers where the file system lacks async reads, the ring wants more
// workers (workerLimit), and a handoff is small next to a request. The
// thread exits when the submitter returns, after Close has seen every
// request complete.
func (r *Ring) submitter() {
	defer r.loops.Done()
	locked := false
	for {
		_, ok := <-r.kick
		if !locked && r.slow.Load() {
			runtime.LockOSThread() // never unlocked: the thread ends with the ring
			locked = true
			// The kernel raises the io-wqs of other threads too, which
			// then finish sooner what was queued on them; their idle
			// workers exit after seconds.
			r.limitWorkers(workerLimit(len(r.reqs)))
		}
		r.submitAll()
		if !ok {
			return
		}
	}
}

// noteLatency counts a read or write that took d, with inFlight requests
// in flight when it was queued, in the current window of pinWindow
// requests, and sets r.slow once half of a window took pinAfter or longer
// per request in flight. Per request in flight, because a fast disk
// makes requests wait long only at high concurrency, while a slow mount
// is slow at any; half of a window, because a local disk makes one
// request in a few hundred wait milliseconds.
func (r *Ring) noteLatency(d time.Duration, inFlight int64) {
	add := uint32(1 << 16) // requests in the upper half, slow ones in the lower
	if d >= time.Duration(max(inFlight, 1))*pinAfter {
		add |= 1
	}
	w := r.window.Add(add)
	if w&0xffff >= pinWindow/2 {
		r.slow.Store(true)
	}
	if w>>16 >= pinWindow {
		// Start a new window; if another request counted itself since,
		// the next one retries.
		r.window.CompareAndSwap(w, 0)
	}
}

// submitAll enters the kernel until every queued SQE has been consumed.
func (r *Ring) submitAll() {
	for {
		// Without SQPOLL the kernel moves the SQ head only inside
		// io_uring_enter, which only this goroutine calls with SQEs.
		n := atomic.LoadUint32(r.sqTail) - atomic.LoadUint32(r.sqHead)
		if n == 0 {
			return
		}
		// GETEVENTS with min_complete 0 does not wait, but lets the
		// kernel post the completions it has ready before returning.
		_, err := r.enter(n, 0, enterGetevents)
		switch err {
		case nil, syscall.EINTR:
			// Reads from the page cache complete inside the call; hand
			// them out now rather than leave them to wake the reaper.
			// A short count leaves SQEs queued; go round again.
			if r.reapMu.TryLock() {
				r.reap(false)
				r.reapMu.Unlock()
			}
		case syscall.EAGAIN, syscall.EBUSY:
			// Out of request memory, or completions are backed up: wait
			// for the reaper to make progress. The timer covers the case
			// where nothing is in flight to complete.
			t := time.NewTimer(time.Millisecond)
			select {
			case <-r.progress:
			case <-t.C:
			}
			t.Stop()
		default:
			panic("aiofs: io_uring_enter: " + err.Error())
		}
	}
}

// reaper waits for completions and dispatches them to their slots,
// until it sees the NOP that Close queues last.
func (r *Ring) reaper() {
	defer r.loops.Done()
	var buf [8]byte
	for {
		r.reapMu.Lock()
		n, stop := r.reap(true)
		r.reapMu.Unlock()
		if stop {
			return
		}
		if n > 0 {
			select {
			case r.progress <- struct{}{}:
			default:
			}
			continue
		}
		if atomic.LoadUint32(r.sqFlags)&sqCQOverflow != 0 {
			// Completions overflowed the CQ (which the bound on slots
			// rules out, so this is a defence); GETEVENTS moves them
			// in. With min_complete 0 the call does not wait.
			if _, err := r.enter(0, 0, enterGetevents); err != nil && err != syscall.EINTR {
				panic("aiofs: io_uring_enter: " + err.Error())
			}
			continue
		}
		// The CQ is empty. Wait for the kernel to signal the eventfd,
		// which it does after posting: a completion posted since reap
		// looked has already made the read ready. The netpoller parks
		// this goroutine meanwhile; no lock is held.
		if _, err := r.events.Read(buf[:]); err != nil {
			panic("aiofs: reading io_uring eventfd: " + err.Error())
		}
	}
}

// reap dispatches the completions in the CQ and reports how many there
// were. The stop NOP ends the reaper: only the reaper (stop true) takes
// it; others leave it, and what follows, for the reaper to find.
// The caller holds reapMu.
func (r *Ring) reap(stop bool) (n int, stopped bool) {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail) // orders the CQE reads after it
	for ; head != tail; head++ {
		cqe := r.cqes[head&r.cqMask] // a copy: the kernel reuses the entry
		if cqe.userData == stopData {
			if !stop {
				break
			}
			stopped = true
			continue
		}
		n++
		idx, gen := uint32(cqe.userData), uint32(cqe.userData>>32)
		if idx >= uint32(len(r.reqs)) {
			continue
		}
		q := &r.reqs[idx]
		// The caller stored gen after preparing q, so this load also
		// orders the write of q.res after the caller's last use of it.
		if q.gen.Load() != gen {
			continue // not the slot's SQE in flight; cannot happen
		}
		q.res = cqe.res
		r.c.InFlight.Add(-1)
		r.c.Completed.Add(1)
		q.done <- struct{}{} // never blocks: one signal per SQE
	}
	// Only now hand the entries back to the kernel.
	atomic.StoreUint32(r.cqHead, head)
	return n, stopped
}

// run submits sqe for q and waits for its result, resubmitting when the
// kernel reports EAGAIN or EINTR. It returns cqe.res.
func (r *Ring) run(q *request, sqe *sqEntry) int32 {
	for {
		sqe.userData = uint64(q.gen.Add(1))<<32 | uint64(q.idx)
		r.c.Submitted.Add(1)
		inFlight := r.c.InFlight.Add(1)
		var start time.Time
		if sqe.opcode != opFsync && !r.slow.Load() {
			start = time.Now() // fsync is slow everywhere, says nothing
		}
		r.push(sqe)
		<-q.done
		if !start.IsZero() {
			r.noteLatency(time.Since(start), inFlight)
		}
		if res := q.res; res != -int32(syscall.EAGAIN) && res != -int32(syscall.EINTR) {
			return res
		}
	}
}

// get takes an idle slot, waiting while all are in use.
func (r *Ring) get() *request { return <-r.free }

func (r *Ring) put(q *request) {
	q.buf, q.bufs = nil, nil
	if cap(q.iov) > 64 {
		q.iov = nil // don't keep a large array per slot
	}
	clear(q.iov[:cap(q.iov)]) // drop pointers to the caller's buffers
	r.free <- q
}

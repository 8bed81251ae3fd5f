//go:build freebsd

package kqaio

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	DefaultDepth = 128              // slots when Open is given 0: below vfs.aio.max_aio_queue_per_proc's default of 256
	MaxDepth     = 4096             // cap when that sysctl cannot be read
	iovMax       = 64               // iovecs per aio_readv/aio_writev (the kernel allows 1024)
	maxIO        = 1 << 30          // bytes per operation, well below IOSIZE_MAX
	wakeIdent    = 1                // ident of the EVFILT_USER event that stops the reaper
	keventBatch  = 64               // events taken per kevent call
	eagainTries  = 8                // EAGAIN retries before the synchronous fallback
	eagainWait   = time.Millisecond // first retry wait, doubled on each retry
)

// Counters point at the caller's counters, which the queue keeps: one
// submission and one completion per AIO job and per synchronous fallback.
type Counters struct {
	Submitted, Completed *atomic.Uint64
	InFlight             *atomic.Int64
}

// A Queue is one kqueue with its slab of aiocbs and its reaper goroutine.
// Its methods may be called concurrently; Close only once no other call
// is in progress.
type Queue struct {
	kq    int
	slab  []byte  // mmapped: the aiocbs, then the iovec arrays
	cbs   []aiocb // aiocb of slot i, in slab
	iovs  []iovec // iovecs of slot i at [i*iovMax, (i+1)*iovMax), in slab
	slots []cbSlot
	free  chan int // slots whose last operation has been reaped

	vectored atomic.Bool // aio_readv and aio_writev are usable
	noAIO    atomic.Bool // AIO is unusable (ENOSYS): every operation is synchronous

	// syncFiles holds the files AIO refused (EOPNOTSUPP), keyed weakly so
	// that a dropped *os.File leaves the set; nSyncFiles spares the lookup
	// while the set is empty.
	syncFiles  sync.Map // weak.Pointer[os.File] -> struct{}
	nSyncFiles atomic.Int64

	// tick is closed and replaced by the reaper after a batch of
	// completions while tickWaiters > 0: it wakes callers waiting out an
	// EAGAIN.
	tickMu      sync.Mutex
	tick        chan struct{}
	tickWaiters atomic.Int32

	eagainRetries atomic.Uint64 // submissions retried after EAGAIN
	eagainSync    atomic.Uint64 // pieces done synchronously after eagainTries

	reaped chan struct{} // closed when the reaper returns

	c Counters
}

// cbSlot is the Go-side state of one aiocb. Only the goroutine that took
// the slot from the free list touches gen and pin; the reaper touches only
// token and done.
type cbSlot struct {
	token atomic.Uint64 // slot|gen<<32 of the operation in flight, 0 if none
	gen   uint32
	pin   runtime.Pinner // the operation's buffers, until aio_return
	done  chan result    // capacity 1: the reaper's result for the owner
}

type result struct {
	n     int
	errno syscall.Errno
}

// Open starts a queue of depth slots (0 is DefaultDepth; at most MaxDepth
// and vfs.aio.max_aio_queue_per_proc) that keeps c up to date. It fails
// where Supported is false and where the kernel lacks aio(4).
func Open(depth int, c Counters) (*Queue, error) {
	if !Supported {
		return nil, errors.New("kqueue engine: FreeBSD's AIO structures are mirrored for 64-bit ports only")
	}
	// kern.features.aio exists when the kernel has aio(4); asking sysctl
	// avoids issuing an aio syscall the kernel may not have (SIGSYS).
	if v, err := unix.SysctlUint32("kern.features.aio"); err != nil || v == 0 {
		return nil, errors.New("kqueue engine: the kernel has no aio(4) (kern.features.aio)")
	}
	if depth <= 0 {
		depth = DefaultDepth
	}
	depth = min(depth, MaxDepth)
	// More slots than the per-process queue would only meet EAGAIN.
	if m, err := unix.SysctlUint32("vfs.aio.max_aio_queue_per_proc"); err == nil && m > 0 && depth > int(m) {
		depth = int(m)
	}

	syscall.ForkLock.RLock()
	kq, err := unix.Kqueue()
	if err == nil {
		unix.CloseOnExec(kq)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, os.NewSyscallError("kqueue", err)
	}

	// unsafe.Sizeof only: the slab holds depth aiocbs, then iovMax
	// iovecs per slot.
	cbSize := depth * int(unsafe.Sizeof(aiocb{}))
	slab, err := unix.Mmap(-1, 0, cbSize+depth*iovMax*int(unsafe.Sizeof(iovec{})),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		unix.Close(kq)
		return nil, os.NewSyscallError("mmap", err)
	}

	wake := []unix.Kevent_t{{Ident: wakeIdent, Filter: unix.EVFILT_USER, Flags: unix.EV_ADD | unix.EV_CLEAR}}
	if _, err := unix.Kevent(kq, wake, nil, nil); err != nil {
		unix.Munmap(slab)
		unix.Close(kq)
		return nil, os.NewSyscallError("kevent", err)
	}

	q := &Queue{
		kq:   kq,
		slab: slab,
		// unsafe: the slab is page-aligned anonymous memory outside the Go
		// heap, large enough for depth aiocbs followed by depth*iovMax
		// iovecs (160 is a multiple of 8, so the iovecs are aligned). The
		// element types hold no Go pointers, so the GC has nothing to scan.
		cbs:    unsafe.Slice((*aiocb)(unsafe.Pointer(&slab[0])), depth),
		iovs:   unsafe.Slice((*iovec)(unsafe.Pointer(&slab[cbSize])), depth*iovMax),
		slots:  make([]cbSlot, depth),
		free:   make(chan int, depth),
		tick:   make(chan struct{}),
		reaped: make(chan struct{}),
		c:      c,
	}
	for i := range q.slots {
		q.slots[i].done = make(chan result, 1)
		q.free <- i
	}
	if rel, err := unix.SysctlUint32("kern.osreldate"); err == nil && rel >= osrelVectored {
		q.vectored.Store(true)
	}
	go q.reap()
	return q, nil
}

// reap is the queue's only kevent reader and its only aio_return caller.
func (q *Queue) reap() {
	defer close(q.reaped)
	var evs [keventBatch]kevent
	for {
		// unsafe: evs is handed to the kernel only for this call; a
		// pointer converted to uintptr in the argument list of an
		// assembly-implemented call stays valid and unmoved for the call.
		// kevent holds no Go pointers.
		r, _, errno := unix.Syscall6(unix.SYS_KEVENT, uintptr(q.kq), 0, 0,
			uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0)
		if errno == unix.EINTR {
			continue // kevent is never restarted, even with SA_RESTART
		}
		if errno != 0 {
			// Only a broken queue (its kqueue closed under it) gets here,
			// and the callers it holds could never be woken.
			panic("aiofs: kevent on the queue's kqueue: " + errno.Error())
		}
		stop := false
		for i := range evs[:int(r)] {
			switch ev := &evs[i]; ev.Filter {
			case unix.EVFILT_AIO:
				q.complete(ev)
			case unix.EVFILT_USER:
				stop = true
			}
		}
		if q.tickWaiters.Load() > 0 {
			q.tickMu.Lock()
			close(q.tick)
			q.tick = make(chan struct{})
			q.tickMu.Unlock()
		}
		if stop {
			return
		}
	}
}

// complete reaps the operation ev reports and wakes its caller.
func (q *Queue) complete(ev *kevent) {
	slot := int(uint32(ev.Udata))
	// unsafe: taking the address of an aiocb in the slab, to compare.
	if slot >= len(q.slots) || ev.Ident != uintptr(unsafe.Pointer(&q.cbs[slot])) ||
		!q.slots[slot].token.CompareAndSwap(uint64(ev.Udata), 0) {
		panic("aiofs: kqueue event for an aiocb that is not in flight")
	}
	// aio_return frees the job and, with it, its place in the queue. A
	// failed job makes the call fail with the job's errno.
	r, _, errno := unix.Syscall(unix.SYS_AIO_RETURN, ev.Ident, 0, 0)
	n := 0
	if errno == 0 {
		n = int(r)
	}
	q.slots[slot].done <- result{n: n, errno: errno}
}

// awaitCompletion waits until the reaper has processed a batch of
// completions or d has passed, whichever is first.
func (q *Queue) awaitCompletion(d time.Duration) {
	q.tickWaiters.Add(1)
	defer q.tickWaiters.Add(-1)
	q.tickMu.Lock()
	tick := q.tick
	q.tickMu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-tick:
	case <-t.C:
	}
}

// Close stops the reaper, and only then closes the kqueue: closing it
// earlier would drop the knotes of jobs still running. No other call may
// be in progress (each returns only after its aio_return), or begin after
// it.
func (q *Queue) Close() error {
	wake := []unix.Kevent_t{{Ident: wakeIdent, Filter: unix.EVFILT_USER, Fflags: unix.NOTE_TRIGGER}}
	if _, err := unix.Kevent(q.kq, wake, nil, nil); err != nil {
		// The reaper cannot be stopped: leave it its kqueue and slab.
		return os.NewSyscallError("kevent", err)
	}
	<-q.reaped
	q.cbs, q.iovs = nil, nil
	if err := unix.Munmap(q.slab); err != nil {
		unix.Close(q.kq)
		return os.NewSyscallError("munmap", err)
	}
	q.slab = nil
	return os.NewSyscallError("close", unix.Close(q.kq))
}

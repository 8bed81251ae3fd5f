package aiofs

// The FreeBSD engine: POSIX AIO (aio_read, aio_write, aio_readv,
// aio_writev, aio_fsync) whose completions arrive on one kqueue per engine
// as EVFILT_AIO events (SIGEV_KEVENT with EV_ONESHOT).
//
// Memory. The aiocbs and the iovec arrays live in one mmapped slab that
// the garbage collector neither moves nor frees. Slot i of the slab is
// aiocb i plus kqIovMax iovecs; a free list hands slots to callers, so at
// most depth operations are in flight. The kernel writes into an aiocb
// only inside our own aio_* calls, and a slot is reused only after the
// reaper's aio_return for its previous operation, so no stale knote can
// swallow a new operation's event. User buffers are pinned with the slot's
// runtime.Pinner from before submission until after aio_return.
//
// Tokens. sigev_value, which comes back as the event's udata, is
// slot | generation<<32. Before the submitting syscall the slot records
// that token (the operation can complete inside the syscall); the reaper
// accepts an event only if ident is that slot's aiocb and the token
// matches, and clears it.
//
// Reaping. One goroutine blocks in kevent (one parked OS thread, no P).
// For each EVFILT_AIO event it calls aio_return, the only place that does,
// and hands the result to the waiting caller. close wakes it with an
// EVFILT_USER event once every operation has returned.
//
// Refusals. EAGAIN from a submission (vfs.aio.max_aio_queue_per_proc,
// default 256, shared by the whole process, or the system-wide
// vfs.aio.max_aio_queue) is backpressure: the caller waits for one of this
// engine's completions or a short timeout and retries, and after
// kqEagainTries falls back to a synchronous pread/pwrite/fsync for that
// piece. EOPNOTSUPP (descriptors that are not regular files or
// directories on a local file system while vfs.aio.enable_unsafe=0: NFS,
// pipes, most devices) marks the *os.File as served synchronously from
// then on. ENOSYS from aio_readv/aio_writev turns vectored submission off;
// from the others it turns AIO off for the engine.
//
// O_APPEND. The kernel ignores aio_offset on O_APPEND descriptors. The
// files layer opens descriptors without O_APPEND and passes explicit
// offsets; this engine relies on that.
//
// The structures shared with the kernel are in freebsd_layout.go. They
// match the C layout on FreeBSD's LP64 ports; on 32-bit FreeBSD the engine
// does not start and the pool serves.

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
	"weak"

	"golang.org/x/sys/unix"
)

// platformEngine is the name of this system's own engine.
const platformEngine = "kqueue"

// FreeBSD values that golang.org/x/sys/unix does not define.
const (
	sysAioWritev = 578 // aio_writev(struct aiocb *), syscalls.master, FreeBSD 13.0+
	sysAioReadv  = 579 // aio_readv(struct aiocb *)
	sigevKevent  = 3   // SIGEV_KEVENT, <sys/signal.h>

	// osrelVectored is the __FreeBSD_version of 13.0-RELEASE, the first
	// release with aio_readv and aio_writev. Below it the engine never
	// issues syscalls 578/579: an unknown syscall raises SIGSYS, which
	// the Go runtime ignores in ordinary programs but which kills a
	// c-archive or c-shared build that did not install a handler.
	osrelVectored = 1300139
)

const (
	kqDefaultDepth = 128              // below vfs.aio.max_aio_queue_per_proc's default of 256
	kqMaxDepth     = 4096             // cap when that sysctl cannot be read
	kqIovMax       = 64               // iovecs per aio_readv/aio_writev (the kernel allows 1024)
	kqMaxIO        = 1 << 30          // bytes per operation, well below IOSIZE_MAX
	kqWakeIdent    = 1                // ident of the EVFILT_USER event that stops the reaper
	kqEvents       = 64               // events taken per kevent call
	kqEagainTries  = 8                // EAGAIN retries before the synchronous fallback
	kqEagainWait   = time.Millisecond // first retry wait, doubled on each retry
)

// kqLP64 is 1 where the layout types match FreeBSD's C structures, 0 on
// 32-bit ports, where the engine does not start.
const kqLP64 = int(unsafe.Sizeof(uintptr(0)) / 8)

// Compile-time layout checks against <sys/aio.h>, <sys/signal.h>,
// <sys/event.h> and <sys/uio.h> (LP64). A constant index outside [0,1)
// fails the build, so each line holds only if the two values are equal.
func _() {
	var x [1]struct{}
	_ = x[kqLP64*(int(unsafe.Sizeof(fbsdAiocb{}))-160)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdAiocb{}.Fildes))-0)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdAiocb{}.Offset))-8)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdAiocb{}.Buf))-16)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdAiocb{}.Nbytes))-24)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdAiocb{}.LioOpcode))-48)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdAiocb{}.Reqprio))-52)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdAiocb{}.Status))-56)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdAiocb{}.Error))-64)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdAiocb{}.Kinfo))-72)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdAiocb{}.Sigevent))-80)]
	_ = x[kqLP64*(int(unsafe.Sizeof(fbsdSigevent{}))-80)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdSigevent{}.Notify))-0)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdSigevent{}.Signo))-4)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdSigevent{}.Value))-8)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdSigevent{}.KeventFlags))-16)]
	_ = x[kqLP64*(int(unsafe.Sizeof(fbsdKevent{}))-64)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdKevent{}.Ident))-0)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdKevent{}.Filter))-8)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdKevent{}.Flags))-10)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdKevent{}.Fflags))-12)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdKevent{}.Data))-16)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdKevent{}.Udata))-24)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdKevent{}.Ext))-32)]
	_ = x[kqLP64*(int(unsafe.Sizeof(fbsdIovec{}))-16)]
	_ = x[kqLP64*(int(unsafe.Offsetof(fbsdIovec{}.Len))-8)]
	// Our kevent must also match the one x/sys/unix passes to kevent(2).
	_ = x[kqLP64*(int(unsafe.Sizeof(unix.Kevent_t{}))-64)]
}

type kqOp uint8

const (
	kqRead kqOp = iota
	kqWrite
	kqReadv
	kqWritev
	kqFsync
)

type kqueueEngine struct {
	kq    int
	slab  []byte      // mmapped: the aiocbs, then the iovec arrays
	cbs   []fbsdAiocb // aiocb of slot i, in slab
	iovs  []fbsdIovec // iovecs of slot i at [i*kqIovMax, (i+1)*kqIovMax), in slab
	slots []kqSlot
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
	eagainSync    atomic.Uint64 // pieces done synchronously after kqEagainTries

	reaped chan struct{} // closed when the reaper returns

	// closing is held for reading by every operation and for writing by
	// close, so close waits for in-flight work and later calls see closed.
	closing sync.RWMutex
	closed  bool

	c engineCounters
}

// kqSlot is the Go-side state of one aiocb. Only the goroutine that took
// the slot from the free list touches gen and pin; the reaper touches only
// token and done.
type kqSlot struct {
	token atomic.Uint64 // slot|gen<<32 of the operation in flight, 0 if none
	gen   uint32
	pin   runtime.Pinner // the operation's buffers, until aio_return
	done  chan kqResult  // capacity 1: the reaper's result for the owner
}

type kqResult struct {
	n     int
	errno syscall.Errno
}

func newPlatformEngine(depth int) (engine, error) {
	if kqLP64 == 0 {
		return nil, errNoPlatformEngine
	}
	// kern.features.aio exists when the kernel has aio(4); asking sysctl
	// avoids issuing an aio syscall the kernel may not have (SIGSYS).
	if v, err := unix.SysctlUint32("kern.features.aio"); err != nil || v == 0 {
		return nil, errors.New("kqueue engine: the kernel has no aio(4) (kern.features.aio)")
	}
	if depth <= 0 {
		depth = kqDefaultDepth
	}
	depth = min(depth, kqMaxDepth)
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

	// unsafe.Sizeof only: the slab holds depth aiocbs, then kqIovMax
	// iovecs per slot.
	cbSize := depth * int(unsafe.Sizeof(fbsdAiocb{}))
	slab, err := unix.Mmap(-1, 0, cbSize+depth*kqIovMax*int(unsafe.Sizeof(fbsdIovec{})),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		unix.Close(kq)
		return nil, os.NewSyscallError("mmap", err)
	}

	wake := []unix.Kevent_t{{Ident: kqWakeIdent, Filter: unix.EVFILT_USER, Flags: unix.EV_ADD | unix.EV_CLEAR}}
	if _, err := unix.Kevent(kq, wake, nil, nil); err != nil {
		unix.Munmap(slab)
		unix.Close(kq)
		return nil, os.NewSyscallError("kevent", err)
	}

	e := &kqueueEngine{
		kq:   kq,
		slab: slab,
		// unsafe: the slab is page-aligned anonymous memory outside the Go
		// heap, large enough for depth aiocbs followed by depth*kqIovMax
		// iovecs (160 is a multiple of 8, so the iovecs are aligned). The
		// element types hold no Go pointers, so the GC has nothing to scan.
		cbs:    unsafe.Slice((*fbsdAiocb)(unsafe.Pointer(&slab[0])), depth),
		iovs:   unsafe.Slice((*fbsdIovec)(unsafe.Pointer(&slab[cbSize])), depth*kqIovMax),
		slots:  make([]kqSlot, depth),
		free:   make(chan int, depth),
		tick:   make(chan struct{}),
		reaped: make(chan struct{}),
	}
	for i := range e.slots {
		e.slots[i].done = make(chan kqResult, 1)
		e.free <- i
	}
	if rel, err := unix.SysctlUint32("kern.osreldate"); err == nil && rel >= osrelVectored {
		e.vectored.Store(true)
	}
	go e.reap()
	return e, nil
}

func (e *kqueueEngine) name() string              { return platformEngine }
func (e *kqueueEngine) counters() *engineCounters { return &e.c }

func (e *kqueueEngine) pread(f *os.File, p []byte, off int64) (int, error) {
	one := [1][]byte{p}
	return e.rw(f, false, one[:], off)
}

func (e *kqueueEngine) pwritev(f *os.File, bufs [][]byte, off int64) (int, error) {
	return e.rw(f, true, bufs, off)
}

// preadv reads into several buffers, with aio_readv where the kernel has
// it. The engine interface does not ask for it; the tests use it to check
// aio_readv.
func (e *kqueueEngine) preadv(f *os.File, bufs [][]byte, off int64) (int, error) {
	return e.rw(f, false, bufs, off)
}

// rw transfers between bufs and f at off, continuing short transfers until
// every buffer is done, an error occurs, or (reads) end of file.
func (e *kqueueEngine) rw(f *os.File, write bool, bufs [][]byte, off int64) (total int, err error) {
	e.closing.RLock()
	defer e.closing.RUnlock()
	if e.closed {
		return 0, os.ErrClosed
	}
	defer runtime.KeepAlive(f) // fd stays f's until we are done with it
	fd := int(f.Fd())
	i, skip := 0, 0 // the next byte is bufs[i][skip]
	for {
		for i < len(bufs) && skip == len(bufs[i]) {
			i, skip = i+1, 0
		}
		if i == len(bufs) {
			break
		}
		var n int
		n, err = e.transfer(f, fd, write, bufs[i:], skip, off)
		total += n
		off += int64(n)
		if err != nil {
			break
		}
		if n == 0 {
			if write {
				err = io.ErrShortWrite
			}
			break
		}
		for n > 0 && i < len(bufs) {
			m := min(n, len(bufs[i])-skip)
			n -= m
			if skip += m; skip == len(bufs[i]) {
				i, skip = i+1, 0
			}
		}
	}
	if write {
		e.c.bytesWritten.Add(uint64(total))
	} else {
		e.c.bytesRead.Add(uint64(total))
	}
	return total, err
}

// transfer does one piece starting at bufs[0][skip], which is not empty:
// one AIO operation, or one synchronous pread/pwrite when AIO cannot serve.
func (e *kqueueEngine) transfer(f *os.File, fd int, write bool, bufs [][]byte, skip int, off int64) (int, error) {
	op := kqRead
	if write {
		op = kqWrite
	}
	if len(bufs) > 1 && e.vectored.Load() {
		op += kqReadv - kqRead // kqReadv or kqWritev
	}
	if n, ok, err := e.submit(f, op, fd, off, bufs, skip); ok {
		return n, err
	}
	p := bufs[0][skip:]
	p = p[:min(len(p), kqMaxIO)]
	e.syncStart()
	defer e.syncDone()
	for {
		var n int
		var err error
		if write {
			n, err = unix.Pwrite(fd, p, off)
		} else {
			n, err = unix.Pread(fd, p, off)
		}
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}

func (e *kqueueEngine) fsync(f *os.File) error {
	e.closing.RLock()
	defer e.closing.RUnlock()
	if e.closed {
		return os.ErrClosed
	}
	defer runtime.KeepAlive(f)
	fd := int(f.Fd())
	if _, ok, err := e.submit(f, kqFsync, fd, 0, nil, 0); ok {
		return err
	}
	e.syncStart()
	defer e.syncDone()
	for {
		if err := unix.Fsync(fd); err != unix.EINTR {
			return err
		}
	}
}

// syncStart and syncDone count a synchronous fallback. It is a submission
// like any other, handed to the kernel, just not asynchronously; fastPath
// means page-cache hits, which this engine does not detect.
func (e *kqueueEngine) syncStart() {
	e.c.submitted.Add(1)
	e.c.inFlight.Add(1)
}

func (e *kqueueEngine) syncDone() {
	e.c.inFlight.Add(-1)
	e.c.completed.Add(1)
}

// submit runs op through AIO, riding out EAGAIN. ok is false when AIO
// cannot serve and the caller must do the piece synchronously.
func (e *kqueueEngine) submit(f *os.File, op kqOp, fd int, off int64, bufs [][]byte, skip int) (int, bool, error) {
	if e.noAIO.Load() || e.isSyncFile(f) {
		return 0, false, nil
	}
	for try := 0; ; {
		n, errno, queued := e.aio(op, fd, off, bufs, skip)
		if queued {
			if errno != 0 {
				return n, true, errno
			}
			return n, true, nil
		}
		switch {
		case errno == unix.EAGAIN && try < kqEagainTries:
			e.eagainRetries.Add(1)
			e.awaitCompletion(kqEagainWait << try)
			try++
		case errno == unix.EAGAIN:
			e.eagainSync.Add(1)
			return 0, false, nil
		case errno == unix.EOPNOTSUPP:
			e.markSyncFile(f)
			return 0, false, nil
		case errno == unix.ENOSYS && (op == kqReadv || op == kqWritev):
			e.vectored.Store(false)
			op -= kqReadv - kqRead
		case errno == unix.ENOSYS:
			e.noAIO.Store(true)
			return 0, false, nil
		case op == kqFsync:
			// aio_fsync refuses some descriptors fsync(2) takes; let
			// fsync(2) give the verdict.
			return 0, false, nil
		default:
			return 0, true, errno
		}
	}
}

// aio submits one operation in a free slot and waits for its result.
// queued reports whether the kernel took it; if not, errno says why and no
// event will come.
func (e *kqueueEngine) aio(op kqOp, fd int, off int64, bufs [][]byte, skip int) (n int, errno syscall.Errno, queued bool) {
	slot := <-e.free
	s := &e.slots[slot]
	if s.gen++; s.gen == 0 {
		s.gen = 1 // a token is never 0
	}
	token := uint64(slot) | uint64(s.gen)<<32

	// The slot's aiocb is ours: its previous operation was reaped (or
	// never queued), so the kernel no longer knows this address.
	cb := &e.cbs[slot]
	*cb = fbsdAiocb{
		Fildes: int32(fd),
		Offset: off,
		Sigevent: fbsdSigevent{
			Notify:      sigevKevent,
			Signo:       int32(e.kq),
			Value:       uintptr(token),
			KeventFlags: unix.EV_ONESHOT,
		},
	}
	// unsafe: cb is in the mmapped slab, so its address is stable and
	// safe to hold as a uintptr.
	cbAddr := uintptr(unsafe.Pointer(cb))
	trap, a1, a2 := uintptr(0), cbAddr, uintptr(0)
	switch op {
	case kqFsync:
		trap, a1, a2 = unix.SYS_AIO_FSYNC, unix.O_SYNC, cbAddr
	case kqRead, kqWrite:
		trap = unix.SYS_AIO_READ
		if op == kqWrite {
			trap = unix.SYS_AIO_WRITE
		}
		p := bufs[0][skip:]
		p = p[:min(len(p), kqMaxIO)]
		cb.Buf, cb.Nbytes = e.pinned(s, p), uintptr(len(p))
	case kqReadv, kqWritev:
		trap = sysAioReadv
		if op == kqWritev {
			trap = sysAioWritev
		}
		iov := e.iovs[slot*kqIovMax : (slot+1)*kqIovMax]
		cnt, size := 0, 0
		for j, b := range bufs {
			if j == 0 {
				b = b[skip:]
			}
			if cnt == len(iov) || size == kqMaxIO {
				break
			}
			if len(b) == 0 {
				continue
			}
			b = b[:min(len(b), kqMaxIO-size)]
			iov[cnt] = fbsdIovec{Base: e.pinned(s, b), Len: uintptr(len(b))}
			cnt++
			size += len(b)
		}
		// unsafe: the iovec array is in the slab too; the kernel copies it
		// in during the syscall and keeps only the buffer addresses.
		cb.Buf, cb.Nbytes = uintptr(unsafe.Pointer(&iov[0])), uintptr(cnt)
	}

	// Record the operation before the syscall: it can complete, and its
	// event be read by the reaper, before the syscall returns.
	s.token.Store(token)
	_, _, errno = unix.Syscall(trap, a1, a2, 0)
	if errno != 0 {
		// Nothing was queued and no event will come; aio_return would
		// only say EINVAL.
		s.token.Store(0)
		s.pin.Unpin()
		e.free <- slot
		return 0, errno, false
	}
	e.c.submitted.Add(1)
	e.c.inFlight.Add(1)
	r := <-s.done
	e.c.inFlight.Add(-1)
	e.c.completed.Add(1)
	s.pin.Unpin() // the reaper's aio_return came first: the kernel is done with the buffers
	e.free <- slot
	return r.n, r.errno, true
}

// pinned pins p's backing array with the slot's Pinner and returns its
// address for the kernel. p is not empty.
func (e *kqueueEngine) pinned(s *kqSlot, p []byte) uintptr {
	s.pin.Pin(&p[0])
	// unsafe: p's array is pinned (it cannot move and stays reachable
	// through the Pinner) until s.pin.Unpin, which comes only after the
	// reaper's aio_return for this operation.
	return uintptr(unsafe.Pointer(&p[0]))
}

// reap is the engine's only kevent reader and its only aio_return caller.
func (e *kqueueEngine) reap() {
	defer close(e.reaped)
	var evs [kqEvents]fbsdKevent
	for {
		// unsafe: evs is handed to the kernel only for this call; a
		// pointer converted to uintptr in the argument list of an
		// assembly-implemented call stays valid and unmoved for the call.
		// fbsdKevent holds no Go pointers.
		r, _, errno := unix.Syscall6(unix.SYS_KEVENT, uintptr(e.kq), 0, 0,
			uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0)
		if errno == unix.EINTR {
			continue // kevent is never restarted, even with SA_RESTART
		}
		if errno != 0 {
			// Only a broken engine (its kqueue closed under it) gets here,
			// and the callers it holds could never be woken.
			panic("aiofs: kevent on the engine's kqueue: " + errno.Error())
		}
		stop := false
		for i := range evs[:int(r)] {
			switch ev := &evs[i]; ev.Filter {
			case unix.EVFILT_AIO:
				e.complete(ev)
			case unix.EVFILT_USER:
				stop = true
			}
		}
		if e.tickWaiters.Load() > 0 {
			e.tickMu.Lock()
			close(e.tick)
			e.tick = make(chan struct{})
			e.tickMu.Unlock()
		}
		if stop {
			return
		}
	}
}

// complete reaps the operation ev reports and wakes its caller.
func (e *kqueueEngine) complete(ev *fbsdKevent) {
	slot := int(uint32(ev.Udata))
	// unsafe: taking the address of an aiocb in the slab, to compare.
	if slot >= len(e.slots) || ev.Ident != uintptr(unsafe.Pointer(&e.cbs[slot])) ||
		!e.slots[slot].token.CompareAndSwap(uint64(ev.Udata), 0) {
		panic("aiofs: kqueue event for an aiocb that is not in flight")
	}
	// aio_return frees the job and, with it, its place in the queue. A
	// failed job makes the call fail with the job's errno.
	r, _, errno := unix.Syscall(unix.SYS_AIO_RETURN, ev.Ident, 0, 0)
	n := 0
	if errno == 0 {
		n = int(r)
	}
	e.slots[slot].done <- kqResult{n: n, errno: errno}
}

// awaitCompletion waits until the reaper has processed a batch of
// completions or d has passed, whichever is first.
func (e *kqueueEngine) awaitCompletion(d time.Duration) {
	e.tickWaiters.Add(1)
	defer e.tickWaiters.Add(-1)
	e.tickMu.Lock()
	tick := e.tick
	e.tickMu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-tick:
	case <-t.C:
	}
}

func (e *kqueueEngine) isSyncFile(f *os.File) bool {
	if e.nSyncFiles.Load() == 0 {
		return false
	}
	_, ok := e.syncFiles.Load(weak.Make(f))
	return ok
}

func (e *kqueueEngine) markSyncFile(f *os.File) {
	wp := weak.Make(f)
	if _, loaded := e.syncFiles.LoadOrStore(wp, struct{}{}); loaded {
		return
	}
	e.nSyncFiles.Add(1)
	runtime.AddCleanup(f, func(wp weak.Pointer[os.File]) {
		e.syncFiles.Delete(wp)
		e.nSyncFiles.Add(-1)
	}, wp)
}

// close waits for every operation to return (each returns only after its
// aio_return), stops the reaper, and only then closes the kqueue: closing
// it earlier would drop the knotes of jobs still running.
func (e *kqueueEngine) close() error {
	e.closing.Lock()
	defer e.closing.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	wake := []unix.Kevent_t{{Ident: kqWakeIdent, Filter: unix.EVFILT_USER, Fflags: unix.NOTE_TRIGGER}}
	if _, err := unix.Kevent(e.kq, wake, nil, nil); err != nil {
		// The reaper cannot be stopped: leave it its kqueue and slab.
		return os.NewSyscallError("kevent", err)
	}
	<-e.reaped
	e.cbs, e.iovs = nil, nil
	if err := unix.Munmap(e.slab); err != nil {
		unix.Close(e.kq)
		return os.NewSyscallError("munmap", err)
	}
	e.slab = nil
	return os.NewSyscallError("close", unix.Close(e.kq))
}

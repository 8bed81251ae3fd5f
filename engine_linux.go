package aiofs

import (
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// platformEngine is io_uring, available since Linux 5.1. When the kernel
// refuses it (seccomp in containers, kernel.io_uring_disabled, a small
// RLIMIT_MEMLOCK) the pool takes over.
const platformEngine = "uring"

const (
	// uringDefaultEntries is the SQ size when no queue depth is given.
	uringDefaultEntries = 256
	// uringMaxEntries is the kernel's IORING_MAX_ENTRIES.
	uringMaxEntries = 32768

	// uringFastPathMax is the largest read that is first tried
	// synchronously with preadv2(RWF_NOWAIT), which copies what the page
	// cache holds and fails with EAGAIN rather than wait for the disk.
	// A ring round trip costs goroutine handoffs and system calls: on
	// cached data BenchmarkUringPread finds the fast path 2-3 times
	// faster at 4 KiB and about 25% faster at 64 KiB; from 256 KiB on,
	// the copy dominates and neither wins. When the data is not cached,
	// the failed try costs little next to the disk (and starts readahead).
	uringFastPathMax = 128 << 10

	// After uringWarmAfter reads in a row from the page cache, reads use
	// plain pread (see preadWarm) but for one in uringWarmCheck, which
	// checks that the cache still serves them; at most uringPlainReaders
	// at once, so a cold phase blocks a handful of threads, not one per
	// reader.
	uringWarmAfter    = 64
	uringPlainReaders = 4
	uringWarmCheck    = 32

	// uringMaxRW is the default maxRW.
	uringMaxRW = 1 << 30
	// uringMaxIov is IOV_MAX, the most iovecs one WRITEV may carry.
	uringMaxIov = 1024

	// uringStopData is the user_data of the NOP that stops the reaper.
	uringStopData = ^uint64(0)
)

// Kernel ABI, from include/uapi/linux/io_uring.h.
const (
	ioringOffSQRing = 0
	ioringOffCQRing = 0x8000000
	ioringOffSQEs   = 0x10000000

	ioringFeatSingleMmap = 1 << 0

	ioringEnterGetevents = 1 << 0

	ioringSQCQOverflow = 1 << 1 // in the SQ ring's flags

	ioringOpNop    = 0
	ioringOpReadv  = 1
	ioringOpWritev = 2
	ioringOpFsync  = 3
	ioringOpRead   = 22 // since 5.6
	ioringOpWrite  = 23 // since 5.6

	ioringRegisterEventfd        = 4  // since 5.2
	ioringRegisterProbe          = 8  // since 5.6
	ioringRegisterIOWQMaxWorkers = 19 // since 5.15

	ioUringOpSupported = 1 << 0 // io_uring_probe_op.flags
)

// uringSQRingOffsets is struct io_sqring_offsets.
type uringSQRingOffsets struct {
	head        uint32
	tail        uint32
	ringMask    uint32
	ringEntries uint32
	flags       uint32
	dropped     uint32
	array       uint32
	resv1       uint32
	userAddr    uint64
}

// uringCQRingOffsets is struct io_cqring_offsets.
type uringCQRingOffsets struct {
	head        uint32
	tail        uint32
	ringMask    uint32
	ringEntries uint32
	overflow    uint32
	cqes        uint32
	flags       uint32
	resv1       uint32
	userAddr    uint64
}

// uringParams is struct io_uring_params, 120 bytes.
type uringParams struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        uringSQRingOffsets
	cqOff        uringCQRingOffsets
}

// uringSQE is struct io_uring_sqe, 64 bytes, with each union reduced to
// the member this engine uses.
type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32 // rw_flags, fsync_flags, ...
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

// uringCQE is struct io_uring_cqe, 16 bytes (no IORING_SETUP_CQE32).
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// uringProbeOp is struct io_uring_probe_op.
type uringProbeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

// uringProbe is struct io_uring_probe with room for every opcode.
type uringProbe struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [256]uringProbeOp
}

func (p *uringProbe) supports(op uint8) bool {
	return op <= p.lastOp && p.ops[op].flags&ioUringOpSupported != 0
}

// uringEngine does positioned I/O through one io_uring.
//
// Callers take a request slot (waiting while all are busy), write an SQE
// under sqMu and wake the submitter goroutine, which enters the kernel
// once for everything queued since its last call, then hands out the
// completions that are ready on its return (reads from the page cache
// complete inside the call). The reaper goroutine waits in the netpoller
// on an eventfd the kernel signals when it posts completions, and hands
// out the rest. Each completion goes to its slot's channel.
//
// There are fewer slots than CQ entries and no more than SQ entries (the
// kernel makes the CQ twice the SQ), so neither ring can overflow.
type uringEngine struct {
	fd int // the ring

	// The kernel's shared memory. With IORING_FEAT_SINGLE_MMAP the SQ and
	// CQ rings are one mapping and cqMem is nil.
	ringMem, cqMem, sqeMem []byte

	sqHead, sqTail, sqFlags *uint32
	sqMask                  uint32
	sqes                    []uringSQE

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []uringCQE

	readOp, writeOp uint8 // READ and WRITE, or READV and WRITEV before 5.6
	nowait          bool  // try preadv2(RWF_NOWAIT) before the ring
	// syncWrites is set once a file system refuses RWF_NOWAIT writes; see
	// writeNow.
	syncWrites atomic.Bool
	// warm counts reads the page cache served in a row, up to
	// uringWarmAfter; plain counts the reads in preadWarm, warmReads all
	// that came to it.
	warm, plain atomic.Int32
	warmReads   atomic.Uint32
	// maxRW caps the bytes of one SQE (sqe.len is 32 bits), as
	// internal/poll caps read and write; the rest is continued.
	maxRW int

	sqMu sync.Mutex // serializes writers of the SQ tail
	tail uint32     // next SQ tail, guarded by sqMu

	reqs     []uringReq
	free     chan *uringReq // idle slots; receiving waits for one
	kick     chan struct{}  // SQEs are queued; closed to stop the submitter
	reapMu   sync.Mutex     // serializes readers of the CQ
	events   *os.File       // eventfd the kernel signals after posting CQEs
	progress chan struct{}  // the reaper completed something
	loops    sync.WaitGroup // submitter and reaper

	// closing is held for reading by every operation and for writing by
	// close, so close waits for in-flight work and later calls see closed.
	closing sync.RWMutex
	closed  bool

	c engineCounters
}

// A uringReq is a request slot. Its index and generation form the
// user_data of its SQE; a slot has at most one SQE in flight.
type uringReq struct {
	idx  uint32
	gen  atomic.Uint32 // generation of the SQE in flight
	res  int32         // cqe.res, written by the reaper before done
	done chan struct{} // signalled by the reaper, once per SQE

	// The memory named by the SQE in flight. The kernel reads or writes
	// it until the CQE arrives, so it must stay allocated and in place
	// until then. Storing the slices here makes them escape (the
	// compiler puts them on the heap, where Go never moves objects) and
	// keeps them reachable from the engine whatever the caller does.
	// runtime.Pinner would add a cost per operation and nothing more.
	buf  []byte
	bufs [][]byte
	iov  []unix.Iovec // heap allocated, reused
}

func newPlatformEngine(depth int) (engine, error) {
	e, err := newUringEngine(depth)
	if err != nil {
		return nil, err
	}
	return e, nil
}

func newUringEngine(depth int) (_ *uringEngine, err error) {
	entries := depth
	if entries <= 0 {
		entries = uringDefaultEntries
	}
	entries = min(entries, uringMaxEntries)

	var p uringParams
	// The kernel reads and writes p during the call only.
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		// ENOSYS, EPERM (seccomp, io_uring_disabled), EACCES, ENOMEM
		// (RLIMIT_MEMLOCK before 5.12): the caller falls back.
		return nil, os.NewSyscallError("io_uring_setup", errno)
	}
	e := &uringEngine{fd: int(fd)}
	defer func() {
		if err != nil {
			e.release()
		}
	}()
	if err := e.mapRings(&p); err != nil {
		return nil, err
	}

	e.readOp, e.writeOp = ioringOpReadv, ioringOpWritev
	probe := new(uringProbe)
	// The kernel fills *probe during the call only.
	_, _, errno = unix.Syscall6(unix.SYS_IO_URING_REGISTER, fd, ioringRegisterProbe,
		uintptr(unsafe.Pointer(probe)), uintptr(len(probe.ops)), 0, 0)
	if errno == 0 && probe.supports(ioringOpRead) && probe.supports(ioringOpWrite) {
		e.readOp, e.writeOp = ioringOpRead, ioringOpWrite
	}

	// A slot has at most one SQE queued and one CQE due, and the stop
	// NOP needs a CQE too, so neither ring can overflow.
	n := min(entries, len(e.sqes), len(e.cqes)-1)
	e.limitWorkers(n)

	e.nowait = true
	e.maxRW = uringMaxRW
	e.reqs = make([]uringReq, n)
	e.free = make(chan *uringReq, n)
	for i := range e.reqs {
		r := &e.reqs[i]
		r.idx = uint32(i)
		r.done = make(chan struct{}, 1)
		e.free <- r
	}
	if err := e.registerEventfd(); err != nil {
		return nil, err
	}
	e.kick = make(chan struct{}, 1)
	e.progress = make(chan struct{}, 1)
	e.loops.Add(2)
	go e.submitter()
	go e.reaper()
	return e, nil
}

// mapRings maps the rings described by p and locates their fields.
func (e *uringEngine) mapRings(p *uringParams) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*int(unsafe.Sizeof(uint32(0)))
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(uringCQE{}))
	const prot, flags = unix.PROT_READ | unix.PROT_WRITE, unix.MAP_SHARED | unix.MAP_POPULATE

	var err error
	if p.features&ioringFeatSingleMmap != 0 {
		// One mapping holds both rings (5.4 and later).
		e.ringMem, err = unix.Mmap(e.fd, ioringOffSQRing, max(sqSize, cqSize), prot, flags)
	} else {
		e.ringMem, err = unix.Mmap(e.fd, ioringOffSQRing, sqSize, prot, flags)
		if err == nil {
			e.cqMem, err = unix.Mmap(e.fd, ioringOffCQRing, cqSize, prot, flags)
		}
	}
	if err == nil {
		e.sqeMem, err = unix.Mmap(e.fd, ioringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), prot, flags)
	}
	if err != nil {
		return os.NewSyscallError("mmap", err)
	}

	sq := e.ringMem
	e.sqHead = ringWord(sq, p.sqOff.head)
	e.sqTail = ringWord(sq, p.sqOff.tail)
	e.sqFlags = ringWord(sq, p.sqOff.flags)
	e.sqMask = *ringWord(sq, p.sqOff.ringMask)
	sqEntries := *ringWord(sq, p.sqOff.ringEntries)
	e.sqes = ringSlice[uringSQE](e.sqeMem, 0, sqEntries)
	// SQE i always goes in array slot i, so the indirection is set once.
	array := ringSlice[uint32](sq, p.sqOff.array, sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	e.tail = atomic.LoadUint32(e.sqTail)

	cq := e.ringMem
	if e.cqMem != nil {
		cq = e.cqMem
	}
	e.cqHead = ringWord(cq, p.cqOff.head)
	e.cqTail = ringWord(cq, p.cqOff.tail)
	e.cqMask = *ringWord(cq, p.cqOff.ringMask)
	e.cqes = ringSlice[uringCQE](cq, p.cqOff.cqes, *ringWord(cq, p.cqOff.ringEntries))
	return nil
}

// ringWord returns the 32-bit word at offset off of the mapping m.
func ringWord(m []byte, off uint32) *uint32 {
	_ = m[off+3] // bounds check
	// m is a mapping of the ring, which stays in place until release, and
	// the kernel aligns every offset it reports to its field's size.
	return (*uint32)(unsafe.Pointer(&m[off]))
}

// ringSlice returns the n elements of type T at offset off of m.
func ringSlice[T any](m []byte, off, n uint32) []T {
	size := int(unsafe.Sizeof(*new(T)))
	if n == 0 || int(off)+int(n)*size > len(m) {
		panic("aiofs: io_uring ring outside its mapping")
	}
	// As in ringWord; the check above keeps the slice within m.
	return unsafe.Slice((*T)(unsafe.Pointer(&m[off])), n)
}

// limitWorkers bounds the kernel's io-wq threads, which run requests that
// cannot complete without blocking (buffered writes, reads where the file
// system lacks async buffered reads). They are threads of this process,
// and having few threads is much of the point of a ring. The kernel keeps
// an io-wq per thread that submits, by default of min(SQ entries, 4*CPUs)
// workers; the limit applies to each. Kernels before 5.15 don't know the
// call, which is harmless.
func (e *uringEngine) limitWorkers(slots int) {
	bounded := uint32(min(slots, max(4, 2*runtime.GOMAXPROCS(0))))
	limits := [2]uint32{bounded, 0} // bounded, unbounded (0: unchanged)
	// The kernel reads and rewrites limits during the call only.
	unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(e.fd), ioringRegisterIOWQMaxWorkers,
		uintptr(unsafe.Pointer(&limits)), uintptr(len(limits)), 0, 0)
}

// registerEventfd has the kernel signal a new eventfd whenever it posts
// completions, so that the reaper can wait in the Go netpoller: no
// thread sleeps for it, and a busy process notices completions in the
// scheduler's own polls instead of by waking a thread each time.
func (e *uringEngine) registerEventfd() error {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	// NewFile sees O_NONBLOCK and registers the fd with the netpoller.
	e.events = os.NewFile(uintptr(efd), "io_uring eventfd")
	arg := int32(efd)
	// The kernel reads arg during the call only.
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(e.fd), ioringRegisterEventfd,
		uintptr(unsafe.Pointer(&arg)), 1, 0, 0)
	if errno != 0 {
		return os.NewSyscallError("io_uring_register", errno)
	}
	return nil
}

// release unmaps the rings and closes the ring's file descriptor.
func (e *uringEngine) release() {
	for _, m := range [][]byte{e.sqeMem, e.cqMem, e.ringMem} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	e.sqes, e.cqes, e.sqeMem, e.cqMem, e.ringMem = nil, nil, nil, nil, nil
	unix.Close(e.fd)
	if e.events != nil {
		e.events.Close()
	}
}

func (e *uringEngine) enter(toSubmit, minComplete, flags uint32) (int, error) {
	// Syscall6, not RawSyscall6: the call may block, and the runtime must
	// be able to hand this thread's P to other goroutines meanwhile.
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(e.fd),
		uintptr(toSubmit), uintptr(minComplete), uintptr(flags), 0, 0)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}

// push queues sqe and wakes the submitter. There is room: every queued
// SQE belongs to a slot, no slot has two, and there are no more slots
// than SQ entries.
func (e *uringEngine) push(sqe *uringSQE) {
	e.sqMu.Lock()
	e.sqes[e.tail&e.sqMask] = *sqe
	e.tail++
	// Publish the SQE; the atomic store orders the copy above before it.
	atomic.StoreUint32(e.sqTail, e.tail)
	e.sqMu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default: // the submitter is already due to run
	}
}

// submitter enters the kernel on behalf of all callers, so that what
// many goroutines queue while it is in io_uring_enter goes in one call.
//
// A request belongs to the thread that submitted it: that thread's io-wq
// runs it if it must block, and a thread's exit cancels its requests. A
// goroutine the runtime may schedule on any thread is therefore safer as
// the submitter than the callers, one of which may be locked to a thread
// that ends when it returns. Locking the submitter to one thread would
// give the ring a single io-wq, but every wake-up of a locked goroutine
// is a thread handoff, which made each operation several times slower.
func (e *uringEngine) submitter() {
	defer e.loops.Done()
	for {
		_, ok := <-e.kick
		e.submitAll()
		if !ok {
			return
		}
	}
}

// submitAll enters the kernel until every queued SQE has been consumed.
func (e *uringEngine) submitAll() {
	for {
		// Without SQPOLL the kernel moves the SQ head only inside
		// io_uring_enter, which only this goroutine calls with SQEs.
		n := atomic.LoadUint32(e.sqTail) - atomic.LoadUint32(e.sqHead)
		if n == 0 {
			return
		}
		// GETEVENTS with min_complete 0 does not wait, but lets the
		// kernel post the completions it has ready before returning.
		_, err := e.enter(n, 0, ioringEnterGetevents)
		switch err {
		case nil, syscall.EINTR:
			// Reads from the page cache complete inside the call; hand
			// them out now rather than leave them to wake the reaper.
			// A short count leaves SQEs queued; go round again.
			if e.reapMu.TryLock() {
				e.reap(false)
				e.reapMu.Unlock()
			}
		case syscall.EAGAIN, syscall.EBUSY:
			// Out of request memory, or completions are backed up: wait
			// for the reaper to make progress. The timer covers the case
			// where nothing is in flight to complete.
			t := time.NewTimer(time.Millisecond)
			select {
			case <-e.progress:
			case <-t.C:
			}
			t.Stop()
		default:
			panic("aiofs: io_uring_enter: " + err.Error())
		}
	}
}

// reaper waits for completions and dispatches them to their slots,
// until it sees the NOP that close queues last.
func (e *uringEngine) reaper() {
	defer e.loops.Done()
	var buf [8]byte
	for {
		e.reapMu.Lock()
		n, stop := e.reap(true)
		e.reapMu.Unlock()
		if stop {
			return
		}
		if n > 0 {
			select {
			case e.progress <- struct{}{}:
			default:
			}
			continue
		}
		if atomic.LoadUint32(e.sqFlags)&ioringSQCQOverflow != 0 {
			// Completions overflowed the CQ (which the bound on slots
			// rules out, so this is a defence); GETEVENTS moves them
			// in. With min_complete 0 the call does not wait.
			if _, err := e.enter(0, 0, ioringEnterGetevents); err != nil && err != syscall.EINTR {
				panic("aiofs: io_uring_enter: " + err.Error())
			}
			continue
		}
		// The CQ is empty. Wait for the kernel to signal the eventfd,
		// which it does after posting: a completion posted since reap
		// looked has already made the read ready. The netpoller parks
		// this goroutine meanwhile; no lock is held.
		if _, err := e.events.Read(buf[:]); err != nil {
			panic("aiofs: reading io_uring eventfd: " + err.Error())
		}
	}
}

// reap dispatches the completions in the CQ and reports how many there
// were. The stop NOP ends the reaper: only the reaper (stop true) takes
// it; others leave it, and what follows, for the reaper to find.
// The caller holds reapMu.
func (e *uringEngine) reap(stop bool) (n int, stopped bool) {
	head := atomic.LoadUint32(e.cqHead)
	tail := atomic.LoadUint32(e.cqTail) // orders the CQE reads after it
	for ; head != tail; head++ {
		cqe := e.cqes[head&e.cqMask] // a copy: the kernel reuses the entry
		if cqe.userData == uringStopData {
			if !stop {
				break
			}
			stopped = true
			continue
		}
		n++
		idx, gen := uint32(cqe.userData), uint32(cqe.userData>>32)
		if idx >= uint32(len(e.reqs)) {
			continue
		}
		r := &e.reqs[idx]
		// The caller stored gen after preparing r, so this load also
		// orders the write of r.res after the caller's last use of it.
		if r.gen.Load() != gen {
			continue // not the slot's SQE in flight; cannot happen
		}
		r.res = cqe.res
		e.c.inFlight.Add(-1)
		e.c.completed.Add(1)
		r.done <- struct{}{} // never blocks: one signal per SQE
	}
	// Only now hand the entries back to the kernel.
	atomic.StoreUint32(e.cqHead, head)
	return n, stopped
}

// run submits sqe for r and waits for its result, resubmitting when the
// kernel reports EAGAIN or EINTR. It returns cqe.res.
func (e *uringEngine) run(r *uringReq, sqe *uringSQE) int32 {
	for {
		sqe.userData = uint64(r.gen.Add(1))<<32 | uint64(r.idx)
		e.c.submitted.Add(1)
		e.c.inFlight.Add(1)
		e.push(sqe)
		<-r.done
		if res := r.res; res != -int32(syscall.EAGAIN) && res != -int32(syscall.EINTR) {
			return res
		}
	}
}

// get takes an idle slot, waiting while all are in use.
func (e *uringEngine) get() *uringReq { return <-e.free }

func (e *uringEngine) put(r *uringReq) {
	r.buf, r.bufs = nil, nil
	if cap(r.iov) > 64 {
		r.iov = nil // don't keep a large array per slot
	}
	clear(r.iov[:cap(r.iov)]) // drop pointers to the caller's buffers
	e.free <- r
}

// rwSQE prepares a read or write of b at off through slot r.
func (e *uringEngine) rwSQE(r *uringReq, op uint8, fd int, b []byte, off int64) uringSQE {
	b = b[:min(len(b), e.maxRW)]
	sqe := uringSQE{opcode: op, fd: int32(fd), off: uint64(off)}
	if op == ioringOpRead || op == ioringOpWrite {
		// b is referenced by r until the completion (see uringReq).
		sqe.addr = uint64(uintptr(unsafe.Pointer(&b[0])))
		sqe.len = uint32(len(b))
		return sqe
	}
	r.iov = append(r.iov[:0], unix.Iovec{Base: &b[0]})
	r.iov[0].SetLen(len(b))
	// r.iov is on the heap and referenced by r until the completion.
	sqe.addr = uint64(uintptr(unsafe.Pointer(&r.iov[0])))
	sqe.len = 1
	return sqe
}

// preadWarm reads with plain pread(2), for when the page cache has served
// the last uringWarmAfter reads: preadv2 with RWF_NOWAIT costs a few
// hundred nanoseconds more in the kernel, a quarter of a cached 4 KiB
// read. Every uringWarmCheck-th read goes the RWF_NOWAIT way instead, and
// its first miss ends the warm spell. It reports false when it did not
// read.
func (e *uringEngine) preadWarm(fd int, p []byte, off int64) (n int, err error, ok bool) {
	if e.warmReads.Add(1)%uringWarmCheck == 0 {
		return 0, nil, false
	}
	return e.preadPlain(fd, p, off, uringPlainReaders)
}

// preadPlain reads with plain pread(2) in the calling thread, unless limit
// such reads are running already: then it reports false and the ring
// serves.
func (e *uringEngine) preadPlain(fd int, p []byte, off int64, limit int32) (n int, err error, ok bool) {
	if e.plain.Add(1) > limit {
		e.plain.Add(-1)
		return 0, nil, false
	}
	defer e.plain.Add(-1)
	for n < len(p) {
		m, err := syscall.Pread(fd, p[n:], off+int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, err, true
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil, true
}

func (e *uringEngine) pread(f *os.File, p []byte, off int64) (n int, err error) {
	e.closing.RLock()
	defer e.closing.RUnlock()
	if e.closed {
		return 0, os.ErrClosed
	}
	if off < 0 {
		// The kernel would take -1 as "the file position".
		return 0, syscall.EINVAL
	}
	if len(p) == 0 {
		return 0, nil
	}
	fd := int(f.Fd())
	defer runtime.KeepAlive(f) // f's finalizer must not close fd meanwhile
	defer func() { e.c.bytesRead.Add(uint64(n)) }()

	if e.nowait && len(p) <= uringFastPathMax && e.warm.Load() >= uringWarmAfter {
		if n, err, ok := e.preadWarm(fd, p, off); ok {
			e.c.fastPath.Add(1)
			return n, err
		}
	}
	if e.nowait && len(p) <= uringFastPathMax {
		// RWF_NOWAIT fails with EAGAIN rather than wait for the disk, and
		// stops short at the first page not in the cache, or at the end
		// of the file: only another call can tell which.
		for {
			m, err := unix.Preadv2(fd, [][]byte{p[n:]}, off+int64(n), unix.RWF_NOWAIT)
			if err == unix.EAGAIN {
				e.warm.Store(0)
				// Not cached; the failed try has started the disk read.
				// A lone reader waits for it in its thread, sparing the
				// ring's hand-offs, most of a single cold read's latency.
				// With others about, the ring serves: a thread blocked on
				// the disk holds its P until sysmon notices, which with
				// few Ps stalls the ring's own goroutines.
				if e.c.inFlight.Load() == 0 {
					if m, err, ok := e.preadPlain(fd, p[n:], off+int64(n), 1); ok {
						return n + m, err
					}
				}
			}
			if err != nil {
				break // the ring continues, and reports its own errors
			}
			n += m
			if m == 0 || n == len(p) { // end of file, or done
				if e.warm.Load() < uringWarmAfter {
					e.warm.Add(1)
				}
				e.c.fastPath.Add(1)
				return n, nil
			}
		}
	}

	r := e.get()
	defer e.put(r)
	r.buf = p
	for n < len(p) {
		sqe := e.rwSQE(r, e.readOp, fd, p[n:], off+int64(n))
		res := e.run(r, &sqe)
		if res < 0 {
			return n, syscall.Errno(-res)
		}
		if res == 0 {
			break // end of file
		}
		n += int(res)
	}
	return n, nil
}

func (e *uringEngine) pwritev(f *os.File, bufs [][]byte, off int64) (n int, err error) {
	e.closing.RLock()
	defer e.closing.RUnlock()
	if e.closed {
		return 0, os.ErrClosed
	}
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
	fd := int(f.Fd())
	defer runtime.KeepAlive(f)
	defer func() { e.c.bytesWritten.Add(uint64(n)) }()

	if e.nowait {
		var done bool
		if n, done, err = e.writeNow(fd, bufs, off); done {
			e.c.fastPath.Add(1)
			return n, err
		}
	}
	r := e.get()
	defer e.put(r)
	r.bufs = bufs
	i, skip := 0, 0 // the next byte to write is bufs[i][skip]
	for skip += n; i < len(bufs) && skip >= len(bufs[i]); i++ {
		skip -= len(bufs[i])
	}
	for i < len(bufs) {
		sqe := e.writeSQE(r, fd, bufs[i:], skip, off+int64(n))
		res := e.run(r, &sqe)
		if res < 0 {
			return n, syscall.Errno(-res)
		}
		if res == 0 {
			return n, io.ErrUnexpectedEOF // as os.File.WriteAt
		}
		n += int(res)
		for skip += int(res); i < len(bufs) && skip >= len(bufs[i]); i++ {
			skip -= len(bufs[i])
		}
	}
	return n, nil
}

// writeNow writes bufs at off without the ring when that costs no more
// than the ring would. A file system that takes RWF_NOWAIT buffered writes
// (XFS, btrfs) copies them into the page cache at syscall cost and says
// EAGAIN when it would block; the ring takes over from there. One that
// refuses RWF_NOWAIT writes (ext4, tmpfs) makes the ring hand every write
// to an io-wq worker thread, which blocks in the very write the caller
// could make itself, after two more thread wake-ups; then the engine
// writes directly. It reports done unless the ring must finish the job,
// from byte n on.
func (e *uringEngine) writeNow(fd int, bufs [][]byte, off int64) (n int, done bool, err error) {
	for len(bufs) > 0 {
		iov := bufs[:min(len(bufs), uringMaxIov)]
		var m int
		if e.syncWrites.Load() {
			m, err = unix.Pwritev(fd, iov, off+int64(n))
		} else {
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

// writeSQE prepares a write of bufs, less the first skip bytes, at off.
func (e *uringEngine) writeSQE(r *uringReq, fd int, bufs [][]byte, skip int, off int64) uringSQE {
	if len(bufs) == 1 {
		return e.rwSQE(r, e.writeOp, fd, bufs[0][skip:], off)
	}
	r.iov = r.iov[:0]
	room := e.maxRW
	for i, b := range bufs {
		if i == 0 {
			b = b[skip:]
		}
		if len(b) == 0 {
			continue
		}
		if len(r.iov) == uringMaxIov || room == 0 {
			break
		}
		b = b[:min(len(b), room)]
		room -= len(b)
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		r.iov = append(r.iov, v)
	}
	// r.iov and the buffers it names are referenced by r until the
	// completion (see uringReq).
	return uringSQE{
		opcode: ioringOpWritev,
		fd:     int32(fd),
		off:    uint64(off),
		addr:   uint64(uintptr(unsafe.Pointer(&r.iov[0]))),
		len:    uint32(len(r.iov)),
	}
}

func (e *uringEngine) fsync(f *os.File) error {
	e.closing.RLock()
	defer e.closing.RUnlock()
	if e.closed {
		return os.ErrClosed
	}
	sqe := uringSQE{opcode: ioringOpFsync, fd: int32(f.Fd())}
	r := e.get()
	res := e.run(r, &sqe)
	e.put(r)
	runtime.KeepAlive(f)
	if res < 0 {
		return syscall.Errno(-res)
	}
	return nil
}

func (e *uringEngine) close() error {
	e.closing.Lock()
	defer e.closing.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	// Every operation has returned, so nothing is in flight. The NOP's
	// completion wakes the reaper for the last time; closing kick lets
	// the submitter go once it has submitted the NOP.
	e.push(&uringSQE{opcode: ioringOpNop, userData: uringStopData})
	close(e.kick)
	e.loops.Wait()
	e.release()
	return nil
}

func (e *uringEngine) name() string              { return "uring" }
func (e *uringEngine) counters() *engineCounters { return &e.c }

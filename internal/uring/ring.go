//go:build linux

package uring

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// DefaultEntries is the SQ size when Config.Entries is 0.
	DefaultEntries = 256
	// MaxEntries is the kernel's IORING_MAX_ENTRIES.
	MaxEntries = 32768
	// MaxIov is IOV_MAX, the most iovecs one WRITEV may carry.
	MaxIov = 1024

	// defaultMaxRW is Config.MaxRW when it is 0.
	defaultMaxRW = 1 << 30

	// stopData is the user_data of the NOP that stops the reaper.
	stopData = ^uint64(0)

	// Once half of pinWindow reads and writes in a row took pinAfter or
	// longer per request in flight, the submitter keeps to one thread
	// (see submitter, noteLatency). pinAfter lies between a local disk's
	// time per request in flight and a network mount's (bench/RESULTS.md).
	pinAfter  = 200 * time.Microsecond
	pinWindow = 256

	// minWorkers is the io-wq bound of rings of up to 256 slots once the
	// submitter keeps to one thread; see limitWorkers.
	minWorkers = 32
)

// Config describes a ring to Open.
type Config struct {
	// Entries is the SQ size: 0 is DefaultEntries, and more than
	// MaxEntries is MaxEntries. It bounds the operations in flight.
	Entries int
	// MaxRW caps the bytes of one SQE (sqe.len is 32 bits), as
	// internal/poll caps read and write; the rest is continued. 0 is
	// 1 GiB. Tests make it small so that transfers take several SQEs.
	MaxRW int
	// Vectored uses READV and WRITEV for single buffers too, as on
	// kernels before 5.6, which lack READ and WRITE; tests set it to take
	// that path on newer kernels.
	Vectored bool
	// Counters are updated as SQEs are submitted and CQEs reaped.
	Counters Counters
}

// Counters point at the caller's counters, which the ring keeps: one
// submission per SQE, one completion per CQE.
type Counters struct {
	Submitted, Completed *atomic.Uint64
	InFlight             *atomic.Int64
}

// A Ring is one io_uring with its submitter and reaper goroutines. Its
// methods may be called concurrently; Close only once no other call is in
// progress.
type Ring struct {
	fd int // the ring

	// The kernel's shared memory. With IORING_FEAT_SINGLE_MMAP the SQ and
	// CQ rings are one mapping and cqMem is nil.
	ringMem, cqMem, sqeMem []byte

	sqHead, sqTail, sqFlags *uint32
	sqMask                  uint32
	sqes                    []sqEntry

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []cqEntry

	readOp, writeOp uint8 // READ and WRITE, or READV and WRITEV before 5.6
	maxRW           int   // see Config.MaxRW

	sqMu sync.Mutex // serializes writers of the SQ tail
	tail uint32     // next SQ tail, guarded by sqMu

	reqs     []request
	free     chan *request  // idle slots; receiving waits for one
	kick     chan struct{}  // SQEs are queued; closed to stop the submitter
	reapMu   sync.Mutex     // serializes readers of the CQ
	events   *os.File       // eventfd the kernel signals after posting CQEs
	progress chan struct{}  // the reaper completed something
	loops    sync.WaitGroup // submitter and reaper

	// slow is set once requests take pinAfter or longer, and from then on
	// the submitter keeps to one thread; window counts the requests
	// until then. See submitter and noteLatency.
	slow   atomic.Bool
	window atomic.Uint32

	c Counters
}

// A request is a slot. Its index and generation form the user_data of its
// SQE; a slot has at most one SQE in flight.
type request struct {
	idx  uint32
	gen  atomic.Uint32 // generation of the SQE in flight
	res  int32         // cqe.res, written by the reaper before done
	done chan struct{} // signalled by the reaper, once per SQE

	// The memory named by the SQE in flight. The kernel reads or writes
	// it until the CQE arrives, so it must stay allocated and in place
	// until then. Storing the slices here makes them escape (the
	// compiler puts them on the heap, where Go never moves objects) and
	// keeps them reachable from the ring whatever the caller does.
	// runtime.Pinner would add a cost per operation and nothing more.
	buf  []byte
	bufs [][]byte
	iov  []unix.Iovec // heap allocated, reused
}

// Refused reports whether err, from Open, means that the kernel refuses
// io_uring: ENOSYS, EPERM (seccomp, kernel.io_uring_disabled), EACCES or
// ENOMEM (RLIMIT_MEMLOCK before 5.12) from io_uring_setup.
func Refused(err error) bool {
	var se *os.SyscallError
	return errors.As(err, &se) && (se.Err == unix.ENOSYS || se.Err == unix.EPERM ||
		se.Err == unix.EACCES || se.Err == unix.ENOMEM)
}

// Open sets up a ring. Its error is an *os.SyscallError; those that
// Refused reports mean the kernel refuses io_uring.
func Open(cfg Config) (_ *Ring, err error) {
	entries := cfg.Entries
	if entries <= 0 {
		entries = DefaultEntries
	}
	entries = min(entries, MaxEntries)

	var p params
	// The kernel reads and writes p during the call only.
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, os.NewSyscallError("io_uring_setup", errno)
	}
	r := &Ring{fd: int(fd), c: cfg.Counters}
	defer func() {
		if err != nil {
			r.release()
		}
	}()
	if err := r.mapRings(&p); err != nil {
		return nil, err
	}

	r.readOp, r.writeOp = opReadv, opWritev
	pr := new(probe)
	// The kernel fills *pr during the call only.
	_, _, errno = unix.Syscall6(unix.SYS_IO_URING_REGISTER, fd, registerProbe,
		uintptr(unsafe.Pointer(pr)), uintptr(len(pr.ops)), 0, 0)
	if errno == 0 && pr.supports(opRead) && pr.supports(opWrite) && !cfg.Vectored {
		r.readOp, r.writeOp = opRead, opWrite
	}

	// A slot has at most one SQE queued and one CQE due, and the stop
	// NOP needs a CQE too, so neither ring can overflow.
	n := min(entries, len(r.sqes), len(r.cqes)-1)
	r.limitWorkers(startWorkers(n))

	r.maxRW = defaultMaxRW
	if cfg.MaxRW > 0 {
		r.maxRW = cfg.MaxRW
	}
	r.reqs = make([]request, n)
	r.free = make(chan *request, n)
	for i := range r.reqs {
		q := &r.reqs[i]
		q.idx = uint32(i)
		q.done = make(chan struct{}, 1)
		r.free <- q
	}
	if err := r.registerEventfd(); err != nil {
		return nil, err
	}
	r.kick = make(chan struct{}, 1)
	r.progress = make(chan struct{}, 1)
	r.loops.Add(2)
	go r.submitter()
	go r.reaper()
	return r, nil
}

// mapRings maps the rings described by p and locates their fields.
func (r *Ring) mapRings(p *params) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*int(unsafe.Sizeof(uint32(0)))
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(cqEntry{}))
	const prot, flags = unix.PROT_READ | unix.PROT_WRITE, unix.MAP_SHARED | unix.MAP_POPULATE

	var err error
	if p.features&featSingleMmap != 0 {
		// One mapping holds both rings (5.4 and later).
		r.ringMem, err = unix.Mmap(r.fd, offSQRing, max(sqSize, cqSize), prot, flags)
	} else {
		r.ringMem, err = unix.Mmap(r.fd, offSQRing, sqSize, prot, flags)
		if err == nil {
			r.cqMem, err = unix.Mmap(r.fd, offCQRing, cqSize, prot, flags)
		}
	}
	if err == nil {
		r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqEntry{})), prot, flags)
	}
	if err != nil {
		return os.NewSyscallError("mmap", err)
	}

	sq := r.ringMem
	r.sqHead = ringWord(sq, p.sqOff.head)
	r.sqTail = ringWord(sq, p.sqOff.tail)
	r.sqFlags = ringWord(sq, p.sqOff.flags)
	r.sqMask = *ringWord(sq, p.sqOff.ringMask)
	sqEntries := *ringWord(sq, p.sqOff.ringEntries)
	r.sqes = ringSlice[sqEntry](r.sqeMem, 0, sqEntries)
	// SQE i always goes in array slot i, so the indirection is set once.
	array := ringSlice[uint32](sq, p.sqOff.array, sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.tail = atomic.LoadUint32(r.sqTail)

	cq := r.ringMem
	if r.cqMem != nil {
		cq = r.cqMem
	}
	r.cqHead = ringWord(cq, p.cqOff.head)
	r.cqTail = ringWord(cq, p.cqOff.tail)
	r.cqMask = *ringWord(cq, p.cqOff.ringMask)
	r.cqes = ringSlice[cqEntry](cq, p.cqOff.cqes, *ringWord(cq, p.cqOff.ringEntries))
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

// limitWorkers bounds each of the ring's io-wqs at n workers. Their
// threads run the requests that cannot complete without blocking: fsync,
// buffered writes the file system won't do without waiting, and every
// read on one that lacks async buffered reads (FUSE, so sshfs; some
// network file systems). They are threads of this process, and having
// few threads is much of the point of a ring. The kernel keeps an io-wq
// per thread that submits (see submitter), by default of min(SQ entries,
// 4*CPUs) workers, and applies the bound to each, present and future.
// Kernels before 5.15 don't know the call, which is harmless.
func (r *Ring) limitWorkers(n int) {
	limits := [2]uint32{uint32(n), 0} // bounded, unbounded (0: unchanged)
	// The kernel reads and rewrites limits during the call only.
	unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerIOWQMaxWorkers,
		uintptr(unsafe.Pointer(&limits)), uintptr(len(limits)), 0, 0)
}

// startWorkers bounds the workers of each io-wq while the submitter may
// move between threads, each with an io-wq: a few per CPU, as for work
// that costs CPU.
func startWorkers(slots int) int {
	return min(slots, max(4, 2*runtime.GOMAXPROCS(0)))
}

// workerLimit bounds the workers of the one io-wq of a locked submitter.
// Where requests wait in io-wq, each in flight holds a worker for a round
// trip to the storage, so the count of CPUs says nothing about how many
// are useful; the queue depth is what the user chose as concurrency. A
// small ring may have all its requests block, a large one an eighth,
// and no fewer than minWorkers, which a network mount's cold random
// readers need (bench/RESULTS.md).
func workerLimit(slots int) int {
	return min(slots, max(minWorkers, slots/8))
}

// registerEventfd has the kernel signal a new eventfd whenever it posts
// completions, so that the reaper can wait in the Go netpoller: no
// thread sleeps for it, and a busy process notices completions in the
// scheduler's own polls instead of by waking a thread each time.
func (r *Ring) registerEventfd() error {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	// NewFile sees O_NONBLOCK and registers the fd with the netpoller.
	r.events = os.NewFile(uintptr(efd), "io_uring eventfd")
	arg := int32(efd)
	// The kernel reads arg during the call only.
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerEventfd,
		uintptr(unsafe.Pointer(&arg)), 1, 0, 0)
	if errno != 0 {
		return os.NewSyscallError("io_uring_register", errno)
	}
	return nil
}

// release unmaps the rings and closes the ring's file descriptor.
func (r *Ring) release() {
	for _, m := range [][]byte{r.sqeMem, r.cqMem, r.ringMem} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	r.sqes, r.cqes, r.sqeMem, r.cqMem, r.ringMem = nil, nil, nil, nil, nil
	unix.Close(r.fd)
	if r.events != nil {
		r.events.Close()
	}
}

// Close stops the submitter and reaper and releases the ring. No other
// call may be in progress, or begin after it.
func (r *Ring) Close() {
	// Nothing is in flight. The NOP's completion wakes the reaper for the
	// last time; closing kick lets the submitter go once it has
	// submitted the NOP.
	r.push(&sqEntry{opcode: opNop, userData: stopData})
	close(r.kick)
	r.loops.Wait()
	r.release()
}

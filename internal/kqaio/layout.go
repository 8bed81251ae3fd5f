package kqaio

// Go mirrors of the FreeBSD structures the queue shares with the kernel.
// They carry no build tag so that the layout test can check them on every
// platform: the kernel-facing layout is that
// of FreeBSD's LP64 ports (amd64, arm64), where C and Go align the same
// way. Every field the kernel reads as an address is a uintptr, not a Go
// pointer: these structures live in memory the garbage collector does not
// scan (an mmapped slab, a kevent buffer), and a kernel-written value must
// never be mistaken for a heap pointer.

// aiocb is struct aiocb from <sys/aio.h> (FreeBSD 7 and later; 160
// bytes on LP64).
type aiocb struct {
	Fildes    int32   // aio_fildes
	_         int32   // padding before the 64-bit off_t
	Offset    int64   // aio_offset; the kernel may change it while queued
	Buf       uintptr // aio_buf, or the iovec array for aio_readv/aio_writev
	Nbytes    uintptr // aio_nbytes (size_t), or the iovec count
	_         [2]int32
	_         uintptr // __spare2__
	LioOpcode int32   // aio_lio_opcode; only lio_listio reads it
	Reqprio   int32   // aio_reqprio; unused, kept 0
	Status    int64   // _aiocb_private.status: kernel-owned
	Error     int64   // _aiocb_private.error: kernel-owned
	Kinfo     uintptr // _aiocb_private.kernelinfo (spare in 15.x): kernel-owned
	Sigevent  sigevent
}

// sigevent is struct sigevent from <sys/signal.h> (80 bytes on LP64).
type sigevent struct {
	Notify int32 // sigev_notify
	Signo  int32 // sigev_signo, alias sigev_notify_kqueue: the kqueue fd
	// Value is sigev_value (union sigval); the kernel echoes it as the
	// kevent's udata.
	Value uintptr
	// KeventFlags is _sigev_un._kevent_flags, alias
	// sigev_notify_kevent_flags: EV_ONESHOT, EV_CLEAR or EV_DISPATCH.
	KeventFlags uint16
	_           [6]byte
	_           [7]uint64 // the rest of the union's long __spare__[8]
}

// kevent is struct kevent from <sys/event.h> as of FreeBSD 12 (64
// bytes). It equals unix.Kevent_t except that Udata is a uintptr, so the
// tokens the queue stores there are never scanned as pointers.
type kevent struct {
	Ident  uintptr // for EVFILT_AIO: the address of the aiocb
	Filter int16
	Flags  uint16
	Fflags uint32
	Data   int64 // for EVFILT_AIO: the job's error (0 on success)
	Udata  uintptr
	Ext    [4]uint64
}

// iovec is struct iovec from <sys/uio.h> (16 bytes on LP64).
type iovec struct {
	Base uintptr
	Len  uintptr
}

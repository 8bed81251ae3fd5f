package kqaio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// FreeBSD values that golang.org/x/sys/unix does not define.
const (
	sysAioWritev = 578 // aio_writev(struct aiocb *), syscalls.master, FreeBSD 13.0+
	sysAioReadv  = 579 // aio_readv(struct aiocb *)
	sigevKevent  = 3   // SIGEV_KEVENT, <sys/signal.h>

	// osrelVectored is the __FreeBSD_version of 13.0-RELEASE, the first
	// release with aio_readv and aio_writev. Below it the queue never
	// issues syscalls 578/579: an unknown syscall raises SIGSYS, which
	// the Go runtime ignores in ordinary programs but which kills a
	// c-archive or c-shared build that did not install a handler.
	osrelVectored = 1300139
)

// kqLP64 is 1 where the layout types match FreeBSD's C structures, 0 on
// 32-bit ports, where Open fails.
const kqLP64 = int(unsafe.Sizeof(uintptr(0)) / 8)

// Supported reports whether Open can work on this port.
const Supported = kqLP64 == 1

// Compile-time layout checks against <sys/aio.h>, <sys/signal.h>,
// <sys/event.h> and <sys/uio.h> (LP64). A constant index outside [0,1)
// fails the build, so each line holds only if the two values are equal.
func _() {
	var x [1]struct{}
	_ = x[kqLP64*(int(unsafe.Sizeof(aiocb{}))-160)]
	_ = x[kqLP64*(int(unsafe.Offsetof(aiocb{}.Fildes))-0)]
	_ = x[kqLP64*(int(unsafe.Offsetof(aiocb{}.Offset))-8)]
	_ = x[kqLP64*(int(unsafe.Offsetof(aiocb{}.Buf))-16)]
	_ = x[kqLP64*(int(unsafe.Offsetof(aiocb{}.Nbytes))-24)]
	_ = x[kqLP64*(int(unsafe.Offsetof(aiocb{}.LioOpcode))-48)]
	_ = x[kqLP64*(int(unsafe.Offsetof(aiocb{}.Reqprio))-52)]
	_ = x[kqLP64*(int(unsafe.Offsetof(aiocb{}.Status))-56)]
	_ = x[kqLP64*(int(unsafe.Offsetof(aiocb{}.Error))-64)]
	_ = x[kqLP64*(int(unsafe.Offsetof(aiocb{}.Kinfo))-72)]
	_ = x[kqLP64*(int(unsafe.Offsetof(aiocb{}.Sigevent))-80)]
	_ = x[kqLP64*(int(unsafe.Sizeof(sigevent{}))-80)]
	_ = x[kqLP64*(int(unsafe.Offsetof(sigevent{}.Notify))-0)]
	_ = x[kqLP64*(int(unsafe.Offsetof(sigevent{}.Signo))-4)]
	_ = x[kqLP64*(int(unsafe.Offsetof(sigevent{}.Value))-8)]
	_ = x[kqLP64*(int(unsafe.Offsetof(sigevent{}.KeventFlags))-16)]
	_ = x[kqLP64*(int(unsafe.Sizeof(kevent{}))-64)]
	_ = x[kqLP64*(int(unsafe.Offsetof(kevent{}.Ident))-0)]
	_ = x[kqLP64*(int(unsafe.Offsetof(kevent{}.Filter))-8)]
	_ = x[kqLP64*(int(unsafe.Offsetof(kevent{}.Flags))-10)]
	_ = x[kqLP64*(int(unsafe.Offsetof(kevent{}.Fflags))-12)]
	_ = x[kqLP64*(int(unsafe.Offsetof(kevent{}.Data))-16)]
	_ = x[kqLP64*(int(unsafe.Offsetof(kevent{}.Udata))-24)]
	_ = x[kqLP64*(int(unsafe.Offsetof(kevent{}.Ext))-32)]
	_ = x[kqLP64*(int(unsafe.Sizeof(iovec{}))-16)]
	_ = x[kqLP64*(int(unsafe.Offsetof(iovec{}.Len))-8)]
	// Our kevent must also match the one x/sys/unix passes to kevent(2).
	_ = x[kqLP64*(int(unsafe.Sizeof(unix.Kevent_t{}))-64)]
}

// Package kqaio does positioned file I/O through FreeBSD's POSIX AIO
// (aio_read, aio_write, aio_readv, aio_writev, aio_fsync), whose
// completions arrive on one kqueue per Queue as EVFILT_AIO events
// (SIGEV_KEVENT with EV_ONESHOT).
//
// Memory. The aiocbs and the iovec arrays live in one mmapped slab that
// the garbage collector neither moves nor frees. Slot i of the slab is
// aiocb i plus iovMax iovecs; a free list hands slots to callers, so at
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
// and hands the result to the waiting caller. Close wakes it with an
// EVFILT_USER event once every operation has returned.
//
// Refusals. EAGAIN from a submission (vfs.aio.max_aio_queue_per_proc,
// default 256, shared by the whole process, or the system-wide
// vfs.aio.max_aio_queue) is backpressure: the caller waits for one of this
// queue's completions or a short timeout and retries, and after
// eagainTries falls back to a synchronous pread/pwrite/fsync for that
// piece. EOPNOTSUPP (descriptors that are not regular files or
// directories on a local file system while vfs.aio.enable_unsafe=0: NFS,
// pipes, most devices) marks the *os.File as served synchronously from
// then on. ENOSYS from aio_readv/aio_writev turns vectored submission off;
// from the others it turns AIO off for the queue.
//
// O_APPEND. The kernel ignores aio_offset on O_APPEND descriptors. The
// files layer opens descriptors without O_APPEND and passes explicit
// offsets; this package relies on that.
//
// The structures shared with the kernel are in layout.go, without a build
// tag so that their test runs everywhere. They match the C layout on
// FreeBSD's LP64 ports; on 32-bit FreeBSD Supported is false.
//
// aiofs's kqueue engine (engine_freebsd.go) is the only user.
package kqaio

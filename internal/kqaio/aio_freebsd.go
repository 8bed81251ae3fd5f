//go:build freebsd

package kqaio

import (
	"io"
	"os"
	"runtime"
	"syscall"
	"unsafe"
	"weak"

	"golang.org/x/sys/unix"
)

// opcode is the kind of one AIO operation.
type opcode uint8

const (
	opRead opcode = iota
	opWrite
	opReadv
	opWritev
	opFsync
)

// Transfer moves bytes between bufs and f at off, reading if write is
// false, continuing short transfers until every buffer is done, an error
// occurs, or (reads) end of file. Errors are bare errnos. The caller keeps
// f open until Transfer returns.
func (q *Queue) Transfer(f *os.File, write bool, bufs [][]byte, off int64) (total int, err error) {
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
		n, err = q.transfer(f, fd, write, bufs[i:], skip, off)
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
	return total, err
}

// transfer does one piece starting at bufs[0][skip], which is not empty:
// one AIO operation, or one synchronous pread/pwrite when AIO cannot serve.
func (q *Queue) transfer(f *os.File, fd int, write bool, bufs [][]byte, skip int, off int64) (int, error) {
	op := opRead
	if write {
		op = opWrite
	}
	if len(bufs) > 1 && q.vectored.Load() {
		op += opReadv - opRead // opReadv or opWritev
	}
	if !write || !pastFsizeLimit(off, bufs, skip) {
		if n, ok, err := q.submit(f, op, fd, off, bufs, skip); ok {
			return n, err
		}
	}
	p := bufs[0][skip:]
	p = p[:min(len(p), maxIO)]
	q.syncStart()
	defer q.syncDone()
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

// pastFsizeLimit reports whether writing bufs from bufs[0][skip] at off
// would pass the process's RLIMIT_FSIZE. AIO jobs run in the kernel's AIO
// daemons, whose own limit is what counts, and it is unlimited: such a
// write is done synchronously instead, so that it stops at the limit with
// EFBIG (and SIGXFSZ) as pwrite(2) does.
func pastFsizeLimit(off int64, bufs [][]byte, skip int) bool {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &rl); err != nil || rl.Cur == unix.RLIM_INFINITY {
		return false
	}
	end := off - int64(skip)
	for _, b := range bufs {
		end += int64(len(b))
	}
	return end > rl.Cur
}

// Fsync flushes f to stable storage with aio_fsync(O_SYNC), or fsync(2)
// where AIO refuses.
func (q *Queue) Fsync(f *os.File) error {
	defer runtime.KeepAlive(f)
	fd := int(f.Fd())
	if _, ok, err := q.submit(f, opFsync, fd, 0, nil, 0); ok {
		return err
	}
	q.syncStart()
	defer q.syncDone()
	for {
		if err := unix.Fsync(fd); err != unix.EINTR {
			return err
		}
	}
}

// syncStart and syncDone count a synchronous fallback. It is a submission
// like any other, handed to the kernel, just not asynchronously; fastPath
// means page-cache hits, which this package does not detect.
func (q *Queue) syncStart() {
	q.c.Submitted.Add(1)
	q.c.InFlight.Add(1)
}

func (q *Queue) syncDone() {
	q.c.InFlight.Add(-1)
	q.c.Completed.Add(1)
}

// submit runs op through AIO, riding out EAGAIN. ok is false when AIO
// cannot serve and the caller must do the piece synchronously.
func (q *Queue) submit(f *os.File, op opcode, fd int, off int64, bufs [][]byte, skip int) (int, bool, error) {
	if q.noAIO.Load() || q.isSyncFile(f) {
		return 0, false, nil
	}
	for try := 0; ; {
		n, errno, queued := q.aio(op, fd, off, bufs, skip)
		if queued {
			if errno != 0 {
				return n, true, errno
			}
			return n, true, nil
		}
		switch {
		case errno == unix.EAGAIN && try < eagainTries:
			q.eagainRetries.Add(1)
			q.awaitCompletion(eagainWait << try)
			try++
		case errno == unix.EAGAIN:
			q.eagainSync.Add(1)
			return 0, false, nil
		case errno == unix.EOPNOTSUPP:
			q.markSyncFile(f)
			return 0, false, nil
		case errno == unix.ENOSYS && (op == opReadv || op == opWritev):
			q.vectored.Store(false)
			op -= opReadv - opRead
		case errno == unix.ENOSYS:
			q.noAIO.Store(true)
			return 0, false, nil
		case op == opFsync:
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
func (q *Queue) aio(op opcode, fd int, off int64, bufs [][]byte, skip int) (n int, errno syscall.Errno, queued bool) {
	slot := <-q.free
	s := &q.slots[slot]
	if s.gen++; s.gen == 0 {
		s.gen = 1 // a token is never 0
	}
	token := uint64(slot) | uint64(s.gen)<<32

	// The slot's aiocb is ours: its previous operation was reaped (or
	// never queued), so the kernel no longer knows this address.
	cb := &q.cbs[slot]
	*cb = aiocb{
		Fildes: int32(fd),
		Offset: off,
		Sigevent: sigevent{
			Notify:      sigevKevent,
			Signo:       int32(q.kq),
			Value:       uintptr(token),
			KeventFlags: unix.EV_ONESHOT,
		},
	}
	// unsafe: cb is in the mmapped slab, so its address is stable and
	// safe to hold as a uintptr.
	cbAddr := uintptr(unsafe.Pointer(cb))
	trap, a1, a2 := uintptr(0), cbAddr, uintptr(0)
	switch op {
	case opFsync:
		trap, a1, a2 = unix.SYS_AIO_FSYNC, unix.O_SYNC, cbAddr
	case opRead, opWrite:
		trap = unix.SYS_AIO_READ
		if op == opWrite {
			trap = unix.SYS_AIO_WRITE
		}
		p := bufs[0][skip:]
		p = p[:min(len(p), maxIO)]
		cb.Buf, cb.Nbytes = q.pinned(s, p), uintptr(len(p))
	case opReadv, opWritev:
		trap = sysAioReadv
		if op == opWritev {
			trap = sysAioWritev
		}
		iov := q.iovs[slot*iovMax : (slot+1)*iovMax]
		cnt, size := 0, 0
		for j, b := range bufs {
			if j == 0 {
				b = b[skip:]
			}
			if cnt == len(iov) || size == maxIO {
				break
			}
			if len(b) == 0 {
				continue
			}
			b = b[:min(len(b), maxIO-size)]
			iov[cnt] = iovec{Base: q.pinned(s, b), Len: uintptr(len(b))}
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
		q.free <- slot
		return 0, errno, false
	}
	q.c.Submitted.Add(1)
	q.c.InFlight.Add(1)
	r := <-s.done
	q.c.InFlight.Add(-1)
	q.c.Completed.Add(1)
	s.pin.Unpin() // the reaper's aio_return came first: the kernel is done with the buffers
	q.free <- slot
	return r.n, r.errno, true
}

// pinned pins p's backing array with the slot's Pinner and returns its
// address for the kernel. p is not empty.
func (q *Queue) pinned(s *cbSlot, p []byte) uintptr {
	s.pin.Pin(&p[0])
	// unsafe: p's array is pinned (it cannot move and stays reachable
	// through the Pinner) until s.pin.Unpin, which comes only after the
	// reaper's aio_return for this operation.
	return uintptr(unsafe.Pointer(&p[0]))
}

func (q *Queue) isSyncFile(f *os.File) bool {
	if q.nSyncFiles.Load() == 0 {
		return false
	}
	_, ok := q.syncFiles.Load(weak.Make(f))
	return ok
}

func (q *Queue) markSyncFile(f *os.File) {
	wp := weak.Make(f)
	if _, loaded := q.syncFiles.LoadOrStore(wp, struct{}{}); loaded {
		return
	}
	q.nSyncFiles.Add(1)
	runtime.AddCleanup(f, func(wp weak.Pointer[os.File]) {
		q.syncFiles.Delete(wp)
		q.nSyncFiles.Add(-1)
	}, wp)
}

//go:build linux

package uring

import (
	"io"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read reads len(p) bytes from fd at off, continuing short reads, and
// returns fewer only at end of file. p is not empty and off is not
// negative. Errors are bare errnos. The caller keeps fd open until Read
// returns.
func (r *Ring) Read(fd int, p []byte, off int64) (n int, err error) {
	q := r.get()
	defer r.put(q)
	q.buf = p
	for n < len(p) {
		sqe := r.rwSQE(q, r.readOp, fd, p[n:], off+int64(n))
		res := r.run(q, &sqe)
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

// Writev writes bufs, less their first skip bytes, to fd at off,
// continuing short writes. The buffer holding byte skip is not empty and
// off is not negative. It returns fewer bytes than asked only with an
// error: a bare errno, or io.ErrUnexpectedEOF if the kernel wrote nothing.
func (r *Ring) Writev(fd int, bufs [][]byte, skip int, off int64) (n int, err error) {
	q := r.get()
	defer r.put(q)
	q.bufs = bufs
	i := 0 // the next byte to write is bufs[i][skip]
	for ; i < len(bufs) && skip >= len(bufs[i]); i++ {
		skip -= len(bufs[i])
	}
	for i < len(bufs) {
		sqe := r.writeSQE(q, fd, bufs[i:], skip, off+int64(n))
		res := r.run(q, &sqe)
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

// Fsync flushes fd to stable storage.
func (r *Ring) Fsync(fd int) error {
	sqe := sqEntry{opcode: opFsync, fd: int32(fd)}
	q := r.get()
	res := r.run(q, &sqe)
	r.put(q)
	if res < 0 {
		return syscall.Errno(-res)
	}
	return nil
}

// rwSQE prepares a read or write of b at off through slot q.
func (r *Ring) rwSQE(q *request, op uint8, fd int, b []byte, off int64) sqEntry {
	b = b[:min(len(b), r.maxRW)]
	sqe := sqEntry{opcode: op, fd: int32(fd), off: uint64(off)}
	if op == opRead || op == opWrite {
		// b is referenced by q until the completion (see request).
		sqe.addr = uint64(uintptr(unsafe.Pointer(&b[0])))
		sqe.len = uint32(len(b))
		return sqe
	}
	q.iov = append(q.iov[:0], unix.Iovec{Base: &b[0]})
	q.iov[0].SetLen(len(b))
	// q.iov is on the heap and referenced by q until the completion.
	sqe.addr = uint64(uintptr(unsafe.Pointer(&q.iov[0])))
	sqe.len = 1
	return sqe
}

// writeSQE prepares a write of bufs, less the first skip bytes, at off.
func (r *Ring) writeSQE(q *request, fd int, bufs [][]byte, skip int, off int64) sqEntry {
	if len(bufs) == 1 {
		return r.rwSQE(q, r.writeOp, fd, bufs[0][skip:], off)
	}
	q.iov = q.iov[:0]
	room := r.maxRW
	for i, b := range bufs {
		if i == 0 {
			b = b[skip:]
		}
		if len(b) == 0 {
			continue
		}
		if len(q.iov) == MaxIov || room == 0 {
			break
		}
		b = b[:min(len(b), room)]
		room -= len(b)
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		q.iov = append(q.iov, v)
	}
	// q.iov and the buffers it names are referenced by q until the
	// completion (see request).
	return sqEntry{
		opcode: opWritev,
		fd:     int32(fd),
		off:    uint64(off),
		addr:   uint64(uintptr(unsafe.Pointer(&q.iov[0]))),
		len:    uint32(len(q.iov)),
	}
}

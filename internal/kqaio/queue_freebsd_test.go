package kqaio

// Tests of the queue that only a FreeBSD kernel can run. See FREEBSD.md.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// testCounters are a queue's counters in a test.
type testCounters struct {
	submitted, completed atomic.Uint64
	inFlight             atomic.Int64
}

// newTestKqueue starts a queue that the test closes, checking on the way
// that the reaper stopped and every submission was reaped.
func newTestKqueue(t *testing.T, depth int) (*Queue, *testCounters) {
	t.Helper()
	needKqueue(t)
	c := new(testCounters)
	q, err := Open(depth, Counters{Submitted: &c.submitted, Completed: &c.completed, InFlight: &c.inFlight})
	if err != nil {
		t.Fatalf("Open(%d): %v", depth, err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case <-q.reaped:
		default:
			t.Errorf("the reaper is still running after Close")
		}
		if s, d, f := c.submitted.Load(), c.completed.Load(), c.inFlight.Load(); s != d || f != 0 {
			t.Errorf("submitted %d, completed %d, in flight %d", s, d, f)
		}
	})
	return q, c
}

// needKqueue skips on 32-bit FreeBSD, where Open fails.
func needKqueue(t *testing.T) {
	t.Helper()
	if !Supported {
		t.Skip("the kqueue engine runs on 64-bit FreeBSD only")
	}
}

// pread and pwritev are the engine's calls, for brevity.
func pread(q *Queue, f *os.File, p []byte, off int64) (int, error) {
	return q.Transfer(f, false, [][]byte{p}, off)
}

func pwritev(q *Queue, f *os.File, bufs [][]byte, off int64) (int, error) {
	return q.Transfer(f, true, bufs, off)
}

func kqTempFile(t *testing.T, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "f"), flag|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func kqSysctl(name string, def uint32) uint32 {
	v, err := unix.SysctlUint32(name)
	if err != nil {
		return def
	}
	return v
}

// TestKqueueEventFields submits one aio_read by hand and checks what the
// kernel reads from our aiocb and sigevent and writes into our kevent: the
// runtime half of the layout test.
func TestKqueueEventFields(t *testing.T) {
	needKqueue(t)
	f := kqTempFile(t, os.O_RDWR)
	if _, err := f.WriteAt([]byte("abcdef"), 0); err != nil {
		t.Fatal(err)
	}
	kq, err := unix.Kqueue()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(kq)
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	// unsafe: mem is mmapped (outside the Go heap, page-aligned); the
	// aiocb takes its first 160 bytes, the data buffer starts at 512.
	cb := (*aiocb)(unsafe.Pointer(&mem[0]))
	buf := mem[512:518]
	var sentinel uint64 = 0x1234_5678_9abc_def0
	*cb = aiocb{
		Fildes: int32(f.Fd()),
		Offset: 0,
		Buf:    uintptr(unsafe.Pointer(&buf[0])), // unsafe: mmapped, never moves
		Nbytes: uintptr(len(buf)),
		Sigevent: sigevent{
			Notify: sigevKevent, Signo: int32(kq), Value: uintptr(sentinel), KeventFlags: unix.EV_ONESHOT,
		},
	}
	cbAddr := uintptr(unsafe.Pointer(cb)) // unsafe: mmapped, never moves
	if _, _, errno := unix.Syscall(unix.SYS_AIO_READ, cbAddr, 0, 0); errno != 0 {
		t.Fatalf("aio_read: %v", errno)
	}
	var evs [4]kevent
	n, errno := kqKeventWait(kq, evs[:], 10*time.Second)
	if errno != 0 {
		t.Fatalf("kevent: %v", errno)
	}
	if n != 1 {
		t.Fatalf("kevent returned %d events, want 1", n)
	}
	ev := evs[0]
	t.Logf("event: ident %#x filter %d flags %#x fflags %#x data %d udata %#x", ev.Ident, ev.Filter, ev.Flags, ev.Fflags, ev.Data, ev.Udata)
	if ev.Filter != unix.EVFILT_AIO || ev.Ident != cbAddr || uint64(ev.Udata) != sentinel || ev.Data != 0 {
		t.Errorf("event %+v: want filter EVFILT_AIO, ident %#x, udata %#x, data 0", ev, cbAddr, sentinel)
	}
	r, _, errno := unix.Syscall(unix.SYS_AIO_RETURN, cbAddr, 0, 0)
	if errno != 0 || r != 6 || string(buf) != "abcdef" {
		t.Errorf("aio_return = %d, %v; buffer %q; want 6, abcdef", int(r), errno, buf)
	}
	// EV_ONESHOT: nothing more is pending.
	if n, errno = kqKeventWait(kq, evs[:], 0); errno != 0 || n != 0 {
		t.Errorf("second kevent = %d, %v; want 0 events", n, errno)
	}
}

// kqKeventWait reads events from kq into evs, waiting at most timeout.
func kqKeventWait(kq int, evs []kevent, timeout time.Duration) (int, syscall.Errno) {
	ts := unix.NsecToTimespec(timeout.Nanoseconds())
	for {
		// unsafe: evs and ts are handed to the kernel for this call only.
		n, _, errno := unix.Syscall6(unix.SYS_KEVENT, uintptr(kq), 0, 0,
			uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), uintptr(unsafe.Pointer(&ts)))
		if errno != unix.EINTR {
			return int(n), errno
		}
	}
}

func TestKqueueDepth(t *testing.T) {
	q, _ := newTestKqueue(t, 0)
	if len(q.slots) != DefaultDepth {
		t.Errorf("default depth %d, want %d", len(q.slots), DefaultDepth)
	}
	big, _ := newTestKqueue(t, 1<<20)
	if want := int(kqSysctl("vfs.aio.max_aio_queue_per_proc", 0)); want > 0 && len(big.slots) != want {
		t.Errorf("depth 1<<20 gave %d slots, want vfs.aio.max_aio_queue_per_proc = %d", len(big.slots), want)
	}
}

func TestKqueueRoundTrip(t *testing.T) {
	e, c := newTestKqueue(t, 0)
	f := kqTempFile(t, os.O_RDWR)

	if n, err := pwritev(e, f, [][]byte{[]byte("hello "), nil, []byte("world")}, 0); n != 11 || err != nil {
		t.Fatalf("pwritev = %d, %v", n, err)
	}
	p := make([]byte, 100)
	for _, c := range []struct {
		off  int64
		size int
		want string
	}{
		{0, 11, "hello world"},
		{0, 100, "hello world"}, // short at EOF
		{6, 3, "wor"},
		{11, 10, ""}, // at EOF
		{1000, 10, ""},
		{0, 0, ""},
	} {
		n, err := pread(e, f, p[:c.size], c.off)
		if err != nil || string(p[:n]) != c.want {
			t.Errorf("pread(%d bytes at %d) = %q, %v; want %q", c.size, c.off, p[:n], err, c.want)
		}
	}
	if n, err := pwritev(e, f, nil, 0); n != 0 || err != nil {
		t.Errorf("pwritev(nil) = %d, %v", n, err)
	}
	if err := e.Fsync(f); err != nil {
		t.Errorf("fsync: %v", err)
	}

	// A larger, unaligned transfer, in several buffers.
	data := make([]byte, 4<<20+5)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	off := int64(1<<20 + 3)
	parts := [][]byte{data[:1], data[1 : 1<<20], data[1<<20:]}
	if n, err := pwritev(e, f, parts, off); n != len(data) || err != nil {
		t.Fatalf("pwritev = %d, %v", n, err)
	}
	got := make([]byte, len(data)+100)
	if n, err := pread(e, f, got, off); n != len(data) || err != nil || !bytes.Equal(got[:n], data) {
		t.Fatalf("pread = %d, %v (equal %v)", n, err, bytes.Equal(got[:n], data))
	}
	if err := e.Fsync(f); err != nil {
		t.Errorf("fsync: %v", err)
	}

	// Errors are bare errnos.
	ro, err := os.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := pwritev(e, ro, [][]byte{[]byte("x")}, 0); err != syscall.EBADF {
		t.Errorf("pwritev on a read-only file: %#v, want syscall.EBADF", err)
	}
	wo, err := os.OpenFile(f.Name(), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer wo.Close()
	if _, err := pread(e, wo, p, 0); err != syscall.EBADF {
		t.Errorf("pread on a write-only file: %#v, want syscall.EBADF", err)
	}
	if e.isSyncFile(f) || e.isSyncFile(ro) || e.isSyncFile(wo) || e.eagainSync.Load() != 0 {
		t.Errorf("a regular file was served synchronously")
	}
	if c.submitted.Load() == 0 {
		t.Errorf("no submission counted")
	}
}

// TestKqueueVectored checks that aio_readv/aio_writev are used exactly
// where the kernel has them (13.0 and later) and that both paths give the
// same bytes.
func TestKqueueVectored(t *testing.T) {
	e, c := newTestKqueue(t, 0)
	rel := kqSysctl("kern.osreldate", 0)
	t.Logf("kern.osreldate %d, vectored %v", rel, e.vectored.Load())
	if (rel >= osrelVectored) != e.vectored.Load() {
		t.Fatalf("kern.osreldate %d but vectored = %v", rel, e.vectored.Load())
	}
	wantOps := uint64(3)
	if e.vectored.Load() {
		wantOps = 1
	}
	f := kqTempFile(t, os.O_RDWR)
	before := c.submitted.Load()
	if n, err := pwritev(e, f, [][]byte{[]byte("one,"), []byte("two,"), []byte("three")}, 7); n != 13 || err != nil {
		t.Fatalf("pwritev = %d, %v", n, err)
	}
	if ops := c.submitted.Load() - before; ops != wantOps {
		t.Errorf("three-buffer pwritev took %d submissions, want %d", ops, wantOps)
	}
	x, y, z := make([]byte, 2), make([]byte, 6), make([]byte, 5)
	before = c.submitted.Load()
	if n, err := e.Transfer(f, false, [][]byte{x, y, z}, 7); n != 13 || err != nil {
		t.Fatalf("preadv = %d, %v", n, err)
	}
	if ops := c.submitted.Load() - before; ops != wantOps {
		t.Errorf("three-buffer preadv took %d submissions, want %d", ops, wantOps)
	}
	if got := string(x) + string(y) + string(z); got != "one,two,three" {
		t.Errorf("preadv read %q", got)
	}
	// More buffers than one aio_writev takes.
	var bufs [][]byte
	var want []byte
	for i := range 3*iovMax + 1 {
		s := []byte(fmt.Sprintf("<%d>", i))
		bufs = append(bufs, s)
		want = append(want, s...)
	}
	if n, err := pwritev(e, f, bufs, 0); n != len(want) || err != nil {
		t.Fatalf("pwritev(%d buffers) = %d, %v", len(bufs), n, err)
	}
	got := make([]byte, len(want))
	if n, err := pread(e, f, got, 0); n != len(want) || err != nil || !bytes.Equal(got, want) {
		t.Errorf("read back %d, %v, equal %v", n, err, bytes.Equal(got, want))
	}
}

// TestKqueueUnsupported: descriptors AIO refuses (EOPNOTSUPP while
// vfs.aio.enable_unsafe=0) are served synchronously from then on.
func TestKqueueUnsupported(t *testing.T) {
	if kqSysctl("vfs.aio.enable_unsafe", 0) != 0 {
		t.Skip("vfs.aio.enable_unsafe=1: pipes and devices go through AIO")
	}
	e, c := newTestKqueue(t, 0)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	// The synchronous fallback is a positioned write, which a pipe
	// refuses; what matters is that AIO's EOPNOTSUPP does not surface.
	for range 2 {
		if _, err := pwritev(e, w, [][]byte{[]byte("x")}, 0); err != syscall.ESPIPE {
			t.Errorf("pwritev on a pipe: %#v, want ESPIPE from the synchronous path", err)
		}
		if !e.isSyncFile(w) {
			t.Errorf("pipe not marked synchronous")
		}
	}
	if _, err := pread(e, r, make([]byte, 1), 0); err != syscall.ESPIPE || !e.isSyncFile(r) {
		t.Errorf("pread on a pipe: %#v, marked %v", err, e.isSyncFile(r))
	}

	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	p := bytes.Repeat([]byte{0xff}, 8192)
	before := c.submitted.Load()
	if n, err := pread(e, zero, p, 0); n != len(p) || err != nil || !bytes.Equal(p, make([]byte, len(p))) {
		t.Errorf("pread(/dev/zero) = %d, %v", n, err)
	}
	if !e.isSyncFile(zero) || c.submitted.Load() == before {
		t.Errorf("/dev/zero not served synchronously, or not counted")
	}
	null, err := os.OpenFile("/dev/null", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if n, err := pwritev(e, null, [][]byte{p, p}, 0); n != 2*len(p) || err != nil {
		t.Errorf("pwritev(/dev/null) = %d, %v", n, err)
	}
	// A regular file on the same engine still uses AIO.
	f := kqTempFile(t, os.O_RDWR)
	if _, err := pwritev(e, f, [][]byte{[]byte("x")}, 0); err != nil || e.isSyncFile(f) {
		t.Errorf("regular file after a refused one: %v, synchronous %v", err, e.isSyncFile(f))
	}
}

// kqQueueFiller occupies the process's AIO queue with reads on a socket that
// nobody writes to (sockets are always allowed AIO; the jobs stay queued
// and count against vfs.aio.max_aio_queue_per_proc until aio_return).
type kqQueueFiller struct {
	t    *testing.T
	mem  []byte
	cbs  []aiocb
	n    int
	a, b int
}

// kqFillQueue queues reads until the kernel says EAGAIN or leave slots of
// vfs.aio.max_aio_queue_per_proc remain.
func kqFillQueue(t *testing.T, leave int) *kqQueueFiller {
	t.Helper()
	limit := int(kqSysctl("vfs.aio.max_aio_queue_per_proc", 256))
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	q := &kqQueueFiller{t: t, a: fds[0], b: fds[1]}
	size := limit * int(unsafe.Sizeof(aiocb{})) // unsafe.Sizeof only
	q.mem, err = unix.Mmap(-1, 0, size+limit, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	// unsafe: mmapped memory, outside the Go heap: limit aiocbs, then
	// one byte of read buffer per aiocb.
	q.cbs = unsafe.Slice((*aiocb)(unsafe.Pointer(&q.mem[0])), limit)
	for q.n < limit-leave {
		cb := &q.cbs[q.n]
		*cb = aiocb{
			Fildes: int32(q.a),
			Buf:    uintptr(unsafe.Pointer(&q.mem[size+q.n])), // unsafe: mmapped
			Nbytes: 1,
		} // Sigevent zero: SIGEV_NONE
		// unsafe: cb is mmapped, its address stable.
		_, _, errno := unix.Syscall(unix.SYS_AIO_READ, uintptr(unsafe.Pointer(cb)), 0, 0)
		if errno == unix.EAGAIN {
			break
		}
		if errno != 0 {
			q.release()
			t.Fatalf("filler aio_read %d: %v", q.n, errno)
		}
		q.n++
	}
	t.Logf("filled the AIO queue with %d socket reads (limit %d)", q.n, limit)
	return q
}

// release completes every filler read (cancelled, or EOF once the peer is
// closed) and reaps it.
func (q *kqQueueFiller) release() {
	unix.Syscall(unix.SYS_AIO_CANCEL, uintptr(q.a), 0, 0)
	unix.Close(q.b)
	deadline := time.Now().Add(30 * time.Second)
	for i := range q.n {
		addr := uintptr(unsafe.Pointer(&q.cbs[i])) // unsafe: mmapped
		for {
			// aio_error's status is its return value.
			r, _, errno := unix.Syscall(unix.SYS_AIO_ERROR, addr, 0, 0)
			if errno != 0 || syscall.Errno(r) != unix.EINPROGRESS {
				break
			}
			if time.Now().After(deadline) {
				q.t.Errorf("filler read %d never completed; the queue stays full", i)
				return
			}
			time.Sleep(time.Millisecond)
		}
		unix.Syscall(unix.SYS_AIO_RETURN, addr, 0, 0)
	}
	unix.Close(q.a)
	unix.Munmap(q.mem)
}

// kqHammer runs goroutines that each write, read back and check their own
// block of f through e, then checks the whole file.
func kqHammer(t *testing.T, e *Queue, f *os.File, goroutines, block int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			p := bytes.Repeat([]byte{byte(g), byte(g >> 8)}, block/2)
			off := int64(g * block)
			if n, err := pwritev(e, f, [][]byte{p[:block/2], p[block/2:]}, off); n != block || err != nil {
				errs <- fmt.Errorf("goroutine %d: pwritev = %d, %v", g, n, err)
				return
			}
			got := make([]byte, block)
			if n, err := pread(e, f, got, off); n != block || err != nil || !bytes.Equal(got, p) {
				errs <- fmt.Errorf("goroutine %d: pread = %d, %v, equal %v", g, n, err, bytes.Equal(got, p))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all := make([]byte, goroutines*block)
	if n, err := f.ReadAt(all, 0); n != len(all) || err != nil {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	for g := range goroutines {
		want := bytes.Repeat([]byte{byte(g), byte(g >> 8)}, block/2)
		if !bytes.Equal(all[g*block:(g+1)*block], want) {
			t.Errorf("block %d is wrong", g)
		}
	}
}

// TestKqueueEAGAIN: beyond vfs.aio.max_aio_queue_per_proc the kernel says
// EAGAIN; the engine waits, retries, and finally does the piece
// synchronously. Nothing fails and nothing is lost.
func TestKqueueEAGAIN(t *testing.T) {
	// The queue full, or with 16 entries left for the engine's 128 slots.
	for _, leave := range []int{0, 16} {
		t.Run(fmt.Sprintf("leave-%d", leave), func(t *testing.T) {
			e, c := newTestKqueue(t, 0)
			f := kqTempFile(t, os.O_RDWR)
			q := kqFillQueue(t, leave)
			defer q.release()
			kqHammer(t, e, f, 1000, 512)
			retries, fallbacks := e.eagainRetries.Load(), e.eagainSync.Load()
			viaAIO := c.submitted.Load() - fallbacks
			t.Logf("EAGAIN retries %d, synchronous fallbacks %d, AIO submissions %d", retries, fallbacks, viaAIO)
			switch {
			case leave == 0 && (retries == 0 || fallbacks == 0):
				t.Errorf("a full queue caused no EAGAIN retries or no synchronous fallbacks")
			case leave > 0 && viaAIO == 0:
				t.Errorf("%d free queue entries, yet no operation went through AIO", leave)
			}
		})
	}
	t.Run("two-engines", func(t *testing.T) {
		// Two engines that together may hold twice the per-process limit.
		limit := int(kqSysctl("vfs.aio.max_aio_queue_per_proc", 256))
		e1, _ := newTestKqueue(t, limit)
		e2, _ := newTestKqueue(t, limit)
		f1, f2 := kqTempFile(t, os.O_RDWR), kqTempFile(t, os.O_RDWR)
		var wg sync.WaitGroup
		wg.Go(func() { kqHammer(t, e1, f1, 1000, 4096) })
		wg.Go(func() { kqHammer(t, e2, f2, 1000, 4096) })
		wg.Wait()
		t.Logf("EAGAIN retries %d+%d, synchronous fallbacks %d+%d",
			e1.eagainRetries.Load(), e2.eagainRetries.Load(), e1.eagainSync.Load(), e2.eagainSync.Load())
	})
}

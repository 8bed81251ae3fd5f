package aiofs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newTestUring starts a ring of the given depth, skipping the test where
// the kernel refuses io_uring, and closes it when the test ends.
func newTestUring(t testing.TB, depth int) *uringEngine {
	t.Helper()
	e, err := newUringEngine(depth)
	if err != nil {
		var se *os.SyscallError
		if errors.As(err, &se) && (se.Err == syscall.ENOSYS || se.Err == syscall.EPERM ||
			se.Err == syscall.EACCES || se.Err == syscall.ENOMEM) {
			t.Skipf("io_uring unavailable: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { e.close() })
	return e
}

// settle waits until the number of goroutines is at most n.
func settle(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUringLayout(t *testing.T) {
	sizes := []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_params", unsafe.Sizeof(uringParams{}), 120},
		{"io_sqring_offsets", unsafe.Sizeof(uringSQRingOffsets{}), 40},
		{"io_cqring_offsets", unsafe.Sizeof(uringCQRingOffsets{}), 40},
		{"io_uring_sqe", unsafe.Sizeof(uringSQE{}), 64},
		{"io_uring_cqe", unsafe.Sizeof(uringCQE{}), 16},
		{"io_uring_probe_op", unsafe.Sizeof(uringProbeOp{}), 8},
		{"io_uring_probe", unsafe.Offsetof(uringProbe{}.ops), 16},
	}
	for _, s := range sizes {
		if s.got != s.want {
			t.Errorf("sizeof(%s) = %d, want %d", s.name, s.got, s.want)
		}
	}
	var p uringParams
	var sqe uringSQE
	var cqe uringCQE
	offsets := []struct {
		name      string
		got, want uintptr
	}{
		{"params.features", unsafe.Offsetof(p.features), 20},
		{"params.wq_fd", unsafe.Offsetof(p.wqFd), 24},
		{"params.sq_off", unsafe.Offsetof(p.sqOff), 40},
		{"params.cq_off", unsafe.Offsetof(p.cqOff), 80},
		{"sq_off.flags", unsafe.Offsetof(p.sqOff.flags), 16},
		{"sq_off.array", unsafe.Offsetof(p.sqOff.array), 24},
		{"sq_off.user_addr", unsafe.Offsetof(p.sqOff.userAddr), 32},
		{"cq_off.overflow", unsafe.Offsetof(p.cqOff.overflow), 16},
		{"cq_off.cqes", unsafe.Offsetof(p.cqOff.cqes), 20},
		{"cq_off.user_addr", unsafe.Offsetof(p.cqOff.userAddr), 32},
		{"sqe.fd", unsafe.Offsetof(sqe.fd), 4},
		{"sqe.off", unsafe.Offsetof(sqe.off), 8},
		{"sqe.addr", unsafe.Offsetof(sqe.addr), 16},
		{"sqe.len", unsafe.Offsetof(sqe.len), 24},
		{"sqe.rw_flags", unsafe.Offsetof(sqe.opFlags), 28},
		{"sqe.user_data", unsafe.Offsetof(sqe.userData), 32},
		{"sqe.buf_index", unsafe.Offsetof(sqe.bufIndex), 40},
		{"sqe.splice_fd_in", unsafe.Offsetof(sqe.spliceFdIn), 44},
		{"sqe.addr3", unsafe.Offsetof(sqe.addr3), 48},
		{"cqe.res", unsafe.Offsetof(cqe.res), 8},
		{"cqe.flags", unsafe.Offsetof(cqe.flags), 12},
	}
	for _, o := range offsets {
		if o.got != o.want {
			t.Errorf("offsetof(%s) = %d, want %d", o.name, o.got, o.want)
		}
	}
}

func TestUringSetup(t *testing.T) {
	for _, tt := range []struct{ depth, slots int }{{0, uringDefaultEntries}, {2, 2}, {3, 3}, {1 << 20, uringMaxEntries}} {
		e := newTestUring(t, tt.depth)
		if len(e.reqs) != tt.slots {
			t.Errorf("depth %d: %d slots, want %d", tt.depth, len(e.reqs), tt.slots)
		}
		if len(e.reqs) > len(e.sqes) || len(e.sqes) > len(e.cqes) {
			t.Errorf("depth %d: %d slots, %d SQEs, %d CQEs", tt.depth, len(e.reqs), len(e.sqes), len(e.cqes))
		}
		if int(e.sqMask)+1 != len(e.sqes) || int(e.cqMask)+1 != len(e.cqes) {
			t.Errorf("depth %d: masks %#x %#x for %d SQEs, %d CQEs", tt.depth, e.sqMask, e.cqMask, len(e.sqes), len(e.cqes))
		}
		if e.name() != "uring" {
			t.Errorf("name() = %q", e.name())
		}
		e.close()
	}
	e, err := newPlatformEngine(0)
	if err != nil {
		t.Skip(err)
	}
	if e.name() != platformEngine {
		t.Errorf("newPlatformEngine: name() = %q", e.name())
	}
	e.close()
}

// engineModes runs f with the fast path on and off, with the vectored
// opcodes that kernels before 5.6 are limited to, and with SQEs so small
// that most transfers take several.
func engineModes(t *testing.T, depth int, f func(t *testing.T, e *uringEngine)) {
	for _, m := range []struct {
		name    string
		nowait  bool
		vectors bool
		maxRW   int
	}{
		{"fast", true, false, uringMaxRW},
		{"ring", false, false, uringMaxRW},
		{"vectored", false, true, uringMaxRW},
		{"short", false, false, 5000},
	} {
		t.Run(m.name, func(t *testing.T) {
			e := newTestUring(t, depth)
			e.nowait = m.nowait
			if m.vectors {
				e.readOp, e.writeOp = ioringOpReadv, ioringOpWritev
			}
			e.maxRW = m.maxRW
			f(t, e)
		})
	}
}

func TestUringConcurrentTinyRing(t *testing.T) {
	engineModes(t, 2, func(t *testing.T, e *uringEngine) {
		const (
			goroutines = 64
			files      = 4
			region     = 160 << 10 // per goroutine; reads take both paths
			ops        = 32
		)
		dir := t.TempDir()
		fs := make([]*os.File, files)
		for i := range fs {
			f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(goroutines / files * region); err != nil {
				t.Fatal(err)
			}
			fs[i] = f
		}
		want := make([][]byte, files)
		for i := range want {
			want[i] = make([]byte, goroutines/files*region)
		}

		var wg sync.WaitGroup
		errc := make(chan error, goroutines)
		for g := range goroutines {
			wg.Go(func() {
				rnd := rand.New(rand.NewPCG(uint64(g), 1))
				fill := rand.NewChaCha8([32]byte{byte(g)})
				fi, base := g%files, int64(g/files*region)
				f, mirror := fs[fi], want[fi][base:base+region]
				for range ops {
					size := 1 + rnd.IntN(region)
					if rnd.IntN(4) == 0 {
						size = 1 + rnd.IntN(4096)
					}
					at := rnd.IntN(region - size + 1)
					data := make([]byte, size)
					fill.Read(data)
					// Split the write into up to 5 buffers, some empty.
					var bufs [][]byte
					for rest := data; len(rest) > 0; {
						k := min(len(rest), rnd.IntN(size/2+2))
						bufs = append(bufs, rest[:k])
						rest = rest[k:]
					}
					n, err := e.pwritev(f, bufs, base+int64(at))
					if n != size || err != nil {
						errc <- fmt.Errorf("pwritev(%d bytes in %d bufs) = %d, %v", size, len(bufs), n, err)
						return
					}
					copy(mirror[at:], data)

					size = 1 + rnd.IntN(region)
					at = rnd.IntN(region - size + 1)
					got := make([]byte, size)
					n, err = e.pread(f, got, base+int64(at))
					if n != size || err != nil {
						errc <- fmt.Errorf("pread(%d bytes) = %d, %v", size, n, err)
						return
					}
					if !bytes.Equal(got, mirror[at:at+size]) {
						errc <- fmt.Errorf("pread at %d: wrong data", base+int64(at))
						return
					}
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		for i, f := range fs {
			got, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want[i]) {
				t.Errorf("file %d differs from what was written", i)
			}
		}

		c := e.counters()
		if c.inFlight.Load() != 0 || c.submitted.Load() != c.completed.Load() {
			t.Errorf("in flight %d, submitted %d, completed %d", c.inFlight.Load(), c.submitted.Load(), c.completed.Load())
		}
		// Each write goes to the ring or, with the fast path on, may be
		// written directly (file systems that refuse RWF_NOWAIT writes).
		if c.submitted.Load()+c.fastPath.Load() < goroutines*ops {
			t.Errorf("submitted %d + fast path %d, want at least %d", c.submitted.Load(), c.fastPath.Load(), goroutines*ops)
		}
		if !e.nowait && c.fastPath.Load() != 0 {
			t.Errorf("fastPath = %d with the fast path off", c.fastPath.Load())
		}
		if c.bytesRead.Load() == 0 || c.bytesWritten.Load() == 0 {
			t.Errorf("bytesRead %d, bytesWritten %d", c.bytesRead.Load(), c.bytesWritten.Load())
		}
	})
}

func TestUringShortRead(t *testing.T) {
	engineModes(t, 4, func(t *testing.T, e *uringEngine) {
		dir := t.TempDir()
		for _, size := range []int{1000, 200 << 10} {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i*7 + 1)
			}
			name := filepath.Join(dir, fmt.Sprint(size))
			if err := os.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			submitted := e.counters().submitted.Load()
			for _, tt := range []struct {
				off, len, want int
			}{
				{0, size + 4096, size},
				{size / 2, size, size - size/2},
				{size - 1, 10, 1},
				{size, 10, 0},
				{size + 100, 10, 0},
				{0, size, size},
				{3, 0, 0},
			} {
				p := make([]byte, tt.len)
				n, err := e.pread(f, p, int64(tt.off))
				if n != tt.want || err != nil {
					t.Errorf("size %d: pread(len %d, off %d) = %d, %v; want %d, nil", size, tt.len, tt.off, n, err, tt.want)
					continue
				}
				if n > 0 && !bytes.Equal(p[:n], data[tt.off:tt.off+n]) {
					t.Errorf("size %d: pread(len %d, off %d): wrong data", size, tt.len, tt.off)
				}
			}
			// The file is cached: the fast path must not need the ring
			// to find the end of the file.
			if e.nowait && size+4096 <= uringFastPathMax && e.counters().submitted.Load() != submitted {
				t.Errorf("size %d: %d submissions with the fast path", size, e.counters().submitted.Load()-submitted)
			}
		}
	})
}

// TestUringPartialFastPath reads a range whose first page alone is
// cached: the fast path returns that page and the ring must read the
// rest into the right place.
func TestUringPartialFastPath(t *testing.T) {
	e := newTestUring(t, 2)
	f := bigFile(t, 1<<20)
	fd := int(f.Fd())
	want := make([]byte, 64<<10)
	if _, err := unix.Pread(fd, want, 0); err != nil {
		t.Fatal(err)
	}
	cached, err := unix.Mmap(fd, 0, len(want), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Skip(err)
	}
	defer unix.Munmap(cached)
	pages := make([]byte, len(want)/os.Getpagesize())

	// Get page 0 alone into the cache: no readahead on f, drop the
	// file, read page 0, check with mincore. Then read it all. Should the
	// pages after 0 arrive before the fast path looks again (it starts
	// their reading), the ring is not needed: try again.
	unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM)
	c := e.counters()
	for try := 0; try < 20; try++ {
		unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
		if _, err := unix.Pread(fd, make([]byte, 1), 0); err != nil {
			t.Fatal(err)
		}
		// The kernel writes pages during the call only.
		_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&cached[0])),
			uintptr(len(cached)), uintptr(unsafe.Pointer(&pages[0])))
		if errno != 0 {
			t.Skip("mincore:", errno)
		}
		if pages[0]&1 == 0 || bytes.Count(pages[1:], []byte{0}) != len(pages)-1 {
			time.Sleep(10 * time.Millisecond) // readahead in flight
			continue
		}

		fast, submitted := c.fastPath.Load(), c.submitted.Load()
		got := make([]byte, len(want))
		if n, err := e.pread(f, got, 0); n != len(got) || err != nil {
			t.Fatalf("pread = %d, %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("wrong data")
		}
		if c.submitted.Load() != submitted {
			if c.fastPath.Load() != fast {
				t.Errorf("fastPath counted a read the ring finished")
			}
			return
		}
	}
	t.Skip("could not make the fast path stop short")
}

func TestUringErrors(t *testing.T) {
	engineModes(t, 4, func(t *testing.T, e *uringEngine) {
		dir := t.TempDir()
		name := filepath.Join(dir, "f")
		if err := os.WriteFile(name, []byte("hello"), 0o644); err != nil {
			t.Fatal(err)
		}
		wo, err := os.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer wo.Close()
		ro, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		d, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()

		p := make([]byte, 10)
		big := make([]byte, 100<<10)
		// Compare with ==: the error must be the bare errno.
		if n, err := e.pread(wo, p, 0); n != 0 || err != syscall.EBADF {
			t.Errorf("pread(write-only) = %d, %#v; want 0, EBADF", n, err)
		}
		if n, err := e.pread(wo, big, 0); n != 0 || err != syscall.EBADF {
			t.Errorf("pread(write-only, %d bytes) = %d, %#v; want 0, EBADF", len(big), n, err)
		}
		if n, err := e.pwritev(ro, [][]byte{p}, 0); n != 0 || err != syscall.EBADF {
			t.Errorf("pwritev(read-only) = %d, %#v; want 0, EBADF", n, err)
		}
		if n, err := e.pwritev(ro, [][]byte{p, p}, 0); n != 0 || err != syscall.EBADF {
			t.Errorf("pwritev(read-only, 2 bufs) = %d, %#v; want 0, EBADF", n, err)
		}
		if n, err := e.pread(d, p, 0); n != 0 || err != syscall.EISDIR {
			t.Errorf("pread(directory) = %d, %#v; want 0, EISDIR", n, err)
		}
		if n, err := e.pread(ro, p, -1); n != 0 || err != syscall.EINVAL {
			t.Errorf("pread(off -1) = %d, %#v; want 0, EINVAL", n, err)
		}
		if n, err := e.pwritev(wo, [][]byte{p}, -1); n != 0 || err != syscall.EINVAL {
			t.Errorf("pwritev(off -1) = %d, %#v; want 0, EINVAL", n, err)
		}
		if c := e.counters(); c.inFlight.Load() != 0 || c.submitted.Load() != c.completed.Load() {
			t.Errorf("in flight %d, submitted %d, completed %d", c.inFlight.Load(), c.submitted.Load(), c.completed.Load())
		}
	})
}

func TestUringWriteVectors(t *testing.T) {
	engineModes(t, 2, func(t *testing.T, e *uringEngine) {
		f, err := os.Create(filepath.Join(t.TempDir(), "f"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		// More buffers than one WRITEV takes, with empty ones among them.
		var bufs [][]byte
		var want []byte
		for i := range 3000 {
			b := bytes.Repeat([]byte{byte(i)}, i%5)
			bufs = append(bufs, b)
			want = append(want, b...)
		}
		n, err := e.pwritev(f, bufs, 10)
		if n != len(want) || err != nil {
			t.Fatalf("pwritev = %d, %v; want %d, nil", n, err, len(want))
		}
		if n, err := e.pwritev(f, [][]byte{nil, {}}, 0); n != 0 || err != nil {
			t.Errorf("pwritev(empty) = %d, %v", n, err)
		}
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[10:], want) || !bytes.Equal(got[:10], make([]byte, 10)) {
			t.Errorf("file holds %d bytes, not what was written", len(got))
		}
	})
}

func TestUringFsync(t *testing.T) {
	e := newTestUring(t, 2)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := e.pwritev(f, [][]byte{[]byte("data")}, 0); err != nil {
		t.Fatal(err)
	}
	before := e.counters().completed.Load()
	if err := e.fsync(f); err != nil {
		t.Fatalf("fsync = %v", err)
	}
	if e.counters().completed.Load() != before+1 {
		t.Errorf("fsync did not go through the ring")
	}
	// fsync of a pipe fails with EINVAL.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := e.fsync(w); err != syscall.EINVAL {
		t.Errorf("fsync(pipe) = %#v, want EINVAL", err)
	}
}

func TestUringClosed(t *testing.T) {
	base := runtime.NumGoroutine()
	e := newTestUring(t, 2)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ringFd := e.fd
	if err := e.close(); err != nil {
		t.Fatal(err)
	}
	if err := e.close(); err != nil {
		t.Errorf("second close = %v", err)
	}
	if _, err := e.pread(f, make([]byte, 1), 0); err != os.ErrClosed {
		t.Errorf("pread after close = %v", err)
	}
	if _, err := e.pread(f, nil, 0); err != os.ErrClosed {
		t.Errorf("empty pread after close = %v", err)
	}
	if _, err := e.pwritev(f, [][]byte{{1}}, 0); err != os.ErrClosed {
		t.Errorf("pwritev after close = %v", err)
	}
	if err := e.fsync(f); err != os.ErrClosed {
		t.Errorf("fsync after close = %v", err)
	}
	if _, err := unix.FcntlInt(uintptr(ringFd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("ring fd %d still open after close (%v)", ringFd, err)
	}
	settle(t, base)
}

func TestUringCloseInFlight(t *testing.T) {
	for _, depth := range []int{2, 16} {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			base := runtime.NumGoroutine()
			e := newTestUring(t, depth)
			const size = 4 << 20
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i * 13)
			}
			name := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(name, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			var wg sync.WaitGroup
			var mu sync.Mutex
			var ok, closed int
			errc := make(chan error, 32)
			for g := range 32 {
				wg.Go(func() {
					p := make([]byte, 256<<10)
					for i := 0; ; i++ {
						off := int64((g*7+i)%16) * int64(len(p))
						var n int
						var err error
						switch i % 4 {
						case 0:
							// Drop the cache so that reads wait for the disk.
							unix.Fadvise(int(f.Fd()), off, int64(len(p)), unix.FADV_DONTNEED)
							fallthrough
						case 1, 2:
							n, err = e.pread(f, p, off)
							if err == nil && (n != len(p) || !bytes.Equal(p, data[off:off+int64(n)])) {
								err = fmt.Errorf("pread at %d: %d bytes, wrong data", off, n)
							}
						case 3:
							// Write back what is there.
							n, err = e.pwritev(f, [][]byte{data[off : off+int64(len(p))]}, off)
							if err == nil && n != len(p) {
								err = fmt.Errorf("pwritev = %d", n)
							}
						}
						mu.Lock()
						switch {
						case err == nil:
							ok++
						case err == os.ErrClosed:
							closed++
						}
						mu.Unlock()
						if err == os.ErrClosed {
							return
						}
						if err != nil {
							errc <- err
							return
						}
					}
				})
			}
			time.Sleep(50 * time.Millisecond)
			done := make(chan struct{})
			go func() {
				e.close()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				buf := make([]byte, 1<<20)
				t.Fatalf("close hangs:\n%s", buf[:runtime.Stack(buf, true)])
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Error(err)
			}
			if ok == 0 || closed != 32 {
				t.Errorf("%d operations succeeded, %d goroutines saw ErrClosed; want >0 and 32", ok, closed)
			}
			if n := e.counters().inFlight.Load(); n != 0 {
				t.Errorf("inFlight = %d after close", n)
			}
			settle(t, base)
		})
	}
}

// TestUringThreads checks that many goroutines reading a cold file
// through the ring don't cost a thread each, as blocking pread does.
func TestUringThreads(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	e := newTestUring(t, 0)
	f := bigFile(t, 64<<20)
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Skip(err)
	}
	threads := func() int {
		d, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Skip(err)
		}
		return len(d)
	}
	before := threads()
	var wg sync.WaitGroup
	var peak sync.Map
	for g := range 256 {
		wg.Go(func() {
			p := make([]byte, 4096)
			rnd := rand.New(rand.NewPCG(uint64(g), 2))
			for i := range 32 {
				off := rnd.Int64N(64<<20/4096) * 4096
				if n, err := e.pread(f, p, off); n != len(p) || err != nil {
					t.Errorf("pread = %d, %v", n, err)
					return
				}
				if i%8 == 0 {
					peak.Store(g, threads())
				}
			}
		})
	}
	wg.Wait()
	most := 0
	peak.Range(func(_, v any) bool { most = max(most, v.(int)); return true })
	c := e.counters()
	t.Logf("threads: %d before, at most %d during 256 goroutines of cold 4 KiB reads (%d fast, %d submitted)",
		before, most, c.fastPath.Load(), c.submitted.Load())
	if limit := before + 64; most > limit {
		t.Errorf("%d threads during cold reads, want at most %d", most, limit)
	}
}

// bigFile returns a file of size pseudo-random bytes, read once so that
// it is in the page cache.
func bigFile(t testing.TB, size int) *os.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "big")
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	// Write the pages back, so that FADV_DONTNEED can drop them.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(name); err != nil {
		t.Fatal(err)
	}
	return f
}

// BenchmarkUringPread compares random reads of a warm 64 MiB file
// through the ring with and without the preadv2(RWF_NOWAIT) fast path,
// against plain pread: 4 KiB reads from one goroutine and from 16 per P,
// and larger reads, which bear on uringFastPathMax.
func BenchmarkUringPread(b *testing.B) {
	const size = 64 << 20
	f := bigFile(b, size)
	e := newTestUring(b, 0)
	fd := int(f.Fd())
	for _, bs := range []struct {
		name     string
		block    int64
		parallel bool
	}{
		{"4K", 4 << 10, false},
		{"4K/parallel", 4 << 10, true},
		{"64K", 64 << 10, false},
		{"256K", 256 << 10, false},
		{"1M", 1 << 20, false},
	} {
		for _, mode := range []string{"pread", "fast", "ring"} {
			b.Run(bs.name+"/"+mode, func(b *testing.B) {
				e.nowait = mode == "fast"
				b.SetBytes(bs.block)
				b.ReportAllocs()
				loop := func(seed uint64, next func() bool) {
					p := make([]byte, bs.block)
					rnd := rand.New(rand.NewPCG(seed, 3))
					for next() {
						off := rnd.Int64N(size/bs.block) * bs.block
						var n int
						var err error
						if mode == "pread" {
							n, err = unix.Pread(fd, p, off)
						} else {
							n, err = e.pread(f, p, off)
						}
						if n != len(p) || err != nil {
							b.Fatalf("read = %d, %v", n, err)
						}
					}
				}
				if bs.parallel {
					b.SetParallelism(16) // 16 goroutines per P
					var seed atomic.Uint64
					b.RunParallel(func(pb *testing.PB) { loop(seed.Add(1), pb.Next) })
				} else {
					loop(0, b.Loop)
				}
			})
		}
	}
}

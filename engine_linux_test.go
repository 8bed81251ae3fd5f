package aiofs

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/aiofs/aiofs/internal/uring"
)

// newTestUring starts a uring engine as cfg says, skipping the test where
// the kernel refuses io_uring, and closes it when the test ends.
func newTestUring(t testing.TB, cfg uring.Config) *uringEngine {
	t.Helper()
	e, err := newUringEngine(cfg)
	if err != nil {
		if uring.Refused(err) {
			t.Skipf("io_uring unavailable: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { e.close() })
	return e
}

// TestUringContractModes runs the engine contract on the ring alone, with
// the fast paths off: as is, with the vectored opcodes that kernels before
// 5.6 are limited to, and with SQEs so small that most transfers take
// several. TestEngineContract covers the engine as it starts. Like it,
// this test runs only where enginesUnderTest lists uring.
func TestUringContractModes(t *testing.T) {
	if !slices.Contains(enginesUnderTest(t), "uring") {
		t.Skip("uring is not among the engines to test here")
	}
	for _, m := range []struct {
		name string
		cfg  uring.Config
	}{
		{"ring", uring.Config{}},
		{"vectored", uring.Config{Vectored: true}},
		{"short", uring.Config{MaxRW: 5000}},
	} {
		t.Run(m.name, func(t *testing.T) {
			runContract(t, engineUnderTest{open: func(t *testing.T, depth int) engine {
				cfg := m.cfg
				cfg.Entries = depth
				e := newTestUring(t, cfg)
				e.nowait = false
				t.Cleanup(func() { checkDrained(t, e) })
				return e
			}})
		})
	}
}

func TestUringSetup(t *testing.T) {
	e, err := newPlatformEngine(0)
	if err != nil {
		t.Skip(err)
	}
	if e.name() != platformEngine || platformEngine != "uring" {
		t.Errorf("newPlatformEngine: name() = %q", e.name())
	}
	e.close()
}

// TestUringFastPathEOF: on a cached file the fast path must not need the
// ring to find the end of the file.
func TestUringFastPathEOF(t *testing.T) {
	e := newTestUring(t, uring.Config{Entries: 4})
	const size = 1000
	name := filepath.Join(t.TempDir(), "f")
	data := contractData(size)
	f := openWritten(t, name, data)
	submitted := e.counters().submitted.Load()
	checkShortReads(t, e, f, data)
	if n := e.counters().submitted.Load() - submitted; n != 0 {
		t.Errorf("%d submissions with the fast path", n)
	}
}

func TestUringFsyncPipe(t *testing.T) {
	e := newTestUring(t, uring.Config{Entries: 2})
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

// TestUringPartialFastPath reads a range whose first page alone is
// cached: the fast path returns that page and the ring must read the
// rest into the right place.
func TestUringPartialFastPath(t *testing.T) {
	e := newTestUring(t, uring.Config{Entries: 2})
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

// TestUringThreads checks that many goroutines reading a cold file
// through the ring don't cost a thread each, as blocking pread does.
func TestUringThreads(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	e := newTestUring(t, uring.Config{})
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
	f := openWritten(t, name, data)
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
	e := newTestUring(b, uring.Config{})
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

//go:build linux

package uring

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// testCounters are a ring's counters in a test.
type testCounters struct {
	submitted, completed atomic.Uint64
	inFlight             atomic.Int64
}

// openTest opens a ring as cfg says with counters of its own, skipping
// the test where the kernel refuses io_uring. The test closes it.
func openTest(t *testing.T, cfg Config) (*Ring, *testCounters) {
	t.Helper()
	c := new(testCounters)
	cfg.Counters = Counters{Submitted: &c.submitted, Completed: &c.completed, InFlight: &c.inFlight}
	r, err := Open(cfg)
	if err != nil {
		if Refused(err) {
			t.Skipf("io_uring unavailable: %v", err)
		}
		t.Fatal(err)
	}
	return r, c
}

func (c *testCounters) check(t *testing.T) {
	t.Helper()
	if s, d, f := c.submitted.Load(), c.completed.Load(), c.inFlight.Load(); s != d || f != 0 {
		t.Errorf("submitted %d, completed %d, in flight %d", s, d, f)
	}
}

func TestRingSetup(t *testing.T) {
	for _, tt := range []struct{ entries, slots int }{{0, DefaultEntries}, {1, 1}, {2, 2}, {3, 3}, {1 << 20, MaxEntries}} {
		r, _ := openTest(t, Config{Entries: tt.entries})
		if len(r.reqs) != tt.slots {
			t.Errorf("entries %d: %d slots, want %d", tt.entries, len(r.reqs), tt.slots)
		}
		if len(r.reqs) > len(r.sqes) || len(r.sqes) > len(r.cqes) {
			t.Errorf("entries %d: %d slots, %d SQEs, %d CQEs", tt.entries, len(r.reqs), len(r.sqes), len(r.cqes))
		}
		if int(r.sqMask)+1 != len(r.sqes) || int(r.cqMask)+1 != len(r.cqes) {
			t.Errorf("entries %d: masks %#x %#x for %d SQEs, %d CQEs", tt.entries, r.sqMask, r.cqMask, len(r.sqes), len(r.cqes))
		}
		if r.maxRW != defaultMaxRW {
			t.Errorf("entries %d: maxRW %d, want %d", tt.entries, r.maxRW, defaultMaxRW)
		}
		r.Close()
	}
	r, _ := openTest(t, Config{Entries: 2, Vectored: true, MaxRW: 5000})
	defer r.Close()
	if r.readOp != opReadv || r.writeOp != opWritev || r.maxRW != 5000 {
		t.Errorf("Vectored, MaxRW 5000: ops %d %d, maxRW %d", r.readOp, r.writeOp, r.maxRW)
	}
}

// TestRingClose: Close releases the ring's descriptor and eventfd.
func TestRingClose(t *testing.T) {
	r, c := openTest(t, Config{Entries: 2})
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := r.Writev(int(f.Fd()), [][]byte{[]byte("x")}, 0, 0); err != nil {
		t.Fatal(err)
	}
	ringFd, eventFd := r.fd, int(r.events.Fd())
	r.Close()
	for _, fd := range []int{ringFd, eventFd} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
			t.Errorf("fd %d still open after Close (%v)", fd, err)
		}
	}
	c.check(t)
}

// TestRingModes reads and writes through a tiny ring from many goroutines,
// with the opcodes of new and old kernels and with SQEs too small for a
// whole transfer.
func TestRingModes(t *testing.T) {
	for _, cfg := range []Config{{}, {Vectored: true}, {MaxRW: 5000}} {
		t.Run(fmt.Sprintf("vectored=%v,maxRW=%d", cfg.Vectored, cfg.MaxRW), func(t *testing.T) {
			cfg.Entries = 2
			r, c := openTest(t, cfg)
			f, err := os.Create(filepath.Join(t.TempDir(), "f"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fd := int(f.Fd())
			const goroutines, block = 16, 20000
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					data := bytes.Repeat([]byte{byte(g + 1)}, block)
					off := int64(g * block)
					// Three buffers, the first skipped in part.
					bufs := [][]byte{make([]byte, 100), data[:7], data[7:]}
					if n, err := r.Writev(fd, bufs, 100, off); n != block || err != nil {
						t.Errorf("goroutine %d: Writev = %d, %v", g, n, err)
						return
					}
					// Past the block: the next one, a hole, or end of file.
					p := make([]byte, block+10)
					if n, err := r.Read(fd, p, off); n < block || err != nil || !bytes.Equal(p[:block], data) {
						t.Errorf("goroutine %d: Read = %d, %v", g, n, err)
					}
				})
			}
			wg.Wait()
			// More buffers than one WRITEV takes.
			var bufs [][]byte
			var want []byte
			for i := range 3 * MaxIov {
				b := []byte{byte(i), byte(i >> 8)}
				bufs = append(bufs, b)
				want = append(want, b...)
			}
			if n, err := r.Writev(fd, bufs, 0, 0); n != len(want) || err != nil {
				t.Fatalf("Writev(%d buffers) = %d, %v", len(bufs), n, err)
			}
			got := make([]byte, len(want))
			if n, err := r.Read(fd, got, 0); n != len(got) || err != nil || !bytes.Equal(got, want) {
				t.Errorf("Read back = %d, %v", n, err)
			}
			if err := r.Fsync(fd); err != nil {
				t.Errorf("Fsync = %v", err)
			}
			r.Close()
			c.check(t)
			if c.submitted.Load() < goroutines*2+2 {
				t.Errorf("%d submissions, want at least %d", c.submitted.Load(), goroutines*2+2)
			}
		})
	}
}

// TestRingErrors: the kernel's errors come back as bare errnos.
func TestRingErrors(t *testing.T) {
	r, c := openTest(t, Config{Entries: 2})
	defer r.Close()
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	if err := os.WriteFile(name, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
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
	if n, err := r.Writev(int(ro.Fd()), [][]byte{p, p}, 0, 0); n != 0 || err != syscall.EBADF {
		t.Errorf("Writev(read-only) = %d, %#v; want 0, EBADF", n, err)
	}
	if n, err := r.Read(int(d.Fd()), p, 0); n != 0 || err != syscall.EISDIR {
		t.Errorf("Read(directory) = %d, %#v; want 0, EISDIR", n, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if err := r.Fsync(int(pw.Fd())); err != syscall.EINVAL {
		t.Errorf("Fsync(pipe) = %#v, want EINVAL", err)
	}
	c.check(t)
}

package aiofs

// A fault-injecting engine for the reliability tests: it wraps a real
// engine and, at pseudo-random points chosen by a seed, fails operations,
// shortens them, delays them and lets concurrent ones complete in another
// order than they finished. Every injected fault is logged, so a test can
// tell an error the Fs passed on from one it invented.

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// FaultConfig says how often the fault engine interferes. Each rate is a
// probability per operation.
type FaultConfig struct {
	Seed  int64
	Fail  float64 // the operation fails, wholly or after a prefix
	Delay float64 // the operation starts after a pause of up to MaxDelay
	Hold  float64 // the finished operation waits for a later one to finish first
	// MaxDelay bounds a Delay pause; zero means 1ms.
	MaxDelay time.Duration
}

// A Fault is one injected failure. It is logged as the failed operation
// returns to its caller, after any hold: the moment the Fs can know of it.
type Fault struct {
	Seq  int    // position in the log
	Op   string // "pread", "pwritev" or "fsync"
	File string // the *os.File's name
	Ino  uint64 // its inode number, where the system has them (0 else)
	Off  int64
	Len  int // bytes asked for
	Done int // bytes really transferred before the error
	Err  syscall.Errno
}

// FaultLog records the faults an engine injected. It is safe for
// concurrent use.
type FaultLog struct {
	mu     sync.Mutex
	off    bool
	faults []Fault
}

// SetEnabled turns injection on or off; the log starts enabled.
func (l *FaultLog) SetEnabled(on bool) {
	l.mu.Lock()
	l.off = !on
	l.mu.Unlock()
}

// Len returns the number of faults injected so far: a mark that Since
// takes to list the faults injected after it.
func (l *FaultLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.faults)
}

// Since returns the faults from position i on.
func (l *FaultLog) Since(i int) []Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Fault(nil), l.faults[min(i, len(l.faults)):]...)
}

func (l *FaultLog) add(f Fault) {
	l.mu.Lock()
	f.Seq = len(l.faults)
	l.faults = append(l.faults, f)
	l.mu.Unlock()
}

func (l *FaultLog) enabled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.off
}

// faultEngine implements engine over inner.
//
// Whether an operation fails depends only on the seed, the operation, its
// file, offset and length, and how many identical operations came before:
// the same calls fail the same way whatever goroutines the Fs runs them
// on, and a retried write gets a fresh chance. Delays and holds come from
// a seeded generator, in the order operations arrive.
type faultEngine struct {
	inner engine
	cfg   FaultConfig
	log   *FaultLog

	mu   sync.Mutex
	seen map[faultKey]uint64 // identical operations so far
	rng  *rand.Rand
	held []chan struct{} // finished operations waiting for a later one
}

type faultKey struct {
	op   string
	file string
	off  int64
	n    int
}

func newFaultEngine(inner engine, cfg FaultConfig, log *FaultLog) *faultEngine {
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = time.Millisecond
	}
	return &faultEngine{
		inner: inner,
		cfg:   cfg,
		log:   log,
		seen:  make(map[faultKey]uint64),
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6661756c7473)),
	}
}

// splitmix is the SplitMix64 finaliser, a cheap well-mixed hash step.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// decide returns a hash of the operation for the fault decision, and
// whether to delay it and to hold its completion.
func (e *faultEngine) decide(k faultKey) (h uint64, delay time.Duration, hold bool) {
	e.mu.Lock()
	nth := e.seen[k]
	e.seen[k] = nth + 1
	if e.rng.Float64() < e.cfg.Delay {
		delay = time.Duration(e.rng.Int64N(int64(e.cfg.MaxDelay))) + time.Microsecond
	}
	hold = e.rng.Float64() < e.cfg.Hold
	e.mu.Unlock()
	h = splitmix(uint64(e.cfg.Seed))
	for _, c := range []byte(k.op + "\x00" + k.file) {
		h = splitmix(h ^ uint64(c))
	}
	h = splitmix(h ^ uint64(k.off))
	h = splitmix(h ^ uint64(k.n))
	h = splitmix(h ^ nth)
	return h, delay, hold
}

// fails reports whether the hash h selects a fault.
func (e *faultEngine) fails(h uint64) bool {
	return e.cfg.Fail > 0 && float64(h>>11)/(1<<53) < e.cfg.Fail && e.log.enabled()
}

// finish lets the operations held so far complete, and holds this one
// until a later one finishes (or half a millisecond passes) if hold says so.
func (e *faultEngine) finish(hold bool) {
	e.mu.Lock()
	if !hold {
		for _, c := range e.held {
			close(c)
		}
		e.held = nil
		e.mu.Unlock()
		return
	}
	c := make(chan struct{})
	e.held = append(e.held, c)
	e.mu.Unlock()
	t := time.NewTimer(500 * time.Microsecond)
	select {
	case <-c:
	case <-t.C:
	}
	t.Stop()
}

func (e *faultEngine) pread(f afero.File, p []byte, off int64) (int, error) {
	h, delay, hold := e.decide(faultKey{"pread", f.Name(), off, len(p)})
	time.Sleep(delay)
	if !e.fails(h) {
		defer e.finish(hold)
		return e.inner.pread(f, p, off)
	}
	// EIO, after reading a prefix for real in half the cases.
	m := 0
	if h&1 != 0 && len(p) > 1 {
		k := 1 + int(h>>1%uint64(len(p)-1))
		var err error
		if m, err = e.inner.pread(f, p[:k], off); err != nil {
			return m, err
		}
	}
	e.finish(hold)
	e.log.add(Fault{Op: "pread", File: f.Name(), Ino: fileIno(f), Off: off, Len: len(p), Done: m, Err: syscall.EIO})
	return m, syscall.EIO
}

func (e *faultEngine) pwritev(f afero.File, bufs [][]byte, off int64) (int, error) {
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	h, delay, hold := e.decide(faultKey{"pwritev", f.Name(), off, total})
	time.Sleep(delay)
	if !e.fails(h) {
		defer e.finish(hold)
		return e.inner.pwritev(f, bufs, off)
	}
	var errno syscall.Errno
	m := 0
	switch h % 4 {
	case 0:
		errno = syscall.EIO
	case 1:
		errno = syscall.EFBIG
	case 2:
		errno = syscall.ENOSPC
	case 3:
		// A full disk after a prefix: write that prefix for real.
		errno = syscall.ENOSPC
		if total > 1 {
			k := 1 + int(h>>2%uint64(total-1))
			var err error
			if m, err = e.inner.pwritev(f, prefix(bufs, k), off); err != nil {
				return m, err
			}
		}
	}
	e.finish(hold)
	e.log.add(Fault{Op: "pwritev", File: f.Name(), Ino: fileIno(f), Off: off, Len: total, Done: m, Err: errno})
	return m, errno
}

// prefix returns the first k bytes of bufs as buffers.
func prefix(bufs [][]byte, k int) [][]byte {
	var out [][]byte
	for _, b := range bufs {
		if k == 0 {
			break
		}
		b = b[:min(len(b), k)]
		out = append(out, b)
		k -= len(b)
	}
	return out
}

func (e *faultEngine) fsync(f afero.File) error {
	h, delay, hold := e.decide(faultKey{"fsync", f.Name(), 0, 0})
	time.Sleep(delay)
	if !e.fails(h) {
		defer e.finish(hold)
		return e.inner.fsync(f)
	}
	errno := syscall.EIO
	if h&1 != 0 {
		errno = syscall.ENOSPC
	}
	e.finish(hold)
	e.log.add(Fault{Op: "fsync", File: f.Name(), Ino: fileIno(f), Err: errno})
	return errno
}

func (e *faultEngine) close() error {
	e.finish(false)
	return e.inner.close()
}

func (e *faultEngine) name() string              { return e.inner.name() }
func (e *faultEngine) counters() *engineCounters { return e.inner.counters() }

// TestFaultEngine checks the fault engine's own promises: with the same
// seed, the same single-goroutine calls fail the same way; every failure is
// logged; a shortened write writes exactly its prefix and a shortened read
// reads one; nothing fails when the log is disabled.
func TestFaultEngine(t *testing.T) {
	t.Parallel()
	name := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run := func(enabled bool) []Fault {
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		log := &FaultLog{}
		log.SetEnabled(enabled)
		e := newFaultEngine(newPoolEngine(2), FaultConfig{Seed: 7, Fail: 0.3, Delay: 0.1, Hold: 0.1, MaxDelay: 50 * time.Microsecond}, log)
		defer e.close()
		for i := range 200 {
			off := int64(i%20) * 100
			buf := bytes.Repeat([]byte{byte(i)}, 100)
			m, err := e.pwritev(f, [][]byte{buf[:40], buf[40:]}, off)
			want := make([]byte, 100)
			k, rerr := f.ReadAt(want, off)
			if k < m || rerr != nil && rerr != io.EOF {
				t.Fatalf("pwritev returned %d, %v, but only %d bytes are there (%v)", m, err, k, rerr)
			}
			if !bytes.Equal(want[:m], buf[:m]) {
				t.Fatalf("pwritev returned %d but the file holds other bytes", m)
			}
			if err == nil && m != 100 || err != nil && m >= 100 {
				t.Fatalf("pwritev returned %d, %v for 100 bytes", m, err)
			}
			got := make([]byte, 100)
			m, err = e.pread(f, got, off)
			if err == nil && m != k || err != nil && m > k {
				t.Fatalf("pread returned %d, %v where the file has %d bytes", m, err, k)
			}
			if !bytes.Equal(got[:m], want[:m]) {
				t.Fatalf("pread read other bytes than the file holds")
			}
			if ferr := e.fsync(f); ferr != nil && !enabled {
				t.Fatalf("fsync failed with faults disabled: %v", ferr)
			}
		}
		for _, x := range log.Since(0) {
			if x.Err == 0 {
				t.Fatalf("fault without errno: %+v", x)
			}
		}
		return log.Since(0)
	}
	a, b := run(true), run(true)
	if len(a) == 0 {
		t.Fatal("no fault injected at rate 0.3")
	}
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	if n := len(run(false)); n != 0 {
		t.Fatalf("%d faults injected while disabled", n)
	}
}

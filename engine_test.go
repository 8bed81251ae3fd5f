package aiofs

// The engine contract: one table of tests that every engine must pass,
// run on each engine that starts on this machine. See the engine type.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// enginesUnderTest is the one list of engines the tests run on: the pool,
// and the platform's own engine where the kernel lets it start.
// AIOFS_ENGINE narrows it to that engine. An engine asked for that cannot
// start here fails t under CI=true and skips it otherwise, so that a run
// never passes having tested a different engine, or none.
func enginesUnderTest(t testing.TB) []string {
	t.Helper()
	names, why := startableEngines()
	want := os.Getenv("AIOFS_ENGINE")
	if want == "" {
		return names
	}
	if !slices.Contains(names, want) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("AIOFS_ENGINE=%s cannot start here (%v); the engines that can: %v", want, why, names)
		}
		t.Skipf("AIOFS_ENGINE=%s cannot start here (%v); the engines that can: %v", want, why, names)
	}
	return []string{want}
}

// forEngines runs test once per engine under test, as parallel subtests
// named for them.
func forEngines(t *testing.T, test func(t *testing.T, engine string)) {
	t.Helper()
	for _, e := range enginesUnderTest(t) {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			test(t, e)
		})
	}
}

// parallelForEngines runs test in parallel with the other parallel tests,
// and once per engine, as forEngines does.
func parallelForEngines(t *testing.T, test func(t *testing.T, engine string)) {
	t.Helper()
	t.Parallel()
	forEngines(t, test)
}

// forEnginesSerial is forEngines one engine at a time, for tests that
// count goroutines or measure the heap, bound times, change the working
// directory or package globals.
func forEnginesSerial(t *testing.T, test func(t *testing.T, engine string)) {
	t.Helper()
	for _, e := range enginesUnderTest(t) {
		t.Run(e, func(t *testing.T) { test(t, e) })
	}
}

// startableEngines returns the engines that start here, and why the
// platform's own engine does not if it does not.
var startableEngines = sync.OnceValues(func() ([]string, error) {
	names := []string{"pool"}
	if platformEngine == "" {
		return names, fmt.Errorf("%s has no engine of its own", runtime.GOOS)
	}
	e, err := newPlatformEngine(1)
	if err != nil {
		return names, err
	}
	e.close()
	return append(names, platformEngine), nil
})

// engineUnderTest is what a contract test needs to know of an engine.
type engineUnderTest struct {
	// open starts an engine with at most depth operations in flight (0:
	// the engine's default) that the test closes when it ends.
	open func(t *testing.T, depth int) engine
	// fastPath says whether the engine may serve an operation without
	// a submission.
	fastPath bool
}

// engineByName returns the engine of that name for the contract.
func engineByName(name string) engineUnderTest {
	return engineUnderTest{
		open: func(t *testing.T, depth int) engine {
			t.Helper()
			var e engine
			if name == "pool" {
				e = newPoolEngine(depth)
			} else {
				pe, err := newPlatformEngine(depth)
				if err != nil {
					t.Fatalf("newPlatformEngine(%d): %v", depth, err)
				}
				e = pe
			}
			t.Cleanup(func() {
				if err := e.close(); err != nil {
					t.Errorf("close: %v", err)
				}
				checkDrained(t, e)
			})
			return e
		},
		fastPath: name == "uring" || name == "kqueue",
	}
}

// queuedReads is eut with every read going through the engine's queue,
// for an engine whose small reads may skip it (kqueue), so that the
// contract covers both ways; ok is false for other engines.
func queuedReads(eut engineUnderTest) (_ engineUnderTest, ok bool) {
	open := eut.open
	eut.open = func(t *testing.T, depth int) engine {
		e := open(t, depth)
		d, can := e.(interface{ setDirectReaders(int32) })
		if !can {
			t.Fatalf("%s: reads cannot be made to queue", e.name())
		}
		d.setDirectReaders(0)
		return e
	}
	return eut, platformEngine == "kqueue"
}

// contract is the table every engine must pass.
var contract = []struct {
	name string
	run  func(t *testing.T, eut engineUnderTest)
}{
	{"ShortRead", contractShortRead},
	{"WriteVectors", contractWriteVectors},
	{"Fsync", contractFsync},
	{"Errors", contractErrors},
	{"Closed", contractClosed},
	{"CloseInFlight", contractCloseInFlight},
	{"BuffersAfterReturn", contractBuffersAfterReturn},
	{"QueueFull", contractQueueFull},
}

func TestEngineContract(t *testing.T) {
	for _, name := range enginesUnderTest(t) {
		t.Run(name, func(t *testing.T) { runContract(t, engineByName(name)) })
		if q, ok := queuedReads(engineByName(name)); ok && name == platformEngine {
			t.Run(name+"-queued", func(t *testing.T) { runContract(t, q) })
		}
	}
}

// runContract runs the whole contract on eut.
func runContract(t *testing.T, eut engineUnderTest) {
	for _, c := range contract {
		t.Run(c.name, func(t *testing.T) { c.run(t, eut) })
	}
}

// checkDrained fails the test unless every submission has completed.
func checkDrained(t *testing.T, e engine) {
	t.Helper()
	c := e.counters()
	if s, d, f := c.submitted.Load(), c.completed.Load(), c.inFlight.Load(); s != d || f != 0 {
		t.Errorf("%s: submitted %d, completed %d, in flight %d", e.name(), s, d, f)
	}
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

// contractData returns size bytes, byte i being i*7+1.
func contractData(size int) []byte {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + 1)
	}
	return data
}

// openWritten writes data to name and opens the file for reading, closed
// when t ends.
func openWritten(t testing.TB, name string, data []byte) *os.File {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// contractShortRead: pread returns fewer bytes than asked only at end of
// file, with a nil error, and leaves the rest of p alone.
func contractShortRead(t *testing.T, eut engineUnderTest) {
	e := eut.open(t, 4)
	dir := t.TempDir()
	for _, size := range []int{1000, 200 << 10} {
		name := filepath.Join(dir, fmt.Sprint(size))
		data := contractData(size)
		checkShortReads(t, e, openWritten(t, name, data), data)
	}
}

// checkShortReads checks pread of f, which holds data, up to, across and
// past its end: it returns fewer bytes than asked only at end of file,
// with a nil error, and leaves the rest of p alone.
func checkShortReads(t *testing.T, e engine, f *os.File, data []byte) {
	t.Helper()
	size := len(data)
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
		p := bytes.Repeat([]byte{0xee}, tt.len)
		n, err := e.pread(f, p, int64(tt.off))
		if n != tt.want || err != nil {
			t.Errorf("size %d: pread(len %d, off %d) = %d, %v; want %d, nil", size, tt.len, tt.off, n, err, tt.want)
			continue
		}
		if n > 0 && !bytes.Equal(p[:n], data[tt.off:tt.off+n]) {
			t.Errorf("size %d: pread(len %d, off %d): wrong data", size, tt.len, tt.off)
		}
		if bytes.Count(p[n:], []byte{0xee}) != len(p)-n {
			t.Errorf("size %d: pread(len %d, off %d) wrote past the %d bytes it read", size, tt.len, tt.off, n)
		}
	}
}

// contractWriteVectors: the buffers of one pwritev land contiguously, empty
// ones included, also when they are more than one system call takes.
func contractWriteVectors(t *testing.T, eut engineUnderTest) {
	e := eut.open(t, 2)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// More buffers than one WRITEV or aio_writev takes, with empty ones
	// among them.
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
	for _, empty := range [][][]byte{nil, {nil, {}}} {
		if n, err := e.pwritev(f, empty, 0); n != 0 || err != nil {
			t.Errorf("pwritev(%d empty buffers) = %d, %v", len(empty), n, err)
		}
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[10:], want) || !bytes.Equal(got[:10], make([]byte, 10)) {
		t.Errorf("file holds %d bytes, not what was written", len(got))
	}

	// A larger, unaligned transfer, in buffers of unequal sizes.
	data := make([]byte, 4<<20+5)
	rand.NewChaCha8([32]byte{2}).Read(data)
	off := int64(1<<20 + 3)
	parts := [][]byte{data[:1], data[1 : 1<<20], data[1<<20:]}
	if n, err := e.pwritev(f, parts, off); n != len(data) || err != nil {
		t.Fatalf("pwritev = %d, %v", n, err)
	}
	back := make([]byte, len(data)+100)
	if n, err := e.pread(f, back, off); n != len(data) || err != nil || !bytes.Equal(back[:n], data) {
		t.Fatalf("pread = %d, %v (equal %v)", n, err, bytes.Equal(back[:n], data))
	}
}

// contractFsync: fsync succeeds on a written file and is one submission.
func contractFsync(t *testing.T, eut engineUnderTest) {
	e := eut.open(t, 2)
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
		t.Errorf("fsync completed %d operations, want 1", e.counters().completed.Load()-before)
	}
}

// contractErrors: failures are the bare errno, with nothing transferred.
func contractErrors(t *testing.T, eut engineUnderTest) {
	e := eut.open(t, 4)
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
	// Compare with ==: the error must be the bare errno. Windows has
	// errnos of its own for these.
	wantErr := func(what string, n int, err, want error) {
		t.Helper()
		if _, bare := err.(syscall.Errno); n != 0 || !bare || runtime.GOOS != "windows" && err != want {
			t.Errorf("%s = %d, %#v; want 0, %v", what, n, err, want)
		}
	}
	n, err := e.pread(wo, p, 0)
	wantErr("pread(write-only)", n, err, syscall.EBADF)
	n, err = e.pread(wo, big, 0)
	wantErr("pread(write-only, 100 KiB)", n, err, syscall.EBADF)
	n, err = e.pwritev(ro, [][]byte{p}, 0)
	wantErr("pwritev(read-only)", n, err, syscall.EBADF)
	n, err = e.pwritev(ro, [][]byte{p, p}, 0)
	wantErr("pwritev(read-only, 2 bufs)", n, err, syscall.EBADF)
	n, err = e.pread(d, p, 0)
	wantErr("pread(directory)", n, err, syscall.EISDIR)

	// package os refuses negative offsets before any system call, with an
	// error of its own; the other engines say EINVAL.
	for _, op := range []struct {
		name string
		do   func() (int, error)
	}{
		{"pread", func() (int, error) { return e.pread(ro, p, -1) }},
		{"pwritev", func() (int, error) { return e.pwritev(wo, [][]byte{p}, -1) }},
	} {
		n, err := op.do()
		if n != 0 || err == nil || e.name() != "pool" && err != syscall.EINVAL {
			t.Errorf("%s(off -1) = %d, %#v; want 0, EINVAL", op.name, n, err)
		}
	}
	checkDrained(t, e)
}

// contractClosed: after close, every method says os.ErrClosed, close
// again is nil, and the engine's goroutines are gone.
func contractClosed(t *testing.T, eut engineUnderTest) {
	base := runtime.NumGoroutine()
	e := eut.open(t, 2)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
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
	settle(t, base)
}

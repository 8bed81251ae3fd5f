package aiofs_test

// Concurrency: many goroutines on shared and separate files with content
// verification; files closed while in use; an Fs closed while operations
// are in flight; goroutines gone after Fs.Close. Meant for -race.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// waitOrDump waits for wg; after d it fails the test with every
// goroutine's stack.
func waitOrDump(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 2)
		t.Fatalf("%s: still running after %v (hang?)\n%s", what, d, b.String())
	}
}

type concConfig struct {
	name string
	opts []aiofs.Option
}

// concConfigs are run on every engine.
var concConfigs = []concConfig{
	{name: "default"},
	{name: "writebehind-256K", opts: []aiofs.Option{aiofs.WithWriteBehind(256 << 10), aiofs.WithCacheSize(1 << 20)}},
	{name: "writethrough", opts: []aiofs.Option{aiofs.WithWriteBehind(0)}},
	{name: "depth8", opts: []aiofs.Option{aiofs.WithQueueDepth(8)}},
}

// forConcConfigs runs test on every engine with each of concConfigs, as
// subtests engine/config.
func forConcConfigs(t *testing.T, test func(t *testing.T, engine string, opts ...aiofs.Option)) {
	forEngines(t, func(t *testing.T, engine string) {
		for _, cfg := range concConfigs {
			t.Run(cfg.name, func(t *testing.T) { test(t, engine, cfg.opts...) })
		}
	})
}

// TestConcurrentReadWriteAt: 64 goroutines. 32 work on disjoint regions of
// one shared file (16 through one shared handle, 16 through handles of
// their own), 32 on files of their own. Each keeps a shadow copy of its
// region and checks every read against it; at the end the disk must hold
// every shadow.
func TestConcurrentReadWriteAt(t *testing.T) {
	t.Parallel()
	forConcConfigs(t, testConcurrentReadWriteAt)
}

func testConcurrentReadWriteAt(t *testing.T, engine string, opts ...aiofs.Option) {
	const (
		workers    = 64
		onShared   = 32
		regionSize = 64 << 10
		iters      = 30
	)
	dir := t.TempDir()
	fsys := newAio(t, engine, opts...)
	sharedPath := filepath.Join(dir, "shared")
	shared, err := fsys.OpenFile(sharedPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.Truncate(onShared * regionSize); err != nil {
		t.Fatal(err)
	}
	shadows := make([][]byte, workers)
	paths := make([]string, workers)
	var wg sync.WaitGroup
	var failures atomic.Int32
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	for id := 0; id < workers; id++ {
		shadows[id] = make([]byte, regionSize)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(id), 7))
			var f afero.File
			var base int64
			switch {
			case id < onShared/2:
				f, base = shared, int64(id)*regionSize
				paths[id] = sharedPath
			case id < onShared:
				g, err := fsys.OpenFile(sharedPath, os.O_RDWR, 0)
				if err != nil {
					fail("worker %d: open shared: %v", id, err)
					return
				}
				defer func() {
					if err := g.Close(); err != nil {
						fail("worker %d: Close: %v", id, err)
					}
				}()
				f, base = g, int64(id)*regionSize
				paths[id] = sharedPath
			default:
				p := filepath.Join(dir, fmt.Sprintf("own%02d", id))
				g, err := fsys.Create(p)
				if err != nil {
					fail("worker %d: create: %v", id, err)
					return
				}
				defer func() {
					if err := g.Close(); err != nil {
						fail("worker %d: Close: %v", id, err)
					}
				}()
				if err := g.Truncate(regionSize); err != nil {
					fail("worker %d: Truncate: %v", id, err)
					return
				}
				f, base = g, 0
				paths[id] = p
			}
			shadow := shadows[id]
			buf := make([]byte, regionSize)
			for iter := 0; iter < iters; iter++ {
				off := rng.Int64N(regionSize)
				n := 1 + rng.IntN(16<<10)
				if rng.IntN(4) == 0 { // straddle a 4 KiB or 64 KiB boundary
					b := int64(4096 * (1 + rng.IntN(15)))
					off = max(0, b-int64(rng.IntN(100)))
				}
				n = int(min(int64(n), regionSize-off))
				p := buf[:n]
				fillPattern(p, uint64(id)<<32|uint64(iter), off)
				m, err := f.WriteAt(p, base+off)
				if m != n || err != nil {
					fail("worker %d iter %d: WriteAt(%d bytes, %d) = %d, %v", id, iter, n, base+off, m, err)
					return
				}
				copy(shadow[off:], p)

				roff := rng.Int64N(regionSize)
				rn := int(min(int64(1+rng.IntN(20<<10)), regionSize-roff))
				if iter%10 == 9 {
					roff, rn = 0, regionSize
				}
				got := make([]byte, rn)
				m, err = f.ReadAt(got, base+roff)
				if m != rn || (err != nil && !(err == io.EOF && base+roff+int64(rn) == int64(onShared*regionSize))) {
					fail("worker %d iter %d: ReadAt(%d, %d) = %d, %v", id, iter, rn, base+roff, m, err)
					return
				}
				if !bytes.Equal(got, shadow[roff:roff+int64(rn)]) {
					fail("worker %d iter %d: ReadAt(%d, %d) after own writes: %s", id, iter, rn, base+roff, diff(shadow[roff:roff+int64(rn)], got, "want", "got"))
					return
				}
			}
		}()
	}
	waitOrDump(t, &wg, 60*time.Second, "workers")
	if t.Failed() {
		return
	}
	// Every region through the shared handle, before closing it.
	all := make([]byte, onShared*regionSize)
	if n, err := shared.ReadAt(all, 0); n != len(all) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt of the whole shared file: %d, %v", n, err)
	}
	for id := 0; id < onShared; id++ {
		if got := all[id*regionSize : (id+1)*regionSize]; !bytes.Equal(got, shadows[id]) {
			t.Errorf("shared file, region %d through the shared handle: %s", id, diff(shadows[id], got, "want", "got"))
		}
	}
	if err := shared.Close(); err != nil {
		t.Fatalf("Close shared: %v", err)
	}
	// And on disk.
	disk, err := os.ReadFile(sharedPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(disk) != onShared*regionSize {
		t.Fatalf("shared file on disk: %d bytes, want %d", len(disk), onShared*regionSize)
	}
	for id := 0; id < workers; id++ {
		var got []byte
		if id < onShared {
			got = disk[id*regionSize : (id+1)*regionSize]
		} else if got, err = os.ReadFile(paths[id]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, shadows[id]) {
			t.Errorf("worker %d's region on disk (%s): %s", id, filepath.Base(paths[id]), diff(shadows[id], got, "want", "got"))
		}
	}
	st := fsys.Stats()
	if st.InFlight != 0 {
		t.Errorf("Stats().InFlight = %d after all work completed", st.InFlight)
	}
}

// TestCloseFileWhileInUse: goroutines use one handle while it is closed,
// and keep trying it until Close has returned. Every operation completes
// or fails with an error that is fs.ErrClosed (Read may also say io.EOF);
// once one has seen ErrClosed every later operation does; nothing hangs,
// and callers still trying the closed handle do not keep Close waiting.
func TestCloseFileWhileInUse(t *testing.T) {
	t.Parallel()
	forConcConfigs(t, func(t *testing.T, engine string, opts ...aiofs.Option) {
		for round := 0; round < 3; round++ {
			testCloseFileWhileInUse(t, engine, round, opts...)
		}
	})
}

func testCloseFileWhileInUse(t *testing.T, engine string, round int, opts ...aiofs.Option) {
	const size = 1 << 20
	dir := t.TempDir()
	fsys := newAio(t, engine, opts...)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, pattern(uint64(1), 0, size), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := fsys.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg       sync.WaitGroup
		closed   atomic.Bool
		returned atomic.Bool // Close has returned
		started  sync.WaitGroup
		failures atomic.Int32
		opsDone  atomic.Int64
	)
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	const workers = 16
	started.Add(workers)
	for id := 0; id < workers; id++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(id), uint64(round)))
			buf := make([]byte, 64<<10)
			sawClosed := false
			after := 0
			started.Done()
			for i := 0; ; i++ {
				off := rng.Int64N(size - int64(len(buf)))
				n := 1 + rng.IntN(len(buf))
				var err error
				var op string
				switch rng.IntN(9) {
				case 0:
					op = "ReadAt"
					_, err = f.ReadAt(buf[:n], off)
				case 1:
					op = "WriteAt"
					_, err = f.WriteAt(buf[:n], off)
				case 2:
					op = "Read"
					_, err = f.Read(buf[:n])
					if err == io.EOF {
						err = nil
					}
				case 3:
					op = "Write"
					_, err = f.Write(buf[:min(n, 512)])
				case 4:
					op = "Seek"
					_, err = f.Seek(off, io.SeekStart)
				case 5:
					op = "Stat"
					_, err = f.Stat()
				case 6:
					if rng.IntN(8) == 0 {
						op = "Sync"
						err = f.Sync()
					} else {
						op = "Stat"
						_, err = f.Stat()
					}
				case 7:
					op = "Truncate"
					err = f.Truncate(size)
				case 8:
					op = "WriteString"
					_, err = f.WriteString("concurrent")
				}
				opsDone.Add(1)
				switch {
				case err == nil:
					if sawClosed {
						fail("round %d worker %d: %s succeeded after an operation saw ErrClosed", round, id, op)
						return
					}
				case errors.Is(err, fs.ErrClosed):
					if !closed.Load() {
						fail("round %d worker %d: %s: %v before Close was called", round, id, op, err)
						return
					}
					var pe *fs.PathError
					if !errors.As(err, &pe) {
						fail("round %d worker %d: %s after Close: %v (%T), want an *fs.PathError", round, id, op, err, err)
					}
					sawClosed = true
				default:
					fail("round %d worker %d: %s: unexpected error %v (closed=%v)", round, id, op, err, closed.Load())
					return
				}
				if sawClosed && returned.Load() {
					if after++; after > 20 {
						return
					}
				}
			}
		}()
	}
	started.Wait()
	time.Sleep(time.Duration(5+10*round) * time.Millisecond)
	closed.Store(true)
	closeErr := make(chan error, 1)
	go func() { closeErr <- f.Close() }()
	select {
	case err := <-closeErr:
		if err != nil {
			t.Errorf("round %d: Close while in use: %v", round, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("round %d: Close has not returned after 30 s while callers kept trying the handle", round)
	}
	returned.Store(true)
	waitOrDump(t, &wg, 30*time.Second, "workers using a closed file")
	if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if opsDone.Load() < workers {
		t.Errorf("only %d operations ran", opsDone.Load())
	}
	// Writes may have moved the end of the file, not shrunk it.
	fi, err := os.Stat(p)
	if err != nil || fi.Size() < size {
		t.Errorf("after the race: %v, size %d", err, fi.Size())
	}
}

// TestCloseFsWhileInFlight: an Fs with its own engine is closed while
// goroutines have operations in flight on its files. Every operation
// completes or fails with fs.ErrClosed, nothing hangs, Close returns, and
// the goroutines the Fs started are gone afterwards.
func TestCloseFsWhileInFlight(t *testing.T) {
	forEnginesSerial(t, func(t *testing.T, engine string) {
		for _, wb := range []int64{0, 4 << 20} {
			t.Run(fmt.Sprintf("writebehind%d", wb), func(t *testing.T) {
				testCloseFsWhileInFlight(t, engine, wb)
			})
		}
	})
}

func testCloseFsWhileInFlight(t *testing.T, engine string, writeBehind int64) {
	warmSharedEngine(t)
	baseline := settledGoroutines()
	dir := t.TempDir()
	fsys := aiofs.New(aiofs.WithEngine(engine), aiofs.WithQueueDepth(16), aiofs.WithWriteBehind(writeBehind))
	const files, workers, size = 4, 32, 2 << 20
	handles := make([]afero.File, files)
	for i := range handles {
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(p, pattern(uint64(byte(i)), 0, size), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := fsys.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		handles[i] = f
	}
	var (
		wg       sync.WaitGroup
		closing  atomic.Bool
		closed   atomic.Bool // Fs.Close has returned
		failures atomic.Int32
		ops      atomic.Int64
	)
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	stop := make(chan struct{})
	for id := 0; id < workers; id++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(id), 99))
			buf := make([]byte, 128<<10)
			for {
				select {
				case <-stop:
					return
				default:
				}
				f := handles[rng.IntN(files)]
				off := rng.Int64N(size - int64(len(buf)))
				n := 4096 * (1 + rng.IntN(len(buf)/4096))
				var err error
				op := "ReadAt"
				afterClose := closed.Load()
				if rng.IntN(2) == 0 {
					_, err = f.ReadAt(buf[:n], off)
				} else {
					op = "WriteAt"
					_, err = f.WriteAt(buf[:n], off)
				}
				ops.Add(1)
				if err == nil && afterClose {
					fail("worker %d: %s started after Fs.Close returned, and succeeded", id, op)
					return
				}
				if err != nil {
					if !errors.Is(err, fs.ErrClosed) {
						fail("worker %d: %v (closing=%v)", id, err, closing.Load())
						return
					}
					if !closing.Load() {
						fail("worker %d: ErrClosed before Fs.Close: %v", id, err)
					}
					return
				}
			}
		}()
	}
	// Let operations get going, then close the Fs under them.
	deadline := time.Now().Add(5 * time.Second)
	for ops.Load() < 200 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	closing.Store(true)
	closeStart := time.Now()
	closeDone := make(chan error, 1)
	go func() { closeDone <- fsys.Close() }()
	select {
	case err := <-closeDone:
		closed.Store(true)
		t.Logf("Fs.Close took %v", time.Since(closeStart).Round(time.Millisecond))
		if err != nil {
			t.Errorf("Fs.Close with operations in flight: %v", err)
		}
	case <-time.After(30 * time.Second):
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 2)
		t.Fatalf("Fs.Close did not return within 30s\n%s", b.String())
	}
	// Operations in flight when Close was called may complete; those
	// started after it returned must fail (checked by the workers).
	time.Sleep(50 * time.Millisecond)
	close(stop)
	waitOrDump(t, &wg, 30*time.Second, "workers after Fs.Close")
	// After Close, new operations on its files fail with ErrClosed.
	for i, f := range handles {
		_, err := f.ReadAt(make([]byte, 10), 0)
		if !errors.Is(err, fs.ErrClosed) {
			t.Errorf("file %d: ReadAt after Fs.Close: %v, want ErrClosed", i, err)
		}
		_, err = f.WriteAt([]byte("x"), 0)
		if !errors.Is(err, fs.ErrClosed) {
			t.Errorf("file %d: WriteAt after Fs.Close: %v, want ErrClosed", i, err)
		}
		done := make(chan error, 1)
		go func() { done <- f.Close() }()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, fs.ErrClosed) {
				t.Errorf("file %d: Close after Fs.Close: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("file %d: Close after Fs.Close hangs", i)
		}
	}
	t.Logf("%d operations", ops.Load())
	if st := fsys.Stats(); st.InFlight != 0 {
		t.Errorf("Stats().InFlight = %d after Close", st.InFlight)
	}
	checkGoroutinesReturn(t, baseline)
}

// TestGoroutinesReturnAfterClose: an Fs with an engine of its own, used
// for reads and writes (with write-behind), leaves no goroutine behind.
func TestGoroutinesReturnAfterClose(t *testing.T) {
	forEnginesSerial(t, func(t *testing.T, e string) {
		warmSharedEngine(t)
		baseline := settledGoroutines()
		for i := 0; i < 2; i++ {
			fsys := aiofs.New(aiofs.WithEngine(e), aiofs.WithWriteBehind(1<<20), aiofs.WithReadahead(1<<20))
			dir := t.TempDir()
			var wg sync.WaitGroup
			for j := 0; j < 8; j++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := filepath.Join(dir, fmt.Sprintf("f%d", j))
					f, err := fsys.Create(p)
					if err != nil {
						t.Error(err)
						return
					}
					f.Write(pattern(uint64(byte(j)), 0, 1<<20))
					f.Seek(0, io.SeekStart)
					io.Copy(io.Discard, f)
					f.Close()
				}()
			}
			waitOrDump(t, &wg, 30*time.Second, "I/O")
			if err := fsys.Close(); err != nil {
				t.Fatalf("Fs.Close: %v", err)
			}
			if err := fsys.Close(); err != nil {
				t.Errorf("second Fs.Close: %v", err)
			}
		}
		checkGoroutinesReturn(t, baseline)
	})
}

// warmSharedEngine makes the process-wide engine start (if it has not),
// so that its goroutines are part of the baseline.
func warmSharedEngine(t *testing.T) {
	fsys := aiofs.New()
	p := filepath.Join(t.TempDir(), "warm")
	if err := afero.WriteFile(fsys, p, []byte("warm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := afero.ReadFile(fsys, p); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Close(); err != nil {
		t.Fatal(err)
	}
}

// settledGoroutines waits briefly for goroutines of earlier tests to end
// and returns the count.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		time.Sleep(10 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	return n
}

func checkGoroutinesReturn(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines 10s after Fs.Close, baseline %d:\n%s", n, baseline, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConcurrentAppend: goroutines append records through O_APPEND handles
// of the same Fs (12 with handles of their own, 4 sharing one). Every
// record must land whole, once, without overlapping another, and each
// goroutine's records in its order (the documented guarantee across
// handles of one Fs; also what Linux does for OsFs).
func TestConcurrentAppend(t *testing.T) {
	t.Parallel()
	forConcConfigs(t, testConcurrentAppend)
}

func testConcurrentAppend(t *testing.T, engine string, opts ...aiofs.Option) {
	const (
		own, sharing = 12, 4
		records      = 40
	)
	dir := t.TempDir()
	fsys := newAio(t, engine, opts...)
	p := filepath.Join(dir, "log")
	shared, err := fsys.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < own+sharing; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := shared
			if g < own {
				var err error
				f, err = fsys.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Error(err)
					return
				}
				defer func() {
					if err := f.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}()
			}
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for seq := 0; seq < records; seq++ {
				rec := appendRecord(g, seq, rng.IntN(70000))
				n, err := f.Write(rec)
				if n != len(rec) || err != nil {
					t.Errorf("goroutine %d record %d: Write = %d, %v", g, seq, n, err)
					return
				}
				total.Add(int64(n))
			}
		}()
	}
	waitOrDump(t, &wg, 60*time.Second, "appenders")
	fi, err := shared.Stat()
	if err != nil || fi.Size() != total.Load() {
		t.Errorf("Stat of the shared handle: size %d, %v; want %d", fi.Size(), err, total.Load())
	}
	if err := shared.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != total.Load() {
		t.Errorf("file has %d bytes, %d were appended", len(data), total.Load())
	}
	next := make([]int, own+sharing)
	for off := 0; off < len(data); {
		g, seq, n, ok := parseRecord(data[off:])
		if !ok {
			t.Fatalf("at byte %d: not a whole record (torn or overlapping appends): % x", off, data[off:min(off+16, len(data))])
		}
		if g >= len(next) || seq != next[g] {
			t.Fatalf("at byte %d: record %d of goroutine %d, expected its record %d", off, seq, g, next[g])
		}
		next[g]++
		off += n
	}
	for g, n := range next {
		if n != records {
			t.Errorf("goroutine %d: %d records in the file, want %d", g, n, records)
		}
	}
}

// appendRecord is 'R', goroutine, seq (2 bytes), length (4 bytes), the
// body, and 'E'.
func appendRecord(g, seq, n int) []byte {
	rec := make([]byte, 8+n+1)
	rec[0], rec[1] = 'R', byte(g)
	rec[2], rec[3] = byte(seq>>8), byte(seq)
	rec[4], rec[5], rec[6], rec[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	for i := 0; i < n; i++ {
		rec[8+i] = byte(g*31 + seq + i)
	}
	rec[8+n] = 'E'
	return rec
}

func parseRecord(p []byte) (g, seq, size int, ok bool) {
	if len(p) < 9 || p[0] != 'R' {
		return 0, 0, 0, false
	}
	g, seq = int(p[1]), int(p[2])<<8|int(p[3])
	n := int(p[4])<<24 | int(p[5])<<16 | int(p[6])<<8 | int(p[7])
	if len(p) < 9+n || p[8+n] != 'E' {
		return 0, 0, 0, false
	}
	for i := 0; i < n; i++ {
		if p[8+i] != byte(g*31+seq+i) {
			return 0, 0, 0, false
		}
	}
	return g, seq, 9 + n, true
}

package aiofs_test

// Faults of a wrapped base (faultFs, in wrapbase_test.go): its errors
// reach the caller unchanged, background write errors follow the rules
// of write-behind, and nothing is reported written that the base does not
// hold.

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// newFaultWrap returns a faultFs over a fresh directory and Wrap of it
// with opts, closed when t ends.
func newFaultWrap(t *testing.T, opts ...aiofs.Option) (*faultFs, *aiofs.Fs) {
	t.Helper()
	ffs := newFaultFs(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()))
	aio := aiofs.Wrap(ffs, opts...)
	t.Cleanup(func() { aio.Close() })
	return ffs, aio
}

// baseHolds fails t unless the base file name holds want.
func baseHolds(t *testing.T, ffs *faultFs, name string, want []byte) {
	t.Helper()
	got, err := afero.ReadFile(ffs.Fs, name)
	if err != nil {
		t.Fatalf("base ReadFile(%q): %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("base holds %q: %s", name, diff(want, got, "want", "got"))
	}
}

// TestWrapFaultReadAt: a failing ReadAt of the base reaches Read and
// ReadAt as the very error value the base returned, claiming no bytes;
// once the fault is gone the data reads right.
func TestWrapFaultReadAt(t *testing.T) {
	t.Parallel()
	ffs, aio := newFaultWrap(t)
	data := pattern(uint64(1), 0, 300<<10)
	if err := afero.WriteFile(ffs.Fs, "/r", data, 0o644); err != nil {
		t.Fatal(err)
	}
	errRead := errors.New("base: read failed")
	ffs.set("/r", func(ft *fault) { ft.readErr = errRead })
	f := mustOpen(t, aio, "/r", os.O_RDONLY)
	defer f.Close()
	p := make([]byte, 4096)
	if n, err := f.Read(p); n != 0 || err != errRead {
		t.Errorf("Read: %d, %v; want 0, the base's error", n, err)
	}
	if n, err := f.ReadAt(p, 100000); n != 0 || err != errRead {
		t.Errorf("ReadAt: %d, %v; want 0, the base's error", n, err)
	}
	if pos, err := f.Seek(0, io.SeekCurrent); pos != 0 || err != nil {
		t.Errorf("offset after failed Read: %d, %v; want 0", pos, err)
	}
	ffs.set("/r", func(ft *fault) { ft.readErr = nil })
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll after the fault: %v, %s", err, diff(data, got, "want", "got"))
	}
}

// TestWrapFaultWriteSticky: a flush that fails is reported by every
// handle open then, on its next Write, Sync and Close, until its own Sync
// succeeds; the data stays buffered, readable and counted in Stat, and
// the next Sync after the fault is cleared writes it.
func TestWrapFaultWriteSticky(t *testing.T) {
	t.Parallel()
	ffs, aio := newFaultWrap(t)
	f := mustOpen(t, aio, "/w", os.O_RDWR|os.O_CREATE)
	g := mustOpen(t, aio, "/w", os.O_RDWR)
	h := mustOpen(t, aio, "/w", os.O_RDWR)
	d1, d2 := pattern(uint64(1), 0, 10000), pattern(uint64(2), 0, 5000)
	if n, err := f.Write(d1); n != len(d1) || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	errWrite := errors.New("base: write failed")
	ffs.set("/w", func(ft *fault) { ft.writeErr = errWrite })
	if err := g.Sync(); !errors.Is(err, errWrite) {
		t.Fatalf("g.Sync with the base failing: %v; want the base's error", err)
	}
	baseHolds(t, ffs, "/w", nil)
	if n, err := f.Write(d2); n != 0 || !errors.Is(err, errWrite) {
		t.Errorf("f.Write after the failure: %d, %v; want 0, the base's error", n, err)
	}
	if n, err := f.WriteAt(d2, 0); n != 0 || !errors.Is(err, errWrite) {
		t.Errorf("f.WriteAt after the failure: %d, %v; want 0, the base's error", n, err)
	}
	if err := h.Close(); !errors.Is(err, errWrite) {
		t.Errorf("h.Close after the failure: %v; want the base's error", err)
	}
	// Read-your-writes holds: the data is kept.
	if fi, err := aio.Stat("/w"); err != nil || fi.Size() != int64(len(d1)) {
		t.Errorf("Stat: %v, %v; want size %d", fi, err, len(d1))
	}
	got := make([]byte, len(d1))
	if n, err := g.ReadAt(got, 0); n != len(d1) || err != nil || !bytes.Equal(got, d1) {
		t.Errorf("ReadAt of the kept data: %d, %v", n, err)
	}
	if err := f.Sync(); !errors.Is(err, errWrite) {
		t.Errorf("f.Sync, the base still failing: %v; want the base's error", err)
	}
	baseHolds(t, ffs, "/w", nil)

	ffs.set("/w", func(ft *fault) { ft.writeErr = nil })
	if err := f.Sync(); err != nil {
		t.Fatalf("f.Sync after the fault is cleared: %v", err)
	}
	baseHolds(t, ffs, "/w", d1)
	if n, err := f.Write(d2); n != len(d2) || err != nil {
		t.Fatalf("f.Write after its Sync succeeded: %d, %v", n, err)
	}
	// g saw the failure and has not had a Sync succeed since.
	if err := g.Close(); !errors.Is(err, errWrite) {
		t.Errorf("g.Close: %v; want the base's error, never cleared for g", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("f.Close: %v", err)
	}
	baseHolds(t, ffs, "/w", append(append([]byte(nil), d1...), d2...))
}

// TestWrapFaultShortWrite: a base WriteAt that writes part and fails
// counts only that part: a write-through Write reports it, Stat and the
// offset follow it; under write-behind the rest stays buffered and a
// Sync once the fault is cleared writes it.
func TestWrapFaultShortWrite(t *testing.T) {
	t.Parallel()
	errWrite := errors.New("base: disk full")
	data := pattern(uint64(5), 0, 100)
	t.Run("writethrough", func(t *testing.T) {
		ffs, aio := newFaultWrap(t, aiofs.WithWriteBehind(0))
		f := mustOpen(t, aio, "/s", os.O_RDWR|os.O_CREATE)
		defer f.Close()
		ffs.set("/s", func(ft *fault) { ft.writeErr, ft.short = errWrite, 40 })
		if n, err := f.Write(data); n != 40 || !errors.Is(err, errWrite) {
			t.Fatalf("Write: %d, %v; want 40, the base's error", n, err)
		}
		baseHolds(t, ffs, "/s", data[:40])
		if fi, err := f.Stat(); err != nil || fi.Size() != 40 {
			t.Errorf("Stat: %v, %v; want size 40", fi, err)
		}
		if pos, err := f.Seek(0, io.SeekCurrent); pos != 40 || err != nil {
			t.Errorf("offset: %d, %v; want 40", pos, err)
		}
	})
	t.Run("writebehind", func(t *testing.T) {
		ffs, aio := newFaultWrap(t)
		f := mustOpen(t, aio, "/s", os.O_RDWR|os.O_CREATE)
		defer f.Close()
		if n, err := f.Write(data); n != len(data) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
		ffs.set("/s", func(ft *fault) { ft.writeErr, ft.short = errWrite, 40 })
		if err := f.Sync(); !errors.Is(err, errWrite) {
			t.Fatalf("Sync: %v; want the base's error", err)
		}
		baseHolds(t, ffs, "/s", data[:40])
		if fi, err := f.Stat(); err != nil || fi.Size() != int64(len(data)) {
			t.Errorf("Stat: %v, %v; want the accepted size %d", fi, err, len(data))
		}
		ffs.set("/s", func(ft *fault) { ft.writeErr = nil })
		if err := f.Sync(); err != nil {
			t.Fatalf("Sync after the fault is cleared: %v", err)
		}
		baseHolds(t, ffs, "/s", data)
	})
}

// TestWrapFaultBlockedFlush: while the base's WriteAt is held, other
// handles read the data being flushed and Stat counts it; the Sync
// waiting for the flush returns once the base has it.
func TestWrapFaultBlockedFlush(t *testing.T) {
	t.Parallel()
	ffs, aio := newFaultWrap(t)
	entered, release := ffs.holdWrites("/b", 64)
	f := mustOpen(t, aio, "/b", os.O_RDWR|os.O_CREATE)
	defer f.Close()
	data := pattern(uint64(7), 0, 200<<10)
	if n, err := f.Write(data); n != len(data) || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	synced := make(chan error, 1)
	go func() { synced <- f.Sync() }()
	<-entered
	g := mustOpen(t, aio, "/b", os.O_RDONLY)
	defer g.Close()
	got := make([]byte, len(data))
	if n, err := g.ReadAt(got, 0); n != len(data) || err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadAt during the flush: %d, %v", n, err)
	}
	if fi, err := aio.Stat("/b"); err != nil || fi.Size() != int64(len(data)) {
		t.Errorf("Stat during the flush: %v, %v; want size %d", fi, err, len(data))
	}
	close(release)
	if err := <-synced; err != nil {
		t.Fatalf("Sync: %v", err)
	}
	baseHolds(t, ffs, "/b", data)
}

// TestWrapFaultSyncError: the base's Sync error is Sync's.
func TestWrapFaultSyncError(t *testing.T) {
	t.Parallel()
	ffs, aio := newFaultWrap(t)
	errSync := errors.New("base: sync failed")
	f := mustOpen(t, aio, "/y", os.O_RDWR|os.O_CREATE)
	defer f.Close()
	if _, err := f.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	ffs.set("/y", func(ft *fault) { ft.syncErr = errSync })
	if err := f.Sync(); !errors.Is(err, errSync) {
		t.Fatalf("Sync: %v; want the base's error", err)
	}
	baseHolds(t, ffs, "/y", []byte("data")) // written, not committed
	ffs.set("/y", func(ft *fault) { ft.syncErr = nil })
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync after the fault is cleared: %v", err)
	}
}

// TestWrapUnsupportedReadWriteAt: a base whose files' ReadAt and WriteAt
// fail with errors.ErrUnsupported is served through Seek and Read or
// Write; random writes and reads through several handles see what a
// model of the file holds, and so does the base at the end.
func TestWrapUnsupportedReadWriteAt(t *testing.T) {
	t.Parallel()
	seed := uint64(rand.Int64())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	ffs, aio := newFaultWrap(t, aiofs.WithWriteBehind(64<<10), aiofs.WithCacheSize(128<<10))
	ffs.mu.Lock()
	ffs.unsupported = true
	ffs.mu.Unlock()
	var model []byte
	hs := []afero.File{
		mustOpen(t, aio, "/u", os.O_RDWR|os.O_CREATE),
		mustOpen(t, aio, "/u", os.O_RDWR),
		mustOpen(t, aio, "/u", os.O_RDONLY),
	}
	for i := range 300 {
		f := hs[r.IntN(len(hs))]
		off := int64(r.IntN(len(model) + 70000))
		n := 1 + r.IntN(70000)
		switch r.IntN(3) {
		case 0:
			if f == hs[2] {
				continue
			}
			p := pattern(uint64(byte(i)), 0, n)
			if m, err := f.WriteAt(p, off); m != n || err != nil {
				t.Fatalf("step %d: WriteAt(%d, %d): %d, %v", i, n, off, m, err)
			}
			if end := int(off) + n; end > len(model) {
				model = append(model, make([]byte, end-len(model))...)
			}
			copy(model[off:], p)
		case 1:
			p := make([]byte, n)
			m, err := f.ReadAt(p, off)
			want := model[min(int(off), len(model)):min(int(off)+n, len(model))]
			if m != len(want) || !bytes.Equal(p[:m], want) || (m < n) != (err == io.EOF) || err != nil && err != io.EOF {
				t.Fatalf("step %d: ReadAt(%d, %d): %d, %v; want %d bytes", i, n, off, m, err, len(want))
			}
		default:
			if err := f.Sync(); err != nil {
				t.Fatalf("step %d: Sync: %v", i, err)
			}
		}
	}
	for _, f := range hs {
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	baseHolds(t, ffs, "/u", model)
	if ffs.seeks("/u") == 0 {
		t.Fatal("the base's files were never used through Seek")
	}
}

// TestWrapFaultBackgroundFlush: a flush started by write-behind itself
// (enough full blocks) fails; the writer's next Write after it ended
// reports the base's error, so does Close, and the data is kept for a
// Sync once the fault is cleared.
func TestWrapFaultBackgroundFlush(t *testing.T) {
	t.Parallel()
	ffs, aio := newFaultWrap(t)
	entered, release := ffs.holdWrites("/bg", 256)
	f := mustOpen(t, aio, "/bg", os.O_RDWR|os.O_CREATE)
	g := mustOpen(t, aio, "/bg", os.O_RDWR)
	data := pattern(uint64(3), 0, 32*64<<10)
	for off := 0; off < len(data); off += 64 << 10 {
		if _, err := f.Write(data[off : off+64<<10]); err != nil {
			t.Fatalf("Write at %d: %v", off, err)
		}
	}
	<-entered // a flush is writing, started by nobody's Sync or Close
	errBG := errors.New("base: background write failed")
	ffs.set("/bg", func(ft *fault) { ft.writeErr = errBG })
	close(release)
	// Block 0 is being flushed: this waits for the flush to end.
	f.WriteAt(data[:10], 0)
	if _, err := f.Write(data[:10]); !errors.Is(err, errBG) {
		t.Errorf("Write after the background failure: %v; want the base's error", err)
	}
	if err := g.Close(); !errors.Is(err, errBG) {
		t.Errorf("other handle's Close: %v; want the base's error", err)
	}
	ffs.set("/bg", func(ft *fault) { ft.writeErr, ft.entered = nil, nil })
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync after the fault is cleared: %v", err)
	}
	baseHolds(t, ffs, "/bg", data)
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestWrapDroppedDataLeavesSize closes the last writer of a file whose
// buffered data cannot be written, so that the data is dropped, and checks
// that a reader still open sees the size the base holds, not one that
// counts the dropped bytes.
func TestWrapDroppedDataLeavesSize(t *testing.T) {
	t.Parallel()
	fsys := newFaultFs(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()))
	aio := aiofs.Wrap(fsys)
	defer aio.Close()
	if err := afero.WriteFile(aio, "/f", pattern(uint64(1), 0, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := aio.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := aio.OpenFile("/f", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fsys.set("/f", func(ft *fault) { ft.writeErr, ft.short = syscall.ENOSPC, 100 })
	if _, err := w.WriteAt(pattern(uint64(2), 0, 5000), 1000); err != nil {
		t.Fatal(err) // buffered
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close of the last writer returned nil; its data could not be written")
	}
	fi, err := fsys.Stat("/f")
	if err != nil {
		t.Fatal(err)
	}
	if pos, err := r.Seek(0, io.SeekEnd); err != nil || pos != fi.Size() {
		t.Errorf("Seek(0, SeekEnd) after the data was dropped: %d, %v; the base holds %d bytes", pos, err, fi.Size())
	}
	if got, err := r.Stat(); err != nil || got.Size() != fi.Size() {
		t.Errorf("Stat after the data was dropped: %v, %v; the base holds %d bytes", got, err, fi.Size())
	}
}

// TestFsSyncReportsDroppedData: data whose flush failed and that was
// dropped when its last writer closed is never durable, so the Fs.Syncs
// begun after the loss report it (once each); an Fs.Sync begun after one
// has reported it commits the rest and returns nil.
func TestFsSyncReportsDroppedData(t *testing.T) {
	t.Parallel()
	ffs, aio := newFaultWrap(t)
	f := mustOpen(t, aio, "/d", os.O_RDWR|os.O_CREATE)
	if _, err := f.Write(pattern(uint64(1), 0, 10000)); err != nil {
		t.Fatal(err)
	}
	errWrite := errors.New("base: write failed")
	ffs.set("/d", func(ft *fault) { ft.writeErr = errWrite })
	if err := f.Close(); !errors.Is(err, errWrite) {
		t.Fatalf("Close, the base failing: %v; want the base's error", err)
	}
	ffs.set("/d", func(ft *fault) { ft.writeErr = nil })
	if err := aio.Sync(); !errors.Is(err, errWrite) {
		t.Errorf("Fs.Sync after the data was dropped: %v; want the base's error", err)
	}
	if err := aio.Sync(); err != nil {
		t.Errorf("the next Fs.Sync: %v; want nil", err)
	}
}

package aiofs_test

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// stallFs is a base whose files' calls of one kind (ReadAt, WriteAt or
// Sync) stall while armed: each waits for release, then runs. It records
// the bytes each stalled WriteAt was given, as they were when it ran.
type stallFs struct {
	afero.Fs

	mu      sync.Mutex
	op      string // the kind of call that stalls; "" for none
	entered chan struct{}
	release chan struct{}
	calls   map[string]int // calls of each kind begun
	stale   []staleWrite   // what stalled WriteAts wrote
	done    sync.WaitGroup // stalled calls not yet returned
}

func newStallFs(base afero.Fs) *stallFs {
	return &stallFs{Fs: base, calls: map[string]int{}}
}

// arm makes the next calls of kind op stall until the returned release.
func (s *stallFs) arm(op string) (entered <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.op, s.entered, s.release = op, make(chan struct{}, 64), make(chan struct{})
	rel := s.release
	var once sync.Once
	return s.entered, func() {
		once.Do(func() {
			s.mu.Lock()
			s.op = ""
			s.mu.Unlock()
			close(rel)
		})
	}
}

func (s *stallFs) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// enter counts a call of kind op and reports the release to wait for, if
// it stalls.
func (s *stallFs) enter(op string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	if s.op != op {
		return nil
	}
	s.done.Add(1)
	s.entered <- struct{}{}
	return s.release
}

func (s *stallFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := s.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &stallFile{File: f, s: s}, nil
}

func (s *stallFs) Open(name string) (afero.File, error) { return s.OpenFile(name, os.O_RDONLY, 0) }

func (s *stallFs) Create(name string) (afero.File, error) {
	return s.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

type staleWrite struct {
	off  int64
	data []byte
}

type stallFile struct {
	afero.File
	s *stallFs
}

func (f *stallFile) ReadAt(p []byte, off int64) (int, error) {
	if rel := f.s.enter("ReadAt"); rel != nil {
		defer f.s.done.Done()
		<-rel
	}
	return f.File.ReadAt(p, off)
}

func (f *stallFile) WriteAt(p []byte, off int64) (int, error) {
	if rel := f.s.enter("WriteAt"); rel != nil {
		defer f.s.done.Done()
		<-rel
		f.s.mu.Lock()
		f.s.stale = append(f.s.stale, staleWrite{off, append([]byte(nil), p...)})
		f.s.mu.Unlock()
	}
	return f.File.WriteAt(p, off)
}

func (f *stallFile) Sync() error {
	if rel := f.s.enter("Sync"); rel != nil {
		defer f.s.done.Done()
		<-rel
	}
	return f.File.Sync()
}

const callTimeout = 100 * time.Millisecond

// bound fails the test if fn takes much longer than the call timeout.
func bound(t *testing.T, what string, fn func() error) error {
	t.Helper()
	start := time.Now()
	err := fn()
	if d := time.Since(start); d > 20*callTimeout {
		t.Errorf("%s took %v with a call timeout of %v", what, d, callTimeout)
	}
	return err
}

func wantTimeout(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("%s: %v; want a timeout (os.ErrDeadlineExceeded)", what, err)
	}
}

// TestWrapCallTimeoutWrite stalls a flush's WriteAt: Sync fails with a
// timeout within the bound, the error sticks to the file's handles, and
// while the stalled call has not returned nothing newer reaches the
// file. The late call writes the bytes it was given then, not what the
// Fs has since put in their place, and the next Sync writes the newest.
func TestWrapCallTimeoutWrite(t *testing.T) {
	stall := newStallFs(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()))
	aio := aiofs.Wrap(stall, aiofs.WithCallTimeout(callTimeout))
	defer aio.Close()
	f := mustOpen(t, aio, "/f", os.O_RDWR|os.O_CREATE)
	g := mustOpen(t, aio, "/f", os.O_RDWR)
	a, b := pattern(uint64(1), 0, 100<<10), pattern(uint64(2), 0, 100<<10)
	if _, err := f.Write(a); err != nil {
		t.Fatal(err)
	}
	entered, release := stall.arm("WriteAt")
	defer release()
	wantTimeout(t, "Sync with a stalled write", bound(t, "Sync", f.Sync))
	<-entered
	_, err := g.Write(b) // sticky: the handle was open at the failure
	wantTimeout(t, "other handle's Write after the timeout", err)
	// A handle opened since does not inherit the error: its data is
	// newer than the stalled write's, and must land after it.
	h := mustOpen(t, aio, "/f", os.O_RDWR)
	if _, err := h.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	writes := stall.count("WriteAt")
	wantTimeout(t, "Sync while the stalled write runs", bound(t, "second Sync", h.Sync))
	if n := stall.count("WriteAt"); n != writes {
		t.Errorf("%d writes reached the file while a stalled one had not returned", n-writes)
	}
	release()
	stall.done.Wait()
	if len(stall.stale) == 0 {
		t.Fatal("no write stalled")
	}
	for _, w := range stall.stale {
		if !bytes.Equal(w.data, a[w.off:w.off+int64(len(w.data))]) {
			t.Errorf("the late write at %d wrote other bytes than it was given", w.off)
		}
	}
	// Once the stalled write has returned, a Sync writes the newest data.
	deadline := time.Now().Add(5 * time.Second)
	for err = h.Sync(); err != nil && time.Now().Before(deadline); err = h.Sync() {
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Sync after the stalled write returned: %v", err)
	}
	got, err := afero.ReadFile(stall.Fs, "/f")
	if err != nil || !bytes.Equal(got, b) {
		t.Errorf("the file after the last Sync: %v, %s", err, diff(b, got, "want", "got"))
	}
	// The handles open at the failure have not synced since: their
	// Close reports it.
	wantTimeout(t, "Close of a handle open at the failure", f.Close())
	wantTimeout(t, "Close of a handle open at the failure", g.Close())
	if err := h.Close(); err != nil {
		t.Error(err)
	}
}

// TestWrapCallTimeoutClose stalls a base Sync: File.Close and Fs.Close
// return within the bound, Fs.Sync reports the timeout, and the data is
// in the file once the stalled call returns.
func TestWrapCallTimeoutClose(t *testing.T) {
	stall := newStallFs(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()))
	aio := aiofs.Wrap(stall, aiofs.WithCallTimeout(callTimeout), aiofs.WithQueueDepth(4))
	f := mustOpen(t, aio, "/f", os.O_RDWR|os.O_CREATE)
	data := pattern(uint64(3), 0, 300<<10)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	entered, release := stall.arm("Sync")
	defer release()
	wantTimeout(t, "Fs.Sync with a stalled base Sync", bound(t, "Fs.Sync", aio.Sync))
	<-entered
	if err := bound(t, "File.Close", f.Close); err != nil {
		t.Errorf("Close after the flush: %v", err)
	}
	if err := bound(t, "Fs.Close", aio.Close); err != nil {
		t.Errorf("Fs.Close: %v", err)
	}
	release()
	stall.done.Wait()
	if got, err := afero.ReadFile(stall.Fs, "/f"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the file: %v, %s", err, diff(data, got, "want", "got"))
	}
}

// TestWrapCallTimeoutRead stalls the base's reads: a Read fails with a
// timeout within the bound, and once the stall ends, reads return the
// file's bytes.
func TestWrapCallTimeoutRead(t *testing.T) {
	stall := newStallFs(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()))
	data := pattern(uint64(4), 0, 1<<20)
	if err := afero.WriteFile(stall.Fs, "/f", data, 0o644); err != nil {
		t.Fatal(err)
	}
	aio := aiofs.Wrap(stall, aiofs.WithCallTimeout(callTimeout))
	defer aio.Close()
	f := mustOpen(t, aio, "/f", os.O_RDONLY)
	defer f.Close()
	_, release := stall.arm("ReadAt")
	p := make([]byte, 4096)
	err := bound(t, "ReadAt", func() error {
		_, err := f.ReadAt(p, 0)
		return err
	})
	wantTimeout(t, "ReadAt with the base stalled", err)
	release()
	stall.done.Wait()
	got := make([]byte, len(data))
	if n, err := f.ReadAt(got, 0); n != len(data) || !bytes.Equal(got, data) {
		t.Errorf("ReadAt after the stall: %d, %v, %s", n, err, diff(data, got, "want", "got"))
	}
}

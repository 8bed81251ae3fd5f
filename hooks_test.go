//go:build unix

package aiofs

// Helpers that make races deterministic: a hook that holds one call until
// the test lets it go, and waits bounded by a deadline for calls that a
// correct Fs may make wait (a test must not hang on a fixed Fs, nor pass
// on a broken one because it waited too little: each deadline only
// decides when the test lets a held call go, never the verdict).

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// brief is how long a test lets a call that a correct Fs makes wait run
// before it releases what the call may be waiting for. A broken Fs
// returns within microseconds.
const brief = 200 * time.Millisecond

// A holder holds calls: the first n calls of its hook (every call, with
// n < 0) signal entered, wait for release, and return err.
type holder struct {
	n       int64
	calls   atomic.Int64
	entered chan struct{}
	done    chan struct{}
	once    sync.Once
	err     error
}

// holdFirst returns a holder of the first n calls (n < 0: every call)
// that then fail with err (nil: go on).
func holdFirst(n int, err error) *holder {
	return &holder{n: int64(n), entered: make(chan struct{}, 64), done: make(chan struct{}), err: err}
}

// hook is the function to install. Calls past the first n go on at once.
func (h *holder) hook() error {
	if h.n >= 0 && h.calls.Add(1) > h.n {
		return nil
	}
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-h.done
	return h.err
}

// nameHook is hook for the RecFs's hooks, which are given the file's name.
func (h *holder) nameHook(string) error { return h.hook() }

// release lets every held and later call go on.
func (h *holder) release() { h.once.Do(func() { close(h.done) }) }

// wait waits until a call has entered the hook.
func (h *holder) wait(t *testing.T) {
	t.Helper()
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the call to hold never came")
	}
}

// A result is what a call run in the background returned, and the
// oracle's clock when it did.
type result struct {
	err error
	at  uint64
}

// background runs call and sends its result.
func background(call func() error) <-chan result {
	ch := make(chan result, 1)
	go func() {
		err := call()
		ch <- result{err, tick()}
	}()
	return ch
}

// within returns the result of ch if it comes within d.
func within(ch <-chan result, d time.Duration) (result, bool) {
	select {
	case r := <-ch:
		return r, true
	case <-time.After(d):
		return result{}, false
	}
}

// outcome returns ch's result, releasing held first if it does not come
// within brief.
func outcome(t *testing.T, ch <-chan result, held ...*holder) result {
	t.Helper()
	if r, ok := within(ch, brief); ok {
		return r
	}
	for _, h := range held {
		h.release()
	}
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("the call never returned")
		return result{}
	}
}

// until polls cond until it holds or d has passed, and reports whether it
// held.
func until(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// closing reports whether f's Close has begun: its calls fail with
// ErrClosed from then on.
func closing(f afero.File) bool {
	_, err := f.(*File).Stat()
	return errors.Is(err, os.ErrClosed)
}

// newRecorded returns an Fs made by New on engine whose engine records in
// a new Oracle, the recorder (to set hooks on) and the oracle.
func newRecorded(t *testing.T, engine string, opts ...Option) (*Fs, *recEngine, *Oracle) {
	t.Helper()
	o := NewOracle()
	rec := &recEngine{o: o}
	fs := New(append([]Option{WithEngine(engine), withRecorder(rec)}, opts...)...)
	t.Cleanup(func() {
		rec.hooks(nil, nil, nil)
		fs.Close()
		o.Close()
	})
	return fs, rec, o
}

// newRecordedWrap returns Wrap over a RecFs recording in a new Oracle.
func newRecordedWrap(t *testing.T, opts ...Option) (*Fs, *RecFs, *Oracle) {
	t.Helper()
	o := NewOracle()
	base := NewRecFs(o)
	fs := Wrap(base, opts...)
	t.Cleanup(func() {
		fs.Close()
		o.Close()
	})
	return fs, base, o
}

// writeClosed creates name through fsys, writes data and closes it.
func writeClosed(t *testing.T, fsys afero.Fs, name string, data []byte) {
	t.Helper()
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// fill returns n bytes of v.
func fill(v byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = v
	}
	return p
}

// tempName returns a path in a new temporary directory.
func tempName(t *testing.T, base string) string {
	return filepath.Join(t.TempDir(), base)
}

//go:build unix

package aiofs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// noZeros returns n bytes none of which is zero: the zeros of a hole or
// a cut show against them.
func noZeros(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i%251) + 1
	}
	return p
}

// growsFirst is an engine whose writes past the end of the file grow it
// first, then let a read held meanwhile run, and only then write, as
// FreeBSD's tmpfs does: it grows a file before it copies a write in, and
// serves reads without the vnode lock, which see zeros there.
type growsFirst struct {
	engine
	hold   atomic.Bool   // hold the next read until a write grows the file
	holds  atomic.Bool   // a read is held
	held   chan struct{} // a read is held
	grown  chan struct{} // the file has grown; the held read goes on
	readIt chan struct{} // the held read has read
}

func (e *growsFirst) pread(f afero.File, p []byte, off int64) (int, error) {
	if !e.hold.CompareAndSwap(true, false) {
		return e.engine.pread(f, p, off)
	}
	e.holds.Store(true)
	e.held <- struct{}{}
	<-e.grown
	defer close(e.readIt)
	return e.engine.pread(f, p, off)
}

func (e *growsFirst) pwritev(f afero.File, bufs [][]byte, off int64) (int, error) {
	end := off
	for _, b := range bufs {
		end += int64(len(b))
	}
	if fi, err := f.Stat(); err == nil && fi.Size() < end {
		if err := f.Truncate(end); err != nil {
			return 0, err
		}
		if e.holds.CompareAndSwap(true, false) {
			e.grown <- struct{}{}
			<-e.readIt
		}
	}
	return e.engine.pwritev(f, bufs, off)
}

// TestReadRacingGrowth: a read of the file that a write of the Fs growing
// it overlaps never returns the zeros the file shows while it grows (see
// growsFirst): it returns what the file held before the write or after.
// The read is held in the file once past the Fs, quiet or under its lock,
// and the write is a write-through or a flush. (A wrapped Fs knows the
// file's size, and does not read past it.)
func TestReadRacingGrowth(t *testing.T) {
	t.Parallel()
	const size = 8 * blockSize
	content := noZeros(size)
	const at = 5 * blockSize // where the read is, past the file's end
	for _, name := range enginesUnderTest(t) {
		for _, quiet := range []bool{false, true} {
			for _, through := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/quiet=%v/through=%v", name, quiet, through), func(t *testing.T) {
					e := &growsFirst{held: make(chan struct{}), grown: make(chan struct{}), readIt: make(chan struct{})}
					fs := New(WithEngine(name), func(c *config) {
						c.engineHook = func(in engine) engine { e.engine = in; return e }
					})
					defer fs.Close()
					path := filepath.Join(t.TempDir(), "f")
					const short = 3*blockSize + 100
					r, w := openReadWrite(t, fs, path, content[:short])
					defer r.Close()
					defer w.Close()
					buf := make([]byte, 4096)
					if quiet { // a first read finds the node quietNow, so the next is quiet
						if _, err := r.ReadAt(buf, 0); err != nil {
							t.Fatal(err)
						}
					}
					e.hold.Store(true)
					type read struct {
						n   int
						err error
					}
					done := make(chan read, 1)
					go func() {
						n, err := r.ReadAt(buf, at)
						done <- read{n, err}
					}()
					select {
					case <-e.held:
					case <-time.After(10 * time.Second):
						t.Fatal("the read never reached the file")
					}
					var err error
					if through { // large enough to go straight to the file
						_, err = w.WriteAt(content[short:], short)
					} else {
						if _, err = w.WriteAt(content[at:at+blockSize], at); err == nil {
							err = w.Sync()
						}
					}
					if err != nil {
						t.Fatal(err)
					}
					got := <-done
					switch {
					case got.n == len(buf) && bytes.Equal(buf, content[at:at+len(buf)]):
					case got.n == 0 && got.err == io.EOF:
					default:
						t.Errorf("ReadAt(4096 at %d) across a write growing the file = %d, %v, bytes %x...; want the written bytes or 0, EOF", at, got.n, got.err, buf[:8])
					}
				})
			}
		}
	}
}

// cutsFirst is a base whose files' Truncate, when it shrinks a file,
// zeroes what it cuts first and waits for the test there, before it
// shrinks the file: FreeBSD's tmpfs zeroes and frees the cut pages before
// it lowers the size, and serves reads meanwhile.
type cutsFirst struct {
	afero.Fs
	cutting *holder
}

type cutsFirstFile struct {
	afero.File
	fs *cutsFirst
}

func (c *cutsFirst) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := c.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &cutsFirstFile{f, c}, nil
}

func (c *cutsFirst) Open(name string) (afero.File, error) { return c.OpenFile(name, os.O_RDONLY, 0) }

func (f *cutsFirstFile) Truncate(size int64) error {
	if fi, err := f.Stat(); err == nil && size < fi.Size() {
		if _, err := f.WriteAt(make([]byte, fi.Size()-size), size); err != nil {
			return err
		}
		f.fs.cutting.hook()
	}
	return f.File.Truncate(size)
}

// TestReadRacingCut: a read that starts while a truncate through the Fs
// runs never returns the zeros the file shows while it is cut (see
// cutsFirst): it returns what the file held before the truncate or after.
func TestReadRacingCut(t *testing.T) {
	t.Parallel()
	const size = 8 * blockSize
	content := noZeros(size)
	base := &cutsFirst{Fs: afero.NewOsFs(), cutting: holdFirst(1, nil)}
	fs := Wrap(base)
	defer fs.Close()
	defer base.cutting.release()
	path := filepath.Join(t.TempDir(), "f")
	r, w := openReadWrite(t, fs, path, content)
	defer r.Close()
	defer w.Close()
	const cut, at = 2*blockSize + 100, 5 * blockSize
	cutDone := background(func() error { return w.Truncate(cut) })
	base.cutting.wait(t)
	buf := make([]byte, 4096)
	var n int
	read := background(func() error {
		var err error
		n, err = r.ReadAt(buf, at)
		return err
	})
	got := outcome(t, read, base.cutting)
	switch {
	case n == len(buf) && got.err == nil && bytes.Equal(buf, content[at:at+len(buf)]):
	case n == 0 && got.err == io.EOF:
	default:
		t.Errorf("ReadAt(4096 at %d) during a truncate to %d = %d, %v, bytes %x...; want the old bytes or 0, EOF", at, cut, n, got.err, buf[:8])
	}
	if r := outcome(t, cutDone, base.cutting); r.err != nil {
		t.Fatal(r.err)
	}
}

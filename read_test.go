package aiofs

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// heldWrites is an engine whose writes wait for release, and which counts
// reads.
type heldWrites struct {
	engine
	reads   atomic.Int64
	started chan struct{}
	release chan struct{}
}

func (e *heldWrites) pread(f afero.File, p []byte, off int64) (int, error) {
	e.reads.Add(1)
	return e.engine.pread(f, p, off)
}

func (e *heldWrites) pwritev(f afero.File, bufs [][]byte, off int64) (int, error) {
	select {
	case e.started <- struct{}{}:
	default:
	}
	<-e.release
	return e.engine.pwritev(f, bufs, off)
}

// TestReadUnwrittenWaitsForBypass: reading a block
// written in part, which reads the rest from the file, while another
// handle's write-through is in flight does not read the file over and over
// until the write ends: what it read could not be kept, so it waits.
// Readahead started meanwhile (without cachestat, as on FreeBSD,
// nothing spares it) is dropped, not read and thrown away; so a clean
// sequential read reads the file once, for itself.
func TestReadUnwrittenWaitsForBypass(t *testing.T) {
	withoutPageCacheProbe(t)
	for _, partial := range []bool{true, false} {
		for _, name := range enginesUnderTest(t) {
			t.Run(fmt.Sprintf("%s/partial=%v", name, partial), func(t *testing.T) {
				readsDuringDirectWrite(t, name, partial)
			})
		}
	}
}

// openReadWrite writes content to path and opens it on fs twice: for
// reading, and for reading and writing. The caller closes both.
func openReadWrite(t *testing.T, fs afero.Fs, path string, content []byte) (r, w afero.File) {
	t.Helper()
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if w, err = fs.OpenFile(path, os.O_RDWR, 0); err != nil {
		r.Close()
		t.Fatal(err)
	}
	return r, w
}

func readsDuringDirectWrite(t *testing.T, engineName string, partial bool) {
	held := &heldWrites{started: make(chan struct{}, 1), release: make(chan struct{})}
	fs := New(WithEngine(engineName), func(c *config) {
		c.engineHook = func(e engine) engine { held.engine = e; return held }
	})
	defer fs.Close()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 64*blockSize), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := fs.OpenFile(path, os.O_RDWR|os.O_SYNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if partial {
		if _, err := a.WriteAt([]byte("partial"), 10); err != nil {
			t.Fatal(err)
		}
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := b.WriteAt([]byte("direct"), 63*blockSize)
		wrote <- err
	}()
	<-held.started
	before := held.reads.Load()
	read := make(chan error, 1)
	go func() {
		_, err := a.ReadAt(make([]byte, 100), 0)
		read <- err
	}()
	time.Sleep(50 * time.Millisecond)
	during := held.reads.Load() - before
	close(held.release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if during > 1 {
		t.Errorf("%d reads of the file while a write-through was in flight; want at most 1", during)
	}
}

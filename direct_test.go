//go:build unix

package aiofs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// aligned returns n bytes at a page-aligned address, as O_DIRECT
// transfers need, freed when t ends.
func aligned(t *testing.T, n int) []byte {
	p, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(p) })
	return p
}

// TestDirectReadAtPastEnd: an aligned O_DIRECT ReadAt
// that reaches past the end of the file, while another handle holds
// buffered data, reaches the kernel aligned and returns the bytes up to
// the end and io.EOF, as with OsFs.
func TestDirectReadAtPastEnd(t *testing.T) {
	t.Parallel()
	if directFlag == 0 {
		t.Skip("no O_DIRECT here")
	}
	const size = blockSize + 6000
	data := fill('d', size)
	forEngines(t, func(t *testing.T, eng string) {
		name := tempName(t, "f")
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ref, err := os.OpenFile(name, os.O_RDONLY|directFlag, 0)
		if err != nil {
			if errors.Is(err, syscall.EINVAL) {
				t.Skipf("the file system takes no O_DIRECT: %v", err)
			}
			t.Fatal(err)
		}
		defer ref.Close()
		want := aligned(t, 8192)
		wn, werr := ref.ReadAt(want, blockSize)
		if wn != 6000 || werr != io.EOF {
			t.Fatalf("OsFs: %d, %v; the test expects 6000, EOF", wn, werr)
		}
		fs, rec, _ := newRecorded(t, eng)
		w, err := fs.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		// The buffered data stays buffered (or in flight) while the
		// test reads: every flush is held until it ends.
		flushes := holdFirst(-1, nil)
		rec.hooks(nil, flushes.hook, nil)
		defer flushes.release()
		if _, err := w.WriteAt([]byte("x"), 10); err != nil { // buffered, in block 0
			t.Fatal(err)
		}
		d, err := fs.OpenFile(name, os.O_RDONLY|directFlag, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		got := aligned(t, 8192)
		n, err := d.ReadAt(got, blockSize)
		if n != wn || err != werr || !bytes.Equal(got[:n], want[:wn]) {
			t.Errorf("ReadAt(8192 aligned bytes, %d) of an O_DIRECT handle: %d, %v; OsFs: %d, %v", blockSize, n, err, wn, werr)
		}
	})
}

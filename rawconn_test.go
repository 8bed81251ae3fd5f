package aiofs_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/spf13/afero"
)

// TestSendfileServesBufferedData: net/http sends an aiofs File with
// sendfile, through File.SyscallConn, which first writes the file's
// buffered data and puts the descriptor at the File's offset: whole files
// and ranges hold every byte written, even those still buffered, and the
// File is read only for what net/http sniffs.
func TestSendfileServesBufferedData(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		dir := t.TempDir()
		aio := newAio(t, engine)
		want := pattern(uint64(7), 0, 1<<20+123)
		w, err := aio.Create(filepath.Join(dir, "f"))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		for off := 0; off < len(want); off += 4096 { // buffered, not yet flushed
			if _, err := w.Write(want[off:min(off+4096, len(want))]); err != nil {
				t.Fatal(err)
			}
		}
		srv := httptest.NewServer(http.FileServer(afero.NewHttpFs(aio).Dir(dir)))
		defer srv.Close()
		reads := func() uint64 { st := aio.Stats(); return st.CacheHits + st.CacheMisses }
		before := reads()
		get := func(rng string) []byte {
			req, _ := http.NewRequest("GET", srv.URL+"/f", nil)
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return body
		}
		if got := get(""); !bytes.Equal(got, want) {
			t.Errorf("whole file: %s", diff(want, got, "OsFs", "aiofs"))
		}
		for _, r := range [][2]int{{0, 99}, {70000, 200000}, {len(want) - 10, len(want) - 1}} {
			if got := get(fmt.Sprintf("bytes=%d-%d", r[0], r[1])); !bytes.Equal(got, want[r[0]:r[1]+1]) {
				t.Errorf("range %v: %s", r, diff(want[r[0]:r[1]+1], got, "OsFs", "aiofs"))
			}
		}
		// Copying would take a Read per 32 KiB; sendfile leaves net/http's
		// content sniffing, one Read per response.
		if n := reads() - before; n > 8 {
			t.Errorf("%d reads through the File for 4 responses: not sent with sendfile", n)
		}
	})
}

// TestSyscallConnWriteRefused: writing through the raw descriptor of a
// regular file would bypass the cache, so it is refused; a directory's
// is the os.File's own.
func TestSyscallConnWriteRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	aio := newAio(t, "")
	f, err := aio.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rc, err := f.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Write(func(uintptr) bool { return true }); err == nil {
		t.Error("RawConn.Write of a regular file succeeded")
	}
	if err := rc.Control(func(uintptr) {}); err != nil {
		t.Errorf("RawConn.Control: %v", err)
	}
	d, err := aio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.(syscall.Conn).SyscallConn(); err != nil {
		t.Errorf("a directory's SyscallConn: %v", err)
	}
	f.Close()
	if _, err := f.(syscall.Conn).SyscallConn(); err == nil {
		t.Error("SyscallConn of a closed file succeeded")
	}
}

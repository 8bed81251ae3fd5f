//go:build unix

package aiofs_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/aiofs/aiofs"
)

// TestSyscallConnOffsets: the File's offset and the lent descriptor's
// stay one, as with an *os.File, whichever moves: a lent Read continues
// where the File's Reads and Seeks left off, and they continue where the
// lent Read left the descriptor, however many lent Reads and Seeks come
// between.
func TestSyscallConnOffsets(t *testing.T) {
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"os", "aiofs"} {
		t.Run(name, func(t *testing.T) {
			var f interface {
				io.ReadSeeker
				syscall.Conn
			}
			if name == "os" {
				o, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer o.Close()
				f = o
			} else {
				fs := aiofs.New()
				defer fs.Close()
				a, err := fs.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				f = a.(*aiofs.File)
			}
			at := int64(0)
			read := func(n int) {
				t.Helper()
				p := make([]byte, n)
				m, err := io.ReadFull(f, p)
				if err != nil || !bytes.Equal(p, data[at:at+int64(n)]) {
					t.Fatalf("Read(%d) at %d = %d, %v, equal %v", n, at, m, err, bytes.Equal(p, data[at:at+int64(m)]))
				}
				at += int64(n)
			}
			lent := func(n int) {
				t.Helper()
				rc, err := f.SyscallConn()
				if err != nil {
					t.Fatal(err)
				}
				p := make([]byte, n)
				var m int
				var rerr error
				if err := rc.Read(func(fd uintptr) bool { m, rerr = syscall.Read(int(fd), p); return true }); err != nil {
					t.Fatal(err)
				}
				if rerr != nil || m != n || !bytes.Equal(p, data[at:at+int64(n)]) {
					t.Fatalf("lent read(%d) at %d = %d, %v", n, at, m, rerr)
				}
				at += int64(n)
			}
			seek := func(off int64, whence int, want int64) {
				t.Helper()
				pos, err := f.Seek(off, whence)
				if err != nil || pos != want {
					t.Fatalf("Seek(%d, %d) = %d, %v; want %d", off, whence, pos, err, want)
				}
				at = want
			}
			read(512)
			lent(100)
			lent(200)
			read(300)
			seek(0, io.SeekCurrent, 1112)
			lent(50)
			seek(10, io.SeekStart, 10)
			lent(40)
			lent(60)
			seek(5, io.SeekCurrent, 115)
			read(5)
			lent(1000)
			seek(-100, io.SeekEnd, 9900)
			lent(100)
			seek(0, io.SeekCurrent, 10000)
		})
	}
}

// TestSyscallConnOffsetKeptDuringWriteAt: while
// SyscallConn's Read lends the descriptor at the File's offset, a WriteAt
// far out (which makes the Fs learn how far the file takes writes) leaves
// the descriptor's offset alone: the raw read gets the bytes from the
// File's offset, and the File's offset is where the raw read ended.
func TestSyscallConnOffsetKeptDuringWriteAt(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		aio := newAio(t, engine)
		f, err := aio.Create(filepath.Join(t.TempDir(), "f"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write([]byte("0123456789")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(5, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		rc, err := f.(syscall.Conn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		var rerr error
		err = rc.Read(func(fd uintptr) bool {
			wrote := make(chan error)
			go func() {
				_, err := f.WriteAt([]byte("x"), 1<<30)
				wrote <- err
			}()
			if err := <-wrote; err != nil {
				t.Errorf("WriteAt during the raw read: %v", err)
			}
			buf := make([]byte, 16)
			n, err := syscall.Read(int(fd), buf)
			got, rerr = buf[:max(n, 0)], err
			return true
		})
		if err != nil || rerr != nil {
			t.Fatalf("raw read: %v, %v", err, rerr)
		}
		if string(got) != "56789" {
			t.Errorf("raw read at the File's offset 5 got %q, want %q", got, "56789")
		}
		if pos, err := f.Seek(0, io.SeekCurrent); pos != 10 || err != nil {
			t.Errorf("File's offset after the raw read: %d, %v; want 10", pos, err)
		}
	})
}

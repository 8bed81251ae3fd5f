//go:build unix

package aiofs_test

import (
	"io"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSyscallConnOffsetKeptDuringWriteAt (issue 16, case 10): while
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

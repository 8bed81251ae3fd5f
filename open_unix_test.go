//go:build linux || freebsd

package aiofs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpenFIFOAsOsFs: a FIFO opened through New is in the netpoller as
// os.OpenFile leaves it: its data comes through, and Close ends a Read
// waiting for more, with the error OsFs gives.
func TestOpenFIFOAsOsFs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	fsys := New()
	defer fsys.Close()
	f, err := fsys.OpenFile(path, os.O_RDWR, 0) // O_RDWR: the open does not wait for a writer
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 16)
	if n, err := f.Read(p); n != 5 || err != nil || string(p[:n]) != "hello" {
		t.Fatalf("Read = %d, %q, %v", n, p[:n], err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.Read(p)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, fs.ErrClosed) {
			t.Errorf("Read waiting when Close came returned %v; want fs.ErrClosed, as OsFs", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a Read waiting on a FIFO")
	}
}

// TestOpenErrorsAsOsFs: opens that fail give the *os.PathError OsFs gives.
func TestOpenErrorsAsOsFs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fsys := New()
	defer fsys.Close()
	for _, tc := range []struct {
		name string
		flag int
	}{
		{filepath.Join(dir, "missing"), os.O_RDONLY},
		{filepath.Join(dir, "missing", "x"), os.O_RDWR | os.O_CREATE},
		{dir, os.O_RDWR},
		{"", os.O_RDONLY},
	} {
		_, want := os.OpenFile(tc.name, tc.flag, 0o644)
		_, got := fsys.OpenFile(tc.name, tc.flag, 0o644)
		var pw, pg *os.PathError
		if !errors.As(want, &pw) || !errors.As(got, &pg) || *pw != *pg {
			t.Errorf("OpenFile(%q, %#x): %#v; OsFs %#v", tc.name, tc.flag, got, want)
		}
	}
	// Setuid, setgid and sticky bits reach the file's mode as with OsFs.
	for _, perm := range []os.FileMode{0o640 | os.ModeSetgid, 0o700 | os.ModeSticky} {
		a, b := filepath.Join(dir, "a"+perm.String()), filepath.Join(dir, "b"+perm.String())
		fa, err := os.OpenFile(a, os.O_RDWR|os.O_CREATE, perm)
		if err != nil {
			t.Fatal(err)
		}
		fa.Close()
		fb, err := fsys.OpenFile(b, os.O_RDWR|os.O_CREATE, perm)
		if err != nil {
			t.Fatal(err)
		}
		fb.Close()
		sa, _ := os.Stat(a)
		sb, _ := os.Stat(b)
		if sa.Mode() != sb.Mode() {
			t.Errorf("created with %v: mode %v; OsFs %v", perm, sb.Mode(), sa.Mode())
		}
	}
}

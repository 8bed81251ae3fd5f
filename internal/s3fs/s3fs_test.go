package s3fs_test

// The S3 Fs against SeaweedFS's S3 gateway (internal/s3test), started
// for each test; without a built weed they skip, except with CI=true.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aiofs/aiofs/internal/s3fs"
	"github.com/aiofs/aiofs/internal/s3test"
	"github.com/spf13/afero"
)

func data(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7) + byte(i>>9)
	}
	return p
}

// newFs returns an Fs over a fresh bucket of a server of its own, and its
// connection.
func newFs(t *testing.T, delay time.Duration) (*s3fs.Fs, *s3test.Conn) {
	srv := s3test.ForTest(t)
	c := srv.DialForTest(t, delay)
	fsys, err := c.Fs("test", "root")
	if err != nil {
		t.Fatal(err)
	}
	return fsys, c
}

func wantErr(t *testing.T, what string, err error, op string, errno syscall.Errno) {
	t.Helper()
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		if pe.Op != op || pe.Err != errno {
			t.Errorf("%s: %v; want Op %q and %v", what, err, op, errno)
		}
	case errors.As(err, &le):
		if le.Op != op || le.Err != errno {
			t.Errorf("%s: %v; want Op %q and %v", what, err, op, errno)
		}
	default:
		t.Errorf("%s: %#v; want an *fs.PathError with Op %q and %v", what, err, op, errno)
	}
}

// TestErrors: the errors of os, with its Op and errno, where S3 can tell.
func TestErrors(t *testing.T) {
	fsys, _ := newFs(t, 0)
	if err := fsys.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(fsys, "d/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := fsys.Open("missing")
	wantErr(t, "Open of a missing file", err, "open", syscall.ENOENT)
	_, err = fsys.Stat("missing")
	wantErr(t, "Stat of a missing file", err, "stat", syscall.ENOENT)
	_, err = fsys.OpenFile("d/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	wantErr(t, "O_EXCL of an existing file", err, "open", syscall.EEXIST)
	_, err = fsys.OpenFile("d", os.O_RDWR, 0)
	wantErr(t, "a directory opened for writing", err, "open", syscall.EISDIR)
	_, err = fsys.Create("nodir/f")
	wantErr(t, "Create in a missing directory", err, "open", syscall.ENOENT)
	_, err = fsys.Create("d/f/g")
	wantErr(t, "Create under a file", err, "open", syscall.ENOTDIR)
	wantErr(t, "Mkdir of an existing directory", fsys.Mkdir("d", 0o755), "mkdir", syscall.EEXIST)
	wantErr(t, "Mkdir of an existing file", fsys.Mkdir("d/f", 0o755), "mkdir", syscall.EEXIST)
	wantErr(t, "Remove of a non-empty directory", fsys.Remove("d"), "remove", syscall.ENOTEMPTY)
	wantErr(t, "Remove of a missing file", fsys.Remove("missing"), "remove", syscall.ENOENT)
	wantErr(t, "Rename of a missing file", fsys.Rename("missing", "x"), "rename", syscall.ENOENT)
	if err := fsys.Chmod("d/f", 0o600); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Chmod: %v; want ErrUnsupported", err)
	}
	f, err := fsys.Open("d/f")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write([]byte("x"))
	wantErr(t, "Write on a read-only handle", err, "write", syscall.EBADF)
	f.Close()
	_, err = f.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v; want ErrClosed", err)
	}
	if err := fsys.Remove("d/f"); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove("d"); err != nil {
		t.Fatalf("Remove of the emptied directory: %v", err)
	}
	if _, err := fsys.Stat("d"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of the removed directory: %v", err)
	}
}

// TestReadWrite writes files in pieces through handles that share a
// spool, uploads a multipart object, and reads back with ranged GETs,
// Readdir and Seek.
func TestReadWrite(t *testing.T) {
	fsys, c := newFs(t, 0)
	other := s3fs.New(c.Client, "test", "root") // another client's view: no shared spools
	big := data(s3fs.DefaultPartSize+12345, 1)
	a, err := fsys.Create("big")
	if err != nil {
		t.Fatal(err)
	}
	b, err := fsys.OpenFile("big", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	half := len(big) / 2
	if _, err := a.Write(big[:half]); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteAt(big[half:], int64(half)); err != nil {
		t.Fatal(err)
	}
	// The Fs's readers see the spool; another client sees the empty
	// object until the upload.
	if got, err := afero.ReadFile(fsys, "big"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("ReadFile before upload: %d bytes, %v", len(got), err)
	}
	if fi, err := other.Stat("big"); err != nil || fi.Size() != 0 {
		t.Fatalf("another client's Stat before upload: %v, %v; want 0 bytes", fi, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := s3test.Object(fsys, "big"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("object after Close: %d bytes, %v; want %d", len(got), err, len(big))
	}
	r, err := other.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := make([]byte, 100)
	if n, err := r.ReadAt(p, int64(len(big))-50); n != 50 || err != io.EOF || !bytes.Equal(p[:n], big[len(big)-50:]) {
		t.Errorf("ReadAt across the end: %d, %v", n, err)
	}
	if n, err := r.ReadAt(p, int64(len(big))+10); n != 0 || err != io.EOF {
		t.Errorf("ReadAt past the end: %d, %v; want 0, EOF", n, err)
	}
	if pos, err := r.Seek(-10, io.SeekEnd); pos != int64(len(big))-10 || err != nil {
		t.Errorf("Seek from the end: %d, %v", pos, err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, big[len(big)-10:]) {
		t.Errorf("Read to the end: %q, %v", got, err)
	}
	// Append, and a listing with directories first made or implied.
	if err := fsys.MkdirAll("x/y", 0o755); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"x/b", "x/a", "x/y/z"} {
		if err := afero.WriteFile(fsys, name, data(i+1, 0), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := fsys.OpenFile("x/a", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("end")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, err := s3test.Object(fsys, "x/a"); err != nil || string(got) != string(data(2, 0))+"end" {
		t.Errorf("appended object after Sync: %q, %v", got, err)
	}
	f.Close()
	list, err := afero.ReadDir(fsys, "x")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fi := range list {
		got = append(got, fmt.Sprintf("%s %v %d", fi.Name(), fi.IsDir(), fi.Size()))
	}
	if want := "a false 5,b false 1,y true 0"; strings.Join(got, ",") != want {
		t.Errorf("ReadDir: %q; want %q", strings.Join(got, ","), want)
	}
}

// TestRenameRemoveOpen renames and removes files open for writing: the
// spool follows the rename, and a removed file's upload makes no object.
func TestRenameRemoveOpen(t *testing.T) {
	fsys, _ := newFs(t, 0)
	f, err := fsys.Create("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Rename("a", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(" world")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat("a"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of the old name: %v; want ErrNotExist", err)
	}
	if got, err := s3test.Object(fsys, "b"); string(got) != "hello world" || err != nil {
		t.Errorf("renamed object: %q, %v", got, err)
	}
	g, err := fsys.OpenFile("b", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat("b"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a file removed while open, after its Close: %v; want ErrNotExist", err)
	}
}

// TestCutRead cuts the connection while a large ranged GET is in flight:
// the read fails with the connection's error, never a short read taken
// for the end of file.
func TestCutRead(t *testing.T) {
	fsys, c := newFs(t, time.Millisecond)
	big := data(32<<20, 3)
	if err := afero.WriteFile(fsys, "big", big, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for try := 0; ; try++ {
		p := make([]byte, len(big))
		done := make(chan struct{})
		var n int
		go func() {
			defer close(done)
			n, err = f.ReadAt(p, 0)
		}()
		time.Sleep(time.Duration(20>>min(try, 4)) * time.Millisecond)
		c.Cut()
		<-done
		if err == nil {
			if !bytes.Equal(p, big) {
				t.Fatal("a read that raced the cut returned wrong data")
			}
			if try == 8 {
				t.Skip("every read finished before the cut")
			}
			continue
		}
		if errors.Is(err, io.EOF) || n == len(big) {
			t.Fatalf("ReadAt cut after %d bytes: %v; want the connection's error", n, err)
		}
		if !bytes.Equal(p[:n], big[:n]) {
			t.Fatal("the bytes read before the cut are wrong")
		}
		break
	}
	if got, err := afero.ReadFile(fsys, "big"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("ReadFile after the cut: %d bytes, %v", len(got), err)
	}
}

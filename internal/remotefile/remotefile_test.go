package remotefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestListingAsOs pages a directory's listing as an *os.File of the same
// directory pages it: the same counts, nils and errors at each call.
func TestListingAsOs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, counts := range [][]int{{2, 2, 2, 2}, {0, 0}, {-1, 3}, {3, 0, 1}, {5, 1}, {1, 1, 1, 1, 1, 1, 0}} {
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		all, err := f.Readdir(0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		var l Listing
		lists := 0
		list := func() ([]os.FileInfo, error) {
			lists++
			return slices.Clone(all), nil
		}
		for i, n := range counts {
			want, wantErr := f.Readdir(n)
			got, gotErr := l.Readdir(n, list)
			if len(got) != len(want) || (got == nil) != (want == nil) || gotErr != wantErr {
				t.Errorf("counts %v, call %d: Readdir(%d) = %d entries (nil %v), %v; os: %d (nil %v), %v",
					counts, i, n, len(got), got == nil, gotErr, len(want), want == nil, wantErr)
			}
		}
		f.Close()
		if lists != 1 {
			t.Errorf("counts %v: listed %d times; want once", counts, lists)
		}
	}
}

func TestListingErrorAndReset(t *testing.T) {
	var l Listing
	bad := errors.New("listing failed")
	calls := 0
	fail := func() ([]os.FileInfo, error) { calls++; return nil, bad }
	for range 2 {
		if _, err := l.Readdir(1, fail); err != bad {
			t.Errorf("Readdir after a failed listing = %v; want %v", err, bad)
		}
	}
	if calls != 1 {
		t.Errorf("a failed listing was tried %d times; want once", calls)
	}
	l.Reset()
	got, err := l.Readdir(0, func() ([]os.FileInfo, error) { return nil, nil })
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("Readdir(0) of an empty directory after Reset = %v, %v; want an empty slice and nil", got, err)
	}
}

func TestSeekAsOs(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	statErr := errors.New("stat failed")
	for _, c := range []struct {
		cur, offset int64
		whence      int
	}{
		{0, 10, io.SeekStart}, {50, 10, io.SeekCurrent}, {50, -60, io.SeekCurrent}, {0, -10, io.SeekEnd},
		{0, -101, io.SeekEnd}, {0, 5, io.SeekEnd}, {7, 0, 7}, {0, -1, io.SeekStart},
	} {
		if _, err := f.Seek(c.cur, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		want, wantErr := f.Seek(c.offset, c.whence)
		got, gotErr := Seek(c.offset, c.whence, c.cur, f.Stat)
		var pe *fs.PathError
		if errors.As(wantErr, &pe) {
			wantErr = pe.Err
		}
		if wantErr != nil {
			want = 0
		}
		if got != want || !errors.Is(gotErr, wantErr) || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("Seek(%d, %d) at %d = %d, %v; os: %d, %v", c.offset, c.whence, c.cur, got, gotErr, want, wantErr)
		}
		if wantErr != nil && !errors.Is(gotErr, syscall.EINVAL) {
			t.Errorf("Seek(%d, %d) at %d: %v; want EINVAL", c.offset, c.whence, c.cur, gotErr)
		}
	}
	if _, err := Seek(0, io.SeekEnd, 0, func() (os.FileInfo, error) { return nil, statErr }); err != statErr {
		t.Errorf("Seek from the end with a failing stat = %v; want its error", err)
	}
	if _, err := Seek(0, io.SeekStart, 0, func() (os.FileInfo, error) { t.Error("stat asked for a SeekStart"); return nil, nil }); err != nil {
		t.Error(err)
	}
}

func TestReadAtOffsetAsOs(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var off int64
	for _, n := range []int{4, 0, 4, 4, 4, 0} {
		want := make([]byte, n)
		wn, werr := f.Read(want)
		got := make([]byte, n)
		gn, gerr := ReadAtOffset(got, &off, f.ReadAt)
		if gn != wn || gerr != werr || string(got[:gn]) != string(want[:wn]) {
			t.Errorf("read of %d at %d = %d %q, %v; os: %d %q, %v", n, off-int64(gn), gn, got[:gn], gerr, wn, want[:wn], werr)
		}
	}
	if off != 10 {
		t.Errorf("offset after the reads = %d; want 10", off)
	}
}

// TestChecksAsOs: the errors of ReadAt and WriteAt at a negative offset
// and of WriteAt on an O_APPEND file are os's, to the message.
func TestChecksAsOs(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	plain, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	appending, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer appending.Close()
	b := make([]byte, 1)
	for _, c := range []struct {
		what string
		os   func() error
		ours error
	}{
		{"ReadAt at -1", func() error { _, err := plain.ReadAt(b, -1); return err }, CheckReadAt(name, -1)},
		{"ReadAt at 0", func() error { return nil }, CheckReadAt(name, 0)},
		{"WriteAt at -1", func() error { _, err := plain.WriteAt(b, -1); return err }, CheckWriteAt(name, false, -1)},
		{"WriteAt at 0", func() error { return nil }, CheckWriteAt(name, false, 0)},
		{"WriteAt with O_APPEND at -1", func() error { _, err := appending.WriteAt(b, -1); return err }, CheckWriteAt(name, true, -1)},
	} {
		want := c.os()
		if fmt.Sprint(c.ours) != fmt.Sprint(want) || fmt.Sprintf("%T", c.ours) != fmt.Sprintf("%T", want) {
			t.Errorf("%s: %T %v; os: %T %v", c.what, c.ours, c.ours, want, want)
		}
	}
	if err := ReadError(name, io.EOF); err != io.EOF {
		t.Errorf("ReadError(io.EOF) = %v; want io.EOF bare", err)
	}
	if err := ReadError(name, syscall.EIO); !errors.Is(err, syscall.EIO) || err.(*fs.PathError).Op != "read" {
		t.Errorf("ReadError(EIO) = %#v; want a read's *fs.PathError", err)
	}
	if ReadError(name, nil) != nil || PathError("stat", name, nil) != nil || LinkError("rename", name, name, nil) != nil {
		t.Error("nil became an error")
	}
}

//go:build unix

package aiofs

// File identity in a wrapped Fs: two different
// files never share one state, and a namespace change through the Fs is
// atomic with respect to an Open of the same name, so that after both
// return a file has one state.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"
)

// readAt reads n bytes at off of f, failing t on an error other than
// io.EOF.
func readAt(t *testing.T, f afero.File, n int, off int64) []byte {
	t.Helper()
	p := make([]byte, n)
	m, err := f.ReadAt(p, off)
	if err != nil && m < n && !errors.Is(err, io.EOF) {
		t.Fatalf("ReadAt(%d, %d) of %s: %v", n, off, f.Name(), err)
	}
	return p[:m]
}

// TestWrapSymlinkDotDotIdentity (case 7): with a a symlink to d/e,
// a/../b is d/b to the OS, not b: the two keep apart, reads of b return
// b's bytes, and what is written through a/../b lands in d/b only.
func TestWrapSymlinkDotDotIdentity(t *testing.T) {
	t.Parallel()
	for _, hide := range []bool{false, true} {
		t.Run(map[bool]string{false: "identity", true: "path"}[hide], func(t *testing.T) {
			fs, base, _ := newRecordedWrap(t)
			base.get(func() { base.hideSys = hide })
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "d", "e"), 0o755); err != nil {
				t.Fatal(err)
			}
			inner, outer := []byte("inner b, in d"), []byte("outer b, in the root")
			if err := os.WriteFile(filepath.Join(root, "d", "b"), inner, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "b"), outer, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join("d", "e"), filepath.Join(root, "a")); err != nil {
				t.Fatal(err)
			}
			x, err := fs.OpenFile(root+"/a/../b", os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			y, err := fs.OpenFile(filepath.Join(root, "b"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAt(t, x, 100, 0); !bytes.Equal(got, inner) {
				t.Errorf("a/../b reads %q; the OS: %q", got, inner)
			}
			if got := readAt(t, y, 100, 0); !bytes.Equal(got, outer) {
				t.Errorf("b reads %q; the OS: %q", got, outer)
			}
			written := []byte("WRITTEN")
			if _, err := x.WriteAt(written, 0); err != nil {
				t.Fatal(err)
			}
			if got := readAt(t, y, 100, 0); !bytes.Equal(got, outer) {
				t.Errorf("after a write through a/../b, b reads %q; the OS: %q", got, outer)
			}
			// b closes first: its Close flushes what its state holds.
			if err := y.Close(); err != nil {
				t.Fatal(err)
			}
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			want := append(append([]byte(nil), written...), inner[len(written):]...)
			if got, _ := os.ReadFile(filepath.Join(root, "d", "b")); !bytes.Equal(got, want) {
				t.Errorf("d/b holds %q; want %q", got, want)
			}
			if got, _ := os.ReadFile(filepath.Join(root, "b")); !bytes.Equal(got, outer) {
				t.Errorf("b, which nobody wrote, holds %q; want %q", got, outer)
			}
		})
	}
}

// TestWrapRenameOpenRace (case 8): an Open of the new name while Rename
// is between the base's rename and the Fs's own bookkeeping, and a
// Create of a name while Remove of it is at the same point: once both
// calls have returned, the file has one state, and each handle reads the
// other's buffered writes. Both with the base's identity of files and
// with paths only.
func TestWrapRenameOpenRace(t *testing.T) {
	t.Parallel()
	for _, hide := range []bool{false, true} {
		t.Run(map[bool]string{false: "identity", true: "path"}[hide], func(t *testing.T) {
			t.Run("rename", func(t *testing.T) { wrapRenameOpenRace(t, hide) })
			t.Run("remove", func(t *testing.T) { wrapRemoveCreateRace(t, hide) })
		})
	}
}

func wrapRenameOpenRace(t *testing.T, hide bool) {
	fs, base, _ := newRecordedWrap(t)
	dir := t.TempDir()
	oldname, newname := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	if err := os.WriteFile(oldname, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No flush may land while the test looks: a handle of a state of
	// its own would then read the file, and see the bytes.
	writes := holdFirst(-1, nil)
	renamed := holdFirst(1, nil)
	base.get(func() {
		base.hideSys = hide
		base.onWrite = writes.nameHook
		base.afterRename = func(string, string) { renamed.hook() }
	})
	defer writes.release()
	defer renamed.release()
	h1, err := fs.OpenFile(oldname, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h1.Close() }) // after the held writes go
	if _, err := h1.WriteAt([]byte("AB"), 0); err != nil {
		t.Fatal(err)
	}
	ren := background(func() error { return fs.Rename(oldname, newname) })
	renamed.wait(t)
	var h2 afero.File
	opened := background(func() (err error) {
		h2, err = fs.OpenFile(newname, os.O_RDWR, 0)
		return err
	})
	if r := outcome(t, opened, renamed); r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { h2.Close() }) // after the held writes go
	renamed.release()
	if r := <-ren; r.err != nil {
		t.Fatal(r.err)
	}
	if got := readAt(t, h2, 2, 0); string(got) != "AB" {
		t.Errorf("a handle opened by the new name during the rename reads %q; the other handle wrote %q", got, "AB")
	}
	if got := readAt(t, h1, 2, 0); string(got) != "AB" {
		t.Errorf("the writer reads %q; it wrote %q", got, "AB")
	}
	writes.release()
}

func wrapRemoveCreateRace(t *testing.T, hide bool) {
	fs, base, _ := newRecordedWrap(t)
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	writes := holdFirst(-1, nil) // as above
	removed := holdFirst(1, nil)
	base.get(func() {
		base.hideSys = hide
		base.onWrite = writes.nameHook
		base.afterRemove = func(string) { removed.hook() }
	})
	defer writes.release()
	defer removed.release()
	rm := background(func() error { return fs.Remove(name) })
	removed.wait(t)
	var h afero.File
	created := background(func() (err error) {
		h, err = fs.Create(name)
		return err
	})
	if r := outcome(t, created, removed); r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { h.Close() }) // after the held writes go
	removed.release()
	if r := <-rm; r.err != nil {
		t.Fatal(r.err)
	}
	if _, err := h.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	h2, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h2.Close() }) // after the held writes go
	if got := readAt(t, h2, 10, 0); string(got) != "new" {
		t.Errorf("a handle opened after a Create that raced with Remove reads %q; the created handle wrote %q", got, "new")
	}
	writes.release()
}

// TestWrapStrayReader (found beside TestWrapS3Differential's case): in a
// base that knows files by path, a reader may read by name, as an object
// store's does, and after a rename through the Fs reach whatever has the
// old name. What it reads then is the base's answer, and none of it may
// become the renamed file's: not a block read in, nor the unwritten part
// of a block another handle wrote in part.
func TestWrapStrayReader(t *testing.T) {
	t.Parallel()
	fs, base, _ := newRecordedWrap(t, WithReadahead(0))
	base.get(func() {
		base.hideSys = true
		base.nameReaders = true
	})
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	old, other := fill('o', 3*blockSize), fill('n', 2*blockSize+7)
	w, err := fs.OpenFile(a, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(old); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	r, err := fs.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readAt(t, r, 10, 0) // block 0 may be cached now, as the file's
	if err := fs.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	writeClosed(t, fs, a, other)
	// A part of block 2, written after the rename: a read of the block
	// must not fill the rest in through r.
	if _, err := w.WriteAt([]byte("ww"), 2*blockSize+100); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, blockSize + 10, 2 * blockSize} {
		want := other[off:min(off+10, int64(len(other)))]
		if got := readAt(t, r, 10, off); !bytes.Equal(got, want) {
			t.Errorf("the stray reader at %d reads %q; want %q, what the base's reader reads", off, got, want)
		}
	}
	if fi, err := r.Stat(); err != nil || fi.Size() != int64(len(other)) {
		t.Errorf("the stray reader's Stat: %v; want the size of what has its name, %d", err, len(other))
	} else if end, err := r.Seek(0, io.SeekEnd); err != nil || end != int64(len(other)) {
		t.Errorf("the stray reader's Seek to its end: %d, %v; want %d", end, err, len(other))
	}
	want := append([]byte(nil), old...)
	copy(want[2*blockSize+100:], "ww")
	g, err := fs.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if got := readAt(t, g, len(want)+1, 0); !bytes.Equal(got, want) {
		t.Errorf("b, opened after the stray reads, differs from what was written: %q... at %d", differsAt(got, want), len(got))
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(b); err != nil || !bytes.Equal(got, want) {
		t.Errorf("b on disk: %v, differs from what was written: %q...", err, differsAt(got, want))
	}
}

// differsAt returns got from where it first differs from want, at most
// 16 bytes.
func differsAt(got, want []byte) []byte {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return got[i:min(i+16, len(got))]
}

//go:build unix

package aiofs

// Fs.Sync of a wrapped Fs returns nil only when every byte written through
// it before the call is durable, whatever happened to the file's name
//, checked by the durability oracle on a recording
// base over afero.OsFs.

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/spf13/afero"
)

// TestWrapSyncRenamedThenRecreated (case 4): a closed unsynced file
// renamed through the Fs, then a new file created under its old name:
// Fs.Sync commits both.
func TestWrapSyncRenamedThenRecreated(t *testing.T) {
	t.Parallel()
	fs, _, o := newRecordedWrap(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	writeClosed(t, fs, a, fill('a', 5000))
	if err := fs.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	writeClosed(t, fs, a, fill('n', 100))
	start := o.Now()
	durable(t, o, "Fs.Sync", result{fs.Sync(), o.Now()}, start, nil)
}

// TestWrapDotSpelling (case 5): a file created as d/./a and renamed as
// d/a through the Fs is still committed by Fs.Sync.
func TestWrapDotSpelling(t *testing.T) {
	t.Parallel()
	fs, _, o := newRecordedWrap(t)
	dir := t.TempDir()
	writeClosed(t, fs, dir+"/./a", fill('a', 5000))
	if err := fs.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
	start := o.Now()
	durable(t, o, "Fs.Sync", result{fs.Sync(), o.Now()}, start, nil)
}

// TestWrapSyncBaseOpenError (case 6): an error other than "does not
// exist" from the base's Open during Fs.Sync is not taken as "the file is
// gone": that Fs.Sync reports it (or commits the file another way), and a
// later one, with the base well again, commits the file.
func TestWrapSyncBaseOpenError(t *testing.T) {
	t.Parallel()
	fs, base, o := newRecordedWrap(t)
	name := filepath.Join(t.TempDir(), "a")
	writeClosed(t, fs, name, fill('a', 5000))
	base.get(func() {
		base.openErr = func(n string) error {
			return &os.PathError{Op: "open", Path: n, Err: syscall.EIO}
		}
	})
	start := o.Now()
	durable(t, o, "Fs.Sync while the base's Open fails with EIO", result{fs.Sync(), o.Now()}, start, nil)
	base.get(func() { base.openErr = nil })
	start = o.Now()
	durable(t, o, "the next Fs.Sync", result{fs.Sync(), o.Now()}, start, nil)
}

// TestWrapSyncRenamedWhileOpen (found by TestModel, beside case 4): a
// file renamed through the Fs while a handle has it open, then closed by
// that handle, is committed by Fs.Sync under its new name.
func TestWrapSyncRenamedWhileOpen(t *testing.T) {
	t.Parallel()
	fs, _, o := newRecordedWrap(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	f, err := fs.Create(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(fill('a', 5000)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	start := o.Now()
	durable(t, o, "Fs.Sync", result{fs.Sync(), o.Now()}, start, nil)
}

// TestWrapSyncThroughWriter (found by TestWrapS3Differential): a base may
// keep what a file wrote until that file's own Sync, as an object store
// does until its upload, so a Sync of a file held open by a writer and
// by readers commits through the writer, whichever handle it is called
// on: through a reader it may commit nothing, or, in a base whose
// readers do not follow a rename, whatever now has the file's old name.
func TestWrapSyncThroughWriter(t *testing.T) {
	t.Parallel()
	for _, hide := range []bool{false, true} {
		for _, renamed := range []bool{false, true} {
			fs, base, o := newRecordedWrap(t)
			base.get(func() {
				base.hideSys = hide
				base.nameReaders = true
			})
			dir := t.TempDir()
			name := filepath.Join(dir, "a")
			w, err := fs.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			// Enough readers that a pick among the handles is almost
			// never the writer.
			var rs []afero.File
			for range 16 {
				r, err := fs.Open(name)
				if err != nil {
					t.Fatal(err)
				}
				rs = append(rs, r)
			}
			if renamed {
				if err := fs.Rename(name, filepath.Join(dir, "b")); err != nil {
					t.Fatal(err)
				}
			}
			what := fmt.Sprintf("keyed by path %v, renamed %v: ", hide, renamed)
			for i, r := range rs {
				if _, err := w.Write(fill(byte('a'+i), 5000)); err != nil {
					t.Fatal(err)
				}
				start := o.Now()
				if i%2 == 0 {
					durable(t, o, what+"Fs.Sync", result{fs.Sync(), o.Now()}, start, nil)
				} else {
					durable(t, o, what+"a reader's Sync", result{r.Sync(), o.Now()}, start, r)
				}
			}
			for _, f := range append(rs, w) {
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

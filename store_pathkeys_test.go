package aiofs

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// newPathKeyed returns an Fs made by New that keys files by path, as New
// does where the OS gives no file identity (Windows).
func newPathKeyed(t *testing.T) *Fs {
	fs := New(WithEngine("pool"))
	fs.store.(*osStore).identified.Store(false)
	t.Cleanup(func() { fs.Close() })
	return fs
}

// TestPathKeysFollowNames: where New keys files by path, a rename moves a
// file's state with it and a removal or replacement lets it go, so that
// a name always leads to the state of the file it names. Before, a file
// created under a name a renamed file had left took over its state, and
// its writes could be flushed into the renamed file.
func TestPathKeysFollowNames(t *testing.T) {
	t.Parallel()
	fs := newPathKeyed(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	node := func(f *File) *node {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		return f.n
	}
	open := func(name string, flag int) *File {
		t.Helper()
		f, err := fs.OpenFile(name, flag, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return f.(*File)
	}

	fa := open(a, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if _, err := fa.WriteString("renamed"); err != nil {
		t.Fatal(err)
	}
	if err := fs.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	fb := open(b, os.O_RDONLY)
	if node(fb) != node(fa) {
		t.Fatal("the renamed file opened by its new name has a state of its own")
	}
	if got, err := io.ReadAll(fb); err != nil || string(got) != "renamed" {
		t.Fatalf("read %q, %v through the new name; want the buffered %q", got, err, "renamed")
	}

	fa2 := open(a, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if node(fa2) == node(fa) {
		t.Fatal("a file created under the old name shares the renamed file's state")
	}
	if _, err := fa2.WriteString("new"); err != nil {
		t.Fatal(err)
	}

	// Removed while open with buffered data, then created again.
	if err := fs.Remove(a); err != nil {
		t.Fatal(err)
	}
	fa3 := open(a, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if node(fa3) == node(fa2) {
		t.Fatal("a file created under a removed file's name shares its state")
	}
	if _, err := fa3.WriteString("third"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*File{fa, fb, fa2, fa3} {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{a: "third", b: "renamed"} {
		if got, err := os.ReadFile(name); err != nil || string(got) != want {
			t.Errorf("%s holds %q, %v; want %q", filepath.Base(name), got, err, want)
		}
	}
}

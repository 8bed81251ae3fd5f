package aiofs_test

// A wrapped Fs answers as its base where it has nothing of its own to add
//.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// TestWrapSeekFarPastEnd (case 12): Seek far past the end, past what the
// base's file system takes, fails or succeeds as the base's Seek does,
// and a Read there returns what the base's returns.
func TestWrapSeekFarPastEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := afero.NewOsFs()
	w := aiofs.Wrap(base)
	defer w.Close()
	for _, off := range []int64{1 << 40, 1 << 50, 1<<63 - 1} {
		var got [2]string
		for i, fsys := range []afero.Fs{base, w} {
			f, err := fsys.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			pos, err := f.Seek(off, io.SeekStart)
			n, rerr := f.Read(make([]byte, 10))
			got[i] = fmt.Sprintf("Seek: %d, %v; Read: %d, %v", pos, err, n, rerr)
			f.Close()
		}
		if got[0] != got[1] {
			t.Errorf("at %d:\nbase:    %s\nwrapped: %s", off, got[0], got[1])
		}
	}
}

// TestWrapBasePathCreateOp (case 13): Create and Open of a wrapped
// BasePathFs fail as the base's own Create and Open do (their Op is
// "create" and "open", not the "openfile" of its OpenFile).
func TestWrapBasePathCreateOp(t *testing.T) {
	t.Parallel()
	base := afero.NewBasePathFs(afero.NewOsFs(), t.TempDir())
	w := aiofs.Wrap(base)
	defer w.Close()
	calls := []struct {
		name string
		call func(fsys afero.Fs) (afero.File, error)
	}{
		{"Create", func(fsys afero.Fs) (afero.File, error) { return fsys.Create("../escape.txt") }},
		{"Open", func(fsys afero.Fs) (afero.File, error) { return fsys.Open("../escape.txt") }},
	}
	for _, c := range calls {
		var got [2]string
		for i, fsys := range []afero.Fs{base, w} {
			f, err := c.call(fsys)
			if f != nil {
				f.Close()
			}
			got[i] = fmt.Sprintf("%#v", err)
			if pe, ok := err.(*os.PathError); ok {
				got[i] = fmt.Sprintf("*os.PathError{Op: %q, Path: %q, Err: %v}", pe.Op, pe.Path, pe.Err)
			}
		}
		if got[0] != got[1] {
			t.Errorf("%s:\nbase:    %s\nwrapped: %s", c.name, got[0], got[1])
		}
	}
}

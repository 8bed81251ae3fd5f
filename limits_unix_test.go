//go:build unix

package aiofs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/spf13/afero"
)

// TestFileLimitRlimit: under RLIMIT_FSIZE (in a child process,
// SIGXFSZ ignored) the Fs's file-limit probe makes each call return what
// OsFs returns on the same system: a Seek past the limit succeeds (the
// limit is on writes, not offsets), a write there fails with EFBIG, a
// write across it writes what fits and fails, a write within it is
// buffered, and the file ends as OsFs's does. It runs on FreeBSD in the VM.
func TestFileLimitRlimit(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) { runChild(t, "file-limit", t.TempDir(), engine) })
}

// limitChildFSize is the child's RLIMIT_FSIZE.
const limitChildFSize = 1 << 20

func init() { children["file-limit"] = fileLimitChild }

// fileLimitChild is TestFileLimitRlimit's child.
func fileLimitChild(t *testing.T, dir, engine string) {
	signal.Ignore(syscall.SIGXFSZ)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
		t.Fatal(err)
	}
	rl.Cur = limitChildFSize
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
		t.Fatal(err)
	}
	want := limitSteps(t, afero.NewOsFs(), filepath.Join(dir, "os"))
	got := limitSteps(t, newAio(t, engine), filepath.Join(dir, "aio"))
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		t.Logf("OsFs %s", w)
		if g != w {
			t.Errorf("aiofs %s; OsFs %s", g, w)
		}
	}
}

// limitSteps runs the calls of fileLimitChild on name and describes
// their results, errors by errno.
func limitSteps(t *testing.T, fsys afero.Fs, name string) []string {
	var r []string
	add := func(what string, n int64, err error) {
		var errno syscall.Errno
		if err != nil && !errors.As(err, &errno) {
			r = append(r, fmt.Sprintf("%s: %d, %v", what, n, err))
			return
		}
		r = append(r, fmt.Sprintf("%s: %d, errno %d", what, n, errno))
	}
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	pos, err := f.Seek(2*limitChildFSize, io.SeekStart)
	add("Seek past the limit", pos, err)
	n, err := f.Write(bytes.Repeat([]byte("a"), 100))
	add("Write there", int64(n), err)
	pos, err = f.Seek(0, io.SeekCurrent)
	add("offset after it", pos, err)
	// Its count is left out: os.File.WriteAt reports 0 for the bytes it
	// wrote before failing (see relSameWriteAtN); the file shows them.
	_, err = f.WriteAt(bytes.Repeat([]byte("b"), 100), limitChildFSize-10)
	add("WriteAt across the limit", 0, err)
	n, err = f.WriteAt(bytes.Repeat([]byte("c"), 100), 0)
	add("WriteAt within it", int64(n), err)
	pos, err = f.Seek(0, io.SeekEnd)
	add("Seek to the end", pos, err)
	if err := f.Close(); err != nil {
		add("Close", 0, err)
	}
	data, err := os.ReadFile(name)
	add("size on disk", int64(len(data)), err)
	if len(data) == limitChildFSize {
		r = append(r, fmt.Sprintf("head %q, tail %q", data[:3], data[len(data)-12:]))
	}
	return r
}

package sftpfs_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiofs/aiofs/internal/sftpfs"
	"github.com/aiofs/aiofs/internal/sftptest"
	"github.com/spf13/afero"
)

// describe renders a result the same way for both file systems: the
// error's type, Op and class, not its path or text.
func describe(vals ...any) string {
	var b strings.Builder
	for _, v := range vals {
		switch v := v.(type) {
		case error:
			b.WriteString(describeErr(v))
		case nil:
			b.WriteString("<nil>")
		default:
			fmt.Fprintf(&b, "%v", v)
		}
		b.WriteByte(' ')
	}
	return b.String()
}

func describeErr(err error) string {
	class := "other"
	for _, c := range []struct {
		err  error
		name string
	}{{io.EOF, "EOF"}, {fs.ErrNotExist, "notexist"}, {fs.ErrExist, "exist"}, {fs.ErrPermission, "permission"}, {fs.ErrClosed, "closed"}} {
		if errors.Is(err, c.err) {
			class = c.name
		}
	}
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case err == io.EOF:
		return "EOF"
	case errors.As(err, &pe):
		return "PathError{" + pe.Op + " " + class + "}"
	case errors.As(err, &le):
		return "LinkError{" + le.Op + " " + class + "}"
	}
	return fmt.Sprintf("%T{%s}", err, class)
}

func describeInfo(fi os.FileInfo, err error) string {
	if err != nil {
		return describe(err)
	}
	mtime := ""
	if fi.Mode().IsRegular() {
		mtime = fi.ModTime().UTC().Truncate(time.Second).Format(time.RFC3339)
		if fi.ModTime().Year() != 2001 {
			mtime = "" // only times the steps set are compared
		}
	}
	return fmt.Sprintf("%s size=%d mode=%v dir=%v %s", fi.Name(), sizeOf(fi), fi.Mode(), fi.IsDir(), mtime)
}

// sizeOf is a file's size; those of directories and symbolic links vary
// with the server and the link's target.
func sizeOf(fi os.FileInfo) int64 {
	if !fi.Mode().IsRegular() {
		return -1
	}
	return fi.Size()
}

// steps runs the differential script on fsys and returns one line per
// observation.
func steps(fsys afero.Fs) []string {
	var out []string
	log := func(step string, vals ...any) { out = append(out, step+": "+describe(vals...)) }
	buf := make([]byte, 64)
	read := func(f afero.File, n int) (string, error) {
		k, err := f.Read(buf[:n])
		return string(buf[:k]), err
	}

	f, err := fsys.Create("a")
	log("create", err)
	n, err := f.Write([]byte("hello world"))
	log("write", n, err)
	n, err = f.WriteString("\n")
	log("writestring", n, err)
	log("close", f.Close())
	log("close again", describeErr(f.Close()))
	_, err = f.Write([]byte("x"))
	log("write closed", err)

	f, err = fsys.Open("a")
	log("open", err)
	s, err := read(f, 5)
	log("read", s, err)
	pos, err := f.Seek(1, io.SeekCurrent)
	log("seek cur", pos, err)
	s, err = read(f, 64)
	log("read rest", s, err)
	s, err = read(f, 64)
	log("read at end", s, err)
	pos, err = f.Seek(-3, io.SeekEnd)
	log("seek end", pos, err)
	s, err = read(f, 64)
	log("read after seek end", s, err)
	_, err = f.Seek(-100, io.SeekStart)
	log("seek negative", err)
	k, err := f.ReadAt(buf[:5], 6)
	log("readat", string(buf[:k]), err)
	k, err = f.ReadAt(buf[:10], 6)
	log("readat past end", string(buf[:k]), err)
	_, err = f.Write([]byte("x"))
	log("write read-only", err != nil)
	log("stat", describeInfo(f.Stat()))
	log("close", f.Close())

	f, err = fsys.OpenFile("a", os.O_WRONLY|os.O_APPEND, 0)
	log("open append", err)
	n, err = f.Write([]byte("more"))
	log("append", n, err)
	pos, err = f.Seek(0, io.SeekCurrent)
	log("offset after append", pos, err)
	_, err = f.WriteAt([]byte("x"), 0)
	log("writeat append", err)
	log("close", f.Close())
	data, err := afero.ReadFile(fsys, "a")
	log("readfile", string(data), err)

	f, err = fsys.OpenFile("a", os.O_RDWR, 0)
	log("open rdwr", err)
	n, err = f.WriteAt([]byte("HELLO"), 0)
	log("writeat", n, err)
	log("truncate", f.Truncate(8))
	log("stat truncated", describeInfo(f.Stat()))
	log("truncate negative", f.Truncate(-1))
	n, err = f.WriteAt([]byte("!"), 12)
	log("writeat past end", n, err)
	log("close", f.Close())
	data, err = afero.ReadFile(fsys, "a")
	log("readfile", fmt.Sprintf("%q", data), err)

	_, err = fsys.OpenFile("a", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	log("create excl existing", err)
	f, err = fsys.OpenFile("a", os.O_RDWR|os.O_TRUNC, 0)
	log("open trunc", err)
	log("stat trunc", describeInfo(f.Stat()))
	log("close", f.Close())
	f, err = fsys.OpenFile("new", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	log("create excl", err)
	log("close", f.Close())

	_, err = fsys.Open("missing")
	log("open missing", err)
	log("stat missing", describeInfo(fsys.Stat("missing")))
	log("remove missing", fsys.Remove("missing"))
	log("rename missing", fsys.Rename("missing", "x"))
	_, err = fsys.Open("missing/x")
	log("open under missing", err)

	log("mkdir", fsys.Mkdir("d", 0o755))
	log("mkdir again", fsys.Mkdir("d", 0o755))
	log("mkdir under file", fsys.Mkdir("a/x", 0o755) != nil)
	log("mkdirall", fsys.MkdirAll("d/e/f", 0o755))
	log("mkdirall existing", fsys.MkdirAll("d/e", 0o755))
	log("mkdirall over file", fsys.MkdirAll("a", 0o755))
	log("stat dir", describeInfo(fsys.Stat("d")))
	for i := range 5 {
		log("write entry", afero.WriteFile(fsys, fmt.Sprintf("d/%d", i), []byte(strings.Repeat("x", i)), 0o666))
	}
	f, err = fsys.Open("d")
	log("open dir", err)
	log("stat open dir", describeInfo(f.Stat()))
	seen := 0
	for i := 0; i < 5; i++ {
		list, err := f.Readdir(2)
		seen += len(list)
		log("readdir 2", len(list), err)
	}
	log("readdir seen", seen)
	log("close dir", f.Close())
	f, err = fsys.Open("d")
	log("open dir", err)
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	log("readdirnames all", names, err)
	names, err = f.Readdirnames(-1)
	log("readdirnames again", len(names), err)
	log("close dir", f.Close())
	f, err = fsys.Open("a")
	log("open file", err)
	_, err = f.Readdir(-1)
	log("readdir file", err)
	log("close", f.Close())

	log("write b", afero.WriteFile(fsys, "b", []byte("bee"), 0o666))
	log("rename over", fsys.Rename("d/3", "b"))
	data, err = afero.ReadFile(fsys, "b")
	log("renamed", string(data), err)
	log("stat old", describeInfo(fsys.Stat("d/3")))
	log("rename dir", fsys.Rename("d/e", "e"))
	log("stat renamed dir", describeInfo(fsys.Stat("e/f")))

	log("chmod", fsys.Chmod("b", 0o600))
	when := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	log("chtimes", fsys.Chtimes("b", when, when))
	log("stat b", describeInfo(fsys.Stat("b")))

	if sl, ok := fsys.(afero.Symlinker); ok {
		log("symlink", sl.SymlinkIfPossible("b", "link"))
		log("symlink again", sl.SymlinkIfPossible("b", "link"))
		target, err := sl.ReadlinkIfPossible("link")
		// pkg/sftp's server stores the target made absolute, OpenSSH's
		// and BasePathFs as given, relative to the link; both name b.
		log("readlink", path.Base(target), err)
		fi, _, err := sl.LstatIfPossible("link")
		log("lstat link", describeInfo(fi, err))
		log("stat link", describeInfo(fsys.Stat("link")))
		log("remove link", fsys.Remove("link"))
		log("stat target", describeInfo(fsys.Stat("b")))
	}

	log("remove non-empty dir", fsys.Remove("d"))
	log("remove file", fsys.Remove("a"))
	log("removeall", fsys.RemoveAll("d"))
	log("removeall missing", fsys.RemoveAll("d"))
	log("stat removed", describeInfo(fsys.Stat("d")))
	log("remove empty dir", fsys.Remove("e/f"))
	return out
}

// TestDifferential runs the same steps on OsFs and on each server's Fs
// and compares what they observe.
func TestDifferential(t *testing.T) {
	want := steps(afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()))
	forServers(t, func(t *testing.T, fsys *sftpfs.Fs, _ *sftptest.Server) {
		got := steps(fsys)
		for i := range max(len(got), len(want)) {
			var g, w string
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("step %d:\n sftp: %s\n   os: %s", i, g, w)
			}
		}
	})
}

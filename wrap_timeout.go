package aiofs

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/afero"
)

// WithCallTimeout bounds the time of each call a Wrap Fs makes to its
// base: a call that has not returned after d fails with an
// *os.PathError whose Err is os.ErrDeadlineExceeded, and is left to
// finish on its own. A flush that times out is a background write error
// like any other: sticky on the file's handles, the data kept dirty for
// a Sync to retry. Fs.Close and File.Close wait no longer than that for
// each call. It does not apply to an Fs made by New.
//
// A call that timed out may still take effect later. While a write,
// truncation or Sync of a file has not returned, the Fs sends no other
// change of that file to the base (writes, truncations, Syncs, an open
// with O_TRUNC, a rename or removal of it or of a directory above it):
// those fail at once with the same timeout, so that the late call cannot
// overwrite what they wrote. The buffers handed to a call are the Fs's
// own copies, never reused while the call runs.
func WithCallTimeout(d time.Duration) Option {
	return func(c *config) { c.callTimeout = d }
}

// A timeoutFs is the base of a wrapped Fs made WithCallTimeout: it runs
// each call of base on a goroutine of its own and stops waiting for it
// after d.
type timeoutFs struct {
	base afero.Fs
	d    time.Duration

	mu      sync.Mutex
	stalled map[string]int // cleaned name: changes that timed out and have not returned
}

func newTimeoutFs(base afero.Fs, d time.Duration) *timeoutFs {
	return &timeoutFs{base: base, d: d, stalled: make(map[string]int)}
}

// A callResult is what a call returned.
type callResult[T any] struct {
	v   T
	err error
}

// bounded runs call and waits for it at most d. When the call outlives
// that, bounded runs stalled, then returns ok false, and after runs once
// the call has returned.
func bounded[T any](d time.Duration, call func() (T, error), stalled func(), after func(T, error)) (v T, err error, ok bool) {
	done := make(chan callResult[T], 1)
	go func() {
		v, err := call()
		done <- callResult[T]{v, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-done:
		return r.v, r.err, true
	case <-t.C:
		stalled()
		go func() {
			r := <-done
			after(r.v, r.err)
		}()
		return v, nil, false
	}
}

func nothing() {}

func ignore[T any](T, error) {}

func timeout(op, name string) error {
	return &os.PathError{Op: op, Path: name, Err: os.ErrDeadlineExceeded}
}

// call runs fn within the bound; a timeout is reported as op on name.
func call[T any](fsys *timeoutFs, op, name string, fn func() (T, error)) (T, error) {
	v, err, ok := bounded(fsys.d, fn, nothing, ignore)
	if !ok {
		return v, timeout(op, name)
	}
	return v, err
}

// change runs fn, a change of the files at names, within the bound,
// unless one of them, or a file under one of them, has a change that
// timed out and is still running: then it fails at once. A change that
// times out holds its names until it returns.
func change[T any](fsys *timeoutFs, op string, names []string, fn func() (T, error)) (T, error) {
	return changeThen(fsys, op, names, fn, ignore)
}

// changeThen is change, with late to run on what a call that timed out
// returns in the end.
func changeThen[T any](fsys *timeoutFs, op string, names []string, fn func() (T, error), late func(T, error)) (T, error) {
	var zero T
	for i := range names {
		names[i] = filepath.Clean(names[i])
	}
	if fsys.isStalled(names) {
		return zero, timeout(op, names[0])
	}
	count := func(by int) {
		fsys.mu.Lock()
		defer fsys.mu.Unlock()
		for _, name := range names {
			if fsys.stalled[name] += by; fsys.stalled[name] == 0 {
				delete(fsys.stalled, name)
			}
		}
	}
	v, err, ok := bounded(fsys.d, fn, func() { count(1) }, func(v T, err error) {
		late(v, err)
		count(-1)
	})
	if !ok {
		return v, timeout(op, names[0])
	}
	return v, err
}

// isStalled reports whether a change of one of names, or of a file under
// one of them, timed out and is still running.
func (fsys *timeoutFs) isStalled(names []string) bool {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	for stalled := range fsys.stalled {
		for _, name := range names {
			if _, ok := under(stalled, name); ok {
				return true
			}
		}
	}
	return false
}

func (fsys *timeoutFs) Name() string { return fsys.base.Name() }

func (fsys *timeoutFs) Create(name string) (afero.File, error) {
	return fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (fsys *timeoutFs) Open(name string) (afero.File, error) {
	return fsys.OpenFile(name, os.O_RDONLY, 0)
}

// OpenFile closes a file whose open returned after the bound. An open
// with O_TRUNC is a change of the file.
func (fsys *timeoutFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	open := func() (afero.File, error) { return fsys.base.OpenFile(name, flag, perm) }
	late := func(f afero.File, err error) {
		if err == nil {
			f.Close()
		}
	}
	var f afero.File
	var err error
	if flag&os.O_TRUNC != 0 {
		f, err = changeThen(fsys, "open", []string{name}, open, late)
	} else {
		var ok bool
		if f, err, ok = bounded(fsys.d, open, nothing, late); !ok {
			err = timeout("open", name)
		}
	}
	if err != nil {
		return nil, err
	}
	return &timeoutFile{File: f, fsys: fsys, name: filepath.Clean(name)}, nil
}

// isTimeout reports whether err is a timeout of this file.
func isTimeout(err error) bool {
	pe, ok := err.(*os.PathError)
	return ok && pe.Err == os.ErrDeadlineExceeded
}

func (fsys *timeoutFs) Mkdir(name string, perm os.FileMode) error {
	_, err := call(fsys, "mkdir", name, func() (struct{}, error) { return struct{}{}, fsys.base.Mkdir(name, perm) })
	return err
}

func (fsys *timeoutFs) MkdirAll(name string, perm os.FileMode) error {
	_, err := call(fsys, "mkdir", name, func() (struct{}, error) { return struct{}{}, fsys.base.MkdirAll(name, perm) })
	return err
}

func (fsys *timeoutFs) Remove(name string) error {
	_, err := change(fsys, "remove", []string{name}, func() (struct{}, error) { return struct{}{}, fsys.base.Remove(name) })
	return err
}

func (fsys *timeoutFs) RemoveAll(name string) error {
	_, err := change(fsys, "unlinkat", []string{name}, func() (struct{}, error) { return struct{}{}, fsys.base.RemoveAll(name) })
	return err
}

func (fsys *timeoutFs) Rename(oldname, newname string) error {
	_, err := change(fsys, "rename", []string{oldname, newname}, func() (struct{}, error) {
		return struct{}{}, fsys.base.Rename(oldname, newname)
	})
	if isTimeout(err) {
		err = &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: os.ErrDeadlineExceeded}
	}
	return err
}

func (fsys *timeoutFs) Stat(name string) (os.FileInfo, error) {
	return call(fsys, "stat", name, func() (os.FileInfo, error) { return fsys.base.Stat(name) })
}

func (fsys *timeoutFs) Chmod(name string, mode os.FileMode) error {
	_, err := call(fsys, "chmod", name, func() (struct{}, error) { return struct{}{}, fsys.base.Chmod(name, mode) })
	return err
}

func (fsys *timeoutFs) Chown(name string, uid, gid int) error {
	_, err := call(fsys, "chown", name, func() (struct{}, error) { return struct{}{}, fsys.base.Chown(name, uid, gid) })
	return err
}

func (fsys *timeoutFs) Chtimes(name string, atime, mtime time.Time) error {
	_, err := call(fsys, "chtimes", name, func() (struct{}, error) { return struct{}{}, fsys.base.Chtimes(name, atime, mtime) })
	return err
}

// LstatIfPossible, SymlinkIfPossible and ReadlinkIfPossible keep what the
// base can do with symbolic links.
func (fsys *timeoutFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	l, ok := fsys.base.(afero.Lstater)
	if !ok {
		fi, err := fsys.Stat(name)
		return fi, false, err
	}
	type lstat struct {
		fi os.FileInfo
		ok bool
	}
	r, err := call(fsys, "lstat", name, func() (lstat, error) {
		fi, ok, err := l.LstatIfPossible(name)
		return lstat{fi, ok}, err
	})
	if isTimeout(err) {
		return nil, true, err
	}
	return r.fi, r.ok, err
}

func (fsys *timeoutFs) SymlinkIfPossible(oldname, newname string) error {
	l, ok := fsys.base.(afero.Linker)
	if !ok {
		return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: afero.ErrNoSymlink}
	}
	_, err := call(fsys, "symlink", newname, func() (struct{}, error) { return struct{}{}, l.SymlinkIfPossible(oldname, newname) })
	return err
}

func (fsys *timeoutFs) ReadlinkIfPossible(name string) (string, error) {
	l, ok := fsys.base.(afero.LinkReader)
	if !ok {
		return "", &os.PathError{Op: "readlink", Path: name, Err: afero.ErrNoReadlink}
	}
	return call(fsys, "readlink", name, func() (string, error) { return l.ReadlinkIfPossible(name) })
}

// A timeoutFile is a base file of a timeoutFs.
type timeoutFile struct {
	afero.File
	fsys *timeoutFs
	name string // cleaned, as opened
}

// changeFile is change of the file's own name.
func changeFile[T any](f *timeoutFile, op string, fn func() (T, error)) (T, error) {
	return change(f.fsys, op, []string{f.name}, fn)
}

// ReadAt reads into a buffer of its own, copied to p only if the call
// returns in time: a late one must not write into memory the Fs reuses.
func (f *timeoutFile) ReadAt(p []byte, off int64) (int, error) {
	buf := make([]byte, len(p))
	n, err := call(f.fsys, "read", f.name, func() (int, error) { return f.File.ReadAt(buf, off) })
	copy(p, buf[:max(n, 0)])
	return n, err
}

func (f *timeoutFile) Read(p []byte) (int, error) {
	buf := make([]byte, len(p))
	n, err := call(f.fsys, "read", f.name, func() (int, error) { return f.File.Read(buf) })
	copy(p, buf[:max(n, 0)])
	return n, err
}

// WriteAt writes a copy of p: the Fs may change p once the call timed out.
func (f *timeoutFile) WriteAt(p []byte, off int64) (int, error) {
	buf := append([]byte(nil), p...)
	return changeFile(f, "write", func() (int, error) { return f.File.WriteAt(buf, off) })
}

func (f *timeoutFile) Write(p []byte) (int, error) {
	buf := append([]byte(nil), p...)
	return changeFile(f, "write", func() (int, error) { return f.File.Write(buf) })
}

func (f *timeoutFile) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

func (f *timeoutFile) Truncate(size int64) error {
	_, err := changeFile(f, "truncate", func() (struct{}, error) { return struct{}{}, f.File.Truncate(size) })
	return err
}

func (f *timeoutFile) Sync() error {
	_, err := changeFile(f, "sync", func() (struct{}, error) { return struct{}{}, f.File.Sync() })
	return err
}

// Close is never refused, since a base file that is not closed is
// leaked; the Fs stops waiting for it after the bound.
func (f *timeoutFile) Close() error {
	_, err := call(f.fsys, "close", f.name, func() (struct{}, error) { return struct{}{}, f.File.Close() })
	return err
}

func (f *timeoutFile) Seek(offset int64, whence int) (int64, error) {
	return call(f.fsys, "seek", f.name, func() (int64, error) { return f.File.Seek(offset, whence) })
}

func (f *timeoutFile) Stat() (os.FileInfo, error) {
	return call(f.fsys, "stat", f.name, func() (os.FileInfo, error) { return f.File.Stat() })
}

func (f *timeoutFile) Readdir(count int) ([]os.FileInfo, error) {
	return call(f.fsys, "readdirent", f.name, func() ([]os.FileInfo, error) { return f.File.Readdir(count) })
}

func (f *timeoutFile) Readdirnames(n int) ([]string, error) {
	return call(f.fsys, "readdirent", f.name, func() ([]string, error) { return f.File.Readdirnames(n) })
}

var _ io.WriterAt = (*timeoutFile)(nil)

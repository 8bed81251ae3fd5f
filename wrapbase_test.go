package aiofs_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/afero"
)

// faultFs is an afero.Fs whose files' ReadAt, WriteAt and Sync fail,
// write short or block as its faults for their names say, for tests of
// a wrapped base's errors. Its files otherwise are the base's, which must
// take parallel ReadAt and WriteAt calls (OsFs does; MemMapFs does not).
type faultFs struct {
	afero.Fs

	mu     sync.Mutex
	faults map[string]*fault // by cleaned name
	// unsupported makes every file's ReadAt and WriteAt fail with
	// errors.ErrUnsupported, as a base without them would.
	unsupported bool
}

// A fault is what the calls on one file do. Its fields are guarded by
// faultFs.mu.
type fault struct {
	readErr  error // ReadAt fails with it
	writeErr error // WriteAt fails with it, after writing short bytes
	short    int   // bytes a failing WriteAt writes first
	syncErr  error // Sync fails with it
	// entered, when set, receives one value as each WriteAt begins;
	// release, when set, is waited for after that, before the fault is
	// read.
	entered chan struct{}
	release chan struct{}
	seeks   int // Seek calls so far
}

func newFaultFs(base afero.Fs) *faultFs {
	return &faultFs{Fs: base, faults: make(map[string]*fault)}
}

// fault returns the fault of name, made on first use.
func (fsys *faultFs) fault(name string) *fault {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	name = filepath.Clean(name)
	ft := fsys.faults[name]
	if ft == nil {
		ft = &fault{}
		fsys.faults[name] = ft
	}
	return ft
}

// set changes the fault of name under the lock.
func (fsys *faultFs) set(name string, change func(ft *fault)) {
	ft := fsys.fault(name)
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	change(ft)
}

// holdWrites makes name's WriteAts signal entered as each begins, which
// takes up to n signals unread, then wait for release to be closed.
func (fsys *faultFs) holdWrites(name string, n int) (entered, release chan struct{}) {
	entered, release = make(chan struct{}, n), make(chan struct{})
	fsys.set(name, func(ft *fault) { ft.entered, ft.release = entered, release })
	return entered, release
}

// seeks returns how many Seek calls reached name.
func (fsys *faultFs) seeks(name string) int {
	ft := fsys.fault(name)
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	return ft.seeks
}

func (fsys *faultFs) Create(name string) (afero.File, error) {
	return fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (fsys *faultFs) Open(name string) (afero.File, error) {
	return fsys.OpenFile(name, os.O_RDONLY, 0)
}

func (fsys *faultFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := fsys.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, fs: fsys, ft: fsys.fault(name)}, nil
}

// faultFile is a file of a faultFs.
type faultFile struct {
	afero.File
	fs *faultFs
	ft *fault
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	err, unsupported := f.ft.readErr, f.fs.unsupported
	f.fs.mu.Unlock()
	switch {
	case unsupported:
		return 0, errors.ErrUnsupported
	case err != nil:
		return 0, err
	}
	return f.File.ReadAt(p, off)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	unsupported, entered, release := f.fs.unsupported, f.ft.entered, f.ft.release
	f.fs.mu.Unlock()
	if unsupported {
		return 0, errors.ErrUnsupported
	}
	if entered != nil {
		entered <- struct{}{}
	}
	if release != nil {
		<-release
	}
	// The fault as it is once released, so a test can set it meanwhile.
	f.fs.mu.Lock()
	err, short := f.ft.writeErr, f.ft.short
	f.fs.mu.Unlock()
	if err == nil {
		return f.File.WriteAt(p, off)
	}
	n, werr := f.File.WriteAt(p[:min(short, len(p))], off)
	if werr != nil {
		return n, werr
	}
	return n, err
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	err := f.ft.syncErr
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Seek(offset int64, whence int) (int64, error) {
	f.fs.mu.Lock()
	f.ft.seeks++
	f.fs.mu.Unlock()
	return f.File.Seek(offset, whence)
}

package aiofs

import (
	"errors"
	"os"
	"syscall"
)

// A fileKind says how a File serves its file.
type fileKind uint8

const (
	// kindPassthrough files are served by the file underneath, exactly
	// as afero.OsFs (or the base) serves them: directories, devices,
	// terminals, pipes, sockets, and the files of pseudo-filesystems.
	kindPassthrough fileKind = iota
	// kindCached files are regular files whose data goes through their
	// node's blocks and the engine.
	kindCached
)

// A need is what an operation needs of a File's access mode.
type need uint8

const (
	needNothing need = iota
	needRead
	needWrite
)

// errUnderneath is admit's answer for a call that the file underneath is
// to make instead: every call of a passthrough file, and in a wrapped Fs
// one the base file is to judge.
var errUnderneath = errors.New("aiofs: call for the file underneath")

// errNegativeOffset has the text package os uses.
var errNegativeOffset = errors.New("negative offset")

// admit admits an operation op that needs the access mode nd. When it
// returns nil, the caller must call f.ops.exit. When it returns
// errUnderneath, the caller makes the call of the file underneath
// instead: for a passthrough file, and for a call the File refuses
// (after Close, or against the access mode) in a wrapped Fs, whose base
// file judges it (see refuse). Elsewhere a refused call fails as package
// os fails it.
func (f *File) admit(op string, nd need) error {
	if f.kind == kindPassthrough {
		return errUnderneath
	}
	if err := f.enter(op); err != nil {
		return f.refuse(err)
	}
	if nd == needRead && !f.readable || nd == needWrite && !f.writable {
		f.ops.exit()
		return f.refuse(f.pathErr(op, syscall.EBADF))
	}
	return nil
}

// admitAt is admit for a transfer of n bytes at off (ReadAt, WriteAt),
// with what os.File checks first: a negative offset, and an empty
// transfer, which it does not check further. It reports done for a
// transfer that has nothing to do, and then holds nothing.
func (f *File) admitAt(op string, nd need, off int64, n int) (done bool, err error) {
	if f.kind == kindPassthrough {
		return false, errUnderneath
	}
	if off < 0 {
		return false, f.refuse(f.pathErr(op+"at", errNegativeOffset))
	}
	if n == 0 && !f.baseJudges() {
		return true, nil
	}
	if err := f.admit(op, nd); err != nil {
		return false, err
	}
	if n == 0 {
		f.ops.exit()
		return true, nil
	}
	return false, nil
}

// readHot serves a ReadAt from the node's hot blocks without admitting
// it, when admission would let it through and the File is not closing: a
// copy from memory needs no descriptor, so it takes no hold on one, which
// readers sharing a handle would pass between cores on every read. Whether
// the File is closing is asked last, of reads the hot blocks may serve:
// the answer is in the word every admission writes, and reading it first
// would move its cache line once more on most reads that go on to
// admission.
func (f *File) readHot(p []byte, off int64) bool {
	if f.kind != kindCached || !f.readable || f.directIO || f.stray.Load() || off < 0 || len(p) == 0 ||
		overflows(off, len(p)) || f.fs.closed.Load() {
		return false
	}
	_, quiet := f.n.quietRead()
	return quiet && f.n.mayBeHot(off) && !f.ops.closing() && f.n.serveHot(p, off)
}

// enter admits an operation, reporting ErrClosed once Close of the file or
// of its Fs has begun. The caller must call f.ops.exit when enter returns
// nil.
func (f *File) enter(op string) error {
	if f.fs.closed.Load() || !f.ops.tryHold() {
		return f.pathErr(op, os.ErrClosed)
	}
	return nil
}

// refuse returns err, the error package os gives for a call the File
// refuses, or errUnderneath when the base file is to judge the call
// instead.
func (f *File) refuse(err error) error {
	if f.baseJudges() {
		return errUnderneath
	}
	return err
}

// baseJudges reports whether the base file judges the calls the File
// refuses, for the base's own error: in a wrapped Fs that is open, since
// bases differ in what they refuse and how they say so (os.File does not
// check an empty transfer; others do).
func (f *File) baseJudges() bool { return f.fs.store.remote() && !f.fs.closed.Load() }

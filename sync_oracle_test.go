//go:build unix

package aiofs

// The durability oracle: a recording layer under the Fs logs
// every write and every commit that reaches each file, by inode, so that
// after a File.Sync or Fs.Sync returns nil a test can check what that nil
// promised: every write of the file that ended before the Sync is covered
// by a commit that began after the write ended and ended before the Sync
// returned. CrashMonkey and ALICE check file systems the same way.
//
// The layer is an engine wrapper for an Fs made by New (every pwritev and
// fsync of New's Fs goes through its engine) and a base afero.Fs over
// afero.OsFs for Wrap (the wrap engine calls the base file's WriteAt and
// Sync). Both also let a test block or fail a chosen call, to make races
// deterministic.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"
)

// oracleClock orders the events every oracle records and the marks tests
// take (Oracle.Now): one clock, since a commit of every file system
// (syncAll) covers the files of every Fs.
var oracleClock atomic.Uint64

func tick() uint64 { return oracleClock.Add(1) }

// span is when a commit ran: it began at start and ended at end.
type span struct{ start, end uint64 }

// syncAlls are the successful commits of every file system (syncAll).
var syncAlls struct {
	mu    sync.Mutex
	spans []span
}

// The oracle sees every commit of every file system: the Fs routes them
// through syncAll.
func init() {
	inner := syncAll
	syncAll = func() error {
		s := tick()
		err := inner()
		if err == nil {
			e := tick()
			syncAlls.mu.Lock()
			syncAlls.spans = append(syncAlls.spans, span{s, e})
			syncAlls.mu.Unlock()
		}
		return err
	}
}

// inodeID identifies a file on the system.
type inodeID struct{ dev, ino uint64 }

// inodeLog is what reached one file.
type inodeLog struct {
	// fd is a duplicate of the first descriptor the file was written
	// through, kept so that the inode number is not reused while the
	// oracle lives, and so that the oracle can ask whether the file still
	// has a name (a file with none needs no commit).
	fd     int
	name   string
	writes []uint64 // when each write ended, ascending
	syncs  []span   // successful fsyncs
}

// An Oracle records the writes and commits of the files of one Fs. It is
// safe for concurrent use.
type Oracle struct {
	mu     sync.Mutex
	inodes map[inodeID]*inodeLog
}

// NewOracle returns an empty Oracle; Close releases what it keeps.
func NewOracle() *Oracle { return &Oracle{inodes: make(map[inodeID]*inodeLog)} }

// Close releases the descriptors the oracle keeps.
func (o *Oracle) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.inodes {
		unix.Close(l.fd)
	}
	o.inodes = map[inodeID]*inodeLog{}
}

// Now returns a mark of the oracle's clock, taken by a test before and
// after a Sync.
func (o *Oracle) Now() uint64 { return tick() }

// WithOracle makes the Fs's engine (New only) record in o every write and
// commit it makes; use it with WithEngine. It composes with WithFaults,
// given before or after: the recorder sits under the faults, where the
// file is.
func WithOracle(o *Oracle) Option {
	return withRecorder(&recEngine{o: o})
}

// withRecorder puts r under the engine wrappers given so far; WithFaults
// given later goes over it too.
func withRecorder(r *recEngine) Option {
	return func(c *config) {
		over := c.engineHook
		c.engineHook = func(e engine) engine {
			r.engine = e
			if over != nil {
				return over(r)
			}
			return r
		}
	}
}

// fdOf returns f's descriptor without the side effects of os.File.Fd.
func fdOf(f *os.File) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// syncOnWrite reports whether writes through fd are durable when they
// return (O_SYNC, O_DSYNC).
func syncOnWrite(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return err == nil && fl&(unix.O_SYNC|dsyncFlag) != 0
}

// inode returns the log of f's file, made on first use. Called with o.mu
// held.
func (o *Oracle) inode(f *os.File) (*inodeLog, int, error) {
	fd, err := fdOf(f)
	if err != nil {
		return nil, -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, -1, err
	}
	id := inodeID{uint64(st.Dev), uint64(st.Ino)}
	l := o.inodes[id]
	if l == nil {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, -1, err
		}
		l = &inodeLog{fd: dup, name: f.Name()}
		o.inodes[id] = l
	}
	return l, fd, nil
}

// wrote records a write through f that has just ended, n bytes of which
// reached the file.
func (o *Oracle) wrote(f *os.File, n int, err error) {
	if n == 0 && err != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	l, fd, ierr := o.inode(f)
	if ierr != nil {
		panic(fmt.Sprintf("oracle: %s: %v", f.Name(), ierr))
	}
	// A write through an O_SYNC or O_DSYNC descriptor is durable when it
	// returns; it commits nothing written before it, though.
	if !syncOnWrite(fd) {
		l.writes = append(l.writes, tick())
	}
}

// synced records a successful fsync through f that ran over s.
func (o *Oracle) synced(f *os.File, s span) {
	o.mu.Lock()
	defer o.mu.Unlock()
	l, _, err := o.inode(f)
	if err != nil {
		panic(fmt.Sprintf("oracle: %s: %v", f.Name(), err))
	}
	l.syncs = append(l.syncs, s)
}

// Durable checks a Sync that returned nil at mark by: every write that
// ended before mark before, of the file of f (a File of the Fs) or, with
// f nil, of every file the Fs wrote, is covered by a commit of its file (or of every
// file system) that began after the write ended and ended before by. A
// file with no name left needs none. A Sync that ran alone passes its
// end as before; one that ran beside other writers passes its start,
// since writes that ended while it ran may hold bytes accepted after it
// began.
func (o *Oracle) Durable(before, by uint64, f afero.File) error {
	var want *inodeID
	if f != nil {
		id, err := inodeOf(f)
		if err != nil {
			return err
		}
		want = &id
	}
	syncAlls.mu.Lock()
	all := slices.Clone(syncAlls.spans)
	syncAlls.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	for id, l := range o.inodes {
		if want != nil && id != *want {
			continue
		}
		i := sort.Search(len(l.writes), func(i int) bool { return l.writes[i] >= before })
		if i == 0 {
			continue // nothing written before
		}
		w := l.writes[i-1]
		covers := func(s span) bool { return s.start > w && s.end < by }
		if slices.ContainsFunc(l.syncs, covers) || slices.ContainsFunc(all, covers) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstat(l.fd, &st); err == nil && st.Nlink == 0 {
			continue // gone: no commit can matter
		}
		errs = append(errs, fmt.Errorf("%s (inode %d): written at %d, no commit of it began after that and ended by %d (its fsyncs: %v; every file system's: %v)",
			l.name, id.ino, w, by, l.syncs, all))
	}
	return errors.Join(errs...)
}

// inodeOf returns the inode of f, a File of an Fs made by New or by Wrap
// over a RecFs.
func inodeOf(f afero.File) (inodeID, error) {
	af := f.(*File)
	osf := af.osf
	if osf == nil {
		osf = af.bf.(*recFile).osf
	}
	fd, err := fdOf(osf)
	if err != nil {
		return inodeID{}, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return inodeID{}, err
	}
	return inodeID{uint64(st.Dev), uint64(st.Ino)}, nil
}

// fileIno returns the inode number of the file an engine was given: an
// *os.File, or a wrapped Fs's base file over one.
func fileIno(f afero.File) uint64 {
	if b, ok := f.(*baseFile); ok {
		f = b.File
	}
	if r, ok := f.(*recFile); ok {
		f = r.osf
	}
	osf, ok := f.(*os.File)
	if !ok {
		return 0
	}
	fd, err := fdOf(osf)
	if err != nil {
		return 0
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0
	}
	return uint64(st.Ino)
}

// InoOf returns the inode number in fi, a FileInfo of the OS.
func InoOf(fi os.FileInfo) uint64 { return uint64(fi.Sys().(*syscall.Stat_t).Ino) }

// Written reports how many files the oracle saw written.
func (o *Oracle) Written() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.inodes)
}

// recEngine records in o the writes and fsyncs of the engine it wraps
// (New's Fs, whose files are *os.File), and lets a test block or fail
// them first.
type recEngine struct {
	engine
	o *Oracle

	mu                          sync.Mutex
	onPread, onPwritev, onFsync func() error
}

// hooks sets what runs before each pread, pwritev and fsync: a hook may
// block, and an error it returns is the operation's, which then does not
// reach the file. Nil hooks do nothing.
func (e *recEngine) hooks(pread, pwritev, fsync func() error) {
	e.mu.Lock()
	e.onPread, e.onPwritev, e.onFsync = pread, pwritev, fsync
	e.mu.Unlock()
}

func (e *recEngine) hook(which *func() error) error {
	e.mu.Lock()
	h := *which
	e.mu.Unlock()
	if h == nil {
		return nil
	}
	return h()
}

func (e *recEngine) pread(f afero.File, p []byte, off int64) (int, error) {
	if err := e.hook(&e.onPread); err != nil {
		return 0, err
	}
	return e.engine.pread(f, p, off)
}

func (e *recEngine) pwritev(f afero.File, bufs [][]byte, off int64) (int, error) {
	if err := e.hook(&e.onPwritev); err != nil {
		return 0, err
	}
	n, err := e.engine.pwritev(f, bufs, off)
	if e.o != nil {
		e.o.wrote(osFile(f), n, err)
	}
	return n, err
}

func (e *recEngine) fsync(f afero.File) error {
	if err := e.hook(&e.onFsync); err != nil {
		return err
	}
	s := tick()
	err := e.engine.fsync(f)
	if err == nil && e.o != nil {
		e.o.synced(osFile(f), span{s, tick()})
	}
	return err
}

// RecFs is a base for Wrap over afero.OsFs that records in an Oracle the
// writes and commits of its files (by inode), and lets a test block or
// fail chosen calls.
type RecFs struct {
	afero.Fs // afero.OsFs
	o        *Oracle

	mu sync.Mutex
	// openErr, when set, is asked by Open and OpenFile first; an error it
	// returns is the call's.
	openErr func(name string) error
	// afterRename and afterRemove run once the base has renamed or
	// removed, before the call returns; afterReaddir once a directory
	// listing is made, before it is returned.
	afterRename  func(oldname, newname string)
	afterRemove  func(name string)
	afterReaddir func()
	// onWrite runs before a file's WriteAt and Write; an error it
	// returns is the call's.
	onWrite func(name string) error
	// hideSys makes FileInfo.Sys return nil, as a base without an
	// identity of its files does: the Fs then knows files by path.
	hideSys bool
	// nameReaders makes the files opened only for reading behave as an
	// object store's readers: each ReadAt and Stat reaches whatever has
	// the file's name at the time, which after a rename is another file or
	// none, and Sync returns nil and commits nothing, having no upload to
	// make.
	nameReaders bool
}

// NewRecFs returns a RecFs over afero.OsFs recording in o.
func NewRecFs(o *Oracle) *RecFs { return &RecFs{Fs: afero.NewOsFs(), o: o} }

// NewNameReaderFs returns a RecFs over afero.OsFs, recording nothing,
// that gives its files no identity and whose readers reach files by name,
// as an object store's do (see RecFs.nameReaders).
func NewNameReaderFs() *RecFs {
	return &RecFs{Fs: afero.NewOsFs(), hideSys: true, nameReaders: true}
}

func (r *RecFs) get(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

func (r *RecFs) Open(name string) (afero.File, error) {
	return r.OpenFile(name, os.O_RDONLY, 0)
}

func (r *RecFs) Create(name string) (afero.File, error) {
	return r.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (r *RecFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	var openErr func(string) error
	r.get(func() { openErr = r.openErr })
	if openErr != nil {
		if err := openErr(name); err != nil {
			return nil, err
		}
	}
	f, err := r.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &recFile{File: f, fs: r, osf: f.(*os.File), name: name, readOnly: flag&(os.O_WRONLY|os.O_RDWR) == 0}, nil
}

func (r *RecFs) Rename(oldname, newname string) error {
	err := r.Fs.Rename(oldname, newname)
	var after func(string, string)
	r.get(func() { after = r.afterRename })
	if err == nil && after != nil {
		after(oldname, newname)
	}
	return err
}

func (r *RecFs) Remove(name string) error {
	err := r.Fs.Remove(name)
	var after func(string)
	r.get(func() { after = r.afterRemove })
	if err == nil && after != nil {
		after(name)
	}
	return err
}

func (r *RecFs) Stat(name string) (os.FileInfo, error) {
	fi, err := r.Fs.Stat(name)
	return r.info(fi), err
}

func (r *RecFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	fi, ok, err := r.Fs.(afero.Lstater).LstatIfPossible(name)
	return r.info(fi), ok, err
}

func (r *RecFs) SymlinkIfPossible(oldname, newname string) error {
	return r.Fs.(afero.Linker).SymlinkIfPossible(oldname, newname)
}

func (r *RecFs) ReadlinkIfPossible(name string) (string, error) {
	return r.Fs.(afero.LinkReader).ReadlinkIfPossible(name)
}

// info hides fi's Sys when the RecFs is to.
func (r *RecFs) info(fi os.FileInfo) os.FileInfo {
	var hide bool
	r.get(func() { hide = r.hideSys })
	if fi == nil || !hide {
		return fi
	}
	return noSys{fi}
}

type noSys struct{ os.FileInfo }

func (noSys) Sys() any { return nil }

// recFile is a file of a RecFs.
type recFile struct {
	afero.File
	fs       *RecFs
	osf      *os.File
	name     string // as opened
	readOnly bool
	closed   atomic.Bool
}

// byName reports whether f is a reader of a RecFs with nameReaders.
func (f *recFile) byName() bool {
	var by bool
	f.fs.get(func() { by = f.readOnly && f.fs.nameReaders })
	return by
}

func (f *recFile) ReadAt(p []byte, off int64) (int, error) {
	if !f.byName() || len(p) == 0 {
		return f.File.ReadAt(p, off)
	}
	if err := f.readable(); err != nil {
		return 0, err
	}
	if _, err := f.File.ReadAt(nil, off); err != nil {
		return 0, err // a negative offset
	}
	g, err := f.fs.Fs.Open(f.name)
	if err != nil {
		return 0, err
	}
	defer g.Close()
	return g.ReadAt(p, off)
}

// readable returns the error os.File's Read returns once the file is
// closed, which a name reader, not reading through its descriptor, must
// return too.
func (f *recFile) readable() error {
	if f.closed.Load() {
		return &os.PathError{Op: "read", Path: f.File.Name(), Err: os.ErrClosed}
	}
	return nil
}

func (f *recFile) Close() error {
	f.closed.Store(true)
	return f.File.Close()
}

// Read and Seek of a name reader keep their offset in the descriptor,
// which the reads themselves leave alone. Stat and Seek ask the
// descriptor first, which fails once closed.
func (f *recFile) Read(p []byte) (int, error) {
	if !f.byName() || len(p) == 0 {
		return f.File.Read(p)
	}
	if err := f.readable(); err != nil {
		return 0, err
	}
	off, err := f.File.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	n, err := f.ReadAt(p, off)
	if _, serr := f.File.Seek(off+int64(n), io.SeekStart); serr != nil {
		return n, serr
	}
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

func (f *recFile) Seek(offset int64, whence int) (int64, error) {
	if !f.byName() || whence != io.SeekEnd {
		return f.File.Seek(offset, whence)
	}
	if _, err := f.File.Seek(0, io.SeekCurrent); err != nil {
		return 0, err // closed
	}
	fi, err := f.fs.Fs.Stat(f.name)
	if err != nil {
		return 0, err
	}
	return f.File.Seek(fi.Size()+offset, io.SeekStart)
}

func (f *recFile) write(do func() (int, error)) (int, error) {
	var on func(string) error
	f.fs.get(func() { on = f.fs.onWrite })
	if on != nil {
		if err := on(f.Name()); err != nil {
			return 0, err
		}
	}
	n, err := do()
	if f.fs.o != nil {
		f.fs.o.wrote(f.osf, n, err)
	}
	return n, err
}

func (f *recFile) WriteAt(p []byte, off int64) (int, error) {
	return f.write(func() (int, error) { return f.File.WriteAt(p, off) })
}

func (f *recFile) Write(p []byte) (int, error) {
	return f.write(func() (int, error) { return f.File.Write(p) })
}

func (f *recFile) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

func (f *recFile) Sync() error {
	if f.byName() {
		return nil
	}
	s := tick()
	err := f.File.Sync()
	if err == nil && f.fs.o != nil {
		f.fs.o.synced(f.osf, span{s, tick()})
	}
	return err
}

func (f *recFile) Stat() (os.FileInfo, error) {
	if f.byName() {
		if _, err := f.File.Stat(); err != nil {
			return nil, err // closed
		}
		fi, err := f.fs.Fs.Stat(f.name)
		return f.fs.info(fi), err
	}
	fi, err := f.File.Stat()
	return f.fs.info(fi), err
}

func (f *recFile) Readdir(n int) ([]os.FileInfo, error) {
	fis, err := f.File.Readdir(n)
	for i := range fis {
		fis[i] = f.fs.info(fis[i])
	}
	var after func()
	f.fs.get(func() { after = f.fs.afterReaddir })
	if after != nil {
		after()
	}
	return fis, err
}

// TestOracle checks the oracle itself: it passes what was committed, and
// fails what was not, unless the file is gone or every file system was
// committed since.
func TestOracle(t *testing.T) {
	fs, _, o := newRecorded(t, "pool")
	dir := t.TempDir()
	name := dir + "/a"
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := o.Durable(o.Now(), o.Now(), nil); err != nil {
		t.Errorf("nothing written yet (buffered): %v", err)
	}
	if err := fs.Chtimes(name, time.Now(), time.Now()); err != nil { // writes, no commit
		t.Fatal(err)
	}
	if o.Durable(o.Now(), o.Now(), f) == nil {
		t.Error("written and not committed, and the oracle passes it")
	}
	start := o.Now()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := o.Durable(start, o.Now(), f); err != nil {
		t.Errorf("after File.Sync: %v", err)
	}
	if _, err := f.WriteAt([]byte("more"), 100); err != nil {
		t.Fatal(err)
	}
	if err := fs.Chtimes(name, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if o.Durable(o.Now(), o.Now(), nil) == nil {
		t.Error("written again and not committed, and the oracle passes it")
	}
	start = o.Now()
	if err := syncAll(); err != nil {
		t.Fatal(err)
	}
	if err := o.Durable(start, o.Now(), nil); err != nil {
		t.Errorf("after a commit of every file system: %v", err)
	}
	if _, err := f.WriteAt([]byte("again"), 200); err != nil {
		t.Fatal(err)
	}
	if err := fs.Chtimes(name, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	if err := o.Durable(o.Now(), o.Now(), nil); err != nil {
		t.Errorf("a file with no name left: %v", err)
	}
}

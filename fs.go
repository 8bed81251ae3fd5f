// Package aiofs is an afero.Fs over the operating system's files whose
// reads and writes run on one shared asynchronous I/O engine, with
// readahead prefetch and write-behind.
//
// Code written against afero switches by changing one line:
//
//	fs := aiofs.New() // instead of afero.NewOsFs()
//	defer fs.Close()
//
// # The model
//
// Path operations (open, stat, mkdir, rename, remove, readdir) call the
// operating system directly, as afero.OsFs does. The data of regular files
// (Read, ReadAt, Write, WriteAt, Sync) goes through an engine: io_uring on
// Linux, POSIX AIO with kqueue completions on FreeBSD, and a bounded pool
// of goroutines doing pread and pwrite everywhere else and whenever the
// platform engine is refused (old kernels, seccomp). With io_uring, a
// goroutine whose read waits for the disk blocks only itself, not an OS
// thread, so thousands of concurrent cold reads need a handful of threads.
// (Data the page cache holds is read directly, as are the first few cold
// reads at any moment, which saves them the ring's hand-offs; writes on
// file systems without asynchronous buffered writes, such as ext4, are made
// directly too, since the kernel would block a worker thread of its own on
// them.) The environment variable
// AIOFS_ENGINE (uring, kqueue or pool) picks the engine of every Fs made
// without WithEngine; Stats reports the engine in use and why a fallback
// happened.
//
// Every handle of a file in one Fs shares that file's state: a block cache
// bounded by WithCacheSize, filled by readahead when a handle reads
// sequentially (the window grows up to WithReadahead), and dirty blocks
// that Write fills and the engine writes behind, bounded by
// WithWriteBehind. Handles of the same Fs see each other's writes at once;
// other processes see them once flushed (Sync, Close, or a short delay),
// and this Fs sees other processes' changes when it next opens the file.
//
// # Errors
//
// Errors are those package os returns: *os.PathError with the same Op and
// the bare errno. A write that fails in the background is never dropped:
// every handle of the file that was open when it failed returns it from
// its next Write, WriteAt, Sync and Close, until one of its Syncs
// succeeds. The data stays dirty and Sync retries it.
//
// # Differences from afero.OsFs
//
// A Write of 256 KiB or more with nothing buffered goes straight to the
// file, as a read larger than the readahead window does. O_APPEND writes
// land at the end of the file as this Fs knows it,
// atomically with respect to other handles of the Fs but not to other
// processes. Written data reaches other processes only after it is
// flushed. File does not implement syscall.Conn, so net/http copies its
// data instead of using sendfile.
package aiofs

import (
	iofs "io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/afero"
)

// Fs is an afero.Fs over the OS filesystem. Its zero value is not usable;
// make one with New. Fs values are comparable and safe for concurrent use.
type Fs struct {
	cfg       config
	eng       engine
	ownEngine bool
	fallback  string
	closed    atomic.Bool

	// mu guards nodes and all block and dirty state of every node.
	mu    sync.Mutex
	room  sync.Cond // broadcast when blocks settle: dirty room, flushes and loads done
	nodes map[fileKey]*node
	cache cache
	// flushSeq counts ended flushes, so an open can tell whether one
	// ended while it ran.
	flushSeq atomic.Uint64

	st fsCounters
}

var (
	_ afero.Fs        = (*Fs)(nil)
	_ afero.Lstater   = (*Fs)(nil)
	_ afero.Symlinker = (*Fs)(nil)
)

// The process-wide engine used by every Fs made without WithEngine or
// WithQueueDepth, started on first use.
var shared struct {
	once     sync.Once
	eng      engine
	fallback error
}

func sharedEngine() (engine, error) {
	shared.once.Do(func() {
		shared.eng, shared.fallback = openEngine(os.Getenv("AIOFS_ENGINE"), 0)
	})
	return shared.eng, shared.fallback
}

// New returns an Fs over the operating system's files.
func New(opts ...Option) *Fs {
	fs := &Fs{cfg: defaultConfig(), nodes: make(map[fileKey]*node)}
	for _, o := range opts {
		o(&fs.cfg)
	}
	var fallback error
	if fs.cfg.engine != "" || fs.cfg.queueDepth != 0 {
		want := fs.cfg.engine
		if want == "" {
			want = os.Getenv("AIOFS_ENGINE")
		}
		fs.eng, fallback = openEngine(want, fs.cfg.queueDepth)
		fs.ownEngine = true
	} else {
		fs.eng, fallback = sharedEngine()
	}
	if fallback != nil {
		fs.fallback = fallback.Error()
	}
	if fs.cfg.wrap != nil {
		fs.eng = fs.cfg.wrap(fs.eng)
	}
	fs.room.L = &fs.mu
	fs.cache.init(fs.cfg.cacheSize)
	return fs
}

// Name returns "aiofs".
func (*Fs) Name() string { return "aiofs" }

// Create creates or truncates the named file, as os.Create.
func (fs *Fs) Create(name string) (afero.File, error) {
	return fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Open opens the named file for reading, as os.Open.
func (fs *Fs) Open(name string) (afero.File, error) {
	return fs.OpenFile(name, os.O_RDONLY, 0)
}

// OpenFile opens the named file with the given flags, as os.OpenFile.
func (fs *Fs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := fs.openFile(name, flag, perm)
	if err != nil {
		// A nil *File in an afero.File would not compare equal to nil.
		return nil, err
	}
	return f, nil
}

// Mkdir creates a directory, as os.Mkdir.
func (*Fs) Mkdir(name string, perm os.FileMode) error { return os.Mkdir(name, perm) }

// MkdirAll creates a directory and its parents, as os.MkdirAll.
func (*Fs) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }

// Remove removes a file or empty directory, as os.Remove. Handles open on
// a removed file keep working, and their buffered data goes to the
// removed file, not to a new one.
func (*Fs) Remove(name string) error { return os.Remove(name) }

// RemoveAll removes path and anything it contains, as os.RemoveAll.
func (*Fs) RemoveAll(path string) error { return os.RemoveAll(path) }

// Rename renames a file, as os.Rename. Buffered data follows the file.
func (*Fs) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// Stat returns the FileInfo of the named file, as os.Stat, with a size
// that includes data still buffered in this Fs.
func (fs *Fs) Stat(name string) (os.FileInfo, error) {
	return fs.stat(func() (os.FileInfo, error) { return os.Stat(name) }, fs.byName(name))
}

// stat calls osStat and corrects the size for buffered data of the node
// nodeOf finds. When a flush ends between the two, the first answer is
// stale and it asks again.
func (fs *Fs) stat(osStat func() (os.FileInfo, error), nodeOf func(os.FileInfo) *node) (os.FileInfo, error) {
	for try := 0; ; try++ {
		fi, err := osStat()
		if err != nil {
			return nil, err
		}
		bfi, stale := fs.bufferedInfo(fi, nodeOf)
		if !stale || try > 0 {
			return bfi, nil
		}
	}
}

// byName finds the node of the file name names; called with fs.mu held.
func (fs *Fs) byName(name string) func(os.FileInfo) *node {
	return func(fi os.FileInfo) *node { return fs.nodes[keyOf(name, fi)] }
}

// LstatIfPossible returns the FileInfo of the named file without following
// a final symbolic link, as os.Lstat. It always reports true.
func (fs *Fs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	fi, err := fs.stat(func() (os.FileInfo, error) { return os.Lstat(name) }, fs.byName(name))
	return fi, true, err
}

// SymlinkIfPossible creates newname as a symbolic link to oldname.
func (*Fs) SymlinkIfPossible(oldname, newname string) error {
	return os.Symlink(oldname, newname)
}

// ReadlinkIfPossible returns the destination of the named symbolic link.
func (*Fs) ReadlinkIfPossible(name string) (string, error) { return os.Readlink(name) }

// Chmod changes the mode of the named file, as os.Chmod.
func (*Fs) Chmod(name string, mode os.FileMode) error { return os.Chmod(name, mode) }

// Chown changes the owner of the named file, as os.Chown.
func (*Fs) Chown(name string, uid, gid int) error { return os.Chown(name, uid, gid) }

// Chtimes changes the access and modification times of the named file, as
// os.Chtimes. Buffered data is written first, so a later flush does not
// undo the new times.
func (fs *Fs) Chtimes(name string, atime, mtime time.Time) error {
	if fi, err := os.Stat(name); err == nil && fi.Mode().IsRegular() {
		if n := fs.lookup(name, fi); n != nil {
			// A failed flush is reported to the file's handles; the times
			// are still set, as the caller asked.
			fs.flushNode(n, false)
		}
	}
	return os.Chtimes(name, atime, mtime)
}

// Sync writes all data buffered by the Fs and commits the files it has
// open and written to stable storage. (Files already closed are as
// durable as os.File.Close leaves them.) It returns the first error met.
func (fs *Fs) Sync() error {
	var first error
	for _, n := range fs.nodesWhere((*node).unsynced) {
		if err := fs.flushNode(n, true); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close flushes all data the Fs buffers, then stops what the Fs started:
// its engine, when it has its own. Files of a closed Fs return
// fs.ErrClosed from then on for operations that need the engine; opening
// files fails. Close returns the first write error met.
func (fs *Fs) Close() error {
	if fs.closed.Swap(true) {
		return nil
	}
	var first error
	for _, n := range fs.nodesWhere((*node).authoritative) {
		if err := fs.flushNode(n, false); err != nil && first == nil {
			first = err
		}
	}
	if fs.ownEngine {
		if err := fs.eng.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// nodesWhere returns the nodes for which pred holds.
func (fs *Fs) nodesWhere(pred func(*node) bool) []*node {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var ns []*node
	for _, n := range fs.nodes {
		if pred(n) {
			ns = append(ns, n)
		}
	}
	return ns
}

// lookup returns the node of the file described by fi, or nil.
func (fs *Fs) lookup(name string, fi os.FileInfo) *node {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.nodes[keyOf(name, fi)]
}

// withBufferedSize returns fi with the size this Fs knows, which includes
// buffered writes.
func (fs *Fs) withBufferedSize(name string, fi os.FileInfo) os.FileInfo {
	fi, _ = fs.bufferedInfo(fi, fs.byName(name))
	return fi
}

// bufferedInfo returns fi with the size this Fs knows. It also reports
// whether fi may predate a flush that has since ended, because it is
// smaller than the size the Fs last knew while nothing is buffered.
func (fs *Fs) bufferedInfo(fi os.FileInfo, nodeOf func(os.FileInfo) *node) (os.FileInfo, bool) {
	if !fi.Mode().IsRegular() {
		return fi, false
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := nodeOf(fi)
	if n == nil || n.size == fi.Size() {
		return fi, false
	}
	if !n.authoritative() {
		return fi, n.size > fi.Size()
	}
	return sizedInfo{fi, n.size}, false
}

// sizedInfo is a FileInfo whose size includes buffered data.
type sizedInfo struct {
	os.FileInfo
	size int64
}

func (fi sizedInfo) Size() int64 { return fi.size }

// hasBuffered reports whether any file of the Fs has buffered writes.
// Called with fs.mu held.
func (fs *Fs) hasBuffered() bool {
	for _, n := range fs.nodes {
		if n.authoritative() {
			return true
		}
	}
	return false
}

// withBufferedSizes corrects the sizes of directory entries whose files
// have buffered writes.
func (fs *Fs) withBufferedSizes(dir string, fis []os.FileInfo) {
	fs.mu.Lock()
	buffered := fs.hasBuffered()
	fs.mu.Unlock()
	if !buffered {
		return
	}
	for i, fi := range fis {
		fis[i] = fs.withBufferedSize(filepath.Join(dir, fi.Name()), fi)
	}
}

// withBufferedEntries makes the entries' Info report sizes that include
// buffered writes.
func (fs *Fs) withBufferedEntries(dir string, des []iofs.DirEntry) {
	fs.mu.Lock()
	buffered := fs.hasBuffered()
	fs.mu.Unlock()
	if !buffered {
		return
	}
	for i, de := range des {
		if de.Type().IsRegular() {
			des[i] = bufferedEntry{de, fs, filepath.Join(dir, de.Name())}
		}
	}
}

type bufferedEntry struct {
	iofs.DirEntry
	fs   *Fs
	path string
}

func (e bufferedEntry) Info() (iofs.FileInfo, error) {
	fi, err := e.DirEntry.Info()
	if err != nil {
		return nil, err
	}
	return e.fs.withBufferedSize(e.path, fi), nil
}

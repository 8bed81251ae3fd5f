package aiofs

import (
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/afero"
)

// Fs is an afero.Fs over the OS filesystem (New) or over another afero.Fs
// (Wrap). Its zero value is not usable. An *Fs is safe for concurrent use.
type Fs struct {
	cfg       config
	base      afero.Fs // for path operations; afero.OsFs for New
	store     store    // what differs between New and Wrap
	eng       engine
	ownEngine bool
	fallback  string
	closed    atomic.Bool

	// mu guards the nodes and all they hold (see Locking in cache.go).
	mu         sync.Mutex
	room       sync.Cond // broadcast when blocks settle: dirty room, flushes and loads done
	nodes      map[fileKey]*node
	unnamedSeq uint64        // nodes unname has given keys of their own
	changedSeq atomic.Uint64 // changes the Fs made to its files (node.change)
	cache      cache
	// keptNodes are the closed files kept for Fs.Sync, up to keepBudget
	// by descriptor; owedAllSeq and doneAllSeq are generations of commits of
	// every file system owed and made (see commit.go).
	keptNodes              map[*node]struct{}
	keepBudget             int
	owedAllSeq, doneAllSeq uint64
	lost                   losses
	// flushSeq counts ended flushes, so an open can tell whether one
	// ended while it ran.
	flushSeq atomic.Uint64
	// seeks is how far lseek(2) is known to go on each device (limits.go).
	seeks deviceSeeks

	st fsCounters
}

var (
	_ afero.Fs        = (*Fs)(nil)
	_ afero.Lstater   = (*Fs)(nil)
	_ afero.Symlinker = (*Fs)(nil)
)

// The process-wide engine used by every Fs made by New without WithEngine
// or WithQueueDepth, started on first use.
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
	fs := newFs(afero.NewOsFs(), newOSStore(), opts)
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
	fs.start()
	return fs
}

// newFs returns an Fs over base and its store, configured by opts,
// without its engine.
func newFs(base afero.Fs, st store, opts []Option) *Fs {
	fs := &Fs{cfg: defaultConfig(), base: base, store: st, nodes: make(map[fileKey]*node), keepBudget: keepBudget()}
	for _, o := range opts {
		o(&fs.cfg)
	}
	return fs
}

// start finishes making fs once it has its engine.
func (fs *Fs) start() {
	if fs.cfg.engineHook != nil {
		fs.eng = fs.cfg.engineHook(fs.eng)
	}
	fs.room.L = &fs.mu
	fs.cache.init(fs.cfg.cacheSize, newBlockMem(fs))
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
func (fs *Fs) Mkdir(name string, perm os.FileMode) error { return fs.base.Mkdir(name, perm) }

// MkdirAll creates a directory and its parents, as os.MkdirAll.
func (fs *Fs) MkdirAll(path string, perm os.FileMode) error { return fs.base.MkdirAll(path, perm) }

// Remove removes a file or empty directory, as os.Remove. Handles open on
// a removed file keep working, and their buffered data goes to the
// removed file, not to a new one.
func (fs *Fs) Remove(name string) error {
	defer fs.store.lockNames()()
	kept := fs.keptUnder(name)
	err := fs.base.Remove(name)
	if err == nil {
		fs.removed(name, kept)
	}
	return err
}

// RemoveAll removes path and anything it contains, as os.RemoveAll.
func (fs *Fs) RemoveAll(path string) error {
	defer fs.store.lockNames()()
	kept := fs.keptUnder(path)
	err := fs.base.RemoveAll(path)
	fs.removed(path, kept) // what is gone needs no commit, even if some remains
	return err
}

// removed follows the removal of the files at or under name; kept are
// the closed files there that the Fs keeps for a commit.
func (fs *Fs) removed(name string, kept []*node) {
	fs.mu.Lock()
	fs.unname(name)
	fs.mu.Unlock()
	for _, n := range kept {
		fs.dropIfGone(n)
	}
}

// Rename renames a file, as os.Rename. Buffered data follows the file.
func (fs *Fs) Rename(oldname, newname string) error {
	defer fs.store.lockNames()()
	replaced := fs.keptUnder(newname)
	err := fs.base.Rename(oldname, newname)
	// A rename onto the same name changes nothing, and must not make the
	// file look replaced.
	if err == nil && fs.store.pathKey(oldname) != fs.store.pathKey(newname) {
		fs.mu.Lock()
		fs.renamed(oldname, newname)
		fs.mu.Unlock()
		for _, n := range replaced {
			fs.dropIfGone(n)
		}
	}
	return err
}

// Stat returns the FileInfo of the named file, as os.Stat, with a size
// that includes data still buffered in this Fs.
func (fs *Fs) Stat(name string) (os.FileInfo, error) {
	return fs.stat(func() (os.FileInfo, error) { return fs.base.Stat(name) }, fs.byName(name))
}

// LstatIfPossible returns the FileInfo of the named file without following
// a final symbolic link, as os.Lstat, and reports true, when the base can;
// otherwise it is Stat and reports false. New's Fs always can.
func (fs *Fs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	l, ok := fs.base.(afero.Lstater)
	if !ok {
		fi, err := fs.Stat(name)
		return fi, false, err
	}
	lstated := false
	fi, err := fs.stat(func() (os.FileInfo, error) {
		fi, ok, err := l.LstatIfPossible(name)
		lstated = ok
		return fi, err
	}, fs.byName(name))
	return fi, lstated, err
}

// SymlinkIfPossible creates newname as a symbolic link to oldname, or
// fails with afero.ErrNoSymlink when the base cannot.
func (fs *Fs) SymlinkIfPossible(oldname, newname string) error {
	if l, ok := fs.base.(afero.Linker); ok {
		return l.SymlinkIfPossible(oldname, newname)
	}
	return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: afero.ErrNoSymlink}
}

// ReadlinkIfPossible returns the destination of the named symbolic link,
// or fails with afero.ErrNoReadlink when the base cannot.
func (fs *Fs) ReadlinkIfPossible(name string) (string, error) {
	if l, ok := fs.base.(afero.LinkReader); ok {
		return l.ReadlinkIfPossible(name)
	}
	return "", &os.PathError{Op: "readlink", Path: name, Err: afero.ErrNoReadlink}
}

// Chmod changes the mode of the named file, as os.Chmod.
func (fs *Fs) Chmod(name string, mode os.FileMode) error {
	fs.changedByName(name)
	return fs.base.Chmod(name, mode)
}

// Chown changes the owner of the named file, as os.Chown.
func (fs *Fs) Chown(name string, uid, gid int) error {
	fs.changedByName(name)
	return fs.base.Chown(name, uid, gid)
}

// Chtimes changes the access and modification times of the named file, as
// os.Chtimes. Buffered data is written first, so a later flush does not
// undo the new times.
func (fs *Fs) Chtimes(name string, atime, mtime time.Time) error {
	if fi, err := fs.base.Stat(name); err == nil && fi.Mode().IsRegular() {
		if n := fs.lookup(name, fi); n != nil {
			// A failed flush is reported to the file's handles; the times
			// are still set, as the caller asked.
			n.flushNode()
		}
	}
	fs.changedByName(name)
	return fs.base.Chtimes(name, atime, mtime)
}

// Close flushes all data the Fs buffers, drops its cache, giving the
// memory back to the system, then stops what the Fs started: its engine,
// when it has its own. Files of a closed Fs return
// fs.ErrClosed from then on for operations that need the engine; opening
// files fails. Close returns the first write error met.
func (fs *Fs) Close() error {
	if fs.closed.Swap(true) {
		return nil
	}
	var first error
	for _, n := range fs.nodesWhere((*node).ahead) {
		if err := n.flushNode(); err != nil && first == nil {
			first = err
		}
	}
	fs.closeKept()
	fs.dropClean()
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
	return fs.nodes[fs.store.key(name, fi)]
}

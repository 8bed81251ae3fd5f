package aiofs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/spf13/afero"
	"github.com/spf13/afero/mem"
)

// Wrap returns an Fs that gives the files of base, any afero.Fs, the
// cache, readahead and write-behind of an Fs made by New.
//
// The data of its regular files moves through a bounded pool of
// goroutines, the "wrap" engine, that calls the base file's ReadAt,
// WriteAt and Sync, several at once per file, so that readahead windows
// and flushes overlap a remote base's latency. It relies on the promise of
// io.ReaderAt and io.WriterAt that parallel calls are safe; afero's
// MemMapFs files break it and are called one at a time, and a file whose
// ReadAt or WriteAt fails with errors.ErrUnsupported is served through
// Seek and Read or Write, one call at a time, from then on.
//
// Files are identified by the base's identity when its FileInfo carries
// one (OsFs and BasePathFs over it give a *syscall.Stat_t), so hard links,
// symbolic links and every spelling of one file share its state; otherwise
// by their path as the base resolves it, cleaned of "." but not of "..".
// Two spellings of such a path-keyed file (relative and absolute, through
// a symbolic link) then keep separate state, but two files never share
// one. Renames and removals through the Fs move or drop that state, as one
// step for the Fs's opens. The writers of such a file are taken to follow
// it, since flushes write through them; its readers need not (an object
// store's reads by name), so a reader open across the rename or removal
// reads through its base file once the Fs's pending writes are flushed,
// and nothing it reads is cached. Commits go through a writer when the
// file has one: a base may keep what a file wrote until that file's Sync.
// When a file is opened, a size or modification time other than the Fs
// last saw, as the base's Stat reports them, drops its cached blocks, so
// changes made behind the Fs's back are seen at the next Open
// (close-to-open, as NFS). Until then the Fs trusts what it saw plus its
// own changes: reads end where that size ends, and File.Stat answers with
// the Open's FileInfo while the Fs has not changed the file, without a
// round trip to the base.
//
// Path operations, directories, symbolic links (when base is an
// afero.Lstater, afero.Linker or afero.LinkReader), File.Name and the
// errors of the base are passed on as base gives them; a wrapped file's
// background write error is the base's, returned by Write, Sync or Close
// under the rules of write-behind. Files that are not regular are served
// by the base file. SyscallConn is not supported. WithEngine does not
// apply: the wrap engine is shared by every Fs made by Wrap without
// WithQueueDepth, which gives the Fs a pool of its own of that many
// goroutines. Stats reports the engine as "wrap".
func Wrap(base afero.Fs, opts ...Option) *Fs {
	fs := newFs(base, nil, opts)
	if fs.cfg.callTimeout > 0 {
		fs.base = newTimeoutFs(base, fs.cfg.callTimeout)
	}
	fs.store = &baseStore{base: fs.base}
	if fs.cfg.queueDepth != 0 {
		fs.eng = startPool("wrap", fs.cfg.queueDepth)
		fs.ownEngine = true
	} else {
		sharedWrap.once.Do(func() { sharedWrap.eng = startPool("wrap", defaultPoolWorkers) })
		fs.eng = sharedWrap.eng
	}
	fs.start()
	return fs
}

// The engine of every Fs made by Wrap without WithQueueDepth, started on
// first use.
var sharedWrap struct {
	once sync.Once
	eng  engine
}

// renamed follows a rename of oldname to newname, a file or a directory,
// just made in the base: files keyed by path move with their names, and
// a file newname replaced keeps its state for its open handles but is no
// longer found by name; closed files kept for a commit by identity
// follow under the name they are known by. Called with fs.mu held.
func (fs *Fs) renamed(oldname, newname string) {
	oldname, newname = fs.store.pathKey(oldname), fs.store.pathKey(newname)
	if fs.store.pathKeys() {
		fs.unname(newname)
		var moved []*node
		for key, n := range fs.nodes {
			if rest, ok := under(key.path, oldname); ok && key.path != "" {
				delete(fs.nodes, key)
				n.key = fileKey{path: newname + rest}
				n.name = n.key.path
				n.strayHandles()
				moved = append(moved, n)
			}
		}
		for _, n := range moved {
			fs.nodes[n.key] = n
		}
	}
	for n := range fs.keptNodes {
		if rest, ok := under(n.name, oldname); ok && n.key.path == "" {
			n.name = newname + rest
		}
	}
}

// unname makes the files keyed by path at or under name, just removed or
// replaced in the base, no longer found by name: their open handles keep
// their state, and a file created there later starts afresh. So are
// those whose path goes through "..": through a symbolic link, such a
// path may lead anywhere. Their nodes stay in fs.nodes under keys of
// their own (a serial number, no path), so that whatever goes over every
// node (Fs.Sync and Close, writers waiting for dirty room) still flushes
// them; once closed they need no commit. Called with fs.mu held.
func (fs *Fs) unname(name string) {
	if !fs.store.pathKeys() {
		return
	}
	name = fs.store.pathKey(name)
	var gone []*node
	for key, n := range fs.nodes {
		if key.path == "" {
			continue
		}
		if _, ok := under(key.path, name); ok || hasDotDot(key.path) {
			delete(fs.nodes, key)
			gone = append(gone, n)
		}
	}
	for _, n := range gone {
		fs.unnamedSeq++
		n.key = fileKey{unnamed: fs.unnamedSeq}
		n.strayHandles()
		fs.nodes[n.key] = n
		if len(n.handles) == 0 {
			n.committed(n.writeSeq) // gone: nothing left to commit
		}
	}
}

// strayHandles marks the node's open readers stray: the node follows the
// file to its new name (or loses its name), but their base files may not,
// so nothing read through them enters the node from now on. Writers are
// taken to follow, as flushes write through them (an object store's
// writer uploads to the new name); the node's clean blocks stay, as they
// hold the file's bytes. Called with fs.mu held.
func (n *node) strayHandles() {
	for h := range n.handles {
		if !h.writable {
			h.stray.Store(true)
		}
	}
}

// flushForStray writes the Fs's pending writes of the files a stray File's
// base file may reach before it is asked: its own file, which it reaches
// if it follows renames, and the file that has its name now, which it
// reaches if it reads by name. A flush that fails is reported as
// write-behind reports it (Write, Sync, Close), not to the stray File.
func (f *File) flushForStray() {
	fs := f.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f.n.flushLocked(nil)
	if n := fs.nodes[fileKey{path: fs.store.pathKey(f.name)}]; n != nil && n != f.n {
		n.flushLocked(nil)
	}
}

// unnamed reports whether the node's file was removed or replaced
// through a wrapped Fs (see unname).
func (n *node) unnamed() bool { return n.key.unnamed != 0 }

// keptUnder returns the closed files at or under name that the Fs keeps
// for a commit by a descriptor, by the names it last knew them by.
func (fs *Fs) keptUnder(name string) []*node {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.keptNodes) == 0 {
		return nil
	}
	name = fs.store.pathKey(name)
	var ns []*node
	for n := range fs.keptNodes {
		if _, ok := under(n.name, name); ok && n.keep != nil {
			ns = append(ns, n)
		}
	}
	return ns
}

// cleanPath returns name as a base resolves it, cleaned of "." elements and
// repeated or trailing separators but not of "..": through a symbolic
// link, "a/../b" is not "b".
func cleanPath(name string) string {
	sep := string(filepath.Separator)
	var b strings.Builder
	if strings.HasPrefix(name, sep) {
		b.WriteString(sep)
	}
	first := true
	for _, e := range strings.Split(name, sep) {
		if e == "" || e == "." {
			continue
		}
		if !first {
			b.WriteString(sep)
		}
		b.WriteString(e)
		first = false
	}
	if b.Len() == 0 {
		return "."
	}
	return b.String()
}

// under reports whether name is dir or inside it, and returns the rest.
func under(name, dir string) (string, bool) {
	if name == dir {
		return "", true
	}
	d := strings.TrimSuffix(dir, string(filepath.Separator)) + string(filepath.Separator)
	if rest, ok := strings.CutPrefix(name, d); ok {
		return string(filepath.Separator) + rest, true
	}
	return "", false
}

// hasDotDot reports whether path has a ".." element.
func hasDotDot(path string) bool {
	for _, e := range strings.Split(path, string(filepath.Separator)) {
		if e == ".." {
			return true
		}
	}
	return false
}

// saw records fi, the base's Stat at Open when the node's changes were
// at, for seenInfo. Called with fs.mu held.
func (f *File) saw(fi os.FileInfo, at uint64) { f.seen, f.seenSeq = fi, at }

// seenInfo returns what the base's Stat said of the file when f was
// opened, or nil if the Fs changed the file since, or is not wrapped.
func (f *File) seenInfo() os.FileInfo {
	if !f.fs.store.remote() {
		return nil
	}
	n := f.n
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if f.seen == nil || n.changedSeq != f.seenSeq || n.ahead() || f.seen.Size() != n.size {
		return nil
	}
	return f.seen
}

// changedByName notes that the Fs changed the metadata of the file name
// names (mode, owner, times), so that its recorded FileInfo is not used.
func (fs *Fs) changedByName(name string) {
	if !fs.store.remote() {
		return
	}
	key := fileKey{path: cleanPath(name)}
	if !fs.store.pathKeys() {
		fi, err := fs.base.Stat(name)
		if err != nil {
			return
		}
		key = fs.store.key(name, fi)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n := fs.nodes[key]; n != nil {
		n.change()
	}
}

// A baseFile is a wrapped Fs's base file as the engine calls it: with
// ReadAt and WriteAt in parallel, or one call at a time where the base
// file cannot take parallel ones.
type baseFile struct {
	afero.File
	serial  bool        // ReadAt and WriteAt are unsafe in parallel
	seeking atomic.Bool // ReadAt or WriteAt is unsupported: use Seek
	mu      sync.Mutex  // held by each call when serial or seeking
}

// newBaseFile returns f as the engine calls it.
func newBaseFile(f afero.File) *baseFile {
	return &baseFile{File: f, serial: serialOnly(f)}
}

// osFileUnder returns the *os.File a base file is, or wraps, or nil.
func osFileUnder(f afero.File) *os.File {
	for {
		switch t := f.(type) {
		case *os.File:
			return t
		case *baseFile:
			f = t.File
		case *afero.BasePathFile:
			f = t.File
		default:
			return nil
		}
	}
}

// serialOnly reports whether f is known to break io.ReaderAt's promise:
// afero's in-memory files implement ReadAt and WriteAt by moving the
// handle's offset.
func serialOnly(f afero.File) bool {
	for {
		switch t := f.(type) {
		case *mem.File:
			return true
		case *afero.BasePathFile:
			f = t.File
		case *timeoutFile:
			f = t.File
		default:
			return false
		}
	}
}

func (f *baseFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.call(func() (int, error) { return f.File.ReadAt(p, off) }, func() (int, error) {
		n, err := io.ReadFull(f.File, p)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return n, err
	}, off)
	if f.serial && err == io.ErrUnexpectedEOF {
		// afero's mem.File so reports a read that starts past its end,
		// as in a hole before data the Fs has not yet written.
		err = io.EOF
	}
	return n, err
}

func (f *baseFile) WriteAt(p []byte, off int64) (int, error) {
	return f.call(func() (int, error) { return f.File.WriteAt(p, off) }, func() (int, error) {
		return f.File.Write(p)
	}, off)
}

// seekable reports, as the base file's Seek does, whether the base file
// may be read or written at pos, and leaves its offset where it was: the
// engine's where calls go through it (so the check holds mu), and the
// File's refused calls' otherwise.
func (f *baseFile) seekable(pos int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, err := f.File.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := f.File.Seek(pos, io.SeekStart); err != nil {
		return err
	}
	_, err = f.File.Seek(cur, io.SeekStart)
	return err
}

// call runs at, the base file's ReadAt or WriteAt, as f allows: in
// parallel with others, or alone. Once at fails as unsupported, it runs
// instead at off through the base file's offset.
func (f *baseFile) call(at, atOffset func() (int, error), off int64) (int, error) {
	if !f.serial && !f.seeking.Load() {
		if n, err := at(); !errors.Is(err, errors.ErrUnsupported) {
			return n, err
		}
		f.seeking.Store(true)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.seeking.Load() {
		if n, err := at(); !errors.Is(err, errors.ErrUnsupported) {
			return n, err
		}
		f.seeking.Store(true)
	}
	if _, err := f.File.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return atOffset()
}

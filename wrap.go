package aiofs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
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
// Files are identified by their cleaned path in the base: two names of
// one file (a relative and an absolute one, or hard links) get separate
// state. Renames and removals through the Fs move or drop that state.
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
	fs := newFs(base, true, opts)
	if fs.cfg.callTimeout > 0 {
		fs.base = newTimeoutFs(base, fs.cfg.callTimeout)
	}
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

// rename moves the state of the files at or under oldname to newname,
// just renamed in the base; a file newname replaced keeps its state for
// its open handles but is no longer found by name. Called with fs.mu held,
// in a wrapped Fs.
func (fs *Fs) rename(oldname, newname string) {
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	fs.unname(newname)
	var moved []*node
	for key, n := range fs.nodes {
		if rest, ok := under(key.path, oldname); ok {
			delete(fs.nodes, key)
			n.key = fileKey{path: newname + rest}
			moved = append(moved, n)
		}
	}
	for _, n := range moved {
		fs.nodes[n.key] = n
	}
}

// unname makes the files at or under name, just removed or replaced in the
// base, no longer found by name: their open handles keep their state, and
// a file created there later starts afresh. Their nodes stay in fs.nodes
// under keys of their own (a serial number, no path), so that whatever
// goes over every node (Fs.Sync and Close, writers waiting for dirty
// room) still flushes them. Called with fs.mu held, in a wrapped Fs.
func (fs *Fs) unname(name string) {
	name = filepath.Clean(name)
	var gone []*node
	for key, n := range fs.nodes {
		if _, ok := under(key.path, name); ok {
			delete(fs.nodes, key)
			gone = append(gone, n)
		}
	}
	for _, n := range gone {
		fs.unnamed++
		n.key = fileKey{gone: fs.unnamed}
		fs.nodes[n.key] = n
	}
}

// nameless reports whether the node's file was removed or replaced
// through a wrapped Fs (see unname).
func (n *node) nameless() bool { return n.key.gone != 0 }

// seenInfo returns what the base's Stat said of the file when f was
// opened, or nil if the Fs changed the file since, or is not wrapped.
func (f *File) seenInfo() os.FileInfo {
	if !f.fs.wrapped {
		return nil
	}
	n := f.n
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if f.seen == nil || n.changes != f.seenAt || n.authoritative() || f.seen.Size() != n.size {
		return nil
	}
	return f.seen
}

// changedByName notes that the Fs changed the metadata of the file name
// names (mode, owner, times), so that its recorded FileInfo is not used.
func (fs *Fs) changedByName(name string) {
	if !fs.wrapped {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n := fs.nodes[fileKey{path: filepath.Clean(name)}]; n != nil {
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

package aiofs

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/spf13/afero"
)

// A store is where an Fs's files are, and says in one place what differs
// between the two kinds of Fs. New's files are the OS's (osStore): opened
// as package os opens them, known by device and inode, read and written
// through descriptors that the engines share with the page cache. Wrap's
// are a base afero.Fs's (baseStore): opened through the base, known by
// the identity its FileInfo carries, and reached by calls that may each
// cost a round trip.
//
// Where a file has no identity to be known by (a base whose FileInfo
// carries none, or an OS without inode numbers), a store keys it by its
// path instead, and the Fs moves such keys as renames and removals
// through it move the files (see Fs.renamed, Fs.unname).
type store interface {
	// open opens name for a File, without O_APPEND (see Fs.openFile).
	open(name string, flag int, perm os.FileMode) (afero.File, error)
	// dataFile returns what the engine reads and writes of bf.
	dataFile(bf afero.File) afero.File
	// key returns the key of the file named name, described by fi.
	key(name string, fi os.FileInfo) fileKey
	// pathKey returns name as a key by path spells it.
	pathKey(name string) string
	// pathKeys reports whether files may be keyed by path.
	pathKeys() bool
	// lockNames makes a namespace change and the move of the keys it
	// affects one step for opens, which hold rlockNames, while files may
	// be keyed by path; each returns its unlock.
	lockNames() (unlock func())
	rlockNames() (unlock func())
	// syncAll commits every file system, where there is a call for it.
	syncAll() error
	// pathErr returns err, met by op on the file named name, as the Fs
	// reports it.
	pathErr(op, name string, err error) error
	// remote reports whether every call to a file may cost a round trip.
	// The Fs then spares what calls it can: it trusts the size it saw at
	// Open plus its own changes (close-to-open), reads cached blocks even
	// when the file would serve as well, counts every miss for admission
	// to the hot set, buffers large writes too, and never skips a first
	// window. And it leaves it to the base to judge a call that misuses
	// a handle (its access mode, an offset, after Close), for the base's
	// own error, and names a File as the base file does.
	remote() bool
}

// pathNames is the part of a store that keys files by path while they
// have no identity.
type pathNames struct {
	// identified is set once files are known to carry an identity: they
	// are keyed by it, not by path, from then on.
	identified atomic.Bool
	// names is held shared by opens, and exclusively by namespace changes,
	// while files may be keyed by path: an Open between the base's rename
	// and the move of the keys would give the file a second state.
	names sync.RWMutex
}

func (p *pathNames) pathKeys() bool { return !p.identified.Load() }

// lockNames takes no lock for files known by identity, whose keys never
// move: an Open of a FIFO, which blocks, must not hold it once the store
// is seen to give identities.
func (p *pathNames) lockNames() (unlock func()) {
	if p.identified.Load() {
		return func() {}
	}
	p.names.Lock()
	return p.names.Unlock
}

func (p *pathNames) rlockNames() (unlock func()) {
	if p.identified.Load() {
		return func() {}
	}
	p.names.RLock()
	return p.names.RUnlock
}

// osStore is the store of an Fs made by New.
type osStore struct{ pathNames }

// newOSStore returns the OS's store: files are known by device and inode
// where the OS has them.
func newOSStore() *osStore {
	s := &osStore{}
	s.identified.Store(identifiesFiles)
	return s
}

func (*osStore) open(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := openOS(name, flag, perm)
	if err != nil {
		return nil, err // no *os.File in the interface
	}
	return f, nil
}

func (*osStore) dataFile(bf afero.File) afero.File { return osFile(bf) }

func (s *osStore) key(name string, fi os.FileInfo) fileKey {
	if s.identified.Load() {
		if k, ok := identityOf(fi); ok {
			return k
		}
	}
	return fileKey{path: s.pathKey(name)}
}

// pathKey is the absolute path, cleaned as the OS resolves it, where the
// OS keys files by path (Windows resolves ".." lexically); where it knows
// them by identity, the names of kept files are compared as cleanPath
// spells them.
func (s *osStore) pathKey(name string) string {
	if s.identified.Load() {
		return cleanPath(name)
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return filepath.Clean(name)
	}
	return abs
}

func (*osStore) syncAll() error { return syncAll() }
func (*osStore) remote() bool   { return false }

// pathErr puts err in an *os.PathError with its bare errno, as package
// os does.
func (*osStore) pathErr(op, name string, err error) error {
	return &os.PathError{Op: op, Path: name, Err: bareErr(err)}
}

// baseStore is the store of an Fs made by Wrap.
type baseStore struct {
	base afero.Fs
	pathNames
}

// open opens name through the base's own Open and Create when the flags
// are theirs, so that errors name the operation as the base's own do
// ("open", "create").
func (s *baseStore) open(name string, flag int, perm os.FileMode) (afero.File, error) {
	switch {
	case flag == os.O_RDONLY:
		return s.base.Open(name)
	case flag == os.O_RDWR|os.O_CREATE|os.O_TRUNC && perm == 0o666:
		return s.base.Create(name)
	}
	return s.base.OpenFile(name, flag, perm)
}

func (s *baseStore) dataFile(bf afero.File) afero.File { return newBaseFile(bf) }

// key is the identity the base's FileInfo carries, or else the path as
// the base will resolve it.
func (s *baseStore) key(name string, fi os.FileInfo) fileKey {
	if k, ok := identityOf(fi); ok {
		s.identified.Store(true)
		return k
	}
	return fileKey{path: s.pathKey(name)}
}

// pathKey is name cleaned as a base resolves it (cleanPath).
func (s *baseStore) pathKey(name string) string { return cleanPath(name) }

// syncAll fails: a base has no sync(2).
func (s *baseStore) syncAll() error { return errTooManyUnsynced }

func (s *baseStore) remote() bool { return true }

// pathErr passes the base's own errors on as the base gave them; errnos
// and ErrClosed, which are the Fs's own, go in an *os.PathError.
func (s *baseStore) pathErr(op, name string, err error) error {
	if !isErrno(err) && err != os.ErrClosed {
		return err
	}
	return &os.PathError{Op: op, Path: name, Err: bareErr(err)}
}

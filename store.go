package aiofs

import (
	"os"
	"sync"
	"sync/atomic"

	"github.com/spf13/afero"
)

// A store is where an Fs's files are, and says in one place what differs
// between the two kinds of Fs. New's files are the OS's (osStore): opened
// as package os opens them, known by device and inode, read and written
// through descriptors that the engines share with the page cache. Wrap's
// are a base afero.Fs's (baseStore): opened through the base, known by
// the identity its FileInfo carries or else by path, and reached by calls
// that may each cost a round trip.
type store interface {
	// open opens name for a File, without O_APPEND (see Fs.openFile).
	open(name string, flag int, perm os.FileMode) (afero.File, error)
	// dataFile returns what the engine reads and writes of bf.
	dataFile(bf afero.File) afero.File
	// key returns the key of the file named name, described by fi.
	key(name string, fi os.FileInfo) fileKey
	// pathKeys reports whether files may be keyed by path, and so need
	// their keys moved by renames and removals (see Fs.renamed).
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
	// own error.
	remote() bool
}

// osStore is the store of an Fs made by New.
type osStore struct{}

func (osStore) open(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := openOS(name, flag, perm)
	if err != nil {
		return nil, err // no *os.File in the interface
	}
	return f, nil
}

func (osStore) dataFile(bf afero.File) afero.File { return osFile(bf) }

func (osStore) key(name string, fi os.FileInfo) fileKey { return keyOf(name, fi) }

func (osStore) pathKeys() bool              { return false }
func (osStore) lockNames() (unlock func())  { return func() {} }
func (osStore) rlockNames() (unlock func()) { return func() {} }
func (osStore) syncAll() error              { return syncAll() }
func (osStore) remote() bool                { return false }

// pathErr puts err in an *os.PathError with its bare errno, as package
// os does.
func (osStore) pathErr(op, name string, err error) error {
	return &os.PathError{Op: op, Path: name, Err: bareErr(err)}
}

// baseStore is the store of an Fs made by Wrap.
type baseStore struct {
	base afero.Fs
	// identified is set once the base's FileInfo carried a file identity:
	// its files are keyed by it, not by path, from then on.
	identified atomic.Bool
	// names is held shared by opens, and exclusively by namespace changes,
	// while files may be keyed by path.
	names sync.RWMutex
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
// the base will resolve it (cleanPath).
func (s *baseStore) key(name string, fi os.FileInfo) fileKey {
	if k, ok := identityOf(fi); ok {
		s.identified.Store(true)
		return k
	}
	return fileKey{path: cleanPath(name)}
}

func (s *baseStore) pathKeys() bool { return !s.identified.Load() }

// lockNames: an Open between the base's rename and the move of the keys
// would give the file a second state. Files known by identity need no
// such lock, and an Open of a FIFO, which blocks, must not hold it once
// the base is seen to give one.
func (s *baseStore) lockNames() (unlock func()) {
	if s.identified.Load() {
		return func() {}
	}
	s.names.Lock()
	return s.names.Unlock
}

func (s *baseStore) rlockNames() (unlock func()) {
	if s.identified.Load() {
		return func() {}
	}
	s.names.RLock()
	return s.names.RUnlock
}

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

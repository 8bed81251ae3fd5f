package aiofs

import (
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/afero"
)

// Sizes that include buffered data, for Stat, Seek and directory listings.

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
	return func(fi os.FileInfo) *node { return fs.nodes[fs.store.key(name, fi)] }
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
	if !n.ahead() {
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

// entryInfo returns fi, the FileInfo of the directory entry path (an
// Lstat), with the size this Fs knows, which includes buffered writes.
// When a change of the Fs ended since fi was taken, fi may be stale, and
// the entry is asked again.
func (fs *Fs) entryInfo(path string, fi os.FileInfo) os.FileInfo {
	bfi, stale := fs.bufferedInfo(fi, fs.byName(path))
	if !stale {
		return bfi
	}
	if fi, _, err := fs.lstatBase(path); err == nil {
		bfi, _ = fs.bufferedInfo(fi, fs.byName(path))
	}
	return bfi
}

// lstatBase is the base's Lstat, or its Stat where it has none.
func (fs *Fs) lstatBase(name string) (os.FileInfo, bool, error) {
	if l, ok := fs.base.(afero.Lstater); ok {
		return l.LstatIfPossible(name)
	}
	fi, err := fs.base.Stat(name)
	return fi, false, err
}

// withBufferedSizes corrects the sizes of directory entries of dir whose
// files the Fs knows. Every entry is looked at, not only while something
// is buffered: a base may have read the entries before data it now holds
// was flushed (a Readdir in batches).
func (fs *Fs) withBufferedSizes(dir string, fis []os.FileInfo) {
	fs.mu.Lock()
	none := len(fs.nodes) == 0
	fs.mu.Unlock()
	if none {
		return
	}
	for i, fi := range fis {
		fis[i] = fs.entryInfo(entryPath(dir, fi.Name()), fi)
	}
}

// withBufferedEntries makes the entries' Info report sizes that include
// buffered writes, at the time Info is called.
func (fs *Fs) withBufferedEntries(dir string, des []iofs.DirEntry) {
	for i, de := range des {
		if de.Type().IsRegular() {
			des[i] = bufferedEntry{de, fs, entryPath(dir, de.Name())}
		}
	}
}

// entryPath joins a directory and an entry's name, without cleaning the
// directory of "..", which a base keyed by path must not lose.
func entryPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return strings.TrimSuffix(dir, string(filepath.Separator)) + string(filepath.Separator) + name
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
	return e.fs.entryInfo(e.path, fi), nil
}

// bufferedSize returns the node's size when it says where the file ends.
func (n *node) bufferedSize() (int64, bool) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	return n.size, n.knowsSize()
}

// size returns the file's size including buffered data.
func (f *File) size() (int64, error) {
	if size, ok := f.n.bufferedSize(); ok {
		return size, nil
	}
	fi, err := f.bf.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

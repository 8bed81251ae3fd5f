//go:build !unix

package aiofs

import "os"

// fileKey identifies a file. Without device and inode numbers its path
// stands in (see store.pathKey), so two names of one file get separate
// state; a file removed or replaced through the Fs is known by a serial
// number instead (unnamed, see unname).
type fileKey struct {
	path    string
	unnamed uint64
}

// identifiesFiles says that the OS's FileInfo carries no file identity:
// files are keyed by path.
const identifiesFiles = false

// identityOf reports false: FileInfo carries no file identity here.
func identityOf(os.FileInfo) (fileKey, bool) { return fileKey{}, false }

// setAppend does nothing: O_APPEND only matters for regular files here.
func setAppend(*os.File) error { return nil }

// pwrite writes b at off with os.File.WriteAt, which reports no count when
// a part fails.
func pwrite(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }

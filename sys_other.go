//go:build !unix

package aiofs

import (
	"os"
	"path/filepath"
)

// fileKey identifies a file. Without device and inode numbers the cleaned
// absolute path stands in, so two names of one file get separate state.
// In an Fs made by Wrap, a file removed or replaced through the Fs is
// known by a serial number instead (gone, see unname).
type fileKey struct {
	path string
	gone uint64
}

func keyOf(name string, _ os.FileInfo) fileKey {
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	return fileKey{path: abs}
}

// identityOf reports false: FileInfo carries no file identity here.
func identityOf(os.FileInfo) (fileKey, bool) { return fileKey{}, false }

// setAppend does nothing: O_APPEND only matters for regular files here.
func setAppend(*os.File) error { return nil }

// pwrite writes b at off with os.File.WriteAt, which reports no count when
// a part fails.
func pwrite(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }

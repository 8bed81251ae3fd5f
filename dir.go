package aiofs

import (
	"io/fs"
	"os"
)

// A File of a directory is served by the file underneath; only the sizes
// of the entries the Fs buffers data for are its own (see stat.go).

// Readdir reads the directory's entries, as os.File.Readdir.
func (f *File) Readdir(count int) ([]os.FileInfo, error) {
	fis, err := f.bf.Readdir(count)
	f.fs.withBufferedSizes(f.name, fis)
	return fis, err
}

// Readdirnames reads the directory's entry names, as os.File.Readdirnames.
func (f *File) Readdirnames(n int) ([]string, error) { return f.bf.Readdirnames(n) }

// ReadDir reads the directory's entries, as os.File.ReadDir.
func (f *File) ReadDir(n int) ([]fs.DirEntry, error) {
	des, err := f.readDir(n)
	f.fs.withBufferedEntries(f.name, des)
	return des, err
}

// readDir is ReadDir of the file underneath, made from Readdir for a base
// file without one.
func (f *File) readDir(n int) ([]fs.DirEntry, error) {
	if rd, ok := f.bf.(fs.ReadDirFile); ok {
		return rd.ReadDir(n)
	}
	fis, err := f.bf.Readdir(n)
	des := make([]fs.DirEntry, len(fis))
	for i, fi := range fis {
		des[i] = fs.FileInfoToDirEntry(fi)
	}
	return des, err
}

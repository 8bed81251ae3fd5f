package main

import (
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
)

// hideDotFiles is an http.FileSystem that serves neither files nor
// directories whose names begin with a dot (.git, .env, .ssh), and leaves
// them out of directory listings: a directory served as is often holds
// them, and they are rarely meant for the web.
type hideDotFiles struct{ http.FileSystem }

func (h hideDotFiles) Open(name string) (http.File, error) {
	if hasDotPart(name) {
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := h.FileSystem.Open(name)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return dotlessDir{f}, nil
	}
	// Files are handed on unwrapped, so that net/http still sees their
	// syscall.Conn and sends them with sendfile.
	return f, nil
}

// hasDotPart reports whether a path element of name begins with a dot.
func hasDotPart(name string) bool {
	for part := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(part, ".") && part != "." {
			return true
		}
	}
	return false
}

// dotlessDir is a directory whose listing leaves out dot-files.
type dotlessDir struct{ http.File }

func (d dotlessDir) Readdir(n int) ([]fs.FileInfo, error) {
	for {
		fis, err := d.File.Readdir(n)
		fis = slices.DeleteFunc(fis, func(fi fs.FileInfo) bool { return strings.HasPrefix(fi.Name(), ".") })
		// A batch of only dot-files must not read as the end of the
		// directory.
		if len(fis) > 0 || err != nil || n <= 0 {
			return fis, err
		}
	}
}

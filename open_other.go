//go:build !linux && !freebsd

package aiofs

import "os"

// openOS opens name as os.OpenFile does.
func openOS(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}

// asOpened returns f: os.OpenFile made it.
func asOpened(f *os.File) (*os.File, error) { return f, nil }

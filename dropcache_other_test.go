//go:build !linux && !freebsd

package aiofs

import "os"

// dropCache does nothing here: there is no portable way to drop cached
// pages, and the tests that call it only run less of it cold.
func dropCache(f *os.File, off, n int64) {}

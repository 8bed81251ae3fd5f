//go:build !linux

package aiofs

import "os"

// seekAccepts reports true: FreeBSD's lseek(2) takes any offset on a
// regular file (measured), and elsewhere the OS judges each write where
// it lands.
func seekAccepts(*os.File, int64) bool { return true }

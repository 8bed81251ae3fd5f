//go:build !linux

package aiofs

import "os"

// deviceSeeks has nothing to remember: FreeBSD's lseek(2) takes any
// offset on a regular file (measured), and elsewhere the OS judges each
// write where it lands.
type deviceSeeks struct{}

// accepts reports true (see deviceSeeks).
func (*deviceSeeks) accepts(fileKey, *os.File, int64) bool { return true }

//go:build unix

package aiofs_test

import "syscall"

// benchSettle writes out what the file systems hold dirty, so that a
// benchmark does not pay for the writes of the one before.
func benchSettle() { syscall.Sync() }

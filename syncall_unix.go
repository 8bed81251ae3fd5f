//go:build unix

package aiofs

import "syscall"

// syncAll commits every file system, for files Fs.Sync can no longer name.
// A variable, so that the tests' durability oracle sees each call.
var syncAll = func() error {
	syscall.Sync()
	return nil
}

//go:build unix

package s3test

import "syscall"

// sysProcAttr puts weed in a process group of its own, so that a
// terminal's signals reach the test, which stops weed, and not weed.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

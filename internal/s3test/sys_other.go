//go:build !unix

package s3test

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

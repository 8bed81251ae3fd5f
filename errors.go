package aiofs

import (
	"errors"
	"os"
	"syscall"
)

// bareErr strips the *os.PathError that package os puts around an errno,
// so that the File can add its own with its own Op and name.
func bareErr(err error) error {
	if err == nil {
		return nil // spares the allocation of pe, which escapes
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isErrno reports whether err is a bare errno, as the engines of the OS and
// the File's own checks return them.
func isErrno(err error) bool {
	_, ok := err.(syscall.Errno)
	return ok
}

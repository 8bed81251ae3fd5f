package aiofs

import (
	"errors"
	"os"
)

// bareErr strips the *os.PathError that package os puts around an errno,
// so that the File can add its own with its own Op and name.
func bareErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

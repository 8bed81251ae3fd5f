//go:build !unix

package aiofs_test

import "os"

func umask() os.FileMode { return 0 }

//go:build !linux && !freebsd

package aiofs

import "os"

// onPseudoFS reports false: this system's pseudo-files are not known.
func onPseudoFS(*os.File, os.FileInfo) bool { return false }

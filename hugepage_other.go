//go:build !linux

package aiofs

// adviseHugePages is Linux's advice; elsewhere memory stays as it is.
func adviseHugePages([]byte) {}

//go:build !linux

package main

import (
	"errors"
	"runtime"
)

func dropCaches() error {
	return errors.New("dropping the page cache is implemented for Linux only, not " + runtime.GOOS)
}

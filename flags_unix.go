//go:build unix && !freebsd && !linux

package aiofs

import "golang.org/x/sys/unix"

const (
	// dsyncFlag is the open flag besides O_SYNC that makes writes durable
	// when they return; such handles write through.
	dsyncFlag = unix.O_DSYNC
	// directFlag is zero: there is no O_DIRECT here.
	directFlag = 0
)

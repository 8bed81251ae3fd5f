//go:build unix && !freebsd

package aiofs

import "golang.org/x/sys/unix"

// dsyncFlag is the open flag besides O_SYNC that makes writes durable when
// they return; such handles write through.
const dsyncFlag = unix.O_DSYNC

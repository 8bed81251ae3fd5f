package aiofs

import "golang.org/x/sys/unix"

const (
	// dsyncFlag is the open flag besides O_SYNC that makes writes durable
	// when they return; such handles write through.
	dsyncFlag = unix.O_DSYNC
	// directFlag is O_DIRECT: such handles write through, since their
	// buffers must be aligned, and flushes of other handles' data never
	// use them.
	directFlag = unix.O_DIRECT
)

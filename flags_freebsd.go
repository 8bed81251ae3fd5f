package aiofs

import "golang.org/x/sys/unix"

const (
	// dsyncFlag is FreeBSD's O_DSYNC (sys/fcntl.h, since 13.0), which
	// golang.org/x/sys/unix does not define; such handles write through.
	dsyncFlag = 0x01000000
	// directFlag is O_DIRECT: such handles write through, and flushes of
	// other handles' data never use them.
	directFlag = unix.O_DIRECT
)

package aiofs

// dsyncFlag is FreeBSD's O_DSYNC (sys/fcntl.h, since 13.0), which
// golang.org/x/sys/unix does not define; such handles write through.
const dsyncFlag = 0x01000000

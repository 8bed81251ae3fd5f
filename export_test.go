package aiofs

// DsyncFlag is O_DSYNC for the external tests: package syscall does not
// name it on every system.
const DsyncFlag = dsyncFlag

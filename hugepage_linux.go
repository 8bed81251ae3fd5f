package aiofs

import "golang.org/x/sys/unix"

// adviseHugePages asks the kernel to back mem with huge pages where it
// can (the 2 MiB-aligned stretches of it). Advice only: without
// transparent huge pages, mem works as it is.
func adviseHugePages(mem []byte) { unix.Madvise(mem, unix.MADV_HUGEPAGE) }

//go:build unix && !race

package aiofs

import "golang.org/x/sys/unix"

// mapMem maps size bytes of zeroed memory outside the Go heap, or, if the
// system refuses (out of mappings), allocates them in the heap; mapped
// says which.
func mapMem(size int) (mem []byte, mapped bool) {
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]byte, size), false
	}
	return mem, true
}

// dropPages gives mem's pages back to the system; mem reads as zeros
// after. mem is free memory from mapMem, page-aligned.
func dropPages(mem []byte) { unix.Madvise(mem, unix.MADV_DONTNEED) }

// unmapMem unmaps what mapMem mapped.
func unmapMem(mem []byte) { unix.Munmap(mem) }

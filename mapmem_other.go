//go:build !unix || race

package aiofs

// mapMem allocates size bytes in the Go heap: where there is no mmap, and
// under the race detector, which checks accesses to the Go heap only, so
// that it sees every access to block bytes.
func mapMem(size int) (mem []byte, mapped bool) { return make([]byte, size), false }

// dropPages leaves heap memory to the collector.
func dropPages([]byte) {}

// unmapMem is never called: mapMem maps nothing here.
func unmapMem([]byte) {}

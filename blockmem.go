package aiofs

import (
	"runtime"
	"sync"
)

// Block memory. The bytes of an Fs's blocks and of its hot arena lie
// outside the Go heap, in memory the Fs maps for itself (where the system
// allows; see mapMem): Go's collector lets the heap grow to about twice
// what is live in it before collecting, so a cache kept in the heap would
// cost a process up to twice its bound, and would let the garbage of a
// network client beside it grow by as much again. Outside the heap it
// costs what it holds.
//
// Buffers are reused through a free list. An open Fs keeps what it held at
// its busiest, which its cache and write-behind bounds bound; Fs.Close
// drops the clean blocks and gives the free buffers' pages back (trim).
// The mappings themselves go once the Fs is unreachable, not before:
// whatever reads or writes a block's bytes holds its node, which holds
// the Fs.

// chunkBlocks is how many buffers one mapping holds: few enough that an
// Fs reading a small file maps little, enough that mappings stay few.
const chunkBlocks = 16

// blockMem hands out an Fs's block-sized buffers. Its own mutex guards it,
// so that it may be called with or without fs.mu.
type blockMem struct {
	mu   sync.Mutex
	free []*[blockSize]byte
	maps [][]byte // what mapMem mapped, for unmap
	out  int      // buffers handed out and not yet put back
}

// newBlockMem returns the block memory of fs, unmapped when fs is
// collected.
func newBlockMem(fs *Fs) *blockMem {
	m := new(blockMem)
	runtime.AddCleanup(fs, (*blockMem).unmap, m)
	return m
}

// get returns a buffer for a block. Its bytes are left as the last user
// left them.
func (m *blockMem) get() *[blockSize]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.free) == 0 {
		mem := m.mapLocked(chunkBlocks * blockSize)
		for i := chunkBlocks - 1; i >= 0; i-- {
			m.free = append(m.free, (*[blockSize]byte)(mem[i*blockSize:]))
		}
	}
	b := m.free[len(m.free)-1]
	m.free = m.free[:len(m.free)-1]
	m.out++
	return b
}

// put takes back a buffer from get that nothing will use again.
func (m *blockMem) put(b *[blockSize]byte) {
	m.mu.Lock()
	m.free = append(m.free, b)
	m.out--
	m.mu.Unlock()
}

// region returns size bytes of zeroed memory that live as long as m.
func (m *blockMem) region(size int) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mapLocked(size)
}

// mapLocked is region with m.mu held.
func (m *blockMem) mapLocked(size int) []byte {
	mem, mapped := mapMem(size)
	if mapped {
		m.maps = append(m.maps, mem)
	}
	return mem
}

// trim gives the memory of m's free buffers back to the system, keeping
// the mappings: a buffer used again reads as zeros.
func (m *blockMem) trim() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.free {
		dropPages(b[:])
	}
}

// unmap gives m's mappings back to the system, once nothing can use them.
func (m *blockMem) unmap() {
	for _, mem := range m.maps {
		unmapMem(mem)
	}
	m.maps = nil
}

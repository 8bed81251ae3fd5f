package aiofs

import "sync/atomic"

// writebackAfter is how many bytes written to a file's page cache make the
// Fs ask the kernel to start writing them to the disk.
const writebackAfter = 8 << 20

// A writeback starts the kernel's writeback of a file written at length,
// so that the disk works while the program goes on writing, and a Sync
// waits only for what is left. Left alone, the kernel starts it only once
// dirty pages pass a share of the machine's memory, or after 30 seconds:
// a Sync after writing 256 MiB then waited for all of it.
type writeback struct {
	pending atomic.Int64 // bytes written since writeback was last started
	running atomic.Bool  // a goroutine is starting it
}

// countForWriteback counts m bytes written to the file through f, and starts writeback
// once writebackAfter bytes have been written since it last did. Not for
// handles that write through (O_SYNC, or write-behind off, which writes
// as OsFs does), nor for a wrapped Fs, whose base has no page cache of
// ours to start.
func (n *node) countForWriteback(f *File, m int) {
	if f.osf == nil || f.writeThrough || m <= 0 {
		return
	}
	wb := &n.wb
	if wb.pending.Add(int64(m)) < writebackAfter || !wb.running.CompareAndSwap(false, true) {
		return
	}
	wb.pending.Store(0)
	startWriteback(f.osf, wb)
}

// again reports, as a start returns, whether writeback is due again
// (writers passed writebackAfter meanwhile, and found one running); if not,
// the run ends.
func (wb *writeback) again() bool {
	if wb.pending.Load() < writebackAfter {
		wb.running.Store(false)
		// A writer may have passed the mark between the load and the store.
		if wb.pending.Load() < writebackAfter || !wb.running.CompareAndSwap(false, true) {
			return false
		}
	}
	wb.pending.Store(0)
	return true
}

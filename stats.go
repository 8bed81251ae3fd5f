package aiofs

import (
	"sync/atomic"
)

// Stats is a snapshot of an Fs's counters. Engine counters belong to the
// engine, which every Fs made without WithEngine or WithQueueDepth shares
// with the others; the rest belong to the Fs.
type Stats struct {
	// Engine is the engine in use: "uring", "kqueue" or "pool", or "wrap"
	// in an Fs made by Wrap.
	Engine string
	// Fallback says why the platform's own engine is not in use, when the
	// pool replaced it; empty otherwise.
	Fallback string

	Submitted    uint64 // operations handed to the engine
	Completed    uint64 // operations whose result has arrived
	InFlight     int64  // operations submitted and not yet completed
	BytesRead    uint64 // bytes read by the engine
	BytesWritten uint64 // bytes written by the engine
	FastPath     uint64 // reads and writes done at once, without a submission

	CacheHits       uint64 // reads served entirely from cached blocks
	CacheMisses     uint64 // reads that went to the file
	CachedBytes     int64  // bytes in clean cached blocks and prefetch in flight
	HotBytes        int64  // bytes of CachedBytes in blocks kept because they are read again
	PrefetchWindows uint64 // readahead windows issued
	PrefetchUsed    uint64 // prefetched bytes that a read then used
	PrefetchWasted  uint64 // prefetched bytes evicted or dropped unread

	DirtyBytes       int64  // bytes in blocks written but not yet flushed
	Flushes          uint64 // write operations issued to flush dirty blocks
	CoalescedWrites  uint64 // flushes that wrote more than one block at once
	WriterWaits      uint64 // times a writer waited for dirty room
	BackgroundErrors uint64 // flushes that failed
}

// fsCounters are the Fs's own counters, updated atomically so that Stats
// needs no lock for them.
type fsCounters struct {
	cacheHits, cacheMisses         counter
	windows                        atomic.Uint64
	prefetchUsed, prefetchWasted   atomic.Uint64
	flushes, coalesced, writerWait atomic.Uint64
	bgErrors                       atomic.Uint64
}

// Stats returns the Fs's counters.
func (fs *Fs) Stats() Stats {
	c := fs.eng.counters()
	s := Stats{
		Engine:       fs.eng.name(),
		Fallback:     fs.fallback,
		Submitted:    c.submitted.Load(),
		Completed:    c.completed.Load(),
		InFlight:     c.inFlight.Load(),
		BytesRead:    c.bytesRead.Load(),
		BytesWritten: c.bytesWritten.Load(),
		FastPath:     c.fastPath.Load(),

		CacheHits:       fs.st.cacheHits.Load(),
		CacheMisses:     fs.st.cacheMisses.Load(),
		PrefetchWindows: fs.st.windows.Load(),
		PrefetchUsed:    fs.st.prefetchUsed.Load(),
		PrefetchWasted:  fs.st.prefetchWasted.Load(),

		Flushes:          fs.st.flushes.Load(),
		CoalescedWrites:  fs.st.coalesced.Load(),
		WriterWaits:      fs.st.writerWait.Load(),
		BackgroundErrors: fs.st.bgErrors.Load(),
	}
	fs.mu.Lock()
	s.CachedBytes = fs.cache.used
	s.HotBytes = fs.cache.hot
	s.DirtyBytes = fs.cache.dirty
	fs.mu.Unlock()
	return s
}

// A counter is a statistic that every read or write adds to, from many
// goroutines at once. It is spread over cells on cache lines of their
// own, picked by the offset of the transfer counted, since concurrent
// transfers are mostly at different offsets: adding then does not bounce
// one line between cores on the warm read path. Load sums the cells.
type counter struct {
	cells [counterCells]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

const counterCells = 8 // a power of two

// Add adds d for a transfer at offset at.
func (c *counter) Add(at int64, d uint64) {
	// Fibonacci hashing: aligned offsets spread over the cells too.
	c.cells[uint64(at)*0x9E3779B97F4A7C15>>61].n.Add(d)
}

func (c *counter) Load() uint64 {
	var sum uint64
	for i := range c.cells {
		sum += c.cells[i].n.Load()
	}
	return sum
}

package aiofs

import "sync"

// blockSize is the unit of caching, readahead and write-behind.
const blockSize = 64 << 10

// A block holds blockSize bytes of a file at offset idx*blockSize. It is
// in one of four states:
//
//   - loading: readahead is reading it; loading is closed when done.
//   - clean: known holds, ext is empty; it sits on the cache's LRU list.
//   - dirty: ext lists the byte ranges written and not yet flushed. When
//     known is false, the bytes outside ext are not yet read.
//   - flushing: dirty, and the engine is writing ext out; nobody changes
//     data until the flush is over.
//
// A dirty block whose last flush failed is failed: background flushes
// leave it for a Sync to retry, and it counts against the write-behind
// bound only up to a limit (see Fs.overBound).
//
// A known block's data is the file's content, zeros past the end of file.
// n is how many leading bytes are known to exist in the file; a reader
// that cannot rely on the Fs's size asks the file about bytes past n.
type block struct {
	node *node
	idx  int64
	data []byte
	n    int
	ext  []extent

	known      bool
	flushing   bool
	failed     bool
	loading    chan struct{}
	stale      bool     // a write overtook the load in flight; drop its result
	prefetched bool     // loaded by readahead and not yet read
	readTo     int      // how far reads of the clean block have reached
	hot        *hotCopy // published for reads without fs.mu (hot.go)

	prev, next *block // LRU links while clean
}

// An extent is a byte range [lo, hi) within a block.
type extent struct{ lo, hi int }

func (b *block) dirty() bool { return len(b.ext) > 0 }

// covers reports whether ext covers [lo, hi).
func (b *block) covers(lo, hi int) bool {
	for _, e := range b.ext {
		if e.lo <= lo && hi <= e.hi {
			return true
		}
	}
	return false
}

// addExtent records [lo, hi) as written, merging with touching ranges.
func (b *block) addExtent(lo, hi int) {
	if k := len(b.ext) - 1; k >= 0 && b.ext[k].lo <= lo && lo <= b.ext[k].hi {
		// Extends the last range, as sequential writes do: in place.
		b.ext[k].hi = max(b.ext[k].hi, hi)
		b.n = max(b.n, hi)
		return
	}
	out := b.ext[:0:0]
	placed := false
	for _, e := range b.ext {
		switch {
		case e.hi < lo:
			out = append(out, e)
		case hi < e.lo:
			if !placed {
				out = append(out, extent{lo, hi})
				placed = true
			}
			out = append(out, e)
		default:
			lo, hi = min(lo, e.lo), max(hi, e.hi)
		}
	}
	if !placed {
		out = append(out, extent{lo, hi})
	}
	b.ext = out
	b.n = max(b.n, hi)
}

// remove takes [lo, hi) out of ext: those bytes no longer need writing.
func (b *block) remove(lo, hi int) {
	var out []extent
	for _, e := range b.ext {
		if e.lo < lo {
			out = append(out, extent{e.lo, min(e.hi, lo)})
		}
		if e.hi > hi {
			out = append(out, extent{max(e.lo, hi), e.hi})
		}
	}
	b.ext = out
}

// clip forgets everything at or past byte cut of the block, which must not
// be hot.
func (b *block) clip(cut int) {
	out := b.ext[:0]
	for _, e := range b.ext {
		if e.lo >= cut {
			continue
		}
		e.hi = min(e.hi, cut)
		out = append(out, e)
	}
	b.ext = out
	clear(b.data[cut:])
	b.n = min(b.n, cut)
}

var blockBufs = sync.Pool{New: func() any { return new([blockSize]byte) }}

func newBlock(n *node, idx int64) *block {
	return &block{node: n, idx: idx, data: blockBufs.Get().(*[blockSize]byte)[:]}
}

// release returns the block's buffer, if it has one of its own (see
// Fs.unpublish); the block must be unreachable.
func (b *block) release() {
	if b.data != nil {
		blockBufs.Put((*[blockSize]byte)(b.data))
	}
	b.data = nil
}

// cache accounts for the blocks of an Fs. Clean blocks and blocks being
// loaded count against limit and are evicted least recently used first,
// hot ones last (see hot.go); dirty blocks count against the write-behind
// bound instead. Guarded by Fs.mu, but for freq, which is atomic.
type cache struct {
	limit int64
	used  int64 // bytes of clean and loading blocks
	hot   int64 // bytes of hot blocks, which used counts too
	dirty int64 // bytes of dirty blocks, flushing ones included
	stuck int64 // bytes of failed dirty blocks

	head, tail *block // LRU list of clean blocks, least recent at head

	freq  freqSketch // how often blocks were read from the file lately
	arena hotArena   // the hot blocks' bytes
}

func (c *cache) init(limit int64) { c.limit = limit }

// enabled reports whether there is room for at least two blocks, the least
// that lets readahead stay ahead of a reader.
func (c *cache) enabled() bool { return c.limit >= 2*blockSize }

func (c *cache) pushBack(b *block) {
	b.prev, b.next = c.tail, nil
	if c.tail != nil {
		c.tail.next = b
	} else {
		c.head = b
	}
	c.tail = b
}

func (c *cache) pushFront(b *block) {
	b.prev, b.next = nil, c.head
	if c.head != nil {
		c.head.prev = b
	} else {
		c.tail = b
	}
	c.head = b
}

func (c *cache) unlink(b *block) {
	if b.prev != nil {
		b.prev.next = b.next
	} else if c.head == b {
		c.head = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else if c.tail == b {
		c.tail = b.prev
	}
	b.prev, b.next = nil, nil
}

// touch marks a clean block as just used.
func (c *cache) touch(b *block) {
	if c.tail != b {
		c.unlink(b)
		c.pushBack(b)
	}
}

// makeRoom evicts clean blocks until one more block fits under the limit.
// For readahead it spares blocks that readahead loaded and nobody has read
// yet, so a window never pushes out the one before it. It reports false
// when there is no room to make.
func (fs *Fs) makeRoom(forReadahead bool) bool {
	return fs.evict(eviction{readahead: forReadahead})
}

// An eviction says which clean blocks evict may take.
type eviction struct {
	// readahead spares blocks that readahead loaded and nobody has read
	// yet, and hot blocks while there are not too many.
	readahead bool
	// admit, for a block the sketch counted k times, takes a hot block
	// only if the sketch counted it fewer times.
	admit bool
	k     uint32
}

// evictFor is the eviction that admits a block counted k times.
func evictFor(k uint32) eviction { return eviction{admit: true, k: k} }

// evict evicts clean blocks as e allows, least recently used first, until
// one more block fits under the limit, and reports whether it does. Hot
// blocks get a second chance: one that was read since eviction last
// passed it, or any while hot blocks fill no more than their share of the
// cache, is moved to the back instead, until every hot block has been
// passed once.
func (fs *Fs) evict(e eviction) bool {
	c := &fs.cache
	b := c.head
	passes := c.hot / blockSize
	for c.used+blockSize > c.limit {
		if b == nil {
			return false
		}
		next := b.next
		if h := b.hot; h != nil {
			spare := h.used.Load() || c.hot <= c.hotLimit()
			if spare && passes > 0 {
				passes--
				h.used.Store(false)
				if next == nil {
					next = b // the tail already: met again next
				} else {
					c.unlink(b)
					c.pushBack(b)
				}
				b = next
				continue
			}
			if spare && e.readahead {
				b = next
				continue
			}
			if e.admit && e.k <= c.freq.estimate(b.node.seed, b.idx) {
				return false
			}
		} else if e.readahead && b.prefetched {
			b = next
			continue
		}
		n := b.node
		fs.dropBlock(b)
		n.forgetIfIdle()
		b = next
	}
	return true
}

// uncache takes a clean block off the LRU list and out of the cached
// bytes, counting it as wasted readahead if nobody read it.
func (fs *Fs) uncache(b *block) {
	fs.unpublish(b, true)
	fs.cache.unlink(b)
	fs.cache.used -= blockSize
	if b.prefetched {
		b.prefetched = false
		fs.st.prefetchWasted.Add(uint64(b.n))
	}
}

// keepClean turns a block that has just become clean into a cached block,
// or frees it when the cache has no room.
func (fs *Fs) keepClean(b *block) {
	n := b.node
	if !b.known || !fs.cache.enabled() || !fs.makeRoom(false) {
		delete(n.blocks, b.idx)
		b.release()
		return
	}
	fs.cache.used += blockSize
	fs.cache.pushBack(b)
}

// dirtied counts a block that has just become dirty.
func (fs *Fs) dirtied(b *block) {
	fs.cache.dirty += blockSize
	b.node.dirtyBlocks++
}

// undirty stops counting a block as dirty, as its data is written or
// dropped.
func (fs *Fs) undirty(b *block) {
	fs.cache.dirty -= blockSize
	b.node.dirtyBlocks--
	fs.setFailed(b, false)
}

// setFailed records whether the last flush of a dirty block failed.
func (fs *Fs) setFailed(b *block, failed bool) {
	if b.failed == failed {
		return
	}
	b.failed = failed
	if failed {
		fs.cache.stuck += blockSize
	} else {
		fs.cache.stuck -= blockSize
	}
}

// cleaned turns a block whose dirty bytes are all in the file now into a
// clean one.
func (fs *Fs) cleaned(b *block) {
	b.ext = nil
	fs.undirty(b)
	fs.keepClean(b)
}

// dropBlock removes any block from its node, as a truncate does. A block
// being loaded is left to its loader, which frees it; a flushing block is
// never passed here.
func (fs *Fs) dropBlock(b *block) {
	n := b.node
	delete(n.blocks, b.idx)
	switch {
	case b.loading != nil:
		b.stale = true
	case b.dirty():
		fs.undirty(b)
		b.release()
	default:
		fs.unpublish(b, false)
		fs.uncache(b)
		b.release()
	}
}

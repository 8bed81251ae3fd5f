package aiofs

// # Locking
//
// The locks, in the order they are taken:
//
//   - File.mu guards a handle's offset. Read, Write and Seek hold it
//     throughout, so calls on one handle happen one at a time, as on an
//     os.File.
//   - node.wmu serializes the changes a file's handles make: every Write,
//     WriteAt and Truncate of a regular file, and an Open that truncates
//     it, holds the wmu of the file's node from start to end. Each Write is
//     thereby atomic with respect to the other handles of the Fs, as
//     Linux's inode lock makes it, even when it waits for dirty room, and an
//     append computes its offset and claims it in one step. Flushes never
//     take wmu, so a writer holding it can wait for them.
//   - Fs.mu guards the node map, every node's fields but wmu, limit, quiet,
//     hot and changingSeq (atomics, see node),
//     every block, the cache's accounting, and the fields of each File
//     marked for it (sticky errors; stray, an atomic, is stored under it
//     and loaded without it, and checked again under it before what a
//     read brought enters the node). It is never held
//     across a system call or an engine call: a function that does I/O
//     releases it first and retakes it after, says so in its comment, and
//     checks again what it relies on (the node's blocks may have been
//     flushed, dropped or loaded meanwhile). Fs.room, a condition on Fs.mu,
//     is broadcast whenever block state settles: a flush, load or
//     bypass ended, dirty room was freed, a handle left its node.
//   - The leaves: a File's readahead lock (readahead.mu), opGuard's mutex,
//     the Fs's record of lseek's reach per device (deviceSeeks.mu),
//     the engines' own locks, the counters (atomic).
//
// Changes of the file itself are ordered by node state, under Fs.mu: at
// most one flush (node.flushing) or bypass (node.bypassing: a write
// that bypasses the blocks, or a truncate) runs at a time, and neither
// starts while the other runs. A block read from the file while a
// bypass began or ended (node.bypassSeq) may hold old bytes and is not
// kept; a flush never overlaps a load, because writers wait for blocks
// being loaded and loads only fill blocks nobody has written. So whatever
// order these complete in, the blocks hold what the file will hold once
// the Fs's pending writes land. A read that a change of the file overlaps
// may see it half done, and not only as old and new bytes mixed:
// FreeBSD's tmpfs, whose reads take no vnode lock, grows a file before it
// copies a write in, and zeroes and frees what a truncate cuts before it
// shrinks the file, so such reads see zeros within the file's size. So a
// read served from the file starts when no bypass runs, and is read
// again if a flush or bypass began or ended meanwhile
// (node.changingSeq); a flush that runs throughout writes only blocks the
// Fs holds, which it does not read from the file.

// # Block states
//
// A block is in its node's blocks in one of these states, which the
// methods below make every change of, with fs.mu held. The fields not
// listed are zero, but for n, readTo and data. Counted says which byte
// counts of the cache (and node.dirtyBlocks) include the block.
//
//	state     loading  known  ext       flushing  LRU list  counted
//	loading   open     false  empty     false     no        used
//	clean     nil      true   empty     false     yes       used (and hot, if hot)
//	dirty     nil      any    nonempty  false     no        dirty (and stuck, if failed)
//	flushing  nil      any    nonempty  true      no        dirty (and stuck, if failed)
//
// Only a clean block may be hot (published to readers without fs.mu) or
// prefetched (loaded by readahead and not yet read). The transitions:
//
//	none -> loading        startLoad (readahead, admission of a hot block)
//	loading -> clean       loaded
//	loading -> none        loaded, when the load failed or was overtaken;
//	                       dropBlock only marks a loading block stale
//	none, clean -> dirty   dirtyBlock
//	dirty -> flushing      beginFlush
//	flushing -> dirty      endFlush, failed
//	flushing -> clean      endFlush
//	dirty -> clean         overwrite, clip (nothing left owed)
//	clean -> none          evict, dropBlock; a block that becomes clean
//	                       without room in the cache goes too (cleaned)
//	dirty -> none          dropBlock (truncated away, or unwritable)
//	clean <-> clean, hot   promote, unpublish
//
// A dirty block that is not known has bytes outside ext not yet read;
// fillIn reads them. A node whose blocks change this way in a wrapped Fs
// is not quiet (see node.quietNow): addBlock clears it.

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
	mem   *blockMem  // the blocks' buffers
	arena hotArena   // the hot blocks' bytes
}

func (c *cache) init(limit int64, mem *blockMem) { c.limit, c.mem = limit, mem }

// enabled reports whether there is room for at least two blocks, the least
// that lets readahead stay ahead of a reader.
func (c *cache) enabled() bool { return c.limit >= 2*blockSize }

func (c *cache) pushBack(b *block)  { c.link(b, c.tail, nil) }
func (c *cache) pushFront(b *block) { c.link(b, nil, c.head) }

// link puts b on the LRU list between prev and next, which are neighbours
// on it, or nil at its ends.
func (c *cache) link(b, prev, next *block) {
	b.prev, b.next = prev, next
	if prev != nil {
		prev.next = b
	} else {
		c.head = b
	}
	if next != nil {
		next.prev = b
	} else {
		c.tail = b
	}
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

// dropClean drops every clean block and gives the memory freed back to
// the system, as Fs.Close does: a closed Fs serves no read from its
// blocks, and a program that closes an Fs expects its cache gone.
func (fs *Fs) dropClean() {
	fs.mu.Lock()
	for b := fs.cache.head; b != nil; b = fs.cache.head {
		n := b.node
		fs.dropBlock(b)
		n.forgetIfIdle()
	}
	fs.mu.Unlock()
	fs.cache.mem.trim()
	fs.cache.arena.trim()
}

// addBlock adds an empty block to n at idx. In a wrapped Fs a block
// spares a round trip, so its node is no longer quiet (see node.quietNow);
// elsewhere it is not quiet already, or the block is a clean one's to be.
func (fs *Fs) addBlock(n *node, idx int64) *block {
	b := &block{node: n, idx: idx, data: fs.cache.mem.get()[:]}
	n.blocks[idx] = b
	if fs.store.remote() {
		n.quiet.Store(false)
	}
	return b
}

// startLoad adds a block to n at idx for a load to fill: readahead's
// (prefetched) or a hot block's admission. It counts against the cache
// from now on; the caller has made room.
func (fs *Fs) startLoad(n *node, idx int64, prefetched bool) *block {
	b := fs.addBlock(n, idx)
	b.loading = make(chan struct{})
	b.prefetched = prefetched
	fs.cache.used += blockSize
	return b
}

// loaded ends the load of b, which read the file's first m bytes there if
// ok: b becomes clean, unless the load failed or was overtaken (by a
// change that bypassed the blocks, which the caller's ok says, or a drop
// of b), and then it is freed.
func (fs *Fs) loaded(b *block, m int, ok bool) {
	n := b.node
	close(b.loading)
	b.loading = nil
	if !ok || b.stale || n.blocks[b.idx] != b {
		if n.blocks[b.idx] == b {
			delete(n.blocks, b.idx)
		}
		fs.cache.used -= blockSize
		b.release()
		n.forgetIfIdle()
	} else {
		clear(b.data[m:])
		b.n = m
		b.known = true
		fs.cache.pushBack(b)
	}
	fs.room.Broadcast()
}

// dirtyBlock makes block idx of n dirty, to be written into: b, which is
// clean, or a new block when b is nil. The caller has made dirty room.
func (fs *Fs) dirtyBlock(n *node, idx int64, b *block) *block {
	if b == nil {
		b = fs.addBlock(n, idx)
	} else {
		fs.uncache(b)
	}
	fs.cache.dirty += blockSize
	n.dirtyBlocks++
	return b
}

// wrote records that [lo, hi) of a dirty block holds new bytes, owed to
// the file whatever became of the old ones: a failed flush of them no
// longer counts.
func (fs *Fs) wrote(b *block, lo, hi int) {
	fs.setFailed(b, false)
	b.addExtent(lo, hi)
}

// beginFlush marks a dirty block as being written out: nobody changes its
// data until endFlush.
func (fs *Fs) beginFlush(b *block) { b.flushing = true }

// endFlush ends the flush of b: it is clean now, or on error stays dirty
// as failed, for a Sync to retry.
func (fs *Fs) endFlush(b *block, err error) {
	b.flushing = false
	if err != nil {
		fs.setFailed(b, true)
		return
	}
	fs.cleaned(b)
}

// overwrite puts p at byte bo of b, which is not loading, since the file
// holds p there now: a dirty block no longer owes that range.
func (fs *Fs) overwrite(b *block, bo int, p []byte) {
	fs.unpublish(b, true)
	copy(b.data[bo:], p)
	bh := bo + len(p)
	b.n = max(b.n, bh)
	if b.dirty() {
		b.remove(bo, bh)
		if !b.dirty() {
			fs.cleaned(b)
		}
	}
}

// clip drops what b, which is not loading, holds at or past byte cut, as
// the file is truncated there.
func (fs *Fs) clip(b *block, cut int) {
	wasDirty := b.dirty()
	fs.unpublish(b, true)
	b.clip(cut)
	if wasDirty && !b.dirty() {
		fs.cleaned(b)
	}
}

// fillIn makes a dirty block known from file, the block's bytes in the
// file (m of them read): they fill the ranges not written.
func (fs *Fs) fillIn(b *block, file *[blockSize]byte, m int) {
	clear(file[m:])
	at := 0
	for _, e := range b.ext {
		copy(b.data[at:e.lo], file[at:e.lo])
		at = e.hi
	}
	copy(b.data[at:], file[at:])
	b.known = true
	b.n = max(b.n, m)
}

// cleaned turns a block whose dirty bytes are all in the file now into a
// clean one.
func (fs *Fs) cleaned(b *block) {
	b.ext = nil
	fs.undirty(b)
	fs.keepClean(b)
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

// noteRead records a read of [lo, hi) from a clean or dirty known block. A
// block that readahead brought in is read once by its stream and is the
// first to go when room is needed; a block read again at bytes read
// before is made hot (see hot.go), one read on as recently used.
func (fs *Fs) noteRead(b *block, lo, hi int) {
	if b.dirty() {
		b.prefetched = false
		return
	}
	again := lo < b.readTo
	b.readTo = max(b.readTo, hi)
	switch {
	case b.hot != nil:
		b.hot.used.Store(true)
		fs.cache.touch(b)
	case b.prefetched:
		b.prefetched = false
		fs.st.prefetchUsed.Add(uint64(b.n))
		fs.cache.unlink(b)
		fs.cache.pushFront(b)
	case again:
		fs.promote(b)
	default:
		fs.cache.touch(b)
	}
}

// promote makes a clean, cached block hot, moving its bytes into a slot
// of the arena, if one is free. Called with fs.mu held.
func (fs *Fs) promote(b *block) {
	if b.hot != nil {
		return
	}
	slot, data := fs.cache.arena.alloc(fs.cache.mem, fs.cache.hotLimit())
	if slot < 0 {
		return
	}
	copy(data, b.data)
	b.release()
	b.data = data
	b.hot = &hotCopy{data: data, slot: slot, n: b.n}
	b.hot.used.Store(true)
	b.node.setHot(b.idx, b.hot)
	fs.cache.hot += blockSize
	fs.cache.touch(b)
}

// unpublish takes a hot block out of its node's hot index, so that reads
// without fs.mu no longer see it, and its slot goes back to the arena
// once they are done with it: if keep, the block goes on with a copy in
// a buffer of its own, which it may change; if not, it is about to be
// released. Called with fs.mu held.
func (fs *Fs) unpublish(b *block, keep bool) {
	h := b.hot
	if h == nil {
		return
	}
	b.node.setHot(b.idx, nil)
	b.hot = nil
	fs.cache.hot -= blockSize
	if keep {
		buf := fs.cache.mem.get()
		copy(buf[:], b.data)
		b.data = buf[:]
	} else {
		b.data = nil
	}
	h.retire(&fs.cache)
}

package aiofs

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Hot blocks. A block that readers come back to is kept hot: published in
// its node's hot index, where a read that finds the node quiet copies it
// without fs.mu and without a system call. Reads that miss pay next to
// nothing for this: one in sampleEvery of them, picked at random, counts
// its block in a frequency sketch (TinyLFU), as one in sampleEvery hits
// does, and only a block counted admitAt times lately is read into the
// cache. A block already cached that
// is read again at bytes read before is made hot at once. Hot blocks sit
// on the cache's list beside the others, but eviction passes over them,
// giving them a second chance while they are read (CLOCK), until they
// fill more than hotShare of the cache: so a single pass over a large
// file, whose blocks are read once, never evicts them. A block that would
// displace a hot one is admitted only when the sketch has seen it more
// often.

const (
	// sampleEvery is how many reads go by per one counted, so that random
	// readers that never come back do not all write to the sketch's
	// shared cells.
	sampleEvery = 64
	// admitAt is how many counted misses of a block admit it.
	admitAt = 3
)

// A hotCopy is what reads without fs.mu see of a hot block: a slot of the
// cache's hot arena, which nobody writes while it is published, nor after
// until the last reader that found it there has let it go (ref).
type hotCopy struct {
	data []byte
	slot int
	n    int         // bytes of data the file held when it was read
	used atomic.Bool // read since eviction last passed the block
	// ref counts the readers copying data, plus retired once the copy is
	// unpublished; the slot is free again the first time ref is retired
	// alone (freed).
	ref   atomic.Int64
	freed atomic.Bool
}

const retired = 1 << 40

// acquire admits a reader to h's data, unless h is retired.
func (h *hotCopy) acquire(c *cache) bool {
	if h.ref.Add(1) < retired {
		return true
	}
	h.exit(c)
	return false
}

// exit lets h's data go, freeing its slot if h is retired and no reader
// is left. A reader turned away after retirement passes through here too,
// and may see ref retired alone again: freed makes the slot go back once.
func (h *hotCopy) exit(c *cache) {
	if h.ref.Add(-1) == retired {
		h.free(c)
	}
}

// retire marks h unpublished, freeing its slot once no reader copies it.
// Called by whoever took h out of its index.
func (h *hotCopy) retire(c *cache) {
	if h.ref.Add(retired) == retired {
		h.free(c)
	}
}

func (h *hotCopy) free(c *cache) {
	if h.freed.CompareAndSwap(false, true) {
		c.arena.free(h.slot)
	}
}

// A hotArena holds the hot blocks' bytes: one region of the block memory,
// which the kernel is asked to back with huge pages, since reads of a hot set land
// all over it and, with small pages, would pay a TLB miss for most copies
// (more than the system call they replace, in a virtual machine). It has
// a slot for each block the hot share of the cache holds, and a few more
// for slots still read after their blocks left.
type hotArena struct {
	mu    sync.Mutex
	mem   []byte
	freed []int // slots free for use
}

// alloc returns a free slot and its bytes, taking the arena from mem on
// first use, or -1 when none is free.
func (a *hotArena) alloc(mem *blockMem, limit int64) (int, []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mem == nil {
		slots := int(limit/blockSize) + 8
		a.mem = mem.region(slots * blockSize)
		adviseHugePages(a.mem)
		for i := slots - 1; i >= 0; i-- {
			a.freed = append(a.freed, i)
		}
	}
	if len(a.freed) == 0 {
		return -1, nil
	}
	i := a.freed[len(a.freed)-1]
	a.freed = a.freed[:len(a.freed)-1]
	return i, a.mem[i*blockSize : (i+1)*blockSize : (i+1)*blockSize]
}

// trim gives the pages of the free slots back to the system.
func (a *hotArena) trim() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, i := range a.freed {
		dropPages(a.mem[i*blockSize : (i+1)*blockSize])
	}
}

func (a *hotArena) free(slot int) {
	a.mu.Lock()
	a.freed = append(a.freed, slot)
	a.mu.Unlock()
}

// A hotIndex maps block numbers to their hot copies. It is never changed
// once published: a change publishes a new one.
type hotIndex struct {
	m map[int64]*hotCopy
	// filter has bit idx&(64*len(filter)-1) set for each block idx in m,
	// and eight times as many bits as m has blocks: most reads of a file
	// larger than the cache are of blocks that are not hot, and a bit
	// tells most of them so for less than a look in the map.
	filter []uint64
}

// newHotIndex returns the index of the copies in m.
func newHotIndex(m map[int64]*hotCopy) *hotIndex {
	words := 1
	for words*64 < 8*len(m) {
		words *= 2
	}
	x := &hotIndex{m: m, filter: make([]uint64, words)}
	for idx := range m {
		bit := uint64(idx) & uint64(64*words-1)
		x.filter[bit/64] |= 1 << (bit % 64)
	}
	return x
}

// mayHold reports whether block idx may be in the index: if not, it is
// not.
func (x *hotIndex) mayHold(idx int64) bool {
	bit := uint64(idx) & uint64(64*len(x.filter)-1)
	return x.filter[bit/64]&(1<<(bit%64)) != 0
}

// get returns block idx's hot copy, or nil.
func (x *hotIndex) get(idx int64) *hotCopy {
	if !x.mayHold(idx) {
		return nil
	}
	return x.m[idx]
}

// hotShare is the share of the cache that hot blocks may keep from
// eviction, in quarters: the rest is left to readahead and to blocks read
// once.
const hotShare = 3

// hotLimit is how many bytes of hot blocks eviction passes over.
func (c *cache) hotLimit() int64 { return c.limit / 4 * hotShare }

// readHot copies [off, off+len(p)) into p from the node's hot blocks, if
// they hold all of it, and reports whether they did. It takes no lock, so
// it is only for a quiet node, whose file holds what its clean blocks
// hold. Bytes past where a block's file ended are the file's to give (it
// may have grown), so a read reaching them is not served here.
func (n *node) readHot(p []byte, off int64) bool {
	idx := n.hot.Load()
	if idx == nil {
		return false
	}
	c := &n.fs.cache
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		h := idx.get(pos / blockSize)
		bo := int(pos % blockSize)
		want := min(len(p)-done, blockSize-bo)
		if h == nil || bo+want > h.n || !h.acquire(c) {
			return false
		}
		copy(p[done:done+want], h.data[bo:])
		h.exit(c)
		if !h.used.Load() { // written once per pass of eviction, not per read
			h.used.Store(true)
		}
		done += want
	}
	return true
}

// mayBeHot reports whether the block at off may be hot: if not, it is
// not. It asks the filter only, so that a read the hot blocks then serve
// looks in the map once.
func (n *node) mayBeHot(off int64) bool {
	idx := n.hot.Load()
	return idx != nil && idx.mayHold(off/blockSize)
}

// quietRead reports whether a read may look at the hot blocks and the
// file without fs.mu (see node.quiet), and returns changingSeq for the
// caller to tell, after reading the file, whether a change overlapped it.
func (n *node) quietRead() (seq uint64, quiet bool) {
	seq = n.changingSeq.Load()
	return seq, seq%2 == 0 && n.quiet.Load()
}

// serveHot copies p from the hot blocks at off and counts the hit, if
// they hold all of it.
func (n *node) serveHot(p []byte, off int64) bool {
	if !n.readHot(p, off) {
		return false
	}
	n.fs.st.cacheHits.Add(off, 1)
	n.hit(off)
	return true
}

// count counts a read at off through f that no block serves, one in
// sampleEvery of them (each of a wrapped Fs, where every read costs the
// base a call), and returns the block's count in the sketch: the caller
// admits the block, at admitAt, and serves the read from it, so that
// admission costs no call of its own. It returns 0 for a read not
// counted. Called with or without fs.mu.
func (n *node) count(f *File, off int64) uint32 {
	fs := n.fs
	if !fs.cache.enabled() || f.directIO || !fs.store.remote() && rand.Uint32N(sampleEvery) != 0 {
		return 0
	}
	return fs.cache.freq.add(fs.cache.limit, n.seed, off/blockSize)
}

// hit notes a read at off that hot blocks served, counting it in the
// sketch as count counts a miss, so that a hot block is not displaced by
// one read less often than it.
func (n *node) hit(off int64) {
	if rand.Uint32N(sampleEvery) == 0 {
		n.fs.cache.freq.add(n.fs.cache.limit, n.seed, off/blockSize)
	}
}

// admit reads block idx into the cache and makes it hot, unless it could
// only take the place of a hot block the sketch has counted as often as
// it (k times). Called without fs.mu.
func (n *node) admit(f *File, idx int64, k uint32) {
	fs := n.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n.ahead() {
		return // being changed: the blocks will say so once it settles
	}
	if b := n.blocks[idx]; b != nil {
		if b.loading == nil && !b.dirty() && !b.prefetched {
			fs.promote(b)
		}
		return
	}
	if !fs.evict(evictFor(k)) {
		return
	}
	b := fs.startLoad(n, idx, false)
	f.ops.hold()
	gen := n.bypassSeq
	fs.mu.Unlock()
	n.load(f, b, gen)
	fs.mu.Lock()
	if n.blocks[idx] == b && b.known && !b.dirty() && b.hot == nil {
		fs.promote(b)
	}
}

// setHot publishes a new hot index with block idx's copy set to h, or
// removed when h is nil. Called with fs.mu held.
func (n *node) setHot(idx int64, h *hotCopy) {
	m := map[int64]*hotCopy{}
	if old := n.hot.Load(); old != nil {
		m = make(map[int64]*hotCopy, len(old.m)+1)
		for i, c := range old.m {
			m[i] = c
		}
	}
	if h != nil {
		m[idx] = h
	} else {
		delete(m, idx)
	}
	if len(m) == 0 {
		n.hot.Store(nil)
		return
	}
	n.hot.Store(newHotIndex(m))
}

// A freqSketch estimates how often each block was counted lately: a
// count-min sketch of two rows, halved every agePeriod counts so that it
// forgets what is no longer read. Its cells are atomic: counts are
// sampled, so a lost race costs a count, never correctness.
type freqSketch struct {
	once    sync.Once
	cells   []atomic.Uint32
	mask    uint64
	period  uint64
	counted atomic.Uint64
}

// add counts block idx of the node with the given seed and returns its
// estimated count. limit is the cache's, which sizes the sketch.
func (s *freqSketch) add(limit int64, seed uint64, idx int64) uint32 {
	s.once.Do(func() {
		blocks := uint64(max(limit/blockSize, 1))
		size := uint64(1024)
		for size < 32*blocks {
			size <<= 1
		}
		s.cells = make([]atomic.Uint32, 2*size)
		s.mask = size - 1
		s.period = 16 * blocks
	})
	h := (seed ^ uint64(idx)) * 0x9E3779B97F4A7C15
	a, b := &s.cells[h>>32&s.mask], &s.cells[s.mask+1+(h&s.mask)]
	k := min(a.Add(1), b.Add(1))
	if s.counted.Add(1)%s.period == 0 {
		for i := range s.cells {
			c := &s.cells[i]
			c.Store(c.Load() / 2)
		}
	}
	return k
}

// estimate returns the count of block idx of the node with the given
// seed, without counting it.
func (s *freqSketch) estimate(seed uint64, idx int64) uint32 {
	if s.cells == nil {
		return 0
	}
	h := (seed ^ uint64(idx)) * 0x9E3779B97F4A7C15
	return min(s.cells[h>>32&s.mask].Load(), s.cells[s.mask+1+(h&s.mask)].Load())
}

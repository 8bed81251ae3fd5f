package aiofs

// The invariants of an Fs's state, checked by tests after each step (the
// model test after every operation), as pebble's invariants builds check
// its own: what the cache counts equals what the blocks say, each block is
// in one legal state, a node's flags agree with its blocks and handles.
//
// Each rule is one function over the state, held under fs.mu; a new field
// with a rule of its own gets one more entry in fsRules or nodeRules.
// Rules hold whenever fs.mu is free, except those marked "between calls",
// which hold when no call of the Fs is in progress (an Open runs attach in
// two steps under the lock).

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// CheckInvariants returns every invariant of the Fs's state that does
// not hold, or nil. Call it between calls of the Fs: Fs.Sync and Fs.Close
// may run meanwhile, Opens and Closes of files may not.
func (fs *Fs) CheckInvariants() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.checkInvariantsLocked()
}

// checkInvariantsLocked is CheckInvariants with fs.mu held.
func (fs *Fs) checkInvariantsLocked() error {
	var errs []error
	for _, rule := range fsRules {
		if err := rule(fs); err != nil {
			errs = append(errs, err)
		}
	}
	for k, n := range fs.nodes {
		if n.key != k {
			errs = append(errs, fmt.Errorf("node under key %v says its key is %v", k, n.key))
		}
		for _, rule := range nodeRules {
			if err := rule(n); err != nil {
				errs = append(errs, fmt.Errorf("node %v: %w", n.key, err))
			}
		}
		for idx, b := range n.blocks {
			if err := checkBlock(n, idx, b); err != nil {
				errs = append(errs, fmt.Errorf("node %v, block %d: %w", n.key, idx, err))
			}
		}
	}
	return errors.Join(errs...)
}

// fsRules are the invariants of the Fs as a whole.
var fsRules = []func(fs *Fs) error{
	// The cache counts what the blocks are.
	func(fs *Fs) error {
		var loading, clean, dirty, failed, hot int64
		for _, n := range fs.nodes {
			for _, b := range n.blocks {
				if b.hot != nil {
					hot++
				}
				switch {
				case b.loading != nil:
					loading++
				case b.dirty():
					dirty++
					if b.failed {
						failed++
					}
				default:
					clean++
				}
			}
		}
		c := &fs.cache
		var errs []error
		// A block being loaded that a truncate dropped stays counted
		// until its load ends: used may count more than the maps hold.
		if c.used < (loading+clean)*blockSize {
			errs = append(errs, fmt.Errorf("cache.used %d < %d loading and %d clean blocks", c.used, loading, clean))
		}
		if c.dirty != dirty*blockSize {
			errs = append(errs, fmt.Errorf("cache.dirty %d, but %d dirty blocks", c.dirty, dirty))
		}
		if c.stuck != failed*blockSize {
			errs = append(errs, fmt.Errorf("cache.stuck %d, but %d failed blocks", c.stuck, failed))
		}
		if c.hot != hot*blockSize {
			errs = append(errs, fmt.Errorf("cache.hot %d, but %d hot blocks", c.hot, hot))
		}
		return errors.Join(errs...)
	},
	// Every buffer of the block memory that is out is a block's (between
	// calls, as a read may hold one for a moment): one that no block
	// holds is lost until the Fs is collected. Hot blocks hold a slot of
	// the arena instead, and a block being loaded that a truncate dropped
	// holds its buffer, counted in used, until its load ends.
	func(fs *Fs) error {
		c := &fs.cache
		want := (c.used - c.hot + c.dirty) / blockSize
		c.mem.mu.Lock()
		out := c.mem.out
		c.mem.mu.Unlock()
		if int64(out) != want {
			return fmt.Errorf("%d block buffers out, but blocks hold %d", out, want)
		}
		return nil
	},
	// Clean blocks are cached within the limit; dirty ones within the
	// write-behind bound plus the allowance for failed ones.
	func(fs *Fs) error {
		c := &fs.cache
		if c.used > max(c.limit, 0) && c.used != 0 {
			return fmt.Errorf("cache.used %d over the limit %d", c.used, c.limit)
		}
		if bound := max(fs.cfg.writeBehind, blockSize) + fs.stuckAllowance(); c.dirty > bound {
			return fmt.Errorf("cache.dirty %d over the bound %d (write-behind %d, stuck %d)", c.dirty, bound, fs.cfg.writeBehind, c.stuck)
		}
		return nil
	},
	// The LRU list holds exactly the clean blocks of the Fs's nodes.
	func(fs *Fs) error {
		seen := 0
		var prev *block
		for b := fs.cache.head; b != nil; prev, b = b, b.next {
			if b.prev != prev {
				return fmt.Errorf("LRU list: block %d's prev is not the block before it", b.idx)
			}
			if b.loading != nil || b.dirty() {
				return fmt.Errorf("LRU list holds block %d of %v, which is not clean", b.idx, b.node.key)
			}
			if fs.nodes[b.node.key] != b.node || b.node.blocks[b.idx] != b {
				return fmt.Errorf("LRU list holds block %d of %v, which its node does not", b.idx, b.node.key)
			}
			if seen++; seen > 1<<30 {
				return errors.New("LRU list is a loop")
			}
		}
		if fs.cache.tail != prev {
			return errors.New("LRU list's tail is not its last block")
		}
		clean := 0
		for _, n := range fs.nodes {
			for _, b := range n.blocks {
				if b.loading == nil && !b.dirty() {
					clean++
				}
			}
		}
		if seen != clean {
			return fmt.Errorf("LRU list holds %d blocks, the nodes %d clean ones", seen, clean)
		}
		return nil
	},
	// The closed files kept for Fs.Sync are nodes of the Fs, within the
	// budget.
	func(fs *Fs) error {
		kept := len(fs.keptNodes)
		for n := range fs.keptNodes {
			if fs.nodes[n.key] != n {
				return fmt.Errorf("node %v is kept, and not the Fs's node under its key", n.key)
			}
		}
		if kept > max(fs.keepBudget, maxKept) {
			return fmt.Errorf("%d nodes kept, over the budget %d", kept, max(fs.keepBudget, maxKept))
		}
		return nil
	},
}

// nodeRules are the invariants of one node.
var nodeRules = []func(n *node) error{
	func(n *node) error {
		if n.fs == nil || n.fs.nodes[n.key] != n {
			return errors.New("not its Fs's node under its key")
		}
		return nil
	},
	// Its counts agree with its blocks.
	func(n *node) error {
		dirty, flushing := 0, 0
		end := int64(0)
		for _, b := range n.blocks {
			if b.dirty() {
				dirty++
				end = max(end, b.idx*blockSize+int64(b.ext[len(b.ext)-1].hi))
			}
			if b.flushing {
				flushing++
			}
		}
		var errs []error
		if n.dirtyBlocks != dirty {
			errs = append(errs, fmt.Errorf("dirtyBlocks %d, but %d dirty blocks", n.dirtyBlocks, dirty))
		}
		if n.flushing != (flushing > 0) {
			errs = append(errs, fmt.Errorf("flushing is %v with %d blocks flushing", n.flushing, flushing))
		}
		if n.flushing && n.bypassing {
			errs = append(errs, errors.New("a flush and a bypass at once"))
		}
		if running := n.changingSeq.Load()%2 == 1; running != (n.flushing || n.bypassing) {
			errs = append(errs, fmt.Errorf("changingSeq odd %v, flushing %v, bypassing %v", running, n.flushing, n.bypassing))
		}
		if end > n.size {
			errs = append(errs, fmt.Errorf("dirty data up to %d past the size %d", end, n.size))
		}
		if n.size < 0 || n.writing < 0 || n.syncedSeq > n.writeSeq {
			errs = append(errs, fmt.Errorf("size %d, writing %d, synced %d of %d writes", n.size, n.writing, n.syncedSeq, n.writeSeq))
		}
		return errors.Join(errs...)
	},
	// A closed file owes a commit exactly while it is kept for one, and
	// only a kept file (or a commit using it) holds a descriptor.
	func(n *node) error {
		if n.keep != nil && !n.kept() && n.keepUsers == 0 {
			return errors.New("holds a descriptor, and is not kept")
		}
		if n.keepUsers < 0 {
			return fmt.Errorf("keepUsers %d", n.keepUsers)
		}
		if len(n.handles) == 0 && n.kept() != (n.syncedSeq < n.writeSeq) {
			return fmt.Errorf("closed, kept %v, with %d of %d writes committed", n.kept(), n.syncedSeq, n.writeSeq)
		}
		return nil
	},
	// The hot index publishes exactly the node's hot blocks.
	func(n *node) error {
		idx := n.hot.Load()
		if idx == nil {
			return nil
		}
		if len(idx.m) == 0 {
			return errors.New("an empty hot index is published")
		}
		for i, h := range idx.m {
			if b := n.blocks[i]; b == nil || b.hot != h {
				return fmt.Errorf("hot index publishes block %d, which is not a hot block of the node", i)
			}
			if idx.get(i) != h {
				return fmt.Errorf("hot index's filter hides block %d", i)
			}
		}
		return nil
	},
	// quiet only when a read may go to the file without the node.
	func(n *node) error {
		if n.quiet.Load() && !n.quietNow() {
			return fmt.Errorf("quiet, and not quietNow (ahead %v, %d blocks)", n.ahead(), len(n.blocks))
		}
		return nil
	},
	// Writers are handles of the node that flushes may use, once each;
	// between calls every such handle is one.
	func(n *node) error {
		for i, w := range n.writers {
			if _, ok := n.handles[w]; !ok {
				return fmt.Errorf("writer %s is not a handle", w.name)
			}
			if !w.flushable() {
				return fmt.Errorf("writer %s is not flushable", w.name)
			}
			if slices.Index(n.writers, w) != i {
				return fmt.Errorf("writer %s listed twice", w.name)
			}
		}
		for h := range n.handles {
			if h.n != n {
				return fmt.Errorf("handle %s is of another node", h.name)
			}
			if h.flushable() && !slices.Contains(n.writers, h) {
				return fmt.Errorf("handle %s may be flushed through and is not a writer (between calls)", h.name)
			}
		}
		return nil
	},
	// Dirty data has a writer to go through, and an idle node is
	// forgotten.
	func(n *node) error {
		if n.dirtyBlocks > 0 && len(n.writers) == 0 {
			return fmt.Errorf("%d dirty blocks and no writer", n.dirtyBlocks)
		}
		if len(n.handles) == 0 && len(n.blocks) == 0 && !n.kept() && n.keep == nil {
			return errors.New("no handle, no block, not kept, and not forgotten")
		}
		return nil
	},
}

// checkBlock checks that b, under idx in n, is in one legal state: one
// row of the table in cache.go.
func checkBlock(n *node, idx int64, b *block) error {
	if b.node != n || b.idx != idx {
		return fmt.Errorf("says it is block %d of %v", b.idx, b.node.key)
	}
	if len(b.data) != blockSize {
		return fmt.Errorf("holds %d bytes of data (released?)", len(b.data))
	}
	if b.n < 0 || b.n > blockSize {
		return fmt.Errorf("n %d", b.n)
	}
	onList := b.prev != nil || b.next != nil || n.fs.cache.head == b
	switch {
	case b.loading != nil:
		if b.dirty() || b.known || b.flushing || onList {
			return fmt.Errorf("loading, and dirty %v, known %v, flushing %v, listed %v", b.dirty(), b.known, b.flushing, onList)
		}
	case b.dirty():
		for i, e := range b.ext {
			if e.lo < 0 || e.lo >= e.hi || e.hi > blockSize || i > 0 && b.ext[i-1].hi >= e.lo {
				return fmt.Errorf("extents %v not ordered, apart and within the block", b.ext)
			}
		}
		if hi := b.ext[len(b.ext)-1].hi; b.n < hi {
			return fmt.Errorf("n %d short of the written %d", b.n, hi)
		}
		if onList || b.prefetched {
			return fmt.Errorf("dirty, and listed %v, prefetched %v", onList, b.prefetched)
		}
	default:
		if !b.known || b.flushing || b.failed || !onList {
			return fmt.Errorf("clean, and known %v, flushing %v, failed %v, listed %v", b.known, b.flushing, b.failed, onList)
		}
	}
	if b.flushing && !b.dirty() || b.failed && !b.dirty() {
		return fmt.Errorf("flushing %v, failed %v, and not dirty", b.flushing, b.failed)
	}
	if b.hot != nil && (b.loading != nil || b.dirty() || n.hot.Load() == nil || n.hot.Load().m[idx] != b.hot) {
		return fmt.Errorf("hot, and loading %v, dirty %v, or not published in its node's index", b.loading != nil, b.dirty())
	}
	return nil
}

// TestCheckInvariants checks the checker: it passes an Fs in use, and
// fails one whose accounting or state was tampered with.
func TestCheckInvariants(t *testing.T) {
	t.Parallel()
	fs := New(WithEngine("pool"))
	defer fs.Close()
	f, err := fs.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 3*blockSize/2)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(make([]byte, 10), 0); err != nil {
		t.Fatal(err)
	}
	if err := fs.CheckInvariants(); err != nil {
		t.Fatalf("an Fs in use: %v", err)
	}
	n := f.(*File).n
	tamper := []struct {
		what   string
		change func() (undo func())
	}{
		{"cache.dirty", func() func() { fs.cache.dirty += blockSize; return func() { fs.cache.dirty -= blockSize } }},
		{"dirtyBlocks", func() func() { n.dirtyBlocks++; return func() { n.dirtyBlocks-- } }},
		{"block memory", func() func() { fs.cache.mem.out++; return func() { fs.cache.mem.out-- } }},
		{"cache.hot", func() func() { fs.cache.hot += blockSize; return func() { fs.cache.hot -= blockSize } }},
		{"hot index", func() func() {
			old := n.hot.Load()
			n.hot.Store(newHotIndex(map[int64]*hotCopy{1 << 40: {}}))
			return func() { n.hot.Store(old) }
		}},
		{"quiet", func() func() { n.quiet.Store(true); return func() { n.quiet.Store(false) } }},
		{"changingSeq", func() func() { n.changingSeq.Add(1); return func() { n.changingSeq.Add(^uint64(0)) } }},
		{"writers", func() func() {
			w := n.writers
			n.writers = nil
			return func() { n.writers = w }
		}},
		{"key", func() func() {
			k := n.key
			n.key.unnamed++
			return func() { n.key = k }
		}},
		{"extents", func() func() {
			b := n.blocks[0]
			e := b.ext
			b.ext = []extent{{10, 5}}
			return func() { b.ext = e }
		}},
	}
	// fs.mu is held from the change to its undoing, so that no flush
	// (the delay timer's) runs on the tampered state.
	for _, tc := range tamper {
		fs.mu.Lock()
		undo := tc.change()
		err := fs.checkInvariantsLocked()
		undo()
		fs.mu.Unlock()
		if err == nil {
			t.Errorf("%s tampered with, and the checker passes", tc.what)
		}
	}
	if err := fs.CheckInvariants(); err != nil {
		t.Fatalf("after undoing: %v", err)
	}
}

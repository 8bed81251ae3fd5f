package aiofs

import (
	"errors"
	"os"
	"slices"
	"time"
)

const (
	// flushDelay is how long written data may wait for more writes to
	// the same blocks before it is flushed anyway.
	flushDelay = 20 * time.Millisecond
	// largeWrite is the size from which a write skips write-behind.
	largeWrite = 256 << 10
)

// A node is the state that every handle of one file in an Fs shares: its
// cached and dirty blocks and the size the Fs knows. All fields are
// guarded by Fs.mu.
type node struct {
	key     fileKey
	handles map[*File]struct{}
	writers []*File // open writable handles, oldest first
	blocks  map[int64]*block

	// size is the file's size including buffered data. It is
	// authoritative while the Fs has writes of the file not yet on disk;
	// otherwise the file itself is.
	size        int64
	dirtyBlocks int
	writing     int // writes in flight (write-behind ones may be waiting for room)
	// Writes that bypass the blocks (write-through, truncate) in flight,
	// and a count of their starts and ends: a block read from the file
	// while either changed may hold old bytes and is not kept.
	direct    int
	directGen uint64
	flushing  bool // a flush is running
	again     bool // flush everything once the running flush ends
	timer     *time.Timer

	// What the Fs last saw of the file on disk, to notice changes made by
	// others when the file is opened again.
	diskSize     int64
	mtime, ctime time.Time
	changed      bool // the Fs wrote the file since it recorded the above

	// written counts writes that reached the file, synced how many of
	// them an fsync has since committed.
	written, synced uint64

	errSeq    uint64 // failed flushes so far
	flushedAt uint64 // Fs.flushSeq when the last flush ended
	failed    bool   // the last flush failed
}

// authoritative reports whether n.size, not the file, says where the file
// ends.
func (n *node) authoritative() bool {
	return n.dirtyBlocks > 0 || n.flushing || n.writing > 0
}

func (n *node) beginDirect() { n.direct++; n.directGen++ }
func (n *node) endDirect()   { n.direct--; n.directGen++ }

// settled reports whether no direct write ran since gen was taken, so a
// block read from the file since then holds current bytes.
func (n *node) settled(gen uint64) bool { return n.direct == 0 && n.directGen == gen }

// unsynced reports whether the node has writes not yet committed to
// stable storage, buffered or not.
func (n *node) unsynced() bool { return n.authoritative() || n.written != n.synced }

// attach joins f to the node of its file. An Open that finds the file
// changed since the Fs last saw it drops the cached blocks.
func (fs *Fs) attach(f *File, name string, fi os.FileInfo, trunc bool, seq uint64) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	key := keyOf(name, fi)
	n := fs.nodes[key]
	if n == nil {
		n = &node{key: key, handles: make(map[*File]struct{}), blocks: make(map[int64]*block)}
		fs.nodes[key] = n
	} else if !n.authoritative() && (n.changed || fi.Size() != n.diskSize || !fi.ModTime().Equal(n.mtime) || !changeTime(fi).Equal(n.ctime)) {
		for _, b := range n.blocks {
			if !b.dirty() {
				fs.dropBlock(b)
			}
		}
	}
	if trunc {
		// The open truncated the file. Buffered data from before it is
		// dropped, and a flush that ended since the open began (seq) may
		// have written some of it back: truncate again after it.
		for n.flushing {
			fs.room.Wait()
		}
		for _, b := range n.blocks {
			fs.dropBlock(b)
		}
		if n.flushedAt > seq && f.writable {
			if err := f.osf.Truncate(0); err != nil {
				fs.forgetIfIdle(n)
				return bareErr(err)
			}
			if tfi, err := f.osf.Stat(); err == nil {
				fi = tfi
			}
		}
		n.size = 0
	}
	if !n.authoritative() {
		n.size = fi.Size()
		n.diskSize, n.mtime, n.ctime, n.changed = fi.Size(), fi.ModTime(), changeTime(fi), false
	}
	n.handles[f] = struct{}{}
	if f.writable {
		n.writers = append(n.writers, f)
	}
	f.n = n
	return nil
}

// detach flushes the node's data through f, which is closing, and leaves
// the node. It returns the write error f has to report.
func (fs *Fs) detach(f *File) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := f.n
	if f.writable {
		fs.flushLocked(n, f)
	}
	err := f.werr // set by any failed flush, this one included
	delete(n.handles, f)
	n.writers = slices.DeleteFunc(n.writers, func(w *File) bool { return w == f })
	if len(n.writers) == 0 {
		for n.flushing {
			fs.room.Wait()
		}
		// Data that could not be written has no descriptor left to go
		// through; its error has been reported to every handle.
		for _, b := range n.blocks {
			if b.dirty() {
				fs.dropBlock(b)
			}
		}
	}
	fs.forgetIfIdle(n)
	return err
}

// forgetIfIdle removes a node that no handle uses and that holds no block.
func (fs *Fs) forgetIfIdle(n *node) {
	if len(n.handles) == 0 && len(n.blocks) == 0 {
		if n.timer != nil {
			n.timer.Stop()
			n.timer = nil
		}
		delete(fs.nodes, n.key)
	}
}

// bufferedSize returns the node's size when it is authoritative.
func (fs *Fs) bufferedSize(n *node) (int64, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return n.size, n.authoritative()
}

// refreshSize makes n.size the file's size on disk when the Fs has no
// writes of it pending, before a write makes n.size authoritative.
func (fs *Fs) refreshSize(f *File) error {
	n := f.n
	if n.authoritative() {
		return nil
	}
	fi, err := f.osf.Stat()
	if err != nil {
		return bareErr(err)
	}
	n.size = fi.Size()
	return nil
}

// readAt reads into p from off: from cached and dirty blocks where they
// have the bytes, from the file where not. It returns fewer than len(p)
// bytes only at end of file or with an error.
func (f *File) readAt(p []byte, off int64) (int, error) {
	fs, n := f.fs, f.n
	if n == nil {
		return fs.eng.pread(f.osf, p, off)
	}
	fs.mu.Lock()
	m, err, locked := f.readLocked(p, off)
	if locked {
		fs.mu.Unlock()
	}
	return m, err
}

// readLocked is readAt with fs.mu held. It returns with the lock held, or
// released when it reports so.
func (f *File) readLocked(p []byte, off int64) (_ int, _ error, locked bool) {
	fs, n := f.fs, f.n
	fs.readahead(f, off, len(p))
	done, missed := 0, false
	for done < len(p) {
		pos := off + int64(done)
		auth := n.authoritative()
		if auth && pos >= n.size {
			break
		}
		idx, bo := pos/blockSize, int(pos%blockSize)
		want := min(len(p)-done, blockSize-bo)
		if auth {
			want = int(min(int64(want), n.size-pos))
		}
		b := n.blocks[idx]
		switch {
		case b != nil && b.loading != nil:
			ch := b.loading
			fs.mu.Unlock()
			<-ch
			fs.mu.Lock()
			continue
		case b != nil && b.known && (auth || bo < b.n):
			if !auth {
				want = min(want, b.n-bo)
			}
			copy(p[done:done+want], b.data[bo:])
			fs.used(b)
			done += want
			continue
		case b != nil && b.dirty() && b.covers(bo, bo+want):
			copy(p[done:done+want], b.data[bo:])
			done += want
			continue
		case b != nil && b.dirty():
			// Written in parts: read the rest of the block from the file.
			missed = true
			if err := fs.complete(f, b); err != nil {
				return done, err, true
			}
			continue
		}
		// Not cached: read the whole run of uncached blocks directly into p.
		missed = true
		end := len(p)
		for i := idx + 1; int64(i)*blockSize < off+int64(end); i++ {
			if n.blocks[i] != nil {
				end = int(int64(i)*blockSize - off)
				break
			}
		}
		if auth {
			end = int(min(int64(end), n.size-off))
		}
		fs.mu.Unlock()
		m, err := fs.eng.pread(f.osf, p[done:end], pos)
		if !auth && err == nil && done+m == len(p) {
			// The rest came from the file, which is the authority: no
			// need to look at the node again.
			fs.st.cacheMisses.Add(1)
			return len(p), nil, false
		}
		fs.mu.Lock()
		if err != nil {
			return done + m, err, true
		}
		if n.authoritative() != auth {
			continue // a write raced with the read; read again
		}
		if done+m < end {
			if !n.authoritative() {
				done += m
				break
			}
			// A hole up to buffered data further on.
			clear(p[done+m : end])
		}
		done = end
	}
	if missed {
		fs.st.cacheMisses.Add(1)
	} else {
		fs.st.cacheHits.Add(1)
	}
	return done, nil, true
}

// used records a read from a clean or dirty known block. A block that
// readahead brought in is read once by its stream and is the first to go
// when room is needed; a block read again is kept as recently used.
func (fs *Fs) used(b *block) {
	if b.dirty() {
		b.prefetched = false
		return
	}
	if b.prefetched {
		b.prefetched = false
		fs.st.prefetchUsed.Add(uint64(b.n))
		fs.cache.unlink(b)
		fs.cache.pushFront(b)
		return
	}
	fs.cache.touch(b)
}

// complete reads the parts of a dirty block that were not written, so
// that the whole block is known. Called with fs.mu held; releases it
// while reading.
func (fs *Fs) complete(f *File, b *block) error {
	tmp := blockBufs.Get().(*[blockSize]byte)
	defer blockBufs.Put(tmp)
	gen := f.n.directGen
	fs.mu.Unlock()
	m, err := fs.eng.pread(f.osf, tmp[:], b.idx*blockSize)
	fs.mu.Lock()
	if err != nil {
		return err
	}
	if f.n.blocks[b.idx] != b || b.known || !b.dirty() || !f.n.settled(gen) {
		return nil // flushed, dropped, completed or overtaken meanwhile
	}
	clear(tmp[m:])
	at := 0
	for _, e := range b.ext {
		copy(b.data[at:e.lo], tmp[at:e.lo])
		at = e.hi
	}
	copy(b.data[at:], tmp[at:])
	b.known = true
	b.n = max(b.n, m)
	return nil
}

// writeAt writes p at off, or at the end of the file when off < 0. It
// returns how many bytes it took and the offset just past them.
func (f *File) writeAt(p []byte, off int64) (int, int64, error) {
	fs, n := f.fs, f.n
	if n == nil {
		if off < 0 {
			off = 0 // devices have no end to append at
		}
		m, err := fs.eng.pwritev(f.osf, [][]byte{p}, off)
		return m, off + int64(m), err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.werr != nil {
		return 0, max(off, 0), f.werr
	}
	if off < 0 {
		// Append at the end as the file has it now, unless writes of the
		// Fs not yet on disk say more.
		if err := fs.refreshSize(f); err != nil {
			return 0, 0, err
		}
		off = n.size
	}
	if len(p) == 0 {
		return 0, off, nil
	}
	// Claim the range at once: the loop below may wait for room with the
	// lock released, and the next appender must start after this write.
	n.size = max(n.size, off+int64(len(p)))
	n.writing++
	defer func() { n.writing-- }()
	// A large write gains little from being copied and written later,
	// and costs the copy: like a read larger than the readahead window,
	// it goes straight to the file, unless buffered data must go first.
	if f.writeThrough || len(p) >= largeWrite && n.dirtyBlocks == 0 && !n.flushing {
		return fs.writeThrough(f, p, off)
	}
	done := 0
	full := false
	for done < len(p) {
		pos := off + int64(done)
		idx, bo := pos/blockSize, int(pos%blockSize)
		want := min(len(p)-done, blockSize-bo)
		b := n.blocks[idx]
		if b != nil && (b.flushing || b.loading != nil) {
			fs.room.Wait()
			continue
		}
		if b == nil || !b.dirty() {
			// One dirty block is always allowed, however small the bound.
			if fs.cache.dirty > 0 && fs.cache.dirty+blockSize > fs.cfg.writeBehind && fs.overBound() {
				if err := fs.waitForRoom(f); err != nil {
					return done, pos, err
				}
				continue
			}
			if b == nil {
				b = newBlock(n, idx)
				n.blocks[idx] = b
			} else {
				fs.uncache(b)
			}
			fs.cache.dirty += blockSize
			n.dirtyBlocks++
		}
		copy(b.data[bo:], p[done:done+want])
		b.addExtent(bo, bo+want)
		if b.covers(0, blockSize) {
			full = true
		}
		done += want
	}
	if full {
		fs.startFlush(n, false, f)
	}
	if n.timer == nil && n.dirtyBlocks > 0 {
		n.timer = time.AfterFunc(flushDelay, func() { fs.flushLater(n) })
	}
	return done, off + int64(done), nil
}

// overBound reports whether one more dirty block would pass the
// write-behind bound, not counting the blocks of files whose last flush
// failed: those wait for a Sync to retry them, their handles accept no
// more writes, and they must not stall the writers of other files.
func (fs *Fs) overBound() bool {
	stuck := int64(0)
	for _, n := range fs.nodes {
		if n.failed {
			stuck += int64(n.dirtyBlocks) * blockSize
		}
	}
	return fs.cache.dirty-stuck+blockSize > fs.cfg.writeBehind
}

// waitForRoom blocks a writer until dirty blocks settle, after starting
// flushes of every dirty file but those whose last flush failed. It
// returns the write error of f when a flush of its file has failed.
func (fs *Fs) waitForRoom(f *File) error {
	fs.st.writerWait.Add(1)
	for _, n := range fs.nodes {
		if n.dirtyBlocks > 0 && (!n.failed || n == f.n) {
			via := (*File)(nil)
			if n == f.n {
				via = f
			}
			fs.startFlush(n, true, via)
		}
	}
	fs.room.Wait()
	return f.werr
}

// writeThrough writes p at off directly, after any buffered data of the
// file, and updates the cached blocks it overlaps.
func (fs *Fs) writeThrough(f *File, p []byte, off int64) (int, int64, error) {
	n := f.n
	if err := fs.flushLocked(n, f); err != nil {
		return 0, off, err
	}
	end := off + int64(len(p))
	for idx := off / blockSize; idx*blockSize < end; idx++ {
		b := n.blocks[idx]
		if b == nil {
			continue
		}
		if b.loading != nil {
			fs.dropBlock(b) // the load may read the file before this write
			continue
		}
		lo := max(off, idx*blockSize)
		hi := min(end, (idx+1)*blockSize)
		bo := int(lo - idx*blockSize)
		copy(b.data[bo:], p[lo-off:hi-off])
		b.n = max(b.n, int(hi-idx*blockSize))
	}
	n.beginDirect()
	fs.mu.Unlock()
	m, err := fs.eng.pwritev(f.osf, [][]byte{p}, off)
	fs.mu.Lock()
	n.endDirect()
	n.changed = true
	n.written++
	if err != nil {
		// The blocks may now say more than the file; forget them.
		for idx := off / blockSize; idx*blockSize < end; idx++ {
			if b := n.blocks[idx]; b != nil && b.loading == nil && !b.dirty() {
				fs.dropBlock(b)
			}
		}
	}
	return m, off + int64(m), err
}

func (fs *Fs) flushLater(n *node) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n.timer = nil
	if n.dirtyBlocks > 0 {
		fs.startFlush(n, true, nil)
	}
}

// A flush is a set of dirty blocks being written, as runs of bytes that
// are contiguous in the file, each one write.
type flush struct {
	blocks []*block
	runs   []run
}

type run struct {
	off  int64
	bufs [][]byte
}

// collect marks the node's dirty blocks (only the completely written ones
// unless all) as flushing and groups their extents into runs.
func collect(n *node, all bool) *flush {
	fl := &flush{}
	for _, b := range n.blocks {
		if b.dirty() && !b.flushing && (all || b.covers(0, blockSize)) {
			fl.blocks = append(fl.blocks, b)
		}
	}
	if len(fl.blocks) == 0 {
		return nil
	}
	slices.SortFunc(fl.blocks, func(a, b *block) int { return int(a.idx - b.idx) })
	var next int64 = -1
	for _, b := range fl.blocks {
		b.flushing = true
		for _, e := range b.ext {
			at := b.idx*blockSize + int64(e.lo)
			buf := b.data[e.lo:e.hi]
			if at == next {
				r := &fl.runs[len(fl.runs)-1]
				r.bufs = append(r.bufs, buf)
			} else {
				fl.runs = append(fl.runs, run{off: at, bufs: [][]byte{buf}})
			}
			next = at + int64(len(buf))
		}
	}
	return fl
}

// startFlush starts writing the node's dirty blocks in the background,
// through via when given.
func (fs *Fs) startFlush(n *node, all bool, via *File) {
	if n.flushing {
		n.again = n.again || all
		return
	}
	w := fs.writer(n, via)
	if w == nil {
		return
	}
	fl := collect(n, all)
	if fl == nil {
		w.exit()
		return
	}
	n.flushing = true
	go func() {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		fs.runFlush(n, w, fl)
		w.exit()
		if n.again && n.dirtyBlocks > 0 {
			n.again = false
			fs.startFlush(n, true, nil)
		}
	}()
}

// writer picks a writable handle of n to flush through and holds it open
// until exit. via, when given, is a handle whose caller holds it already,
// and so may be used even while it closes.
func (fs *Fs) writer(n *node, via *File) *File {
	if via != nil && via.writable {
		via.hold()
		return via
	}
	for _, w := range n.writers {
		if w.tryHold() {
			return w
		}
	}
	return nil
}

// runFlush writes fl through w and returns the first error. Called with
// fs.mu held and n.flushing set; releases the lock during the writes.
func (fs *Fs) runFlush(n *node, w *File, fl *flush) error {
	fs.mu.Unlock()
	var err error
	written := 0 // runs fully written
	for _, r := range fl.runs {
		if _, err = fs.eng.pwritev(w.osf, r.bufs, r.off); err != nil {
			break
		}
		fs.st.flushes.Add(1)
		if len(r.bufs) > 1 {
			fs.st.coalesced.Add(1)
		}
		written++
	}
	fs.mu.Lock()
	n.flushing = false
	n.changed = true
	n.written++
	n.flushedAt = fs.flushSeq.Add(1)
	for _, b := range fl.blocks {
		b.flushing = false
	}
	n.failed = err != nil
	if err != nil {
		fs.st.bgErrors.Add(1)
		n.errSeq++
		for h := range n.handles {
			h.werr = err
		}
	} else {
		for _, b := range fl.blocks {
			if n.blocks[b.idx] != b {
				continue // truncated away while flushing
			}
			b.ext = nil
			fs.cache.dirty -= blockSize
			n.dirtyBlocks--
			fs.keepClean(b)
		}
	}
	fs.room.Broadcast()
	return err
}

// flushLocked writes all of n's dirty data, through via if given, and
// waits until it is on disk or has failed. Called with fs.mu held.
func (fs *Fs) flushLocked(n *node, via *File) error {
	for {
		for n.flushing {
			fs.room.Wait()
		}
		if n.dirtyBlocks == 0 {
			return nil
		}
		w := fs.writer(n, via)
		if w == nil {
			return errUnflushed
		}
		fl := collect(n, true)
		if fl == nil {
			w.exit()
			return nil
		}
		n.flushing = true
		err := fs.runFlush(n, w, fl)
		w.exit()
		if err != nil {
			return err
		}
	}
}

// syncNode flushes n's data for a Sync of f. It returns the error of that
// flush, and the counts that syncedBy needs after the fsync.
func (fs *Fs) syncNode(n *node, f *File) (errSeq, written uint64, err error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	err = fs.flushLocked(n, f)
	return n.errSeq, n.written, err
}

// stickyErr returns f's background write error.
func (fs *Fs) stickyErr(f *File) error {
	if f.n == nil {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return f.werr
}

// syncedBy records a Sync of f that succeeded: the writes up to written
// are committed, and f's sticky write error is cleared unless another
// write failed since the Sync flushed.
func (fs *Fs) syncedBy(f *File, errSeq, written uint64) {
	fs.mu.Lock()
	if f.n.errSeq == errSeq {
		f.werr = nil
	}
	f.n.synced = max(f.n.synced, written)
	fs.mu.Unlock()
}

// flushNode writes n's buffered data, for Fs.Sync, Fs.Close and Chtimes,
// and commits it to disk when sync is set.
func (fs *Fs) flushNode(n *node, sync bool) error {
	fs.mu.Lock()
	err := fs.flushLocked(n, nil)
	written := n.written
	w := fs.writer(n, nil)
	fs.mu.Unlock()
	if w == nil {
		return err // no handle left to name the file; err is errUnflushed or nil
	}
	defer w.exit()
	if err != nil {
		return &os.PathError{Op: "write", Path: w.name, Err: err}
	}
	if sync {
		if err := fs.eng.fsync(w.osf); err != nil {
			return &os.PathError{Op: "sync", Path: w.name, Err: err}
		}
		fs.mu.Lock()
		n.synced = max(n.synced, written)
		fs.mu.Unlock()
	}
	return nil
}

var errUnflushed = errors.New("aiofs: buffered data could not be written")

// truncate changes f's file size in order with its buffered writes:
// buffered data past size is dropped, the rest is kept.
func (fs *Fs) truncate(f *File, size int64) error {
	fs.mu.Lock()
	n := f.n
	for n.flushing {
		fs.room.Wait()
	}
	cut := size / blockSize
	for idx, b := range n.blocks {
		switch {
		case idx > cut || idx == cut && size%blockSize == 0:
			fs.dropBlock(b)
		case idx == cut && b.loading != nil:
			fs.dropBlock(b)
		case idx == cut:
			wasDirty := b.dirty()
			b.clip(int(size % blockSize))
			if wasDirty && !b.dirty() {
				fs.cache.dirty -= blockSize
				n.dirtyBlocks--
				fs.keepClean(b)
			}
		}
	}
	n.size = size
	n.writing++
	n.beginDirect()
	fs.mu.Unlock()
	err := f.osf.Truncate(size)
	fs.mu.Lock()
	n.endDirect()
	n.writing--
	n.changed = true
	fs.mu.Unlock()
	return err
}

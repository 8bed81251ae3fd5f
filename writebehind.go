package aiofs

import (
	"math"
	"syscall"
	"time"
)

const (
	// flushDelay is how long written data may wait for more writes to
	// the same blocks before it is flushed anyway.
	flushDelay = 20 * time.Millisecond
	// largeWrite is the size from which a write skips write-behind.
	largeWrite = 256 << 10
	// flushBatch is how many dirty blocks a file gathers before its full
	// ones are flushed, so that flushes are large writes.
	flushBatch = 16
	// streamWindow is how many dirty blocks a file written in sequence
	// may hold while its flush runs, in the Fs over the OS. A writer faster
	// than its flushes waits for them here rather than at the write-behind
	// bound, so that its blocks are reused while they are in the CPU's
	// cache instead of cycling through the whole bound.
	streamWindow = 2 * flushBatch
)

// writeAt writes p at off, or at the end of the file when off < 0, and
// returns how many bytes it accepted and the offset just past them. The
// node's size grows only by accepted bytes. p is not empty.
func (n *node) writeAt(f *File, p []byte, off int64) (int, int64, error) {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	fs := n.fs
	if err := n.lockSized(f); err != nil {
		fs.mu.Unlock()
		return 0, max(off, 0), err
	}
	if err := f.werr; err != nil {
		fs.mu.Unlock()
		return 0, max(off, 0), err
	}
	if off < 0 {
		off = n.size
	}
	// A write whose end would pass the largest offset fails as pwrite(2)
	// fails it: at once with EINVAL, or (clipsAtMaxOffset) in the file,
	// after the bytes that fit.
	over := off > math.MaxInt64-int64(len(p))
	if over && !clipsAtMaxOffset {
		fs.mu.Unlock()
		return 0, off, syscall.EINVAL
	}
	fits := !over && n.limit.covers(off+int64(len(p)))
	if !fits && !over {
		fs.mu.Unlock()
		fits = n.limit.fits(off+int64(len(p)), n.seeksOn(f.osf))
		fs.mu.Lock()
	}
	n.beginWrite()
	var m int
	var err error
	// A large write gains little from being copied and written later, and
	// costs the copy: like a read larger than the readahead window, it goes
	// straight to the file unless buffered data must go first. Not so in a
	// wrapped Fs, whose flushes write a large write's blocks to the base in
	// parallel, where one WriteAt may cost a round trip per packet. A write
	// past what the file system takes goes there too, to fail as the OS
	// fails it.
	large := len(p) >= largeWrite && !fs.store.remote()
	if f.writeThrough || !fits || large && n.dirtyBlocks == 0 && !n.flushing {
		m, err = n.writeThrough(f, p, off)
	} else {
		m, err = n.buffer(f, p, off)
	}
	n.writing--
	fs.mu.Unlock()
	return m, off + int64(m), err
}

// lockSized takes fs.mu, having made n.size the size of the file on disk
// when the Fs has no change of it pending (a wrapped Fs knows it: see
// node.knowsSize), as a change is about to put n.size ahead of the file.
// The caller holds wmu, so the node cannot get ahead while the
// file is asked without the lock. It returns with fs.mu held, error or
// not.
func (n *node) lockSized(f *File) error {
	fs := n.fs
	fs.mu.Lock()
	if n.knowsSize() {
		return nil
	}
	fs.mu.Unlock()
	fi, err := f.bf.Stat()
	fs.mu.Lock()
	if err != nil {
		return err
	}
	n.size = fi.Size()
	n.trusted = true // nothing changed the file meanwhile: see above
	return nil
}

// buffer copies p into dirty blocks at off, waiting for dirty room as
// needed. Called with fs.mu held; releases it while waiting.
func (n *node) buffer(f *File, p []byte, off int64) (int, error) {
	fs := n.fs
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
			if n.streamAhead(idx) {
				fs.room.Wait()
				continue
			}
			if fs.overBound() {
				if err := fs.waitForRoom(f); err != nil {
					return done, err
				}
				continue
			}
			b = fs.dirtyBlock(n, idx, b)
		}
		copy(b.data[bo:], p[done:done+want])
		fs.wrote(b, bo, bo+want)
		full = full || b.covers(0, blockSize)
		done += want
		n.size = max(n.size, pos+int64(want))
	}
	if full && n.dirtyBlocks >= flushBatch {
		n.startFlush(false, f)
	}
	if n.timer == nil && n.dirtyBlocks > 0 {
		n.timer = time.AfterFunc(flushDelay, n.flushLater)
	}
	return done, nil
}

// streamAhead reports whether a writer about to dirty block idx right
// after a full dirty one is streamWindow blocks ahead of the node's flush.
// A wrapped Fs's flushes write blocks to the base in parallel, and gain
// from holding more.
func (n *node) streamAhead(idx int64) bool {
	if !n.flushing || n.dirtyBlocks < streamWindow || n.fs.store.remote() {
		return false
	}
	prev := n.blocks[idx-1]
	return prev != nil && prev.dirty() && prev.covers(0, blockSize)
}

// overBound reports whether one more dirty block would pass the
// write-behind bound. One dirty block is always allowed, however small
// the bound. Blocks whose flush failed wait for a Sync to retry them, and
// must not stall the writers of other files (a program that met ENOSPC on
// one file goes on writing others), so they are counted apart, up to
// stuckAllowance of them.
func (fs *Fs) overBound() bool {
	counted := fs.cache.dirty - min(fs.cache.stuck, fs.stuckAllowance())
	return counted > 0 && counted+blockSize > fs.cfg.writeBehind
}

// stuckAllowance is how many bytes of failed blocks are not counted
// against the bound: as many as the bound, and at least the default
// bound, so that a small bound is not filled by one failed flush. Dirty
// memory stays within the bound plus this.
func (fs *Fs) stuckAllowance() int64 { return max(fs.cfg.writeBehind, DefaultWriteBehind) }

// waitForRoom blocks a writer until dirty blocks settle, after starting
// flushes of every dirty file. It returns the write error of f when a
// flush of its file has failed. Called with fs.mu held; releases it while
// waiting.
func (fs *Fs) waitForRoom(f *File) error {
	fs.st.writerWait.Add(1)
	// Every node is in fs.nodes, those a wrapped Fs no longer finds by
	// name included (see unname).
	for _, n := range fs.nodes {
		if n.dirtyBlocks > 0 {
			via := (*File)(nil)
			if n == f.n {
				via = f
			}
			n.startFlush(true, via)
		}
	}
	fs.room.Wait()
	return f.werr
}

// writeThrough writes p at off straight to the file, in order with the
// node's flushes, and brings the blocks it overlaps in line. Called with
// fs.mu held; releases it during the write.
func (n *node) writeThrough(f *File, p []byte, off int64) (int, error) {
	fs := n.fs
	n.beginBypass()
	fs.mu.Unlock()
	m, err := fs.eng.pwritev(f.data, [][]byte{p}, off)
	n.countForWriteback(f, m)
	fs.mu.Lock()
	if m > 0 {
		n.overwritten(p[:m], off)
		n.size = max(n.size, off+int64(m))
	}
	n.writeSeq++
	n.endBypass()
	return m, err
}

// overwritten brings the blocks over [off, off+len(p)) in line with p,
// which the file now holds there: clean blocks take its bytes, and dirty
// ones take them and no longer owe that range to the file. Blocks being
// loaded are dropped by their loader (see node.unbypassedSince).
func (n *node) overwritten(p []byte, off int64) {
	end := off + int64(len(p))
	// Counted by block index, not offset: the last block may end past
	// the largest offset.
	for idx := off / blockSize; idx <= (end-1)/blockSize; idx++ {
		b := n.blocks[idx]
		if b == nil || b.loading != nil {
			continue
		}
		at := idx * blockSize
		bo, bh := max(off-at, 0), min(end-at, blockSize)
		n.fs.overwrite(b, int(bo), p[at+bo-off:at+bh-off])
	}
}

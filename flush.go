package aiofs

import "slices"

// A flush is a set of dirty blocks being written, as runs of bytes that
// are contiguous in the file, each one write.
type flush struct {
	blocks []*block
	runs   []run

	// The first block, run and buffer live in the flush itself, so that
	// the flush of a small file is one allocation.
	block1 [1]*block
	run1   [1]run
	buf1   [1][]byte
}

type run struct {
	off  int64
	bufs [][]byte
}

// collect marks the node's dirty blocks as flushing and groups their
// extents into runs: only the completely written blocks unless all, and
// blocks whose last flush failed only when retry is set.
func (n *node) collect(all, retry bool) *flush {
	fl := &flush{}
	fl.blocks = fl.block1[:0]
	for _, b := range n.blocks {
		if b.dirty() && !b.flushing && (all || b.covers(0, blockSize)) && (retry || !b.failed) {
			fl.blocks = append(fl.blocks, b)
		}
	}
	if len(fl.blocks) == 0 {
		return nil
	}
	slices.SortFunc(fl.blocks, func(a, b *block) int { return int(a.idx - b.idx) })
	var next int64 = -1
	for _, b := range fl.blocks {
		n.fs.beginFlush(b)
		for _, e := range b.ext {
			at := b.idx*blockSize + int64(e.lo)
			buf := b.data[e.lo:e.hi]
			if at == next {
				r := &fl.runs[len(fl.runs)-1]
				r.bufs = append(r.bufs, buf)
			} else if fl.runs == nil {
				fl.buf1[0] = buf
				fl.runs = append(fl.run1[:0], run{off: at, bufs: fl.buf1[:]})
			} else {
				fl.runs = append(fl.runs, run{off: at, bufs: [][]byte{buf}})
			}
			next = at + int64(len(buf))
		}
	}
	return fl
}

// writer picks a handle of n to flush through and holds it open until
// exit. via, when given, is a handle whose caller holds it already, and so
// may be used even while it closes.
func (n *node) writer(via *File) *File {
	if via != nil && via.flushable() {
		via.ops.hold()
		return via
	}
	for _, w := range n.writers {
		if w.ops.tryHold() {
			return w
		}
	}
	return nil
}

// committer picks the handle a commit of n goes through, and holds it
// open until exit: a writer, via first, since flushes wrote through the
// writers' base files; else via, held by its caller already; else any
// handle that is not closing, or nil. A base may keep what a file wrote
// until that file's own Sync (an object store uploads it then), and a
// base file opened only for reading need not follow a rename through the
// Fs: its Sync may commit whatever now has its old name. Called with
// fs.mu held.
func (n *node) committer(via *File) *File {
	if w := n.writer(via); w != nil {
		return w
	}
	if via != nil {
		via.ops.hold()
		return via
	}
	return n.anyHandle()
}

// anyHandle picks a handle of n that is not closing, and holds it open
// until exit.
func (n *node) anyHandle() *File {
	for h := range n.handles {
		if h.ops.tryHold() {
			return h
		}
	}
	return nil
}

// startFlush starts writing the node's dirty blocks in the background
// (only the full ones unless all), through via when given. Blocks whose
// flush failed are left for a Sync. Called with fs.mu held.
func (n *node) startFlush(all bool, via *File) {
	if n.flushing || n.bypassing {
		n.again = n.again || all
		return
	}
	w := n.writer(via)
	if w == nil {
		return
	}
	fl := n.collect(all, false)
	if fl == nil {
		w.ops.exit()
		return
	}
	n.beginFlushing()
	go func() {
		err := n.write(w, fl)
		fs := n.fs
		fs.mu.Lock()
		defer fs.mu.Unlock()
		n.finish(fl, err)
		w.ops.exit()
		n.flushHeldBack()
	}()
}

// flushHeldBack starts the flush of everything that was asked for while a
// flush or bypass ran, or else of the full blocks a writer filled
// meanwhile: that writer may be waiting for room rather than writing the
// next block that would start their flush. Called with fs.mu held.
func (n *node) flushHeldBack() {
	switch {
	case n.dirtyBlocks == 0:
	case n.again:
		n.again = false
		n.startFlush(true, nil)
	case n.dirtyBlocks >= flushBatch:
		n.startFlush(false, nil)
	}
}

// flushLater is the timer's flush of data that waited flushDelay.
func (n *node) flushLater() {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	n.timer = nil
	if n.dirtyBlocks > 0 {
		n.startFlush(true, nil)
	}
}

// write writes fl's runs through w, without fs.mu, and returns the first
// error.
func (n *node) write(w *File, fl *flush) error {
	fs := n.fs
	for _, r := range fl.runs {
		m, err := fs.eng.pwritev(w.data, r.bufs, r.off)
		n.countForWriteback(w, m)
		if err != nil {
			return err
		}
		fs.st.flushes.Add(1)
		if len(r.bufs) > 1 {
			fs.st.coalesced.Add(1)
		}
	}
	return nil
}

// beginFlushing and endFlushing mark a flush of n's blocks as running,
// and count it in changingSeq, which is odd while it runs. Called with
// fs.mu held.
func (n *node) beginFlushing() {
	n.flushing = true
	n.changingSeq.Add(1)
}

func (n *node) endFlushing() {
	n.flushing = false
	n.changingSeq.Add(1)
}

// finish ends a flush: its blocks become clean, or on error stay dirty as
// failed blocks, and every handle open now is given the error. Called
// with fs.mu held.
func (n *node) finish(fl *flush, err error) {
	fs := n.fs
	n.endFlushing()
	n.change()
	n.writeSeq++
	n.lastFlushSeq = fs.flushSeq.Add(1)
	for _, b := range fl.blocks {
		fs.endFlush(b, err)
	}
	if err != nil {
		fs.st.bgErrors.Add(1)
		n.errSeq++
		for h := range n.handles {
			h.failedWrite(err)
		}
	}
	fs.room.Broadcast()
}

// flushLocked writes all of the node's dirty data, retrying blocks whose
// flush failed, through via if given, and waits until it is in the file
// or has failed. Called with fs.mu held; releases it while waiting and
// writing.
func (n *node) flushLocked(via *File) error {
	fs := n.fs
	for {
		for n.flushing || n.bypassing {
			fs.room.Wait()
		}
		if n.dirtyBlocks == 0 {
			return nil
		}
		w := n.writer(via)
		if w == nil {
			// Every writer is closing, and its Close flushes (or drops
			// the data as unwritable, as the last one does).
			fs.room.Wait()
			continue
		}
		fl := n.collect(true, true)
		n.beginFlushing()
		fs.mu.Unlock()
		err := n.write(w, fl)
		fs.mu.Lock()
		n.finish(fl, err)
		w.ops.exit()
		if err != nil {
			return err
		}
	}
}

// syncData flushes the node's data for a Sync of f. It returns the error
// of that flush, the handle to fsync through, held until its exit (see
// committer), and the counts that syncedBy needs after the fsync.
func (n *node) syncData(f *File) (via *File, errSeq, written uint64, err error) {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if err := n.flushLocked(f); err != nil {
		return nil, 0, 0, err
	}
	return n.committer(f), n.errSeq, n.writeSeq, nil
}

// syncedBy records a Sync of f whose flush and fsync succeeded: the writes
// up to written are committed, and f's sticky write error is cleared
// unless another write failed since the flush, or the data it stood for
// was dropped, which no Sync can mend. It returns the error f must still
// report.
func (n *node) syncedBy(f *File, errSeq, written uint64) error {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	n.committed(written)
	if n.errSeq == errSeq {
		f.clearWriteErr()
	}
	return f.werr
}

// flushNode writes the node's buffered data, for Fs.Close, Chtimes and
// SEEK_DATA, through any of its writers.
func (n *node) flushNode() error {
	n.fs.mu.Lock()
	defer n.fs.mu.Unlock()
	if err := n.flushLocked(nil); err != nil {
		return n.fs.store.pathErr("write", n.name, err)
	}
	return nil
}

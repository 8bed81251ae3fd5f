package aiofs

import "sync"

// readahead is a handle's readahead policy behind a lock of its own, which
// lets a read that readahead does not follow be told so without the Fs's
// lock.
type readahead struct {
	mu     sync.Mutex
	policy readaheadPolicy
}

// off reports whether readahead is off for reads of length bytes.
func (ra *readahead) off(fs *Fs, length int) bool {
	return fs.cfg.readahead <= 0 || !fs.cache.enabled() || int64(length) > fs.cfg.readahead
}

// follows reports whether readahead follows a read of length bytes at
// off: whether it continues a stream or may start one. A read that does
// neither is recorded as a candidate, as update would record it. While
// another read of the handle holds the state, the read is let go as one
// readahead does not follow: goroutines racing on one handle are not one
// sequential reader, and waiting for each other would cost them more
// than a missed candidate.
func (ra *readahead) follows(fs *Fs, off int64, length int) bool {
	if ra.off(fs, length) || !ra.mu.TryLock() {
		return false
	}
	defer ra.mu.Unlock()
	return !ra.policy.random(off, length)
}

// update follows a read of length bytes at off and returns the windows it
// calls for, and whether the read belongs to a stream. Called with fs.mu
// held.
func (ra *readahead) update(n *node, off int64, length int) (_ []window, stream bool) {
	if ra.off(n.fs, length) {
		return nil, false
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.policy.random(off, length) {
		return nil, false
	}
	return ra.policy.windows(off, length, n.view()), true
}

// ahead is update for a read that follows has already seen and found to
// belong to a stream or to start one. Called with fs.mu held.
func (ra *readahead) ahead(n *node, off int64, length int) []window {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	return ra.policy.windows(off, length, n.view())
}

// view is what the readahead policy knows of the node's file. Called
// with fs.mu held.
func (n *node) view() fileView {
	fs := n.fs
	size := n.size
	if !n.ahead() {
		size = max(size, n.diskSize)
	}
	return fileView{
		size: size,
		// A window is never more than half the cache, so two fit.
		maxWindow: min(fs.cfg.readahead, fs.cache.limit/2),
		// Only on the OS: a wrapped Fs's window spares round trips.
		smallFirst: !fs.store.remote(),
	}
}

// prefetch starts loading the blocks of w that are not yet cached, as
// far as the cache has room, unless the page cache holds the window
// already. While a bypass of the file runs, the window is dropped: what
// it read could not be kept (see node.unbypassedSince), and the reader
// should not wait for a change it may not need to see, as readUnwritten
// must. It takes fs.mu itself, after asking the page cache.
func (n *node) prefetch(f *File, w window) {
	if f.osf != nil && inPageCache(f.osf, w.start, w.end) {
		return // reads will find it in the page cache
	}
	fs := n.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n.bypassing {
		return
	}
	var blocks []*block
	for idx := w.start / blockSize; idx <= (w.end-1)/blockSize; idx++ { // the last block may end past the largest offset
		if n.blocks[idx] != nil {
			continue
		}
		if !fs.makeRoom(true) {
			break
		}
		blocks = append(blocks, fs.startLoad(n, idx, true))
	}
	if len(blocks) == 0 {
		return
	}
	fs.st.windows.Add(1)
	for _, b := range blocks {
		f.ops.hold()
		go n.load(f, b, n.bypassSeq)
	}
}

// load reads a block for readahead. A failure is dropped: the reader then
// reads the file itself and meets the error there. So is what a File that
// went stray meanwhile read: it may be another file's.
func (n *node) load(f *File, b *block, gen uint64) {
	defer f.ops.exit()
	fs := n.fs
	m, err := fs.eng.pread(f.data, b.data, b.idx*blockSize)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.loaded(b, m, err == nil && n.unbypassedSince(gen) && !f.stray.Load())
}

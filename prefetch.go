package aiofs

import "sync"

// Readahead follows Linux's on-demand readahead: a read at offset 0, or
// one that continues an earlier read, starts a stream; the stream reads a
// window ahead of the reader, and each time the reader reaches the
// window's trigger point the next, larger window is requested, so the
// engine reads while the caller works. Several streams per handle keep
// interleaved sequential readers (ReadAt users such as zip readers) apart.
// Other reads are served as they are and leave the streams alone.

const (
	maxStreams    = 4
	initialWindow = 128 << 10
	// pageSize is how far a read may start from where the last one ended
	// and still count as continuing it.
	pageSize = 4 << 10
)

// A stream is one sequential reader of a handle.
type stream struct {
	next int64 // where a read that continues the stream starts
	// The newest window is [start, start+size); the next one is requested
	// when a read reaches start+size-async.
	start, size, async int64
	tick               uint64 // last use, for replacing the oldest stream
}

// A candidate remembers where a read that did not belong to a stream
// ended, so that a second, contiguous read can start one.
type candidate struct{ next int64 }

// readahead is a handle's readahead state: its streams, and candidates
// for new ones. Its own lock lets a read that readahead does not follow
// be told so without the Fs's lock.
type readahead struct {
	mu       sync.Mutex
	streams  [maxStreams]stream
	cands    [maxStreams]candidate
	nextCand int
	tick     uint64
}

// A window is a range of a file to read ahead.
type window struct{ start, end int64 }

// maxWindows bounds the windows one read can ask for.
const maxWindows = 4

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
	return !ra.random(off, length)
}

// random records a read that belongs to no stream and starts none as a
// candidate, and reports whether it was one. Called with ra.mu held.
func (ra *readahead) random(off int64, length int) bool {
	ra.tick++
	if ra.streamAt(off) != nil || off == 0 || ra.candidateAt(off) != nil {
		return false
	}
	ra.cands[ra.nextCand%maxStreams] = candidate{next: off + int64(length)}
	ra.nextCand++
	return true
}

// update follows a read of length bytes at off and returns the windows it
// calls for, clamped at the end of the file, and whether the read belongs
// to a stream. Called with fs.mu held.
func (ra *readahead) update(n *node, off int64, length int) (_ []window, stream bool) {
	fs := n.fs
	if ra.off(fs, length) {
		return nil, false
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.random(off, length) {
		return nil, false
	}
	return ra.windows(n, off, length), true
}

// ahead is update for a read that follows has already seen and found to
// belong to a stream or to start one. Called with fs.mu held.
func (ra *readahead) ahead(n *node, off int64, length int) []window {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	return ra.windows(n, off, length)
}

// windows moves the stream a read continues or starts, and returns the
// windows it calls for, clamped at the end of the file. Called with fs.mu
// and ra.mu held.
func (ra *readahead) windows(n *node, off int64, length int) []window {
	fs := n.fs
	// A window is never more than half the cache, so two fit.
	limit := min(fs.cfg.readahead, fs.cache.limit/2)
	size := n.size
	if !n.authoritative() {
		size = max(size, n.diskSize)
	}
	var wins []window
	ask := func(s *stream) bool {
		w := window{s.start, min(s.start+s.size, size)}
		if w.start >= w.end || len(wins) == maxWindows {
			return false
		}
		wins = append(wins, w)
		return true
	}
	s := ra.streamAt(off)
	if s == nil {
		if c := ra.candidateAt(off); c != nil {
			c.next = -1
		}
		s = ra.oldestStream()
		// On the OS, a file no larger than a first window is read by the
		// reader's next read as fast as by a window, which would cost a
		// look at the page cache first (a server's small static files).
		small := !fs.wrapped && off < initialWindow && size <= initialWindow
		size := min(limit, max(initialWindow, roundPow2(int64(length))*4))
		start := off - off%blockSize
		*s = stream{start: start, size: size, async: size - roundPow2(int64(length))}
		if s.async <= 0 {
			s.async = size
		}
		if !small {
			ask(s)
		}
	}
	s.tick = ra.tick
	end := off + int64(length)
	s.next = end
	for end > s.start+s.size-s.async {
		size := s.size * 2
		if s.size < limit/16 {
			size = s.size * 4
		}
		*s = stream{next: s.next, start: s.start + s.size, size: min(size, limit), tick: s.tick}
		s.async = s.size
		if !ask(s) {
			break
		}
	}
	return wins
}

// streamAt returns the stream a read at off continues: one whose next
// read starts within a page of off. A rewind to 0 early in a stream that
// began at 0 (net/http sniffs 512 bytes, then seeks back) continues it.
func (ra *readahead) streamAt(off int64) *stream {
	for i := range ra.streams {
		s := &ra.streams[i]
		if s.size == 0 {
			continue
		}
		if off >= s.next-pageSize && off <= s.next+pageSize || off == 0 && s.start == 0 && s.next <= initialWindow {
			return s
		}
	}
	return nil
}

func (ra *readahead) candidateAt(off int64) *candidate {
	for i := range ra.cands {
		c := &ra.cands[i]
		if c.next > 0 && off >= c.next-pageSize && off <= c.next+pageSize {
			return c
		}
	}
	return nil
}

func (ra *readahead) oldestStream() *stream {
	old := &ra.streams[0]
	for i := range ra.streams {
		s := &ra.streams[i]
		if s.size == 0 {
			return s
		}
		if s.tick < old.tick {
			old = s
		}
	}
	return old
}

func roundPow2(n int64) int64 {
	p := int64(blockSize)
	for p < n {
		p <<= 1
	}
	return p
}

// prefetch starts loading the blocks of w that are not yet cached, as
// far as the cache has room, unless the page cache holds the window
// already. While a direct change of the file runs, the window is
// dropped: what it read could not be kept (see node.settled), and the
// reader should not wait for a change it may not need to see, as complete
// must. It takes fs.mu itself, after asking the page cache.
func (n *node) prefetch(f *File, w window) {
	if f.osf != nil && inPageCache(f.osf, w.start, w.end) {
		return // reads will find it in the page cache
	}
	fs := n.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n.direct {
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
		go n.load(f, b, n.directGen)
	}
}

// load reads a block for readahead. A failure is dropped: the reader then
// reads the file itself and meets the error there.
func (n *node) load(f *File, b *block, gen uint64) {
	defer f.ops.exit()
	fs := n.fs
	m, err := fs.eng.pread(f.data, b.data, b.idx*blockSize)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.loaded(b, m, err == nil && n.settled(gen))
}

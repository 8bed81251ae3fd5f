package aiofs

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

// readahead updates f's streams for a read of length bytes at off and
// requests the windows it calls for. Called with fs.mu held.
func (fs *Fs) readahead(f *File, off int64, length int) {
	limit := fs.cfg.readahead
	if limit <= 0 || !fs.cache.enabled() || int64(length) > limit {
		return
	}
	// A window is never more than half the cache, so two fit.
	limit = min(limit, fs.cache.limit/2)
	f.tick++
	s := f.streamAt(off)
	if s == nil {
		c := f.candidateAt(off)
		if off != 0 && c == nil {
			f.cands[f.nextCand%maxStreams] = candidate{next: off + int64(length)}
			f.nextCand++
			return
		}
		if c != nil {
			c.next = -1
		}
		s = f.oldestStream()
		size := min(limit, max(initialWindow, roundPow2(int64(length))*4))
		start := off - off%blockSize
		*s = stream{start: start, size: size, async: size - roundPow2(int64(length))}
		if s.async <= 0 {
			s.async = size
		}
		fs.prefetch(f, s.start, s.start+s.size)
	}
	s.tick = f.tick
	end := off + int64(length)
	s.next = end
	for end > s.start+s.size-s.async {
		size := s.size * 2
		if s.size < limit/16 {
			size = s.size * 4
		}
		*s = stream{next: s.next, start: s.start + s.size, size: min(size, limit), tick: s.tick}
		s.async = s.size
		if !fs.prefetch(f, s.start, s.start+s.size) {
			break
		}
	}
}

// streamAt returns the stream a read at off continues: one whose next
// read starts within a page of off. A rewind to 0 early in a stream that
// began at 0 (net/http sniffs 512 bytes, then seeks back) continues it.
func (f *File) streamAt(off int64) *stream {
	for i := range f.streams {
		s := &f.streams[i]
		if s.size == 0 {
			continue
		}
		if off >= s.next-pageSize && off <= s.next+pageSize || off == 0 && s.start == 0 && s.next <= initialWindow {
			return s
		}
	}
	return nil
}

func (f *File) candidateAt(off int64) *candidate {
	for i := range f.cands {
		c := &f.cands[i]
		if c.next > 0 && off >= c.next-pageSize && off <= c.next+pageSize {
			return c
		}
	}
	return nil
}

func (f *File) oldestStream() *stream {
	old := &f.streams[0]
	for i := range f.streams {
		s := &f.streams[i]
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

// prefetch starts loading the blocks of [start, end) that are not yet
// cached, as far as the cache has room, and reports whether the window
// was issued. Called with fs.mu held.
func (fs *Fs) prefetch(f *File, start, end int64) bool {
	n := f.n
	size := n.size
	if !n.authoritative() {
		size = max(size, n.diskSize)
	}
	end = min(end, size)
	if start >= end {
		return false
	}
	if inPageCache(f.osf, start, end) {
		return true // reads will find it in the page cache
	}
	var blocks []*block
	for idx := start / blockSize; idx*blockSize < end; idx++ {
		if n.blocks[idx] != nil {
			continue
		}
		if !fs.makeRoom(true) {
			break
		}
		b := newBlock(n, idx)
		b.loading = make(chan struct{})
		b.prefetched = true
		n.blocks[idx] = b
		fs.cache.used += blockSize
		blocks = append(blocks, b)
	}
	if len(blocks) == 0 {
		return true
	}
	fs.st.windows.Add(1)
	for _, b := range blocks {
		f.hold()
		go fs.load(f, b, n.directGen)
	}
	return true
}

// load reads a block for readahead. A failure is dropped: the reader then
// reads the file itself and meets the error there.
func (fs *Fs) load(f *File, b *block, gen uint64) {
	defer f.exit()
	m, err := fs.eng.pread(f.osf, b.data, b.idx*blockSize)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := b.node
	close(b.loading)
	b.loading = nil
	if err != nil || b.stale || n.blocks[b.idx] != b || !n.settled(gen) {
		if n.blocks[b.idx] == b {
			delete(n.blocks, b.idx)
		}
		fs.cache.used -= blockSize
		b.release()
		fs.forgetIfIdle(n)
	} else {
		clear(b.data[m:])
		b.n = m
		b.known = true
		fs.cache.pushBack(b)
	}
	fs.room.Broadcast()
}

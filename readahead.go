package aiofs

// Readahead follows Linux's on-demand readahead: a read at offset 0, or
// one that continues an earlier read, starts a stream; the stream reads a
// window ahead of the reader, and each time the reader reaches the
// window's trigger point the next, larger window is requested, so the
// engine reads while the caller works. Several streams per handle keep
// interleaved sequential readers (ReadAt users such as zip readers) apart.
// Other reads are served as they are and leave the streams alone.
//
// The policy (readaheadPolicy) is state in, windows out: it does no I/O
// and takes no lock. prefetch.go runs it for each handle and loads the
// windows it asks for.

const (
	maxStreams    = 4
	initialWindow = 128 << 10
	// streamSlack is how far a read may start from where the last one
	// ended and still count as continuing it.
	streamSlack = 4 << 10
	// maxWindows bounds the windows one read can ask for.
	maxWindows = 4
)

// A readaheadPolicy is one handle's readahead: its streams, and
// candidates for new ones. What every read writes comes first, next to
// the handle's other words that reads write (see File).
type readaheadPolicy struct {
	tick     uint64
	nextCand int
	cands    [maxStreams]candidate
	streams  [maxStreams]stream
}

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

// A window is a range of a file to read ahead.
type window struct{ start, end int64 }

// A fileView is what the policy needs to know of the file and the cache
// at a read.
type fileView struct {
	size      int64 // where the file ends, as far as the Fs knows
	maxWindow int64 // the largest window the cache allows
	// smallFirst skips the first window of a stream in a file no larger
	// than one: the reader's next read gets it as fast from the page
	// cache, which a window would first ask about.
	smallFirst bool
}

// random records a read that belongs to no stream and starts none as a
// candidate, and reports whether it was one.
func (p *readaheadPolicy) random(off int64, length int) bool {
	p.tick++
	if p.streamAt(off) != nil || off == 0 || p.candidateAt(off) != nil {
		return false
	}
	p.cands[p.nextCand%maxStreams] = candidate{next: off + int64(length)}
	p.nextCand++
	return true
}

// windows moves the stream a read continues or starts, and returns the
// windows it calls for, clamped at the end of the file. The read is one
// random has seen and not found random.
func (p *readaheadPolicy) windows(off int64, length int, v fileView) []window {
	var wins []window
	ask := func(s *stream) bool {
		w := window{s.start, min(s.start+s.size, v.size)}
		if w.start >= w.end || len(wins) == maxWindows {
			return false
		}
		wins = append(wins, w)
		return true
	}
	s := p.streamAt(off)
	if s == nil {
		if c := p.candidateAt(off); c != nil {
			c.next = -1
		}
		s = p.oldestStream()
		size := min(v.maxWindow, max(initialWindow, roundPow2(int64(length))*4))
		start := off - off%blockSize
		*s = stream{start: start, size: size, async: size - roundPow2(int64(length))}
		if s.async <= 0 {
			s.async = size
		}
		if !v.smallFirst || off >= initialWindow || v.size > initialWindow {
			ask(s)
		}
	}
	s.tick = p.tick
	end := off + int64(length)
	s.next = end
	for end > s.start+s.size-s.async {
		size := s.size * 2
		if s.size < v.maxWindow/16 {
			size = s.size * 4
		}
		*s = stream{next: s.next, start: s.start + s.size, size: min(size, v.maxWindow), tick: s.tick}
		s.async = s.size
		if !ask(s) {
			break
		}
	}
	return wins
}

// streamAt returns the stream a read at off continues: one whose next
// read starts within streamSlack of off. A rewind to 0 early in a stream
// that began at 0 (net/http sniffs 512 bytes, then seeks back) continues
// it.
func (p *readaheadPolicy) streamAt(off int64) *stream {
	for i := range p.streams {
		s := &p.streams[i]
		if s.size == 0 {
			continue
		}
		if off >= s.next-streamSlack && off <= s.next+streamSlack || off == 0 && s.start == 0 && s.next <= initialWindow {
			return s
		}
	}
	return nil
}

func (p *readaheadPolicy) candidateAt(off int64) *candidate {
	for i := range p.cands {
		c := &p.cands[i]
		if c.next > 0 && off >= c.next-streamSlack && off <= c.next+streamSlack {
			return c
		}
	}
	return nil
}

func (p *readaheadPolicy) oldestStream() *stream {
	old := &p.streams[0]
	for i := range p.streams {
		s := &p.streams[i]
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

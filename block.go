package aiofs

// blockSize is the unit of caching, readahead and write-behind.
const blockSize = 64 << 10

// A block holds blockSize bytes of a file at offset idx*blockSize. Its
// states and the transitions between them are listed in cache.go, whose
// methods make every change of them.
//
// A known block's data is the file's content, zeros past the end of file.
// n is how many leading bytes are known to exist in the file; a reader
// that cannot rely on the Fs's size asks the file about bytes past n.
type block struct {
	node *node
	idx  int64
	data []byte
	n    int
	ext  []extent // byte ranges written and not yet in the file

	known      bool          // data holds the file's bytes outside ext
	flushing   bool          // the engine is writing ext out
	failed     bool          // the last flush of ext failed
	loading    chan struct{} // closed when the load of the block ends
	stale      bool          // a write overtook the load in flight; drop its result
	prefetched bool          // loaded by readahead and not yet read
	readTo     int           // how far reads of the clean block have reached
	hot        *hotCopy      // published for reads without fs.mu (hot.go)

	prev, next *block // LRU links while clean
}

// An extent is a byte range [lo, hi) within a block.
type extent struct{ lo, hi int }

func (b *block) dirty() bool { return len(b.ext) > 0 }

// covers reports whether ext covers [lo, hi).
func (b *block) covers(lo, hi int) bool {
	for _, e := range b.ext {
		if e.lo <= lo && hi <= e.hi {
			return true
		}
	}
	return false
}

// addExtent records [lo, hi) as written, merging with touching ranges.
func (b *block) addExtent(lo, hi int) {
	if k := len(b.ext) - 1; k >= 0 && b.ext[k].lo <= lo && lo <= b.ext[k].hi {
		// Extends the last range, as sequential writes do: in place.
		b.ext[k].hi = max(b.ext[k].hi, hi)
		b.n = max(b.n, hi)
		return
	}
	out := b.ext[:0:0]
	placed := false
	for _, e := range b.ext {
		switch {
		case e.hi < lo:
			out = append(out, e)
		case hi < e.lo:
			if !placed {
				out = append(out, extent{lo, hi})
				placed = true
			}
			out = append(out, e)
		default:
			lo, hi = min(lo, e.lo), max(hi, e.hi)
		}
	}
	if !placed {
		out = append(out, extent{lo, hi})
	}
	b.ext = out
	b.n = max(b.n, hi)
}

// remove takes [lo, hi) out of ext: those bytes no longer need writing.
func (b *block) remove(lo, hi int) {
	var out []extent
	for _, e := range b.ext {
		if e.lo < lo {
			out = append(out, extent{e.lo, min(e.hi, lo)})
		}
		if e.hi > hi {
			out = append(out, extent{max(e.lo, hi), e.hi})
		}
	}
	b.ext = out
}

// clip forgets everything at or past byte cut of the block, which must not
// be hot.
func (b *block) clip(cut int) {
	out := b.ext[:0]
	for _, e := range b.ext {
		if e.lo >= cut {
			continue
		}
		e.hi = min(e.hi, cut)
		out = append(out, e)
	}
	b.ext = out
	clear(b.data[cut:])
	b.n = min(b.n, cut)
}

// release returns the block's buffer to the Fs's block memory, if it has
// one of its own (see Fs.unpublish); the block must be unreachable.
func (b *block) release() {
	if b.data != nil {
		b.node.fs.cache.mem.put((*[blockSize]byte)(b.data))
	}
	b.data = nil
}

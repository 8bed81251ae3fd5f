package aiofs

// readAt reads into p from off through f: from hot, cached and dirty
// blocks where they have the bytes, from the file where not. It returns
// fewer than len(p) bytes only at end of file or with an error. An
// O_DIRECT read goes to the file, which judges its alignment.
func (n *node) readAt(f *File, p []byte, off int64) (int, error) {
	if _, quiet := n.quietRead(); quiet && !f.directIO && !f.stray.Load() && n.serveHot(p, off) {
		return len(p), nil
	}
	return n.readPastHot(f, p, off)
}

// readPastHot is readAt for a read the hot blocks have not served
// (File.ReadAt tries them before it admits the read).
func (n *node) readPastHot(f *File, p []byte, off int64) (int, error) {
	if f.stray.Load() {
		return n.readStray(f, p, off)
	}
	fs := n.fs
	follows, raced := false, false
	if seq, quiet := n.quietRead(); quiet {
		// Nothing buffered: the file answers without the Fs's lock,
		// unless readahead follows the read, or a change of the file by
		// the Fs overlaps the read (see Locking).
		if follows = f.ra.follows(fs, off, len(p)); !follows {
			fs.st.cacheMisses.Add(off, 1)
			if k := n.count(f, off); k >= admitAt {
				// Read the whole block in instead, and serve p from it.
				n.admit(f, off/blockSize, k)
				if n.readHot(p, off) {
					return len(p), nil
				}
			}
			m, err := fs.eng.pread(f.data, p, off)
			if raced = n.changingSeq.Load() != seq; !raced {
				return m, err
			}
		}
	}
	fs.mu.Lock()
	var wins []window
	switch {
	case raced: // read again, and seen by readahead already
	case follows:
		wins = f.ra.ahead(n, off, len(p)) // follows has seen the read
	default:
		wins, follows = f.ra.update(n, off, len(p))
	}
	if len(wins) > 0 {
		fs.mu.Unlock()
		for _, w := range wins {
			n.prefetch(f, w)
		}
		fs.mu.Lock()
	}
	// A stream's reads are not coming back, but a stream that starts at the
	// beginning of the file may be one that came before.
	if (!follows || off == 0) && n.blocks[off/blockSize] == nil {
		if k := n.count(f, off); k >= admitAt {
			fs.mu.Unlock()
			n.admit(f, off/blockSize, k)
			fs.mu.Lock()
		}
	}
	m, err, locked := n.readLocked(f, p, off)
	if locked {
		fs.mu.Unlock()
	}
	return m, err
}

// readStray is readAt for a stray File: its base file may reach whatever
// has the file's old name now, as an object store's reader, which reads
// by name, does, while the node stays the file's. So the read goes to the
// base file, as it would unwrapped, once the Fs's pending writes are in
// the files it may reach (see flushForStray), and nothing it reads enters
// the node.
func (n *node) readStray(f *File, p []byte, off int64) (int, error) {
	f.flushForStray()
	return n.fs.eng.pread(f.data, p, off)
}

// readLocked is readAt with fs.mu held. It returns with the lock held, or
// released when it reports so.
func (n *node) readLocked(f *File, p []byte, off int64) (_ int, _ error, locked bool) {
	fs := n.fs
	n.quiet.Store(n.quietNow())
	done, missed := 0, false
	for done < len(p) {
		pos := off + int64(done)
		sizeKnown := n.knowsSize()
		if sizeKnown && pos >= n.size {
			break
		}
		idx, bo := pos/blockSize, int(pos%blockSize)
		want := min(len(p)-done, blockSize-bo)
		if sizeKnown {
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
		case b != nil && b.known && (sizeKnown || bo < b.n):
			if !sizeKnown {
				want = min(want, b.n-bo)
			}
			copy(p[done:done+want], b.data[bo:])
			fs.noteRead(b, bo, bo+want)
			done += want
			continue
		case b != nil && b.dirty() && b.covers(bo, bo+want):
			copy(p[done:done+want], b.data[bo:])
			done += want
			continue
		case b != nil && b.dirty():
			// Written in parts: read the rest of the block from the file.
			missed = true
			if err := n.readUnwritten(f, b); err != nil {
				return done, err, true
			}
			continue
		}
		// Not cached: read the whole run of uncached blocks directly into
		// p, once no bypass of the file runs (see Locking).
		if n.bypassing {
			for n.bypassing {
				fs.room.Wait()
			}
			continue
		}
		missed = true
		end := len(p)
		for i := idx + 1; i <= (off+int64(end)-1)/blockSize; i++ {
			if n.blocks[i] != nil {
				end = int(int64(i)*blockSize - off)
				break
			}
		}
		// An O_DIRECT read keeps its aligned length, which the kernel
		// requires, and is cut at the size the Fs knows once read.
		readEnd := end
		if sizeKnown {
			end = int(min(int64(end), n.size-off))
			if !f.directIO {
				readEnd = end
			}
		}
		seq := n.changingSeq.Load()
		fs.mu.Unlock()
		m, err := fs.eng.pread(f.data, p[done:readEnd], pos)
		m = min(m, end-done)
		moved := n.changingSeq.Load() != seq
		if !sizeKnown && err == nil && done+m == len(p) && !moved {
			// The rest came from the file, which is the authority: no
			// need to look at the node again.
			fs.st.cacheMisses.Add(off, 1)
			return len(p), nil, false
		}
		fs.mu.Lock()
		if err != nil {
			return done + m, err, true
		}
		if moved || n.knowsSize() != sizeKnown {
			continue // a change or a write raced with the read; read again
		}
		if done+m < end {
			if !n.knowsSize() {
				done += m
				break
			}
			// A hole up to buffered data further on.
			clear(p[done+m : end])
		}
		done = end
	}
	if missed {
		fs.st.cacheMisses.Add(off, 1)
	} else {
		fs.st.cacheHits.Add(off, 1)
	}
	return done, nil, true
}

// readUnwritten reads the parts of a dirty block that were not written, so
// that the whole block is known. It waits for a bypass of the file to
// end first, since what it reads meanwhile could not be kept. Called
// with fs.mu held; releases it while waiting and reading.
func (n *node) readUnwritten(f *File, b *block) error {
	fs := n.fs
	for n.bypassing {
		fs.room.Wait()
	}
	if n.blocks[b.idx] != b || b.known || !b.dirty() {
		return nil // flushed, dropped or completed meanwhile
	}
	tmp := fs.cache.mem.get()
	defer fs.cache.mem.put(tmp)
	gen := n.bypassSeq
	fs.mu.Unlock()
	m, err := fs.eng.pread(f.data, tmp[:], b.idx*blockSize)
	fs.mu.Lock()
	if err != nil {
		return err
	}
	if n.blocks[b.idx] != b || b.known || !b.dirty() || !n.unbypassedSince(gen) || f.stray.Load() {
		return nil // flushed, dropped, completed, overtaken or moved meanwhile
	}
	fs.fillIn(b, tmp, m)
	return nil
}

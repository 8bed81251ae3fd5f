package aiofs

import "os"

// truncate changes the file's size through f, in order with the writes
// before it: buffered data past size is dropped, the rest is kept. A
// truncate that fails changes nothing.
func (n *node) truncate(f *File, size int64) error {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	fs := n.fs
	if err := n.lockSized(f); err != nil {
		fs.mu.Unlock()
		return f.pathErr("truncate", err)
	}
	n.beginBypass()
	fs.mu.Unlock()
	err := f.bf.Truncate(size)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err == nil {
		n.cut(size)
		n.size = size
		n.writeSeq++ // a change of the file that Fs.Sync must commit
	}
	n.endBypass()
	return err
}

// cut drops what the node's blocks hold at or past size.
func (n *node) cut(size int64) {
	fs := n.fs
	last := size / blockSize
	for idx, b := range n.blocks {
		switch {
		case idx > last || idx == last && (size%blockSize == 0 || b.loading != nil):
			fs.dropBlock(b)
		case idx == last:
			fs.clip(b, int(size%blockSize))
		}
	}
}

// truncateAtOpen brings the node in line with an Open through f that
// truncated the file when Fs.flushSeq was seq: buffered data from before
// it is dropped, and since a flush that ended after the open began may
// have written some of it back, the file is truncated once more then,
// whatever f's access mode, as open(2) truncates. It reports whether a
// flush ended since seq, changing the file's times.
func (n *node) truncateAtOpen(f *File, seq uint64) (flushed bool, _ error) {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	fs := n.fs
	fs.mu.Lock()
	n.beginBypass()
	for _, b := range n.blocks {
		fs.dropBlock(b)
	}
	n.size = 0
	n.writeSeq++ // the open's truncation, which Fs.Sync must commit
	flushed = n.lastFlushSeq > seq
	w := f
	if flushed && !f.writable {
		w = n.writer(nil) // held until exit
	}
	fs.mu.Unlock()
	var err error
	switch {
	case !flushed:
	case w == f:
		err = f.bf.Truncate(0)
	case w != nil:
		err = w.bf.Truncate(0)
		w.ops.exit()
	default:
		err = fs.truncateByName(f.name, n.key)
	}
	fs.mu.Lock()
	n.endBypass()
	fs.mu.Unlock()
	return flushed, bareErr(err)
}

// truncateByName truncates the file name names, if it is still the file
// with key, for a read-only truncating Open whose file has no writer left.
func (fs *Fs) truncateByName(name string, key fileKey) error {
	f, err := fs.base.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fs.store.key(name, fi) != key {
		return nil // another file now: the one opened was truncated by open(2)
	}
	return f.Truncate(0)
}

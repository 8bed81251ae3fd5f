package aiofs

import (
	"hash/maphash"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/afero"
)

// A node is the state every handle of one file in an Fs shares: its
// cached and dirty blocks, and the size the Fs knows. Its fields are
// guarded by Fs.mu, but for wmu, limit and the atomics quiet and hot
// (see Locking in cache.go).
type node struct {
	// Which file.
	fs   *Fs
	key  fileKey
	name string // as the Fs last knew it: opened by, or renamed to
	seed uint64 // tells the file's blocks from others' in the cache's sketch

	// Who uses it.
	handles map[*File]struct{}
	writers []*File // handles that flushes may write through, oldest first

	// What it holds (cache.go, hot.go).
	blocks map[int64]*block
	// size is the file's size including buffered data, counting only
	// bytes writes accepted. It is ahead of the file's while the Fs has
	// changes of the file not yet on disk (see ahead); otherwise the file
	// itself says where it ends.
	size        int64
	dirtyBlocks int
	// quiet is set while a read that readahead does not follow is a read
	// of the file (see quietNow), so that readers may see it without
	// fs.mu. It is stored under fs.mu: true by a reader that finds the
	// node quietNow, false before anything ends that, by the only three
	// changes that do: beginWrite, beginBypass, and Fs.addBlock in a
	// wrapped Fs.
	quiet atomic.Bool
	// hot holds the node's hot blocks, for quiet reads (hot.go); nil when
	// there are none. Published under fs.mu.
	hot atomic.Pointer[hotIndex]

	// The changes under way, in order (writebehind.go, flush.go,
	// truncate.go).
	wmu          sync.Mutex // serializes the file's writers; see Locking
	writing      int        // Write calls admitted and not yet returned
	flushing     bool       // a flush is writing blocks
	bypassing    bool       // a bypass runs: a write-through or truncate is changing the file
	bypassSeq    uint64     // bypasses begun and ended (see unbypassedSince)
	again        bool       // flush when the running flush or bypass ends
	timer        *time.Timer
	errSeq       uint64    // failed flushes so far
	lastFlushSeq uint64    // Fs.flushSeq when the last flush ended
	limit        fileLimit // the largest offset the file system takes (limits.go)
	wb           writeback // starts the kernel's writeback of a long write (writeback.go)

	// changingSeq counts the flushes and bypasses of the file as they
	// begin and as they end, so it is odd while one runs. Stored under
	// Fs.mu, loaded without it by reads of the file (see Locking).
	changingSeq atomic.Uint64

	// What the Fs last saw of the file on disk, to notice changes made by
	// others when the file is opened again.
	diskSize     int64
	mtime, ctime time.Time
	changedSeq   uint64 // how many times the Fs changed the file (see change)
	recordedSeq  uint64 // changedSeq when the Fs recorded the above
	// trusted is set in a wrapped Fs while size is known to be the
	// file's, plus the Fs's own changes: recorded from a Stat that no
	// change of the Fs overlapped (see knowsSize).
	trusted bool

	// Commits (commit.go). writeSeq counts the writes that reached the
	// file, syncedSeq how many of them an fsync has since committed. Once the
	// last handle has closed with writes uncommitted, the file is kept for
	// Fs.Sync (in Fs.keptNodes): by a descriptor of its own (keep), used
	// by keepUsers commits at the moment, or else by name.
	writeSeq, syncedSeq uint64
	keep                afero.File
	keepUsers           int
}

// keySeed hashes file keys into node seeds: a file's seed outlives its
// node, which goes when the last handle closes, so that a file opened
// again and again is counted as one.
var keySeed = maphash.MakeSeed()

func newNode(fs *Fs, key fileKey) *node {
	n := &node{fs: fs, key: key, handles: make(map[*File]struct{}), blocks: make(map[int64]*block), seed: maphash.Comparable(keySeed, key)}
	if fs.store.remote() {
		n.limit.ok.Store(math.MaxInt64) // the base refuses what it cannot take
	}
	return n
}

// ahead reports whether n.size, not the file, says where the file
// ends: the Fs has changes of it that the file does not show yet.
func (n *node) ahead() bool {
	return n.dirtyBlocks > 0 || n.flushing || n.bypassing || n.writing > 0
}

// quietNow reports whether a read may go to the file without looking at the
// node: the node is not ahead, so the file holds every byte the Fs
// knows of (clean blocks hold the file's own bytes), and in a wrapped Fs,
// where a cached block spares a round trip, it has no block either.
func (n *node) quietNow() bool {
	return !n.ahead() && (len(n.blocks) == 0 || !n.fs.store.remote())
}

// knowsSize reports whether n.size says where the file ends for reads: while
// n is ahead, and in a wrapped Fs while it is trusted: close-to-
// open coherence trusts the size the base's Stat gave at Open plus the
// Fs's own changes, sparing a round trip to the base at end of file.
func (n *node) knowsSize() bool { return n.ahead() || n.fs.store.remote() && n.trusted }

// unsynced reports whether the node has writes not yet committed to
// stable storage, buffered or not.
func (n *node) unsynced() bool { return n.ahead() || n.writeSeq != n.syncedSeq }

// beginWrite counts a Write admitted, as it begins changing the node.
// Called with fs.mu held.
func (n *node) beginWrite() {
	n.writing++
	n.quiet.Store(false)
}

// unbypassedSince reports whether no bypass ran since bypassSeq was gen,
// so that a block read from the file since then holds current bytes.
func (n *node) unbypassedSince(gen uint64) bool { return !n.bypassing && n.bypassSeq == gen }

// beginBypass waits until neither a flush nor another bypass runs, then
// marks one as running: a change of the file that bypasses the blocks (a
// write-through or a truncate). Called with fs.mu held, which it may release
// while waiting.
func (n *node) beginBypass() {
	for n.flushing || n.bypassing {
		n.fs.room.Wait()
	}
	n.bypassing = true
	n.bypassSeq++
	n.changingSeq.Add(1)
	n.quiet.Store(false)
}

// endBypass ends a bypass and starts the flush it held back.
func (n *node) endBypass() {
	n.bypassing = false
	n.bypassSeq++
	n.changingSeq.Add(1)
	n.change()
	n.fs.room.Broadcast()
	n.flushHeldBack()
}

// changedOnDisk reports whether fi shows a file other than the one the Fs
// last saw.
func (n *node) changedOnDisk(fi os.FileInfo) bool {
	return n.changedSeq != n.recordedSeq || fi.Size() != n.diskSize || !fi.ModTime().Equal(n.mtime) || !changeTime(fi).Equal(n.ctime)
}

// record remembers fi as what the file on disk is now.
func (n *node) record(fi os.FileInfo) {
	n.size = fi.Size()
	n.diskSize, n.mtime, n.ctime, n.recordedSeq = fi.Size(), fi.ModTime(), changeTime(fi), n.changedSeq
}

// change notes that the Fs changed the file: its data, size or metadata.
func (n *node) change() {
	n.changedSeq++
	n.fs.changedSeq.Add(1)
}

// attach joins f to the node of its file, opened with O_TRUNC if trunc
// when Fs.flushSeq was seq and Fs.changedSeq was changes; fi is the file's
// Stat taken since. An Open that finds the file changed since the Fs last
// saw it drops the cached blocks.
func (fs *Fs) attach(f *File, fi os.FileInfo, trunc bool, seq, changes uint64) error {
	key := fs.store.key(f.name, fi)
	fs.mu.Lock()
	n := fs.nodes[key]
	// A node without handles (kept for a commit, or holding cached
	// blocks) has nothing newer than fi to lose: it takes fi as a new
	// node does.
	alone := n == nil || len(n.handles) == 0
	if n == nil {
		n = newNode(fs, key)
		fs.nodes[key] = n
	} else if !n.ahead() && n.changedOnDisk(fi) {
		n.dropClean()
	}
	if key.path != "" {
		n.name = key.path
	} else {
		n.name = f.name
	}
	n.handles[f] = struct{}{}
	f.n = n
	fs.mu.Unlock()
	if trunc {
		flushed, err := n.truncateAtOpen(f, seq)
		if err != nil {
			fs.mu.Lock()
			n.leave(f)
			fs.mu.Unlock()
			return err
		}
		if flushed {
			// The flushes it waited for changed the file's times.
			if tfi, err := f.bf.Stat(); err == nil {
				fi = tfi
			}
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if trunc {
		changes++ // truncateAtOpen's own
	}
	// Unless fresh, fi may be older than a change the Fs made since the
	// open began, and older than what the node knows: a wrapped Fs, which
	// trusts the size it records, records it only for a new node then,
	// untrusted.
	fresh := fs.changedSeq.Load() == changes
	if !n.ahead() && (fresh || alone || !fs.store.remote()) {
		n.record(fi)
		n.trusted = fresh
		if fresh && fs.store.remote() {
			f.saw(fi, n.changedSeq)
		}
	}
	if f.flushable() {
		n.writers = append(n.writers, f)
	}
	return nil
}

// detach flushes the node's data through f, which is closing, and leaves
// the node. It reports whether the node kept f's base file open for a
// commit (see keepFor), and returns the write error f has to report.
func (fs *Fs) detach(f *File) (keptBase bool, _ error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := f.n
	if f.flushable() {
		n.flushLocked(f)
	}
	err := f.werr // set by any failed flush, this one included
	n.writers = slices.DeleteFunc(n.writers, func(w *File) bool { return w == f })
	if len(n.writers) == 0 && n.dirtyBlocks > 0 {
		n.dropUnwritable(err)
	}
	keptBase = n.keepFor(f)
	n.leave(f)
	return keptBase, err
}

// dropUnwritable drops the dirty blocks of a node whose last writer has
// gone: their data has no descriptor left to go through. Their write
// error has been reported to every handle open when it happened; those
// of them still open keep failing their Syncs, since the data is lost.
// The next Fs.Syncs report err (see Fs.lost). Called with fs.mu held;
// waits for a running flush.
func (n *node) dropUnwritable(err error) {
	for n.flushing || n.bypassing {
		n.fs.room.Wait()
	}
	for _, b := range n.blocks {
		if b.dirty() {
			n.fs.dropBlock(b)
		}
	}
	n.trusted = false // n.size counted the dropped data: the file knows
	n.fs.lost.add(n.fs.store.pathErr("write", n.name, err))
	for h := range n.handles {
		h.writeLost()
	}
}

// leave removes f from the node, which the Fs forgets once nothing uses
// it; a file removed or replaced through a wrapped Fs (unnamed) needs no
// commit once closed. Called with fs.mu held.
func (n *node) leave(f *File) {
	delete(n.handles, f)
	if len(n.handles) == 0 && n.unnamed() {
		n.syncedSeq = n.writeSeq
	}
	n.releaseKept() // if committed while open
	n.forgetIfIdle()
	n.fs.room.Broadcast()
}

// forgetIfIdle removes the node from the Fs when no handle uses it, it
// holds no block, and it is not kept for a commit.
func (n *node) forgetIfIdle() {
	if len(n.handles) == 0 && len(n.blocks) == 0 && !n.kept() && n.keep == nil {
		if n.timer != nil {
			n.timer.Stop()
			n.timer = nil
		}
		delete(n.fs.nodes, n.key)
	}
}

// dropClean drops the node's clean cached blocks.
func (n *node) dropClean() {
	for _, b := range n.blocks {
		if !b.dirty() {
			n.fs.dropBlock(b)
		}
	}
}

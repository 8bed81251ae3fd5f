package aiofs

import (
	"errors"
	iofs "io/fs"
	"os"

	"github.com/spf13/afero"
)

// Committing files to stable storage: Fs.Sync, and the files it still owes
// a commit once their handles are closed.
//
// A node counts the writes that reached its file (writeSeq) and how many
// of them an fsync has committed (syncedSeq). A commit reads writeSeq,
// fsyncs, then raises syncedSeq to what it read: the fsync began after
// those writes ended, so it covers them. Concurrent commits each fsync
// for themselves; none lowers syncedSeq, and none returns before its own
// fsync ended.
//
// A file is committed through what is open, never by a name that may have
// come to lead elsewhere: an open handle, or, once the last handle of a
// file with uncommitted writes closes, a descriptor the node keeps
// (keepFile) until a commit. The node stays in Fs.nodes meanwhile, so a
// new Open of the file joins it and its counts. Where no descriptor can be
// kept (a base file other than the OS's, or past the Fs's budget of them),
// the file is committed by the name the Fs last gave it, or the Fs owes a
// commit of every file system (owedAllSeq), which the next Fs.Sync makes.

// maxKept bounds the closed files an Fs keeps for Fs.Sync, by descriptor
// or by name; past it, the Fs owes a commit of every file system.
const maxKept = 4096

// errTooManyUnsynced says Fs.Sync owed a commit of every file system, and
// the base has no call that makes one.
var errTooManyUnsynced = errors.New("aiofs: too many closed files to commit")

// errNameLost says a closed file's name no longer leads to it.
var errNameLost = errors.New("aiofs: name no longer leads to the file")

// Sync writes all data buffered by the Fs and commits to stable storage
// every file written through it and not yet committed: open ones, ones
// only readers hold open, and closed ones, whatever became of their names.
// It returns the first error met; nil means every byte written through the
// Fs before the call is durable.
func (fs *Fs) Sync() error {
	fs.mu.Lock()
	owed := fs.owedAllSeq
	lost := fs.lost
	fs.mu.Unlock()
	first := fs.lostSince(lost)
	for _, n := range fs.nodesWhere((*node).unsynced) {
		if err := n.commit(); err != nil && first == nil {
			first = err
		}
	}
	if err := fs.commitAll(owed); err != nil && first == nil {
		first = err
	}
	return first
}

// losses records data the Fs accepted and could not write, dropped when
// its file's last writer closed, so that Fs.Sync does not say durable
// after it: every Fs.Sync begun before one has reported a loss reports it
// too. Guarded by Fs.mu.
type losses struct {
	n, reported int // losses so far, and how many an Fs.Sync has reported
	last        error
}

func (l *losses) add(err error) {
	l.n++
	l.last = err
}

// lostSince returns the latest loss an Fs.Sync that found the Fs's losses at
// start must report, and records it as reported.
func (fs *Fs) lostSince(start losses) error {
	if start.n == start.reported {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.lost.reported = max(fs.lost.reported, start.n)
	return start.last
}

// commitAll commits every file system if the Fs owed that by generation
// owed and no commit since has paid it.
func (fs *Fs) commitAll(owed uint64) error {
	fs.mu.Lock()
	done := fs.doneAllSeq >= owed
	fs.mu.Unlock()
	if done {
		return nil
	}
	if err := fs.store.syncAll(); err != nil {
		return err
	}
	fs.mu.Lock()
	fs.doneAllSeq = max(fs.doneAllSeq, owed)
	fs.mu.Unlock()
	return nil
}

// commit writes the node's buffered data and commits the file, through
// one of its handles, the descriptor it keeps, or its name.
func (n *node) commit() error {
	fs := n.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := n.flushLocked(nil); err != nil {
		return n.fs.store.pathErr("write", n.name, err)
	}
	for {
		written := n.writeSeq
		if n.syncedSeq >= written {
			return nil // another commit's fsync began after these writes
		}
		var f afero.File
		var release func()
		switch h := n.committer(nil); {
		case h != nil:
			f, release = h.data, h.ops.exit
		case len(n.handles) > 0:
			// Every handle is closing: the last one keeps a descriptor
			// for this commit, or hands it over to Fs.owedAllSeq.
			fs.room.Wait()
			continue
		case n.keep != nil:
			n.keepUsers++
			f, release = n.keep, func() {
				n.keepUsers--
				n.releaseKept()
			}
		case n.key.path == "":
			// Known by identity, and its descriptor closed by Fs.Close.
			return fs.store.pathErr("sync", n.name, os.ErrClosed)
		default:
			return n.commitByName(written)
		}
		fs.mu.Unlock()
		err := fs.eng.fsync(f)
		fs.mu.Lock()
		release()
		if err != nil {
			return fs.store.pathErr("sync", n.name, err)
		}
		n.committed(written)
		return nil
	}
}

// committed records that an fsync that began after the first written
// writes ended has succeeded. Called with fs.mu held.
func (n *node) committed(written uint64) {
	n.syncedSeq = max(n.syncedSeq, written)
	n.releaseKept()
}

// releaseKept lets go of what the node kept for a commit once the file
// needs none, and of a descriptor no longer kept once no commit uses it:
// it is closed in the background, since fs.mu is never held across a
// system call. Called with fs.mu held.
func (n *node) releaseKept() {
	if n.kept() && n.syncedSeq >= n.writeSeq {
		delete(n.fs.keptNodes, n)
	}
	if !n.kept() && n.keep != nil && n.keepUsers == 0 {
		k := n.keep
		n.keep = nil
		go k.Close()
	}
	n.forgetIfIdle()
}

// commitByName commits a closed file by the name the Fs last gave it.
// A file whose name is gone needs no commit if the name was its identity
// (a base keyed by path); any other failure is returned and leaves the
// file owed. Called with fs.mu held; releases it while committing, and
// holds off renames meanwhile, so that the name stays the file's.
func (n *node) commitByName(written uint64) error {
	fs := n.fs
	fs.mu.Unlock()
	unlock := fs.store.rlockNames() // taken before fs.mu, as by an Open
	fs.mu.Lock()
	name, key := n.name, n.key
	fs.mu.Unlock()
	var err error
	if key.unnamed == 0 {
		err = fs.syncByName(name, key)
	}
	unlock()
	fs.mu.Lock()
	if errors.Is(err, iofs.ErrNotExist) && key.path != "" {
		err = nil // removed: nothing left to commit
	}
	if err != nil {
		return err
	}
	n.committed(written)
	return nil
}

// syncByName opens name, checks that it is still the file with key, and
// commits it.
func (fs *Fs) syncByName(name string, key fileKey) error {
	f, err := fs.base.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if key.path == "" {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fs.store.key(name, fi) != key {
			return &os.PathError{Op: "sync", Path: name, Err: errNameLost}
		}
	}
	if err := fs.eng.fsync(f); err != nil {
		return fs.store.pathErr("sync", name, err)
	}
	return nil
}

// keepFor decides, as f, the last handle of the node, closes, how the
// file's uncommitted writes will be committed: through a descriptor kept
// open (a duplicate of f's; in a wrapped Fs whose base file has none, f's
// base file itself, which f's Close then leaves open), by the name of a
// file keyed by path, or by a commit of every file system. It reports
// whether it kept f's base file. Called with fs.mu held; releases it to
// duplicate the descriptor.
func (n *node) keepFor(f *File) (keptBase bool) {
	fs := n.fs
	if !n.owes(f) {
		return false
	}
	if len(fs.keptNodes) < fs.keepBudget && osFileUnder(f.data) != nil {
		fs.mu.Unlock()
		k := keepFile(f.data)
		fs.mu.Lock()
		if k != nil && n.owes(f) && len(fs.keptNodes) < fs.keepBudget {
			n.keepWith(k)
			return false
		}
		if k != nil {
			go k.Close()
		}
		if !n.owes(f) {
			return false
		}
	}
	switch {
	case n.key.path != "" && len(fs.keptNodes) < maxKept:
		n.keepWith(nil) // committed by name
	case fs.store.remote() && len(fs.keptNodes) < fs.keepBudget:
		n.keepWith(f.data)
		return true
	default:
		fs.owedAllSeq++
		n.syncedSeq = n.writeSeq
	}
	return false
}

// kept reports whether the node is kept for a commit (Fs.keptNodes).
// Called with fs.mu held.
func (n *node) kept() bool {
	_, ok := n.fs.keptNodes[n]
	return ok
}

// keepWith keeps the node for a commit through k, or by name if k is
// nil. Called with fs.mu held.
func (n *node) keepWith(k afero.File) {
	n.keep = k
	n.name = n.fs.store.pathKey(n.name) // as renamed and keptUnder compare it
	if n.fs.keptNodes == nil {
		n.fs.keptNodes = make(map[*node]struct{})
	}
	n.fs.keptNodes[n] = struct{}{}
}

// owes reports whether the node needs something kept for a commit once f,
// its last handle, has closed. Called with fs.mu held.
func (n *node) owes(f *File) bool {
	_, open := n.handles[f]
	return open && len(n.handles) == 1 && n.syncedSeq < n.writeSeq && !n.kept() && !n.unnamed()
}

// dropIfGone stops keeping the closed file of node for a commit once its
// last name is gone (removed or renamed over through the Fs): nothing is
// left to commit, and its descriptor would hold its blocks on disk.
func (fs *Fs) dropIfGone(n *node) {
	fs.mu.Lock()
	k := n.keep
	if k == nil || len(n.handles) > 0 {
		fs.mu.Unlock()
		return
	}
	n.keepUsers++
	fs.mu.Unlock()
	gone := !linked(k)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n.keepUsers--
	if gone && len(n.handles) == 0 {
		n.syncedSeq = n.writeSeq
	}
	n.releaseKept()
}

// closeKept closes the descriptors the Fs keeps, for Fs.Close, which
// commits nothing, as os.File.Close: an Fs.Sync after it cannot commit
// those files, and says so. One that a commit is using is closed when the
// commit ends.
func (fs *Fs) closeKept() {
	fs.mu.Lock()
	var ks []afero.File
	for _, n := range fs.nodes {
		if n.keep != nil && n.keepUsers == 0 {
			ks = append(ks, n.keep)
			n.keep = nil
		}
	}
	fs.mu.Unlock()
	for _, k := range ks {
		k.Close()
	}
}

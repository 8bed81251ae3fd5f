//go:build unix

package aiofs

// Fs.Sync of an Fs made by New returns nil only when every byte written
// through it before the call is durable, checked by
// the durability oracle: each test makes the case happen deterministically
// with a held engine call.

import (
	"bytes"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// durable fails t unless a Sync that returned r.err, having begun at
// start, kept its promise: an error, or nil with every write the oracle
// saw end before before covered by a commit that ended when it returned.
func durable(t *testing.T, o *Oracle, what string, r result, before uint64, f afero.File) {
	t.Helper()
	if r.err != nil {
		t.Logf("%s: %v", what, r.err)
		return
	}
	if err := o.Durable(before, r.at, f); err != nil {
		t.Errorf("%s returned nil, and not everything written before it is committed:\n%v", what, err)
	}
}

// TestFsSyncConcurrentBothWait (case 1): of two Fs.Sync calls at once,
// the second does not return nil while the first still commits the closed
// file both owe: each covers what was written before its own start.
func TestFsSyncConcurrentBothWait(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, eng string) {
		fs, rec, o := newRecorded(t, eng)
		name := tempName(t, "f")
		writeClosed(t, fs, name, fill('a', 5000))
		held := holdFirst(1, nil) // the first fsync
		rec.hooks(nil, nil, held.hook)
		defer held.release()
		start1 := o.Now()
		first := background(fs.Sync)
		held.wait(t)
		start2 := o.Now()
		second := outcome(t, background(fs.Sync), held)
		durable(t, o, "the second Fs.Sync", second, start2, nil)
		held.release()
		durable(t, o, "the first Fs.Sync", <-first, start1, nil)
	})
}

// TestFsSyncDuringLastClose (case 2): Fs.Sync while the file's last
// handle is inside Close (waiting for a read of its own to end) commits
// the file, or waits for the Close and commits it then.
func TestFsSyncDuringLastClose(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, eng string) {
		fs, rec, o := newRecorded(t, eng)
		name := tempName(t, "f")
		f, err := fs.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(fill('a', 5000)); err != nil {
			t.Fatal(err)
		}
		// Chtimes writes the buffered data out, without a commit.
		now := time.Now()
		if err := fs.Chtimes(name, now, now); err != nil {
			t.Fatal(err)
		}
		held := holdFirst(1, nil) // the read below
		rec.hooks(held.hook, nil, nil)
		defer held.release()
		read := background(func() error {
			_, err := f.ReadAt(make([]byte, 10), 1<<20)
			return err
		})
		held.wait(t)
		closed := background(f.Close)
		if !until(5*time.Second, func() bool { return closing(f) }) {
			t.Fatal("Close did not begin")
		}
		start := o.Now()
		r := outcome(t, background(fs.Sync), held)
		durable(t, o, "Fs.Sync", r, start, nil)
		held.release()
		<-read
		if c := <-closed; c.err != nil {
			t.Fatal(c.err)
		}
	})
}

// TestFsSyncFlushErrorDuringClose (case 2, its second half): a flush that
// Fs.Sync makes and that fails while the file's last handle begins to
// close is reported, unless Fs.Sync then makes the data durable.
func TestFsSyncFlushErrorDuringClose(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, eng string) {
		// The flush to fail must be Fs.Sync's, not one the delay
		// timer started first on a slow machine: try again then.
		for try := 0; !fsSyncFlushErrorDuringClose(t, eng); try++ {
			if try == 5 {
				t.Fatal("the delay timer's flush came first every time")
			}
		}
	})
}

func fsSyncFlushErrorDuringClose(t *testing.T, eng string) (tried bool) {
	fs, rec, o := newRecorded(t, eng)
	name := tempName(t, "f")
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	data := fill('a', 5000)
	failing := holdFirst(1, syscall.EIO) // Fs.Sync's flush
	rest := holdFirst(-1, nil)           // Close's retry
	var failedAt atomic.Uint64
	rec.hooks(nil, func() error {
		if failing.calls.Load() == 0 {
			failedAt.Store(tick())
			return failing.hook()
		}
		return rest.hook()
	}, nil)
	defer rest.release()
	defer failing.release()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	start := o.Now()
	synced := background(fs.Sync)
	failing.wait(t)
	closed := background(f.Close)
	if !until(5*time.Second, func() bool { return closing(f) }) {
		t.Fatal("Close did not begin")
	}
	failing.release()
	if failedAt.Load() < start {
		rest.release()
		<-synced
		<-closed
		return false
	}
	r := outcome(t, synced, rest)
	if r.err == nil {
		if disk, _ := os.ReadFile(name); !bytes.Equal(disk, data) {
			t.Errorf("Fs.Sync returned nil after its flush failed, with %d of the %d written bytes in the file", len(disk), len(data))
		}
	}
	durable(t, o, "Fs.Sync", r, start, nil)
	rest.release()
	<-closed // reports the failure; the test is about Fs.Sync
	return true
}

// TestFsSyncRemovedHardLink (case 3): a file written through the Fs and
// closed, then removed through the Fs while another hard link keeps it,
// is still committed by Fs.Sync.
func TestFsSyncRemovedHardLink(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, eng string) {
		fs, _, o := newRecorded(t, eng)
		name := tempName(t, "a")
		writeClosed(t, fs, name, fill('a', 5000))
		if err := os.Link(name, name+".link"); err != nil {
			t.Fatal(err)
		}
		if err := fs.Remove(name); err != nil {
			t.Fatal(err)
		}
		start := o.Now()
		r := result{fs.Sync(), o.Now()}
		if o.Written() == 0 {
			t.Fatal("the oracle saw no write")
		}
		durable(t, o, "Fs.Sync", r, start, nil)
	})
}

// TestFsSyncDuringReopen (found by TestModel): a
// closed unsynced file opened again while Fs.Sync runs, after Fs.Sync
// has listed the open files and before it turns to the closed ones, is
// still committed by that Fs.Sync.
func TestFsSyncDuringReopen(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, eng string) {
		fs, rec, o := newRecorded(t, eng)
		dir := t.TempDir()
		closed := dir + "/closed"
		writeClosed(t, fs, closed, fill('c', 5000))
		// An open written file, whose fsync holds Fs.Sync between the
		// two.
		open, err := fs.Create(dir + "/open")
		if err != nil {
			t.Fatal(err)
		}
		defer open.Close()
		if _, err := open.Write(fill('o', 100)); err != nil {
			t.Fatal(err)
		}
		held := holdFirst(1, nil)
		rec.hooks(nil, nil, held.hook)
		defer held.release()
		start := o.Now()
		synced := background(fs.Sync)
		held.wait(t)
		again, err := fs.Open(closed)
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		held.release()
		durable(t, o, "Fs.Sync", <-synced, start, nil)
	})
}

// TestFsSyncPastKeepBudget: closed files past the budget of kept
// descriptors are owed a commit of every file system, which the next
// Fs.Sync makes (syncAll), and only once; the kept ones it commits through
// their descriptors, which it then lets go.
func TestFsSyncPastKeepBudget(t *testing.T) {
	// Serial: it changes syncAll.
	forEnginesSerial(t, func(t *testing.T, eng string) {
		fs, _, o := newRecorded(t, eng)
		fs.keepBudget = 2
		for _, name := range []string{"a", "b", "c", "d"} {
			writeClosed(t, fs, tempName(t, name), fill('a', 5000))
		}
		fs.mu.Lock()
		kept, owed := len(fs.keptNodes), fs.owedAllSeq
		fs.mu.Unlock()
		if kept != 2 || owed != 2 {
			t.Fatalf("after 4 files closed with a budget of 2: %d kept, %d owed commits of everything; want 2 and 2", kept, owed)
		}
		calls := 0
		inner := syncAll
		syncAll = func() error { calls++; return inner() }
		defer func() { syncAll = inner }()
		start := o.Now()
		err := fs.Sync()
		durable(t, o, "Fs.Sync", result{err: err, at: o.Now()}, start, nil)
		if err != nil || calls != 1 {
			t.Fatalf("Fs.Sync: %v, with %d commits of everything; want nil and 1", err, calls)
		}
		if err := fs.Sync(); err != nil || calls != 1 {
			t.Errorf("second Fs.Sync: %v, with %d commits of everything in all; want nil and still 1", err, calls)
		}
		fs.mu.Lock()
		kept = len(fs.keptNodes)
		fs.mu.Unlock()
		if kept != 0 {
			t.Errorf("%d files still kept after Fs.Sync committed them", kept)
		}
	})
}

// TestRemoveReleasesKept: a closed file kept for Fs.Sync that is removed
// through the Fs by its last name is let go at once (its descriptor would
// hold its blocks on disk); one that another hard link keeps stays owed.
func TestRemoveReleasesKept(t *testing.T) {
	t.Parallel()
	fs := New()
	defer fs.Close()
	a, b, c := tempName(t, "a"), tempName(t, "b"), tempName(t, "c")
	writeClosed(t, fs, a, fill('a', 5000))
	writeClosed(t, fs, b, fill('b', 5000))
	if err := os.Link(b, c); err != nil {
		t.Fatal(err)
	}
	kept := func() int {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		return len(fs.keptNodes)
	}
	if n := kept(); n != 2 {
		t.Fatalf("%d files kept after two were written and closed; want 2", n)
	}
	if err := fs.Remove(a); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(b); err != nil {
		t.Fatal(err)
	}
	if n := kept(); n != 1 {
		t.Errorf("%d files kept after removing one by its last name and one with a link left; want 1", n)
	}
}

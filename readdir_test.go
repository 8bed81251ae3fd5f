//go:build unix

package aiofs

import (
	"path/filepath"
	"sync"
	"testing"
)

// TestReaddirSizeBuffered: Readdir reports a file's
// size including everything written through the Fs before the call, also
// when the flush of that data ends between the base's listing (made while
// the data was not yet in the file) and the Fs's correction of its sizes.
// Two ways go wrong: with no other file buffered, the correction is
// skipped (hasBuffered); with another file buffered, the node found is no
// no longer ahead of the file, and the listing's old size is kept (Fs.Stat asks
// again then; Readdir does not). Readdir in a wrapped Fs, whose base can
// hold the listing at that point; an Fs made by New has the same window
// inside os.File's listing.
func TestReaddirSizeBuffered(t *testing.T) {
	t.Parallel()
	for _, other := range []bool{false, true} {
		t.Run(map[bool]string{false: "alone", true: "other-buffered"}[other], func(t *testing.T) {
			readdirSizeBuffered(t, other)
		})
	}
}

func readdirSizeBuffered(t *testing.T, other bool) {
	fs, base, _ := newRecordedWrap(t)
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	otherName := filepath.Join(dir, "other")
	var syncing <-chan result
	var synced result
	var once sync.Once
	flush := holdFirst(-1, nil)  // every write of f's flush
	others := holdFirst(-1, nil) // every write of the other file's: it stays buffered
	defer flush.release()
	defer others.release()
	base.get(func() {
		base.onWrite = func(n string) error {
			if n == otherName {
				return others.hook()
			}
			return flush.hook()
		}
		base.afterReaddir = func() {
			// The listing is made with f's flush held: let it go, and
			// wait until the Sync that made it has returned.
			flush.release()
			once.Do(func() { synced = <-syncing })
		}
	})
	if other {
		o, err := fs.Create(otherName)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() }) // after the held writes go
		if _, err := o.Write([]byte("buffered")); err != nil {
			t.Fatal(err)
		}
	}
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	const size = 100 << 10
	if _, err := f.Write(fill('a', size)); err != nil {
		t.Fatal(err)
	}
	syncing = background(f.Sync)
	flush.wait(t)
	d, err := fs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fis, err := d.Readdir(-1)
	if err != nil {
		t.Fatal(err)
	}
	if synced.err != nil {
		t.Fatal(synced.err)
	}
	for _, fi := range fis {
		if fi.Name() == "f" && fi.Size() != size {
			t.Errorf("Readdir reports size %d for a file written with %d bytes before it (Stat of the Fs: %v)", fi.Size(), size, statSize(fs, name))
		}
	}
}

func statSize(fs *Fs, name string) any {
	fi, err := fs.Stat(name)
	if err != nil {
		return err
	}
	return fi.Size()
}

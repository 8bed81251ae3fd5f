//go:build unix

package aiofs

import (
	"path/filepath"
	"testing"
	"time"
)

// TestReaddirSizeBuffered (issue 16, case 14): Readdir reports a file's
// size including everything written through the Fs before the call, also
// when the flush of that data ends between the base's listing (made while
// the data was not yet in the file) and the Fs's correction of its sizes.
// Readdir in a wrapped Fs, where a base can hold the listing at that
// point; an Fs made by New has the same window with os.File's listing.
func TestReaddirSizeBuffered(t *testing.T) {
	fs, base, _ := newRecordedWrap(t)
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	f, err := fs.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 100 << 10
	flush := holdFirst(-1, nil) // every write of the flush
	base.get(func() {
		base.onWrite = flush.nameHook
		base.afterReaddir = func() {
			// The listing is made with the flush held: let it go, and
			// wait until it has ended.
			flush.release()
			until(5*time.Second, func() bool {
				fs.mu.Lock()
				defer fs.mu.Unlock()
				for _, n := range fs.nodes {
					if n.authoritative() {
						return false
					}
				}
				return true
			})
		}
	})
	defer flush.release()
	if _, err := f.Write(fill('a', size)); err != nil {
		t.Fatal(err)
	}
	synced := background(f.Sync)
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
	if r := <-synced; r.err != nil {
		t.Fatal(r.err)
	}
	if len(fis) != 1 {
		t.Fatalf("Readdir: %d entries; want 1", len(fis))
	}
	if got := fis[0].Size(); got != size {
		t.Errorf("Readdir reports size %d for a file written with %d bytes before it (Stat of the Fs: %v)", got, size, statSize(fs, name))
	}
}

func statSize(fs *Fs, name string) any {
	fi, err := fs.Stat(name)
	if err != nil {
		return err
	}
	return fi.Size()
}

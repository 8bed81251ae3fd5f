//go:build unix

package aiofs

import (
	"os"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// TestOpenTruncReadOnlyDuringFlush: an Open with
// O_TRUNC truncates whatever its access mode, and bytes written before it
// do not come back when a flush of them in flight at the open lands
// after open(2) truncated. OsFs: size 0.
func TestOpenTruncReadOnlyDuringFlush(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, eng string) {
		fs, rec, _ := newRecorded(t, eng)
		name := tempName(t, "f")
		if err := os.WriteFile(name, fill('o', 100), 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := fs.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		// The first flush is held: Sync's, or the delay timer's if it
		// comes first on a slow machine (then Sync waits for it).
		flush := holdFirst(1, nil)
		rec.hooks(nil, flush.hook, nil)
		defer flush.release()
		if _, err := w.WriteAt(fill('w', 100), 0); err != nil {
			t.Fatal(err)
		}
		synced := background(w.Sync)
		flush.wait(t)
		var r afero.File
		opened := background(func() (err error) {
			r, err = fs.OpenFile(name, os.O_RDONLY|os.O_TRUNC, 0)
			return err
		})
		// open(2) truncates while the flush is held (a fixed Fs may
		// instead wait for the flush first: then let it go).
		until(2*time.Second, func() bool {
			fi, err := os.Stat(name)
			return err == nil && fi.Size() == 0
		})
		flush.release()
		if res := <-opened; res.err != nil {
			t.Fatal(res.err)
		}
		defer r.Close()
		<-synced
		if fi, err := r.Stat(); err != nil || fi.Size() != 0 {
			t.Errorf("after the Open with O_TRUNC returned, its Stat says size %v (%v); OsFs: 0", sizeOrNil(fi), err)
		}
		if disk, _ := os.ReadFile(name); len(disk) != 0 {
			t.Errorf("after the Open with O_TRUNC returned, the file holds %d bytes (%.10q...); OsFs: 0", len(disk), disk)
		}
	})
}

func sizeOrNil(fi os.FileInfo) any {
	if fi == nil {
		return nil
	}
	return fi.Size()
}

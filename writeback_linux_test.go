package aiofs_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aiofs/aiofs"
)

// TestWritebackStarted: a file written at length has the kernel's
// writeback started as it goes, so that once it is closed most of it is
// no longer dirty, well before the kernel's own 30 seconds: at most the
// last WritebackAfter bytes, or twice that if a start was slow, and a
// flush.
func TestWritebackStarted(t *testing.T) { forEnginesSerial(t, testWritebackStarted) }

func testWritebackStarted(t *testing.T, engine string) {
	const size = 6 * aiofs.WritebackAfter
	dir := t.TempDir()
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil || sfs.Type == unix.TMPFS_MAGIC {
		t.Skipf("%s is on tmpfs, which has no writeback", dir)
	}
	aio := newAio(t, engine)
	name := filepath.Join(dir, "long")
	f, err := aio.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	data := pattern(testSeed(t), 0, 1<<20)
	for off := 0; off < size; off += 4 << 10 {
		if _, err := f.Write(data[off%len(data) : off%len(data)+4<<10]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	limit := uint64(2*aiofs.WritebackAfter+1<<20) / uint64(os.Getpagesize())
	var st unix.Cachestat_t
	for deadline := time.Now().Add(20 * time.Second); ; {
		if err := unix.Cachestat(uint(r.Fd()), &unix.CachestatRange{}, &st, 0); err != nil {
			t.Skipf("cachestat: %v", err)
		}
		if st.Dirty <= limit {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pages of the %d bytes written are still dirty 20 s after Close; want at most %d", st.Dirty, size, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

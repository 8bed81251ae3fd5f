//go:build unix && !race

package aiofs

import (
	"io"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/spf13/afero"
)

// TestBlocksOutsideHeap: the cache's blocks are not in the Go heap, whose
// collector would let it grow to twice what they hold. Serial: it
// measures the heap.
func TestBlocksOutsideHeap(t *testing.T) {
	fs := Wrap(afero.NewOsFs(), WithCacheSize(32<<20)) // Wrap caches every block read

	defer fs.Close()
	path, _ := hotFile(t, t.TempDir(), "f", 24<<20)
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := liveHeap()
	if _, err := io.Copy(io.Discard, f); err != nil {
		t.Fatal(err)
	}
	after := liveHeap()
	fs.mu.Lock()
	used := fs.cache.used
	fs.mu.Unlock()
	if used < 16<<20 {
		t.Fatalf("%d bytes cached after reading 24 MiB; want at least 16 MiB", used)
	}
	if grown := int64(after) - int64(before); grown > used/4 {
		t.Errorf("live heap grew by %d bytes with %d bytes cached", grown, used)
	}
	runtime.KeepAlive(fs)
}

// liveHeap returns the bytes of the Go heap live after a collection.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

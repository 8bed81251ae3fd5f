package aiofs

import (
	"errors"
	"io"
	"os"
	"testing"
)

// TestCloseDropsCache: Fs.Close drops the clean and hot blocks, and every
// buffer they held goes back to the block memory; the files of the closed
// Fs then refuse reads as before.
func TestCloseDropsCache(t *testing.T) {
	t.Parallel()
	for name, mk := range hotFses(t, WithCacheSize(4<<20)) {
		t.Run(name, func(t *testing.T) {
			fs := mk()
			path, data := hotFile(t, t.TempDir(), "f", 2<<20)
			f, err := fs.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := io.ReadAll(f); err != nil {
				t.Fatal(err)
			}
			hotReads(t, f, data, 256<<10, 5000, 1)
			fs.mu.Lock()
			used, hot := fs.cache.used, fs.cache.hot
			fs.mu.Unlock()
			if used == 0 || hot == 0 {
				t.Fatalf("before Close: %d bytes cached, %d hot; want some of each", used, hot)
			}
			if err := fs.Close(); err != nil {
				t.Fatal(err)
			}
			fs.mu.Lock()
			used, hot = fs.cache.used, fs.cache.hot
			fs.mu.Unlock()
			if used != 0 || hot != 0 {
				t.Errorf("after Close: %d bytes cached, %d hot; want none", used, hot)
			}
			if err := fs.CheckInvariants(); err != nil {
				t.Error(err)
			}
			if _, err := f.ReadAt(make([]byte, 10), 0); !errors.Is(err, os.ErrClosed) {
				t.Errorf("ReadAt after Fs.Close: %v, want ErrClosed", err)
			}
		})
	}
}

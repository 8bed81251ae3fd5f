package aiofs

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
)

// hotFile writes a file of size random bytes and returns its path and
// contents.
func hotFile(t *testing.T, dir, name string, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// hotReads does n 4 KiB ReadAts of f at random offsets in [0, span),
// checking each against want.
func hotReads(t *testing.T, f afero.File, want []byte, span int64, n int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	buf := make([]byte, 4096)
	for range n {
		off := r.Int64N(span - int64(len(buf)) + 1)
		if m, err := f.ReadAt(buf, off); m != len(buf) || err != nil {
			t.Fatalf("ReadAt(4096 at %d) = %d, %v", off, m, err)
		}
		if !bytes.Equal(buf, want[off:off+int64(len(buf))]) {
			t.Fatalf("ReadAt(4096 at %d): wrong bytes", off)
		}
	}
}

// hotHits does n checked reads as hotReads does and returns how many of
// them the cache served, and how many bytes the engine read meanwhile.
func hotHits(t *testing.T, fs *Fs, f afero.File, want []byte, span int64, n int, seed uint64) (hits, read uint64) {
	t.Helper()
	before := fs.Stats()
	hotReads(t, f, want, span, n, seed)
	after := fs.Stats()
	return after.CacheHits - before.CacheHits, after.BytesRead - before.BytesRead
}

// hotFses are the kinds of Fs whose hot blocks the tests check: New on
// every engine, and Wrap over OsFs, whose readahead never consults the
// page cache.
func hotFses(t *testing.T, opts ...Option) map[string]func() *Fs {
	fses := map[string]func() *Fs{}
	for _, name := range enginesUnderTest(t) {
		fses[name] = func() *Fs { return New(append([]Option{WithEngine(name)}, opts...)...) }
	}
	fses["wrap"] = func() *Fs { return Wrap(afero.NewOsFs(), opts...) }
	return fses
}

// TestHotBlocksServedFromCache: random reads that come back to a working
// set smaller than the cache are soon all served by the cache, without
// the engine reading anything, and with the file's bytes.
func TestHotBlocksServedFromCache(t *testing.T) {
	for name, mk := range hotFses(t, WithCacheSize(2<<20)) {
		t.Run(name, func(t *testing.T) {
			fs := mk()
			defer fs.Close()
			path, data := hotFile(t, t.TempDir(), "f", 4<<20)
			f, err := fs.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			const span = 8 * blockSize
			hotReads(t, f, data, span, 20000, 1)
			hits, read := hotHits(t, fs, f, data, span, 2000, 2)
			st := fs.Stats()
			if hits != 2000 || read != 0 {
				t.Errorf("2000 reads of a hot set: %d cache hits, engine read %d bytes; want 2000 hits, 0 bytes", hits, read)
			}
			if st.HotBytes < span || st.HotBytes > st.CachedBytes {
				t.Errorf("HotBytes %d, CachedBytes %d; want at least %d hot, within the cached", st.HotBytes, st.CachedBytes, span)
			}
		})
	}
}

// TestHotBlocksSurviveScan: one pass over a file four times the cache's
// size, which readahead brings into the cache block by block, leaves a hot
// set in the cache: reads of it are still all hits afterwards.
func TestHotBlocksSurviveScan(t *testing.T) {
	const cacheSize = 1 << 20
	for name, mk := range hotFses(t, WithCacheSize(cacheSize), WithReadahead(256<<10)) {
		t.Run(name, func(t *testing.T) {
			fs := mk()
			defer fs.Close()
			dir := t.TempDir()
			path, data := hotFile(t, dir, "hot", 1<<20)
			scanPath, _ := hotFile(t, dir, "scan", 4*cacheSize)
			f, err := fs.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			const span = 4 * blockSize
			hotReads(t, f, data, span, 10000, 1)
			if hits, _ := hotHits(t, fs, f, data, span, 1000, 2); hits != 1000 {
				t.Fatalf("before the scan: %d of 1000 reads of the hot set hit the cache", hits)
			}
			hot := fs.Stats().HotBytes

			if osf, err := os.Open(scanPath); err == nil {
				dropCache(osf, 0, 4*cacheSize) // so that readahead does read it
				osf.Close()
			}
			before := fs.Stats()
			s, err := fs.Open(scanPath)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{s}, make([]byte, 32<<10)); n != 4*cacheSize || err != nil {
				t.Fatalf("scan: %d bytes, %v", n, err)
			}
			s.Close()
			after := fs.Stats()
			if after.PrefetchWindows == before.PrefetchWindows {
				t.Skip("the page cache kept the scanned file: readahead brought nothing into the cache")
			}
			t.Logf("scan: %d windows, %d bytes prefetched and used", after.PrefetchWindows-before.PrefetchWindows, after.PrefetchUsed-before.PrefetchUsed)

			if hits, read := hotHits(t, fs, f, data, span, 1000, 3); hits != 1000 || read != 0 {
				t.Errorf("after the scan: %d of 1000 reads of the hot set hit the cache, engine read %d bytes", hits, read)
			}
			if st := fs.Stats(); st.HotBytes < hot {
				t.Errorf("HotBytes %d after the scan, %d before", st.HotBytes, hot)
			}
		})
	}
}

// TestHotBlocksBounded: readers coming back to a set twice the cache's
// size, and a scan at once, never take the cache past its bound, and read
// the file's bytes throughout.
func TestHotBlocksBounded(t *testing.T) {
	t.Parallel()
	const cacheSize = 1 << 20
	for name, mk := range hotFses(t, WithCacheSize(cacheSize), WithReadahead(256<<10)) {
		t.Run(name, func(t *testing.T) {
			fs := mk()
			defer fs.Close()
			path, data := hotFile(t, t.TempDir(), "f", 4*cacheSize)
			f, err := fs.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var maxCached, maxHot int64
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					st := fs.Stats()
					maxCached, maxHot = max(maxCached, st.CachedBytes), max(maxHot, st.HotBytes)
					if st.HotBytes > st.CachedBytes {
						t.Errorf("HotBytes %d above CachedBytes %d", st.HotBytes, st.CachedBytes)
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			}()
			var readers sync.WaitGroup
			for g := range 4 {
				readers.Add(1)
				go func() {
					defer readers.Done()
					hotReads(t, f, data, 2*cacheSize, 10000, uint64(g))
				}()
			}
			readers.Add(1)
			go func() {
				defer readers.Done()
				s, err := fs.Open(path)
				if err != nil {
					t.Error(err)
					return
				}
				defer s.Close()
				got, err := io.ReadAll(s)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("scan: %d bytes, %v, equal %v", len(got), err, bytes.Equal(got, data))
				}
			}()
			readers.Wait()
			close(stop)
			wg.Wait()
			// Once more after the readers: a poller that got no core while
			// they ran (one P, or a loaded machine) saw only the start.
			st := fs.Stats()
			maxCached, maxHot = max(maxCached, st.CachedBytes), max(maxHot, st.HotBytes)
			if maxCached > cacheSize {
				t.Errorf("CachedBytes reached %d, above the bound %d", maxCached, cacheSize)
			}
			t.Logf("largest CachedBytes %d, HotBytes %d", maxCached, maxHot)
			if maxHot == 0 {
				t.Errorf("no block was kept hot")
			}
		})
	}
}

// TestHotBlocksCoherent: a hot block never outlives a change of its
// bytes. Writes and truncates through the Fs are read at once by every
// handle; a change by another process is read at the next Open, as close-
// to-open coherence has it.
func TestHotBlocksCoherent(t *testing.T) {
	for name, mk := range hotFses(t, WithCacheSize(2<<20)) {
		t.Run(name, func(t *testing.T) {
			fs := mk()
			defer fs.Close()
			path, data := hotFile(t, t.TempDir(), "f", 1<<20)
			const span = 4 * blockSize
			makeHot := func(f afero.File) {
				t.Helper()
				hotReads(t, f, data, span, 10000, 1)
				if hits, _ := hotHits(t, fs, f, data, span, 1000, 2); hits != 1000 {
					t.Fatalf("%d of 1000 reads of the hot set hit the cache", hits)
				}
			}
			r, err := fs.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			makeHot(r)

			// A write through the Fs, buffered and written through.
			for _, flag := range []int{os.O_RDWR, os.O_RDWR | os.O_SYNC} {
				w, err := fs.OpenFile(path, flag, 0)
				if err != nil {
					t.Fatal(err)
				}
				p := bytes.Repeat([]byte{byte(flag)}, 100)
				if _, err := w.WriteAt(p, blockSize+10); err != nil {
					t.Fatal(err)
				}
				copy(data[blockSize+10:], p)
				hotReads(t, r, data, span, 2000, 3)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				hotReads(t, r, data, span, 2000, 4)
				makeHot(r)
			}

			// Another process's change, seen at the next Open.
			o, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			p := bytes.Repeat([]byte{0xEE}, 3*blockSize)
			if _, err := o.WriteAt(p, 100); err != nil {
				t.Fatal(err)
			}
			o.Close()
			copy(data[100:], p)
			r2, err := fs.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			hotReads(t, r2, data, span, 2000, 5)
			hotReads(t, r, data, span, 2000, 6) // the Open dropped what the node had
			makeHot(r)

			// A truncate through the Fs into the hot set.
			w, err := fs.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.Truncate(2*blockSize + 7); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			if m, err := r.ReadAt(buf, 2*blockSize); m != 7 || err != io.EOF || !bytes.Equal(buf[:7], data[2*blockSize:2*blockSize+7]) {
				t.Errorf("ReadAt past a truncate into a hot block = %d, %v", m, err)
			}
			if m, err := r.ReadAt(buf, 3*blockSize); m != 0 || err != io.EOF {
				t.Errorf("ReadAt in a hot block truncated away = %d, %v", m, err)
			}
		})
	}
}

// TestHotIndexFilter: a hot index finds each of its blocks, and no other,
// whatever its size; blocks whose filter bits collide with its own
// included.
func TestHotIndexFilter(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 8, 9, 100, 384, 5000} {
		m := map[int64]*hotCopy{}
		for len(m) < n {
			m[r.Int64N(1<<20)] = &hotCopy{}
		}
		x := newHotIndex(m)
		bits := int64(64 * len(x.filter))
		if bits < int64(8*n) {
			t.Errorf("%d blocks: %d filter bits, want at least %d", n, bits, 8*n)
		}
		for idx, h := range m {
			if x.get(idx) != h {
				t.Fatalf("%d blocks: get(%d) misses a block of the index", n, idx)
			}
			for _, other := range []int64{idx + bits, idx + 1, idx + 3*bits} {
				if _, ok := m[other]; !ok && x.get(other) != nil {
					t.Fatalf("%d blocks: get(%d) finds a block not in the index", n, other)
				}
			}
		}
	}
}

// TestHotSlotFreedOnce: a hot copy's arena slot goes back once, when it
// is retired and its last reader is done, however many readers are
// turned away after; a slot freed twice would be handed to two blocks.
func TestHotSlotFreedOnce(t *testing.T) {
	t.Parallel()
	c := &cache{limit: 1 << 20, mem: new(blockMem)}
	slot, data := c.arena.alloc(c.mem, c.hotLimit())
	free := len(c.arena.freed)
	h := &hotCopy{data: data, slot: slot}
	if !h.acquire(c) {
		t.Fatal("acquire of a published copy failed")
	}
	h.retire(c)
	if len(c.arena.freed) != free {
		t.Fatal("slot freed while a reader copied it")
	}
	if h.acquire(c) {
		t.Fatal("acquire of a retired copy succeeded")
	}
	h.exit(c)
	if len(c.arena.freed) != free+1 {
		t.Fatalf("%d slots free after the last reader left; want %d", len(c.arena.freed), free+1)
	}
	for range 3 {
		if h.acquire(c) {
			t.Fatal("acquire of a retired copy succeeded")
		}
	}
	if len(c.arena.freed) != free+1 {
		t.Fatalf("%d slots free after readers were turned away; want %d", len(c.arena.freed), free+1)
	}
	// Retired with no reader: freed at once, and once.
	slot, data = c.arena.alloc(c.mem, c.hotLimit())
	h = &hotCopy{data: data, slot: slot}
	h.retire(c)
	h.acquire(c)
	if len(c.arena.freed) != free+1 {
		t.Fatalf("%d slots free; want %d", len(c.arena.freed), free+1)
	}
}

// TestHotBlocksChurn: readers of a hot set keep reading the file's bytes
// while writes, truncates and reopens after another process's change keep
// unpublishing and promoting its blocks, so arena slots keep changing
// hands.
func TestHotBlocksChurn(t *testing.T) {
	t.Parallel()
	// In the FreeBSD VM readers saw zeros here, which tmpfs shows to reads
	// that a growing write or a truncate overlaps (see TestReadRacingGrowth
	// and TestReadRacingCut).
	fs := New(WithCacheSize(1 << 20))
	defer fs.Close()
	const size = 8 * blockSize
	path, _ := hotFile(t, t.TempDir(), "f", size)
	// Every 8-byte word holds its own offset, whatever writes do: a
	// reader can tell a misplaced or stale block from a right one.
	word := func(off int64) []byte {
		p := make([]byte, 8)
		for i := range p {
			p[i] = byte(off >> (8 * i))
		}
		return p
	}
	content := make([]byte, size)
	for off := int64(0); off < size; off += 8 {
		copy(content[off:], word(off))
	}
	r, w := openReadWrite(t, fs, path, content)
	defer r.Close()
	defer w.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 3))
			buf := make([]byte, 4096)
			for {
				select {
				case <-stop:
					return
				default:
				}
				off := rnd.Int64N(size/8-512) * 8
				m, err := r.ReadAt(buf, off)
				for i := 0; i+8 <= m; i += 8 {
					if !bytes.Equal(buf[i:i+8], word(off+int64(i))) {
						t.Errorf("ReadAt(4096 at %d): word at %d is %x", off, off+int64(i), buf[i:i+8])
						return
					}
				}
				if m < len(buf) && err != io.EOF {
					t.Errorf("ReadAt(4096 at %d) = %d, %v", off, m, err)
					return
				}
			}
		}()
	}
	rnd := rand.New(rand.NewPCG(9, 9))
	for i := range 300 {
		off := rnd.Int64N(size/8) * 8
		switch i % 4 {
		case 0: // rewrite a word with its own offset
			if _, err := w.WriteAt(word(off), off); err != nil {
				t.Fatal(err)
			}
		case 1: // cut the file short and grow it back as it was
			if err := w.Truncate(off); err != nil {
				t.Fatal(err)
			}
			if _, err := w.WriteAt(content[off:], off); err != nil {
				t.Fatal(err)
			}
		case 2:
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
		case 3: // another process rewrites it in place; the next Open sees it
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
			o, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = o.WriteAt(content, 0)
			o.Close()
			if err != nil {
				t.Fatal(err)
			}
			if o, err := fs.Open(path); err == nil {
				o.Close()
			}
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if st := fs.Stats(); st.CacheHits == 0 {
		t.Errorf("no read was a cache hit: the test did not exercise hot blocks")
	}
}

// TestHotSmallFileReopened: a small file opened, read from its start and
// closed again and again, as a server serves it, becomes hot although
// every Open makes its state anew, and is then read from memory.
func TestHotSmallFileReopened(t *testing.T) {
	for _, name := range enginesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			fs := New(WithEngine(name))
			defer fs.Close()
			path, data := hotFile(t, t.TempDir(), "f", 8<<10)
			buf := make([]byte, 512)
			serve := func(n int) {
				t.Helper()
				for range n {
					f, err := fs.Open(path)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, data[:512]) {
						t.Fatalf("Read of the first 512 bytes: %v, equal %v", err, bytes.Equal(buf, data[:512]))
					}
					f.Close()
				}
			}
			serve(2000)
			before := fs.Stats()
			serve(100)
			after := fs.Stats()
			if hits, read := after.CacheHits-before.CacheHits, after.BytesRead-before.BytesRead; hits != 100 || read != 0 {
				t.Errorf("100 opens and reads of a served file: %d cache hits, engine read %d bytes; want 100, 0", hits, read)
			}
		})
	}
}

// TestHotReadsAdmittedAsOs: a ReadAt that hot blocks could serve, which
// skips admission's hold on the descriptor, fails where package os fails
// it: through a write-only handle, at a negative offset, after the
// handle's Close and after the Fs's; and reads nothing when empty.
func TestHotReadsAdmittedAsOs(t *testing.T) {
	t.Parallel()
	for name, mk := range hotFses(t, WithCacheSize(2<<20)) {
		t.Run(name, func(t *testing.T) {
			fs := mk()
			defer fs.Close()
			path, data := hotFile(t, t.TempDir(), "f", 1<<20)
			const span = 2 * blockSize
			r, err := fs.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			hotReads(t, r, data, span, 20000, 1)
			if hits, _ := hotHits(t, fs, r, data, span, 100, 2); hits != 100 {
				t.Fatalf("%d of 100 reads of the hot set were hits; want all", hits)
			}
			osw, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer osw.Close()
			osr, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			osr.Close()
			w, err := fs.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			buf := make([]byte, 4096)
			same := func(what string, f afero.File, of *os.File, p []byte, off int64) {
				t.Helper()
				n, err := f.ReadAt(p, off)
				on, oerr := of.ReadAt(p, off)
				if n != on || !sameError(err, oerr) {
					t.Errorf("%s: ReadAt = %d, %v; os: %d, %v", what, n, err, on, oerr)
				}
			}
			same("write-only handle", w, osw, buf, 0)
			same("negative offset", r, osw, buf, -1)
			same("closed handle", closed(t, r), osr, buf, 0)
			r2, err := fs.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			if n, err := r2.ReadAt(nil, 0); n != 0 || err != nil {
				t.Errorf("empty ReadAt = %d, %v; want 0, nil", n, err)
			}
			if err := fs.Close(); err != nil {
				t.Fatal(err)
			}
			if n, err := r2.ReadAt(buf, 0); n != 0 || !errors.Is(err, os.ErrClosed) {
				t.Errorf("ReadAt after Fs.Close = %d, %v; want 0, ErrClosed", n, err)
			}
		})
	}
}

// closed closes f and returns it.
func closed(t *testing.T, f afero.File) afero.File {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f
}

// sameError reports whether err and want are the same error as a caller
// sees it: both nil, or path errors with the same Op and cause (the same
// error, or, for os's unexported ones, the same text).
func sameError(err, want error) bool {
	if err == nil || want == nil {
		return err == want
	}
	var pe, pw *os.PathError
	if errors.As(err, &pe) && errors.As(want, &pw) {
		return pe.Op == pw.Op && (errors.Is(pe.Err, pw.Err) || pe.Err.Error() == pw.Err.Error())
	}
	return err.Error() == want.Error()
}

package aiofs_test

// Tests of the read path's block cache: every read returns what
// afero.NewOsFs() returns, under every access pattern and cache
// configuration; the cache stays within its bound; writes and other
// processes' changes are seen as the design promises.
//
// Helpers shared by cache_test.go, prefetch_test.go, writebehind_test.go
// and writebehind_faults_linux_test.go are prefixed cx.

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// cxBlock is the library's block size (64 KiB), which the tests aim their
// sizes and offsets around.
const cxBlock = 64 << 10

// cxDropPageCache evicts the file's pages from the OS page cache where
// the platform allows it (writebehind_faults_linux_test.go sets it on Linux), so that reads
// of it are cold. The Fs skips readahead of what the page cache holds
// already, so without this a file just written would never be prefetched
// into the Fs's cache, and the cache would go untested.
var cxDropPageCache = func(t testing.TB, name string) {}

// cxOptSet is a named set of options.
type cxOptSet struct {
	name string
	opts []aiofs.Option
}

// cxReadOptSets are the read path's configurations under test.
var cxReadOptSets = []cxOptSet{
	{"default", nil},
	{"cache256K-ra128K", []aiofs.Option{aiofs.WithCacheSize(256 << 10), aiofs.WithReadahead(128 << 10)}},
	{"cache256K-ra2M", []aiofs.Option{aiofs.WithCacheSize(256 << 10)}},
	{"cache2blocks-ra64K", []aiofs.Option{aiofs.WithCacheSize(2 * cxBlock), aiofs.WithReadahead(cxBlock)}},
	{"ra0", []aiofs.Option{aiofs.WithReadahead(0)}},
	{"cache0", []aiofs.Option{aiofs.WithCacheSize(0)}},
}

// cxSizes are the file sizes around the block and window boundaries.
var cxSizes = []int{0, 1, cxBlock - 1, cxBlock, cxBlock + 1, 128<<10 - 1, 128 << 10, 128<<10 + 1, 3<<20 + 12345}

// readDiff drives H over pairs of handles of one file, h0 and h1: the
// OsFs side and the aiofs side open the same file. The first difference
// fails the test.
type readDiff struct {
	*H
	t    *testing.T // H's, for the helpers that need a testing.TB
	r    *rand.Rand
	size int64
	name string // the file's path, to drop it from the page cache
}

func newReadDiff(t *testing.T, r *rand.Rand, aio *aiofs.Fs, name string, size int64) *readDiff {
	h := newReadH(t, fmt.Sprintf("size %d", size), aio, filepath.Dir(name))
	h.keepHist = 12
	return &readDiff{H: h, t: t, r: r, size: size, name: name}
}

// newReadH returns an H whose sides, OsFs and aio, share the directory
// dir, for tests that only read; it stops at the first difference. Each
// step reads through aiofs first: an OsFs read first would bring the
// bytes into the page cache, and the Fs does not read ahead what the page
// cache holds, so its cache would go untested.
func newReadH(t tester, label string, aio *aiofs.Fs, dir string) *H {
	h := newH(t, label, newSide("OsFs", afero.NewOsFs(), nil, dir), newSide("aiofs", aio, aio, dir))
	h.stopOnFail = true
	h.aioFirst = true
	return h
}

func (d *readDiff) readAt(h, n int, off int64) { d.t.Helper(); d.ReadAt(fmt.Sprint("h", h), n, off) }
func (d *readDiff) read(h, n int)              { d.t.Helper(); d.Read(fmt.Sprint("h", h), n) }

// seek returns the new offset.
func (d *readDiff) seek(h int, off int64, whence int) int64 {
	d.t.Helper()
	return d.Seek(fmt.Sprint("h", h), off, whence).n
}

// length picks a read length, biased to the sizes that matter.
func (d *readDiff) length() int {
	switch d.r.IntN(14) {
	case 0:
		return 1
	case 1:
		return 512
	case 2:
		return 4096
	case 3:
		return cxBlock - 1
	case 4:
		return cxBlock
	case 5:
		return cxBlock + 1
	case 6:
		return 128 << 10
	case 7:
		return 32 << 10
	case 8:
		return 300 << 10
	case 9:
		if d.r.IntN(4) == 0 {
			return 3 << 20 // larger than most windows
		}
		return 1 << 20
	case 10:
		return 0
	default:
		return 1 + d.r.IntN(200<<10)
	}
}

// offset picks an offset, biased to the file's ends and block edges.
func (d *readDiff) offset() int64 {
	switch d.r.IntN(8) {
	case 0:
		return 0
	case 1:
		return max(0, d.size+int64(d.r.IntN(3))-1)
	case 2:
		b := int64(d.r.IntN(int(d.size/cxBlock) + 2))
		return max(0, b*cxBlock+int64(d.r.IntN(3))-1)
	default:
		return d.r.Int64N(d.size + 2*cxBlock)
	}
}

// burst runs one access pattern.
func (d *readDiff) burst() {
	d.t.Helper()
	r := d.r
	h := r.IntN(2)
	if r.IntN(10) == 0 {
		// Cold again: readahead has work to do.
		d.note("drop the page cache")
		cxDropPageCache(d.t, d.name)
	}
	switch r.IntN(8) {
	case 0: // sequential Reads from where the handle is
		l := d.length()
		for range 1 + r.IntN(20) {
			d.read(h, l)
		}
	case 1: // Seek somewhere, then Read
		whence := r.IntN(3)
		var off int64
		switch whence {
		case io.SeekStart:
			off = d.offset()
		case io.SeekCurrent:
			off = r.Int64N(2*d.size+2) - d.size - 1
		case io.SeekEnd:
			off = r.Int64N(d.size+cxBlock+1) - d.size - cxBlock/2
		}
		d.seek(h, off, whence)
		d.read(h, d.length())
	case 2: // random ReadAts
		for range 1 + r.IntN(10) {
			d.readAt(h, d.length(), d.offset())
		}
	case 3: // strided ReadAts
		l := d.length()
		stride := int64(l) + int64(r.IntN(3*cxBlock))
		off := d.offset()
		for i := 0; i < 1+r.IntN(16) && off <= d.size+cxBlock; i++ {
			d.readAt(h, l, off)
			off += stride
		}
	case 4: // backwards: Seek back two lengths, Read one, repeatedly
		l := int64(1 + r.IntN(100<<10))
		pos := d.seek(h, 0, io.SeekEnd)
		for i := 0; i < 1+r.IntN(30) && pos > 0; i++ {
			if pos >= 2*l {
				pos = d.seek(h, -2*l, io.SeekCurrent)
			} else {
				pos = d.seek(h, 0, io.SeekStart)
			}
			d.read(h, int(l))
		}
	case 5: // backwards ReadAts
		l := 1 + r.IntN(100<<10)
		for off := d.offset(); off >= 0; off -= int64(l) + int64(r.IntN(2))*cxBlock {
			d.readAt(h, l, off)
		}
	case 6: // 2-3 interleaved sequential streams of ReadAt on one handle
		k := 2 + r.IntN(2)
		l := d.length()%(256<<10) + 1
		offs := make([]int64, k)
		for i := range offs {
			offs[i] = d.offset()
		}
		for range 1 + r.IntN(30) {
			for i := range offs {
				d.readAt(h, l, offs[i])
				offs[i] += int64(l)
			}
		}
	case 7: // small random reads
		for range 1 + r.IntN(20) {
			d.readAt(h, 1+r.IntN(4096), r.Int64N(d.size+1))
		}
	}
}

// TestCacheReadsMatchOsFs checks that every Read, ReadAt and Seek returns
// what afero.OsFs returns, for sequential, strided, backwards, interleaved
// and random patterns on files of sizes around the block and window
// edges, under several cache and readahead configurations. Two pairs of
// handles share the file, and so the aiofs cache.
func TestCacheReadsMatchOsFs(t *testing.T) { parallelForEngines(t, testCacheReadsMatchOsFs) }

func testCacheReadsMatchOsFs(t *testing.T, engine string) {
	seed := testSeed(t)
	dir := t.TempDir()
	for si, size := range cxSizes {
		name := filepath.Join(dir, fmt.Sprintf("f%d", size))
		data := pattern(newRand(seed, uint64(si)).Uint64(), 0, size)
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for oi, set := range cxReadOptSets {
			t.Run(fmt.Sprintf("size%d/%s", size, set.name), func(t *testing.T) {
				cxDropPageCache(t, name)
				fsys := newAio(t, engine, set.opts...)
				d := newReadDiff(t, newRand(seed, uint64(si*100+oi+1)), fsys, name, int64(size))
				d.must(func() {
					d.Open("h0", filepath.Base(name))
					d.Open("h1", filepath.Base(name))
				})
				bursts := 25
				if size > 1<<20 {
					bursts = 80
				}
				for range bursts {
					d.burst()
				}
				// Finally a full sequential read through a fresh handle.
				a, err := fsys.Open(name)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(a)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("ReadAll: err %v, data %s", err, diff(got, data, "got", "want"))
				}
				if err := a.Close(); err != nil {
					t.Errorf("aiofs Close: %v", err)
				}
				d.must(func() {
					d.Close("h0")
					d.Close("h1")
				})
				if st := fsys.Stats(); st.DirtyBytes != 0 || st.InFlight < 0 {
					t.Errorf("after reads only: DirtyBytes %d, InFlight %d", st.DirtyBytes, st.InFlight)
				}
			})
		}
	}
}

// TestCacheConcurrentReaders has goroutines read one file through their
// own handles of one Fs, with random patterns, while the small cache
// evicts under them; every read must return the file's bytes.
func TestCacheConcurrentReaders(t *testing.T) { parallelForEngines(t, testCacheConcurrentReaders) }

func testCacheConcurrentReaders(t *testing.T, engine string) {
	seed := testSeed(t)
	dir := t.TempDir()
	const size = 4<<20 + 333
	data := pattern(newRand(seed, 0).Uint64(), 0, size)
	name := filepath.Join(dir, "f")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, set := range []cxOptSet{cxReadOptSets[0], cxReadOptSets[1], cxReadOptSets[3]} {
		t.Run(set.name, func(t *testing.T) {
			cxDropPageCache(t, name)
			fsys := newAio(t, engine, set.opts...)
			var wg sync.WaitGroup
			for g := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := newRand(seed, uint64(g+1))
					f, err := fsys.Open(name)
					if err != nil {
						t.Error(err)
						return
					}
					defer f.Close()
					buf := make([]byte, 256<<10)
					check := func(what string, off int64, p []byte, n int, err error) bool {
						want := 0
						if off < size {
							want = min(len(p), int(size-off))
						}
						var wantErr error
						if want < len(p) {
							wantErr = io.EOF
						}
						if n != want || err != wantErr || !bytes.Equal(p[:n], data[min(off, size):min(off, size)+int64(want)]) {
							t.Errorf("g%d %s(len %d, off %d) = %d, %v; want %d, %v; data %s",
								g, what, len(p), off, n, err, want, wantErr, diff(p[:n], data[min(off, size):min(off, size)+int64(want)], "got", "want"))
							return false
						}
						return true
					}
					for range 40 {
						switch r.IntN(3) {
						case 0: // a sequential run with Read
							off := r.Int64N(size)
							if r.IntN(3) == 0 {
								off = 0
							}
							if _, err := f.Seek(off, io.SeekStart); err != nil {
								t.Error(err)
								return
							}
							l := 1 + r.IntN(len(buf))
							for range 1 + r.IntN(20) {
								p := buf[:l]
								n, err := f.Read(p)
								if off >= size {
									if n != 0 || err != io.EOF {
										t.Errorf("g%d Read at EOF: %d, %v", g, n, err)
										return
									}
									break
								}
								// Read may return fewer bytes than asked only at the end.
								if err != nil || !bytes.Equal(p[:n], data[off:off+int64(n)]) || n < l && off+int64(n) != size {
									t.Errorf("g%d Read(len %d) at %d = %d, %v; data %s", g, l, off, n, err,
										diff(p[:n], data[off:min(size, off+int64(n))], "got", "want"))
									return
								}
								off += int64(n)
							}
						case 1: // a sequential stream of ReadAt
							off := r.Int64N(size)
							l := 1 + r.IntN(len(buf))
							for range 1 + r.IntN(20) {
								n, err := f.ReadAt(buf[:l], off)
								if !check("ReadAt", off, buf[:l], n, err) {
									return
								}
								off += int64(l)
							}
						case 2: // random small reads
							for range 1 + r.IntN(20) {
								off := r.Int64N(size + 10)
								l := 1 + r.IntN(8192)
								n, err := f.ReadAt(buf[:l], off)
								if !check("ReadAt", off, buf[:l], n, err) {
									return
								}
							}
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestCacheBoundUnderLoad: 32 goroutines read 32 files that together are
// ten times the cache bound; sampled all along, the cached bytes never
// exceed the bound, and the heap never exceeds what it was before the
// reads by more than the bound plus a constant.
func TestCacheBoundUnderLoad(t *testing.T) { forEnginesSerial(t, testCacheBoundUnderLoad) }

func testCacheBoundUnderLoad(t *testing.T, engine string) {
	const (
		bound    = 2 << 20
		files    = 32
		fileSize = 640 << 10 // 32 files of 640 KiB = 20 MiB = 10x the bound
		readBuf  = 32 << 10
		// heapSlack is what the heap may hold beyond the cached blocks
		// while readers run: buffers and requests in flight, the
		// engine's and goroutines' small allocations, FileInfo and
		// error values, and the blocks allocated between the forced GC
		// and the sample. 4 MiB is generous for that and far below the
		// 20 MiB the files hold, which an unbounded cache would reach.
		heapSlack = 4 << 20
	)
	seed := testSeed(t)
	dir := t.TempDir()
	datas := patterns(seed, files, fileSize)
	for i := range datas {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), datas[i], 0o644); err != nil {
			t.Fatal(err)
		}
		cxDropPageCache(t, filepath.Join(dir, fmt.Sprint(i)))
	}
	fsys := newAio(t, engine, aiofs.WithCacheSize(bound))
	handles := make([]afero.File, files)
	bufs := make([][]byte, files)
	for i := range handles {
		f, err := fsys.Open(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		handles[i] = f
		bufs[i] = make([]byte, readBuf)
	}
	defer func() {
		for _, f := range handles {
			f.Close()
		}
	}()

	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapInuse

	stop := make(chan struct{})
	stopCached := sampleMax(func() int64 { return fsys.Stats().CachedBytes })
	var samplers sync.WaitGroup
	samplers.Add(1)
	var maxHeap atomic.Uint64
	var heapSamples atomic.Int64
	go func() { // heap after GC, sampled every few milliseconds
		defer samplers.Done()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.GC()
			runtime.GC() // the second GC frees what sync.Pool's victim cache held
			runtime.ReadMemStats(&ms)
			heapSamples.Add(1)
			if ms.HeapInuse > maxHeap.Load() {
				maxHeap.Store(ms.HeapInuse)
			}
		}
	}()

	var wg sync.WaitGroup
	for i := range handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, buf, data := handles[i], bufs[i], datas[i]
			for pass := range 3 {
				if pass > 0 {
					cxDropPageCache(t, f.Name())
				}
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					t.Error(err)
					return
				}
				off := 0
				for {
					n, err := f.Read(buf)
					if !bytes.Equal(buf[:n], data[off:off+n]) {
						t.Errorf("file %d pass %d: wrong data at %d", i, pass, off)
						return
					}
					off += n
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
				if off != fileSize {
					t.Errorf("file %d pass %d: read %d bytes, want %d", i, pass, off, fileSize)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	samplers.Wait()
	maxCached, cachedSamples := stopCached()

	st := fsys.Stats()
	t.Logf("CachedBytes max %d over %d samples (bound %d); heap in use max %d over %d samples, %d above the %d before; windows %d, used %d, wasted %d",
		maxCached, cachedSamples, bound, maxHeap.Load(), heapSamples.Load(),
		int64(maxHeap.Load())-int64(baseHeap), baseHeap, st.PrefetchWindows, st.PrefetchUsed, st.PrefetchWasted)
	if maxCached > bound {
		t.Errorf("Stats().CachedBytes reached %d, above the bound %d", maxCached, bound)
	}
	if st.CachedBytes > bound {
		t.Errorf("Stats().CachedBytes is %d at the end, above the bound %d", st.CachedBytes, bound)
	}
	if maxCached == 0 || st.PrefetchWindows == 0 {
		t.Errorf("the cache was never used (max CachedBytes %d, PrefetchWindows %d): the test tests nothing", maxCached, st.PrefetchWindows)
	}
	if heapSamples.Load() > 0 && maxHeap.Load() > baseHeap+bound+heapSlack {
		t.Errorf("heap in use after GC reached %d, %d above the %d before the reads; allowed: bound %d + %d",
			maxHeap.Load(), maxHeap.Load()-baseHeap, baseHeap, bound, heapSlack)
	}
}

// TestCacheWriteSeenByOtherHandle: a write through one handle is seen at
// once by reads through another handle of the same Fs, also where the
// reader has the block cached or being prefetched, and by a Stat of it;
// after Close, by the OS.
func TestCacheWriteSeenByOtherHandle(t *testing.T) {
	parallelForEngines(t, testCacheWriteSeenByOtherHandle)
}

func testCacheWriteSeenByOtherHandle(t *testing.T, engine string) {
	type variant struct {
		name  string
		opts  []aiofs.Option
		wflag int
	}
	for _, v := range []variant{
		{"writebehind", nil, 0},
		{"writethrough", []aiofs.Option{aiofs.WithWriteBehind(0)}, 0},
		{"O_SYNC", nil, os.O_SYNC},
		{"smallcache", []aiofs.Option{aiofs.WithCacheSize(256 << 10), aiofs.WithReadahead(128 << 10)}, 0},
	} {
		t.Run(v.name, func(t *testing.T) {
			seed := testSeed(t)
			r := newRand(seed, 1)
			dir := t.TempDir()
			name := filepath.Join(dir, "f")
			model := pattern(r.Uint64(), 0, 300<<10+17)
			if err := os.WriteFile(name, model, 0o644); err != nil {
				t.Fatal(err)
			}
			cxDropPageCache(t, name)
			fsys := newAio(t, engine, v.opts...)
			rd, err := fsys.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			wr, err := fsys.OpenFile(name, os.O_RDWR|v.wflag, 0)
			if err != nil {
				t.Fatal(err)
			}
			// Read everything through rd first, so the blocks are cached.
			if got, err := io.ReadAll(rd); err != nil || !bytes.Equal(got, model) {
				t.Fatalf("first read: %v, %s", err, diff(got, model, "got", "want"))
			}
			if st := fsys.Stats(); st.CachedBytes == 0 {
				t.Logf("nothing cached after the first read (%s): the writes below meet no cached block", cxPrefetchLine(st))
			}
			verify := func(step string) {
				t.Helper()
				got := make([]byte, len(model)+100)
				n, err := rd.ReadAt(got, 0)
				if n != len(model) || err != io.EOF || !bytes.Equal(got[:n], model) {
					t.Fatalf("%s: ReadAt through the other handle: n %d (want %d), err %v; %s", step, n, len(model), err, diff(got[:n], model, "got", "want"))
				}
				if fi, err := rd.Stat(); err != nil || fi.Size() != int64(len(model)) {
					t.Fatalf("%s: Stat of the other handle: %v, size %d, want %d", step, err, fi.Size(), len(model))
				}
			}
			write := func(step string, p []byte, off int64) {
				t.Helper()
				if n, err := wr.WriteAt(p, off); n != len(p) || err != nil {
					t.Fatalf("%s: WriteAt: %d, %v", step, n, err)
				}
				if end := off + int64(len(p)); end > int64(len(model)) {
					model = append(model, make([]byte, end-int64(len(model)))...)
				}
				copy(model[off:], p)
				verify(step)
			}
			write("inside a cached block", pattern(r.Uint64(), 0, 100), 1000)
			write("across a block edge", pattern(r.Uint64(), 0, 100), cxBlock-50)
			write("the last partial block, extending the file", pattern(r.Uint64(), 0, 1000), int64(len(model))-10)
			write("a whole block", pattern(r.Uint64(), 0, cxBlock), 2*cxBlock)
			write("past the end, leaving a hole", pattern(r.Uint64(), 0, 10), int64(len(model))+cxBlock+5)

			// A block that readahead is loading: start a sequential reader,
			// then write into its window at once.
			rd2, err := fsys.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer rd2.Close()
			small := make([]byte, 4096)
			if _, err := io.ReadFull(rd2, small); err != nil {
				t.Fatal(err)
			}
			write("a block being prefetched", pattern(r.Uint64(), 0, 5000), 100<<10)
			rest, err := io.ReadAll(rd2)
			if err != nil || !bytes.Equal(append(small, rest...), model) {
				t.Fatalf("sequential reader after the write: %v, %s", err, diff(append(small, rest...), model, "got", "want"))
			}
			// Read through the same handle continues to see new writes.
			if _, err := rd.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			write("after a Seek of the reader", pattern(r.Uint64(), 0, 3000), 7)
			if all, err := io.ReadAll(rd); err != nil || !bytes.Equal(all, model) {
				t.Fatalf("Read through the other handle: %v, %s", err, diff(all, model, "got", "want"))
			}
			if err := wr.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if disk, err := os.ReadFile(name); err != nil || !bytes.Equal(disk, model) {
				t.Fatalf("on disk after Close: %v, %s", err, diff(disk, model, "got", "want"))
			}
		})
	}
}

// TestCacheSeesOtherProcessChangeAfterReopen: changes that bypass the Fs
// (as another process makes them) are seen by the next Open, with the
// bytes OsFs returns: a rewrite of the same size, shorter, longer, and a
// replacement by rename.
func TestCacheSeesOtherProcessChangeAfterReopen(t *testing.T) {
	parallelForEngines(t, testCacheSeesOtherProcessChangeAfterReopen)
}

func testCacheSeesOtherProcessChangeAfterReopen(t *testing.T, engine string) {
	seed := testSeed(t)
	r := newRand(seed, 2)
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	fsys := newAio(t, engine)

	// readBoth reads the file through fresh handles of the Fs and of OsFs.
	readBoth := func(step string) {
		t.Helper()
		h := newReadH(t, step, fsys, dir)
		h.must(func() {
			h.Open("f", "f")
			h.ReadAll("f")
		})
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, off := range []int64{0, 5, cxBlock - 1, cxBlock, 100 << 10, fi.Size() - 1, fi.Size(), 1 << 20} {
			h.ReadAt("f", 3000, off)
		}
		h.must(func() {
			h.Stat("f")
			h.Close("f")
		})
	}
	change := func(step string, data []byte) {
		t.Helper()
		before, _ := os.Stat(name)
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		after, _ := os.Stat(name)
		if before != nil && before.Size() == after.Size() && before.ModTime().Equal(after.ModTime()) {
			// The design detects changes by size and modification time;
			// a rewrite within one timestamp tick is beyond it.
			t.Logf("%s: mtime did not change (%v); moving it on", step, after.ModTime())
			os.Chtimes(name, time.Time{}, after.ModTime().Add(time.Second))
		}
		cxDropPageCache(t, name) // so that the Fs caches what it reads next
		readBoth(step)
	}

	change("initial", pattern(r.Uint64(), 0, 1<<20+100))
	readBoth("again, from the cache")
	if fsys.Stats().CachedBytes == 0 {
		t.Errorf("nothing cached after two full reads")
	}
	change("same size rewritten", pattern(r.Uint64(), 0, 1<<20+100))
	change("shorter", pattern(r.Uint64(), 0, 100<<10+3))
	change("longer", pattern(r.Uint64(), 0, 2<<20+1))
	change("truncated to a partial block", pattern(r.Uint64(), 0, 1234))
	change("emptied", nil)
	change("refilled", pattern(r.Uint64(), 0, 300<<10))

	// Replaced by rename: a new file under the old name.
	tmp := filepath.Join(dir, "tmp")
	if err := os.WriteFile(tmp, pattern(r.Uint64(), 0, 500<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
	cxDropPageCache(t, name)
	readBoth("replaced by rename")

	// A change while a handle stays open, then a reopen.
	keep, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(keep); err != nil {
		t.Fatal(err)
	}
	change("changed while another handle is open", pattern(r.Uint64(), 0, 400<<10+9))
	keep.Close()
	readBoth("after the old handle closed")
}

// TestCacheSeesRewriteWithRestoredMtime: a rewrite in place by another
// process that keeps the size and puts the modification time back (as
// tools that preserve times do) is seen after re-Open. Size and mtime
// alone cannot tell; the change time (ctime), which no one can set back,
// can.
func TestCacheSeesRewriteWithRestoredMtime(t *testing.T) {
	parallelForEngines(t, testCacheSeesRewriteWithRestoredMtime)
}

func testCacheSeesRewriteWithRestoredMtime(t *testing.T, engine string) {
	aio := newAio(t, engine)
	name := filepath.Join(t.TempDir(), "f")
	v1 := bytes.Repeat([]byte("1"), 200<<10)
	v2 := bytes.Repeat([]byte("2"), 200<<10)
	if err := os.WriteFile(name, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	fi1, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	cxDropPageCache(t, name)
	f, err := aio.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(f); !bytes.Equal(got, v1) {
		t.Fatal("first read")
	}
	f.Close()
	if aio.Stats().CachedBytes == 0 {
		t.Fatalf("nothing cached after the first read: the test tests nothing (%s)", cxPrefetchLine(aio.Stats()))
	}
	if err := os.WriteFile(name, v2, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, fi1.ModTime(), fi1.ModTime()); err != nil {
		t.Fatal(err)
	}
	f, err = aio.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, _ := io.ReadAll(f); !bytes.Equal(got, v2) {
		t.Errorf("after a same-size rewrite with the mtime restored, re-Open reads the old content: %s", diff(got, v2, "got", "want"))
	}
}

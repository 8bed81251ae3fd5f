package aiofs_test

// Tests of the write path: write-behind gives the bytes OsFs gives, after
// Close and Sync and at once through other handles of the Fs; O_APPEND is
// atomic among the Fs's handles; Truncate orders with pending writes;
// dirty memory is bounded; times, renames and removes are not undone by a
// later flush; write-through modes reach the OS before Write returns.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// cxHandle describes one handle slot: which file, with which flags.
type cxHandle struct {
	id, file string
	flag     int
}

// wbDiff drives H through handle slots of a few files, each side in a
// directory of its own. The first difference fails the test, and so does
// an error where the write path's tests expect none (opening, closing,
// syncing, learning sizes), even if both sides return it.
type wbDiff struct {
	*H
	r       *rand.Rand
	handles []cxHandle
	files   []string
}

func newWBDiff(t *testing.T, r *rand.Rand, aio *aiofs.Fs, files []string, handles []cxHandle) *wbDiff {
	h := newH(t, "write diff", newSide("OsFs", afero.NewOsFs(), nil, t.TempDir()), newSide("aiofs", aio, aio, t.TempDir()))
	h.stopOnFail = true
	h.keepHist = 16
	t.Cleanup(func() {
		for _, s := range h.sides() {
			for id, f := range s.files {
				if !s.closed[id] {
					f.Close()
				}
			}
		}
	})
	return &wbDiff{H: h, r: r, handles: handles, files: files}
}

// diskFile writes data to name on both sides, bypassing the Fs.
func (d *wbDiff) diskFile(name string, data []byte) {
	d.t.Helper()
	d.DiskWrite(name, data, 0o644)
}

func (d *wbDiff) handle(id string) cxHandle {
	for _, h := range d.handles {
		if h.id == id {
			return h
		}
	}
	d.t.Fatalf("no handle %q", id)
	return cxHandle{}
}

func (d *wbDiff) open(id string) {
	d.t.Helper()
	if d.isOpen(id) {
		d.t.Fatalf("%s is open already", id)
	}
	h := d.handle(id)
	d.must(func() { d.OpenFile(id, h.file, h.flag, 0o644) })
}

func (d *wbDiff) close(id string) {
	d.t.Helper()
	d.must(func() { d.Close(id) })
}

func (d *wbDiff) isOpen(id string) bool {
	return d.os.files[id] != nil && !d.os.closed[id]
}

// sync Syncs a handle on both sides; then the file's bytes on disk must
// be the same.
func (d *wbDiff) sync(id string) {
	d.t.Helper()
	d.must(func() {
		d.Sync(id)
		d.compareFileOnDisk(d.handle(id).file)
	})
}

// sizes checks every way another handle or the Fs learns a file's size:
// File.Stat, Seek(0, io.SeekEnd) on a reader, Fs.Stat, Lstat, Readdir and
// ReadDir of the directory, and a full read.
func (d *wbDiff) sizes(readerID string) {
	d.t.Helper()
	file := d.handle(readerID).file
	d.must(func() {
		d.Stat(readerID)
		d.Seek(readerID, 0, io.SeekEnd)
		d.Seek(readerID, 0, io.SeekStart)
		d.ReadAll(readerID)
		d.FsStat(file)
		d.Lstat(file)
		d.Open("dir", "")
		d.Readdir("dir", -1)
		d.Close("dir")
		d.Open("dir", "")
		d.ReadDir("dir", -1)
		d.Close("dir")
	})
}

// size is the file's size on the OsFs side's disk.
func (d *wbDiff) size(file string) int64 {
	d.t.Helper()
	fi, err := os.Stat(d.os.d(file))
	if err != nil {
		d.t.Fatalf("%v", err)
	}
	return fi.Size()
}

func (d *wbDiff) closeAll() {
	d.t.Helper()
	for _, h := range d.handles {
		if d.isOpen(h.id) {
			d.close(h.id)
		}
	}
	d.must(func() {
		for _, f := range d.files {
			d.compareFileOnDisk(f)
		}
	})
}

// cxLen picks a write length, biased to small ones and block edges.
func cxLen(r *rand.Rand) int {
	switch r.IntN(8) {
	case 0:
		return 1
	case 1:
		return cxBlock
	case 2:
		return cxBlock + 1 + r.IntN(2*cxBlock)
	case 3:
		return 300 << 10
	default:
		return 1 + r.IntN(10000)
	}
}

// step makes one random call.
func (d *wbDiff) step() {
	d.t.Helper()
	r := d.r
	h := d.handles[r.IntN(len(d.handles))]
	if !d.isOpen(h.id) {
		d.open(h.id)
		return
	}
	acc := h.flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	writable := acc != os.O_RDONLY
	appendMode := h.flag&os.O_APPEND != 0
	size := d.size(h.file)
	switch k := r.IntN(20); {
	case k < 6 && writable && !appendMode:
		d.WriteAt(h.id, pattern(r.Uint64(), 0, cxLen(r)), r.Int64N(size+100<<10+1))
	case k < 10 && writable:
		d.Write(h.id, pattern(r.Uint64(), 0, cxLen(r)))
	case k < 11 && writable && !appendMode:
		d.Truncate(h.id, r.Int64N(size+100<<10+1))
	case k < 12:
		switch r.IntN(3) {
		case 0:
			d.Seek(h.id, r.Int64N(size+100<<10+1), io.SeekStart)
		case 1:
			d.Seek(h.id, r.Int64N(2*cxBlock)-cxBlock, io.SeekCurrent)
		case 2:
			d.Seek(h.id, -r.Int64N(size+1), io.SeekEnd)
		}
	case k < 13 && writable:
		d.sync(h.id)
	case k < 14:
		d.close(h.id)
	case k < 16 && acc != os.O_WRONLY:
		d.ReadAt(h.id, 1+r.IntN(200<<10), r.Int64N(size+cxBlock))
	case k < 17 && acc != os.O_WRONLY:
		d.Read(h.id, 1+r.IntN(200<<10))
	case k < 18 && acc != os.O_WRONLY:
		d.sizes(h.id)
	}
}

// cxWriteOptSets are the write path's configurations under test, each
// run on every engine.
var cxWriteOptSets = []cxOptSet{
	{"default", nil},
	{"wb256K-cache256K", []aiofs.Option{aiofs.WithWriteBehind(256 << 10), aiofs.WithCacheSize(256 << 10), aiofs.WithReadahead(128 << 10)}},
	{"wb0", []aiofs.Option{aiofs.WithWriteBehind(0)}},
	{"wb1M", []aiofs.Option{aiofs.WithWriteBehind(1 << 20)}},
}

// TestWBRandomDifferential: random WriteAt, Write, O_APPEND writes,
// Truncate, Seek, Sync, Close and reopen through interleaved handles of
// two files, with reads, stats and directory listings through other
// handles checked against OsFs at once, and the bytes on disk checked
// after every Sync and at the end.
func TestWBRandomDifferential(t *testing.T) { parallelForEngines(t, testWBRandomDifferential) }

func testWBRandomDifferential(t *testing.T, engine string) {
	seed := testSeed(t)
	for i, set := range cxWriteOptSets {
		t.Run(set.name, func(t *testing.T) {
			aio := newAio(t, engine, set.opts...)
			handles := []cxHandle{
				{"f.rw1", "f", os.O_RDWR | os.O_CREATE},
				{"f.rw2", "f", os.O_RDWR},
				{"f.app", "f", os.O_WRONLY | os.O_APPEND},
				{"f.app2", "f", os.O_RDWR | os.O_APPEND},
				{"f.ro", "f", os.O_RDONLY},
				{"g.wo", "g", os.O_WRONLY | os.O_CREATE},
				{"g.ro", "g", os.O_RDONLY},
			}
			r := newRand(seed, uint64(i))
			d := newWBDiff(t, r, aio, []string{"f", "g"}, handles)
			d.diskFile("f", pattern(r.Uint64(), 0, 200<<10+5))
			d.diskFile("g", nil)
			for _, h := range handles {
				d.open(h.id)
			}
			for range 300 {
				d.step()
			}
			d.closeAll()
			st := aio.Stats()
			t.Logf("%s: flushes %d (coalesced %d), writer waits %d, dirty %d", st.Engine, st.Flushes, st.CoalescedWrites, st.WriterWaits, st.DirtyBytes)
			if st.DirtyBytes != 0 {
				t.Errorf("DirtyBytes %d after every handle closed", st.DirtyBytes)
			}
		})
	}
}

// TestWBReadYourWrites: bytes written through one handle, still buffered,
// are seen by Read, ReadAt, Stat, Seek(0, io.SeekEnd), Fs.Stat, Readdir
// and ReadDir through other handles at once, as OsFs sees them.
func TestWBReadYourWrites(t *testing.T) { parallelForEngines(t, testWBReadYourWrites) }

func testWBReadYourWrites(t *testing.T, engine string) {
	seed := testSeed(t)
	r := newRand(seed, 7)
	aio := newAio(t, engine)
	handles := []cxHandle{
		{"w", "f", os.O_RDWR | os.O_CREATE},
		{"a", "f", os.O_WRONLY | os.O_APPEND},
		{"r", "f", os.O_RDONLY},
		{"r2", "f", os.O_RDONLY},
	}
	d := newWBDiff(t, r, aio, []string{"f"}, handles)
	d.diskFile("f", pattern(r.Uint64(), 0, 10000))
	for _, h := range handles {
		d.open(h.id)
	}
	// The reader caches the file first.
	d.ReadAt("r", 20000, 0)
	d.ReadAt("r2", 20000, 0)
	buffered := false
	check := func() {
		t.Helper()
		if aio.Stats().DirtyBytes > 0 {
			buffered = true
		}
		d.sizes("r")
		d.ReadAt("r2", 1<<20, 0)
		d.ReadAt("r2", 100, 9990)
		d.Seek("r2", 0, io.SeekStart)
		d.Read("r2", 1<<20)
	}
	d.WriteAt("w", pattern(r.Uint64(), 0, 100), 50)
	check()
	d.WriteAt("w", pattern(r.Uint64(), 0, 5000), 8000) // extends the file
	check()
	d.Write("a", pattern(r.Uint64(), 0, 70000)) // appends across a block edge
	check()
	d.WriteAt("w", pattern(r.Uint64(), 0, 10), 300000) // leaves a hole
	check()
	d.Write("a", pattern(r.Uint64(), 0, 3)) // appends after the hole
	check()
	d.Truncate("w", 200000)
	check()
	d.Write("w", pattern(r.Uint64(), 0, 1))
	check()
	if !buffered {
		t.Logf("DirtyBytes was 0 at every check: the data was flushed before it was read back")
	}
	d.sync("w")
	d.closeAll()
}

// TestWBAppendConcurrent: goroutines append distinctive records through
// their own O_APPEND handles of one file; no record is lost, torn or
// overlapped, and each goroutine's records are in its order.
func TestWBAppendConcurrent(t *testing.T) { parallelForEngines(t, testWBAppendConcurrent) }

func testWBAppendConcurrent(t *testing.T, engine string) {
	sets := []cxOptSet{
		{"default", nil},
		{"wb256K-backpressure", []aiofs.Option{aiofs.WithWriteBehind(256 << 10)}},
		{"wb0", []aiofs.Option{aiofs.WithWriteBehind(0)}},
	}
	seed := testSeed(t)
	for si, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			const writers, records = 4, 80
			aio := newAio(t, engine, set.opts...)
			name := filepath.Join(t.TempDir(), "log")
			if err := os.WriteFile(name, []byte("<head>\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			body := func(g, i int, r *rand.Rand) string {
				n := r.IntN(3000)
				if r.IntN(10) == 0 {
					n = cxBlock + r.IntN(3*cxBlock) // spans blocks
				}
				return strings.Repeat(string(rune('a'+(g*7+i)%26)), n)
			}
			var wg sync.WaitGroup
			for g := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := newRand(seed, uint64(si*100+g))
					flag := os.O_WRONLY | os.O_APPEND
					if g%2 == 1 {
						flag = os.O_RDWR | os.O_APPEND
					}
					f, err := aio.OpenFile(name, flag, 0)
					if err != nil {
						t.Error(err)
						return
					}
					for i := range records {
						rec := fmt.Sprintf("<%d:%d:%s>\n", g, i, body(g, i, r))
						if n, err := f.Write([]byte(rec)); n != len(rec) || err != nil {
							t.Errorf("writer %d record %d: Write = %d, %v", g, i, n, err)
							break
						}
					}
					if err := f.Close(); err != nil {
						t.Errorf("writer %d: Close: %v", g, err)
					}
				}()
			}
			wg.Wait()
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			// Rebuild what each writer wrote, and check the file holds
			// exactly those records.
			want := map[string]bool{}
			total := len("<head>\n")
			for g := range writers {
				r := newRand(seed, uint64(si*100+g))
				for i := range records {
					rec := fmt.Sprintf("<%d:%d:%s>", g, i, body(g, i, r))
					want[rec] = true
					total += len(rec) + 1
				}
			}
			if len(data) != total {
				t.Errorf("file has %d bytes, the records %d", len(data), total)
			}
			recRE := regexp.MustCompile(`^<(\d+):(\d+):([a-z]*)>$`)
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(lines) == 0 || lines[0] != "<head>" {
				t.Fatalf("the file's first line is not the one before the appends")
			}
			next := make([]int, writers)
			bad := 0
			for ln, line := range lines[1:] {
				m := recRE.FindStringSubmatch(line)
				if m == nil || !want[line] {
					if bad++; bad <= 5 {
						t.Errorf("line %d is no record written (torn or overlapped): %.80q", ln+1, line)
					}
					continue
				}
				delete(want, line)
				g, _ := strconv.Atoi(m[1])
				i, _ := strconv.Atoi(m[2])
				if i != next[g] {
					t.Errorf("writer %d: record %d follows record %d", g, i, next[g]-1)
				}
				next[g] = i + 1
			}
			if len(want) > 0 {
				t.Errorf("%d records are missing", len(want))
			}
		})
	}
}

// TestWBTruncateOrdering: Truncate orders with buffered writes: write,
// truncate shorter, write further (and variants) leave what OsFs leaves,
// seen at once through another handle, on disk after Sync and Close.
func TestWBTruncateOrdering(t *testing.T) { parallelForEngines(t, testWBTruncateOrdering) }

func testWBTruncateOrdering(t *testing.T, engine string) {
	seed := testSeed(t)
	scripts := []struct {
		name string
		run  func(d *wbDiff, r *rand.Rand)
	}{
		{"write, truncate shorter, write further", func(d *wbDiff, r *rand.Rand) {
			d.WriteAt("w", pattern(r.Uint64(), 0, 200<<10), 0)
			d.Truncate("w", 50<<10)
			d.WriteAt("w", pattern(r.Uint64(), 0, 10<<10), 100<<10)
		}},
		{"truncate to 0, then write far", func(d *wbDiff, r *rand.Rand) {
			d.Write("w", pattern(r.Uint64(), 0, 300<<10))
			d.Truncate("w", 0)
			d.WriteAt("w", pattern(r.Uint64(), 0, 5), 1<<20)
		}},
		{"partial block, cut inside it, then extend", func(d *wbDiff, r *rand.Rand) {
			d.WriteAt("w", pattern(r.Uint64(), 0, 1000), 1000)
			d.Truncate("w", 1500)
			d.ReadAt("r", 4000, 0)
			d.Truncate("w", 100<<10)
			d.ReadAt("r", 200<<10, 0)
			d.WriteAt("w", pattern(r.Uint64(), 0, 10), 1495)
		}},
		{"truncate while full blocks flush", func(d *wbDiff, r *rand.Rand) {
			d.Write("w", pattern(r.Uint64(), 0, 1<<20)) // full blocks start flushing at once
			d.Truncate("w", 70<<10)
			d.WriteAt("w", pattern(r.Uint64(), 0, 10), 65<<10)
			d.Write("w", pattern(r.Uint64(), 0, 100)) // at the old offset, past the cut
		}},
		{"extend by truncate past a dirty partial last block", func(d *wbDiff, r *rand.Rand) {
			d.WriteAt("w", pattern(r.Uint64(), 0, 100), 500<<10-50) // the file's last bytes, past its end
			d.Truncate("w", 700<<10)
			d.WriteAt("w", pattern(r.Uint64(), 0, 100), 600<<10)
			d.Truncate("w", 500<<10)
			d.Write("w", pattern(r.Uint64(), 0, 1))
		}},
		{"truncate through another handle between writes", func(d *wbDiff, r *rand.Rand) {
			d.Write("w", pattern(r.Uint64(), 0, 150<<10))
			d.Truncate("w2", 10)
			d.Write("w", pattern(r.Uint64(), 0, 10<<10))
			d.Write("a", pattern(r.Uint64(), 0, 777))
			d.Truncate("w2", 3*cxBlock)
			d.Write("a", pattern(r.Uint64(), 0, 5))
		}},
		{"many cuts and writes", func(d *wbDiff, r *rand.Rand) {
			for range 40 {
				switch r.IntN(3) {
				case 0:
					d.Truncate("w", r.Int64N(600<<10))
				case 1:
					d.WriteAt("w", pattern(r.Uint64(), 0, cxLen(r)), r.Int64N(600<<10))
				case 2:
					d.Write("a", pattern(r.Uint64(), 0, 1+r.IntN(5000)))
				}
				d.ReadAt("r", 1<<20, 0)
			}
		}},
	}
	for _, set := range []cxOptSet{cxWriteOptSets[0], cxWriteOptSets[1], cxWriteOptSets[2]} {
		for si, sc := range scripts {
			t.Run(set.name+"/"+sc.name, func(t *testing.T) {
				aio := newAio(t, engine, set.opts...)
				r := newRand(seed, uint64(si))
				handles := []cxHandle{
					{"w", "f", os.O_RDWR},
					{"w2", "f", os.O_RDWR},
					{"a", "f", os.O_WRONLY | os.O_APPEND},
					{"r", "f", os.O_RDONLY},
				}
				d := newWBDiff(t, r, aio, []string{"f"}, handles)
				d.diskFile("f", pattern(r.Uint64(), 0, 500<<10))
				for _, h := range handles {
					d.open(h.id)
				}
				d.ReadAt("r", 1<<20, 0) // cache what is there
				sc.run(d, r)
				d.sizes("r")
				d.sync("w")
				d.closeAll()
			})
		}
	}
}

// TestWBDirtyBytesBound: 16 goroutines write 16 files that total 20 times
// the write-behind bound; sampled all along, DirtyBytes never exceeds the
// bound, writers waited, and the files are complete afterwards.
func TestWBDirtyBytesBound(t *testing.T) { parallelForEngines(t, testWBDirtyBytesBound) }

func testWBDirtyBytesBound(t *testing.T, engine string) {
	const (
		bound   = 1 << 20
		writers = 16
		perFile = 20 * bound / writers
	)
	seed := testSeed(t)
	aio := newAio(t, engine, aiofs.WithWriteBehind(bound))
	dir := t.TempDir()
	datas := patterns(seed, writers, perFile)
	stopDirty := sampleMax(func() int64 { return aio.Stats().DirtyBytes })
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newRand(seed, uint64(100+i))
			f, err := aio.Create(filepath.Join(dir, fmt.Sprint(i)))
			if err != nil {
				t.Error(err)
				return
			}
			data := datas[i]
			for off := 0; off < len(data); {
				n := min(len(data)-off, 1+r.IntN(100<<10))
				if i%2 == 0 {
					_, err = f.Write(data[off : off+n])
				} else {
					_, err = f.WriteAt(data[off:off+n], int64(off))
				}
				if err != nil {
					t.Errorf("file %d: write at %d: %v", i, off, err)
					break
				}
				off += n
			}
			if err := f.Close(); err != nil {
				t.Errorf("file %d: Close: %v", i, err)
			}
		}()
	}
	wg.Wait()
	maxDirty, samples := stopDirty()
	st := aio.Stats()
	t.Logf("DirtyBytes max %d over %d samples (bound %d); writer waits %d, flushes %d, coalesced %d",
		maxDirty, samples, bound, st.WriterWaits, st.Flushes, st.CoalescedWrites)
	if maxDirty > bound {
		t.Errorf("DirtyBytes reached %d, above the bound %d", maxDirty, bound)
	}
	// The sampler may be starved on a loaded machine, so whether data was
	// written behind is told by the flushes, not by the samples.
	if st.Flushes == 0 {
		t.Errorf("no flush: nothing was written behind")
	}
	if st.WriterWaits == 0 {
		t.Errorf("WriterWaits is 0 after writing 20 times the bound")
	}
	if st.DirtyBytes != 0 {
		t.Errorf("DirtyBytes %d after every file was closed", st.DirtyBytes)
	}
	for i := range datas {
		got, err := os.ReadFile(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil || !bytes.Equal(got, datas[i]) {
			t.Errorf("file %d on disk: %v, %s", i, err, diff(got, datas[i], "got", "want"))
		}
	}
}

// TestWBTinyBoundDoesNotHang: a write-behind bound smaller than one block
// is still a bound, not a deadlock: writes complete (one block at a time)
// and the data arrives.
func TestWBTinyBoundDoesNotHang(t *testing.T) { parallelForEngines(t, testWBTinyBoundDoesNotHang) }

func testWBTinyBoundDoesNotHang(t *testing.T, engine string) {
	for _, bound := range []int64{1, 4096, cxBlock - 1, cxBlock} {
		t.Run(fmt.Sprint(bound), func(t *testing.T) {
			t.Parallel()
			aio := aiofs.New(aiofs.WithEngine(engine), aiofs.WithWriteBehind(bound))
			name := filepath.Join(t.TempDir(), "f")
			data := pattern(newRand(1, 2).Uint64(), 0, 3*cxBlock+10)
			errc := make(chan error, 1)
			go func() {
				f, err := aio.Create(name)
				if err != nil {
					errc <- err
					return
				}
				if _, err := f.Write(data[:10]); err != nil {
					errc <- err
					return
				}
				if _, err := f.Write(data[10:]); err != nil {
					errc <- err
					return
				}
				errc <- f.Close()
			}()
			select {
			case err := <-errc:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				// The Fs is left open: closing it would hang as well.
				t.Fatalf("WithWriteBehind(%d): Write or Close did not return within 5 s", bound)
			}
			if got, err := os.ReadFile(name); err != nil || !bytes.Equal(got, data) {
				t.Errorf("on disk: %v, %s", err, diff(got, data, "got", "want"))
			}
			if err := aio.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestWBConcurrentReadersWriters is for -race: writers and readers of one
// file through different handles, with Stat, Truncate-free writes into
// their own regions, and Syncs. Every byte a reader sees is one a writer
// wrote there (or the initial zero), and the end state is what was last
// written.
func TestWBConcurrentReadersWriters(t *testing.T) {
	parallelForEngines(t, testWBConcurrentReadersWriters)
}

func testWBConcurrentReadersWriters(t *testing.T, engine string) {
	for _, set := range []cxOptSet{
		{"default", nil},
		{"wb256K-cache256K", []aiofs.Option{aiofs.WithWriteBehind(256 << 10), aiofs.WithCacheSize(256 << 10), aiofs.WithReadahead(128 << 10)}},
	} {
		t.Run(set.name, func(t *testing.T) {
			const (
				writers = 4
				region  = 300 << 10 // each writer's own range: not block aligned
				rounds  = 12
			)
			aio := newAio(t, engine, set.opts...)
			name := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(name, make([]byte, writers*region), 0o644); err != nil {
				t.Fatal(err)
			}
			// Writer g writes byte value g*16+round (round 1..rounds) over
			// its region, in pieces.
			valid := func(off int64, v byte) bool {
				g := int(off / region)
				return v == 0 || int(v)/16 == g && v%16 >= 1 && int(v%16) <= rounds
			}
			var wg sync.WaitGroup
			var stopReaders atomic.Bool
			for g := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := newRand(uint64(g), 9)
					f, err := aio.OpenFile(name, os.O_RDWR, 0)
					if err != nil {
						t.Error(err)
						return
					}
					defer func() {
						if err := f.Close(); err != nil {
							t.Error(err)
						}
					}()
					for round := 1; round <= rounds; round++ {
						v := byte(g*16 + round)
						for off := 0; off < region; {
							n := min(region-off, 1+r.IntN(50<<10))
							if _, err := f.WriteAt(bytes.Repeat([]byte{v}, n), int64(g*region+off)); err != nil {
								t.Error(err)
								return
							}
							off += n
						}
						if round%4 == 0 {
							if err := f.Sync(); err != nil {
								t.Error(err)
								return
							}
						}
					}
				}()
			}
			var rg sync.WaitGroup
			for k := range 3 {
				rg.Add(1)
				go func() {
					defer rg.Done()
					r := newRand(uint64(k), 10)
					f, err := aio.Open(name)
					if err != nil {
						t.Error(err)
						return
					}
					defer f.Close()
					buf := make([]byte, 64<<10)
					for !stopReaders.Load() {
						off := r.Int64N(writers * region)
						n, err := f.ReadAt(buf, off)
						if err != nil && err != io.EOF {
							t.Error(err)
							return
						}
						for i := 0; i < n; i++ {
							if !valid(off+int64(i), buf[i]) {
								t.Errorf("reader %d: byte %d is %#x, which no writer wrote there", k, off+int64(i), buf[i])
								return
							}
						}
						if fi, err := f.Stat(); err != nil || fi.Size() != writers*region {
							t.Errorf("reader %d: Stat: %v, size %d", k, err, fi.Size())
							return
						}
					}
				}()
			}
			wg.Wait()
			stopReaders.Store(true)
			rg.Wait()
			got, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got {
				if want := byte(i/region*16 + rounds); v != want {
					t.Fatalf("byte %d on disk is %#x, want %#x (the last round)", i, v, want)
				}
			}
		})
	}
}

// TestWBChtimesSticks: times set on a file with buffered data, or after
// writing and closing through afero.NewCopyOnWriteFs, stay: a later flush
// does not undo them.
func TestWBChtimesSticks(t *testing.T) { parallelForEngines(t, testWBChtimesSticks) }

func testWBChtimesSticks(t *testing.T, engine string) {
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	atime := time.Date(2002, 3, 4, 5, 6, 7, 0, time.UTC)
	checkTimes := func(t *testing.T, name, when string) {
		t.Helper()
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", when, fi.ModTime(), mtime)
		}
	}

	t.Run("dirty data, then Chtimes", func(t *testing.T) {
		aio := newAio(t, engine)
		name := filepath.Join(t.TempDir(), "f")
		f, err := aio.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		data := pattern(newRand(3, 3).Uint64(), 0, 3*cxBlock+100) // full blocks and a partial one
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := aio.Chtimes(name, atime, mtime); err != nil {
			t.Fatal(err)
		}
		checkTimes(t, name, "right after Chtimes")
		time.Sleep(100 * time.Millisecond) // past any flush delay
		checkTimes(t, name, "100 ms later")
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		checkTimes(t, name, "after Close")
		if err := aio.Sync(); err != nil {
			t.Fatal(err)
		}
		checkTimes(t, name, "after Fs.Sync")
		if got, _ := os.ReadFile(name); !bytes.Equal(got, data) {
			t.Errorf("data: %s", diff(got, data, "got", "want"))
		}
		if fi, err := aio.Stat(name); err != nil || !fi.ModTime().Equal(mtime) {
			t.Errorf("Fs.Stat: %v, mtime %v", err, fi.ModTime())
		}
	})

	t.Run("two handles, dirty data from both", func(t *testing.T) {
		aio := newAio(t, engine)
		name := filepath.Join(t.TempDir(), "f")
		f, err := aio.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		g, err := aio.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("hello"))
		g.Write([]byte(" world"))
		if err := aio.Chtimes(name, atime, mtime); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		checkTimes(t, name, "after both Close")
		if got, _ := os.ReadFile(name); string(got) != "hello world" {
			t.Errorf("data %q", got)
		}
	})

	t.Run("CopyOnWriteFs", func(t *testing.T) {
		baseDir, layerDir := t.TempDir(), t.TempDir()
		aio := newAio(t, engine)
		if err := os.WriteFile(filepath.Join(baseDir, "f"), []byte("base content"), 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
		os.Chtimes(filepath.Join(baseDir, "f"), old, old)
		base := afero.NewReadOnlyFs(afero.NewBasePathFs(afero.NewOsFs(), baseDir))
		layer := afero.NewBasePathFs(aio, layerDir)
		cow := afero.NewCopyOnWriteFs(base, layer)

		// Copy-up sets the base's times on the layer's copy; a write
		// after it then changes mtime as usual.
		f, err := cow.OpenFile("/f", os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("LAYER"), 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := cow.Chtimes("/f", atime, mtime); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if err := aio.Sync(); err != nil {
			t.Fatal(err)
		}
		checkTimes(t, filepath.Join(layerDir, "f"), "layer copy after Chtimes")
		if fi, err := cow.Stat("/f"); err != nil || !fi.ModTime().Equal(mtime) {
			t.Errorf("cow.Stat: %v, mtime %v", err, fi.ModTime())
		}
		if got, _ := afero.ReadFile(cow, "/f"); string(got) != "LAYERcontent" {
			t.Errorf("content through the CopyOnWriteFs: %q", got)
		}

		// A new file created through the CopyOnWriteFs, written, closed,
		// then its times set: the times stay.
		g, err := cow.Create("/new")
		if err != nil {
			t.Fatal(err)
		}
		g.Write(pattern(newRand(4, 4).Uint64(), 0, 2*cxBlock+3))
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		if err := cow.Chtimes("/new", atime, mtime); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		checkTimes(t, filepath.Join(layerDir, "new"), "new layer file after Chtimes")
	})
}

// TestWBRenameRemoveOpenFile: renaming or removing a file whose handle
// holds buffered data loses nothing and does not bring the old name back.
func TestWBRenameRemoveOpenFile(t *testing.T) { parallelForEngines(t, testWBRenameRemoveOpenFile) }

func testWBRenameRemoveOpenFile(t *testing.T, engine string) {
	for _, set := range []cxOptSet{cxWriteOptSets[0], cxWriteOptSets[2]} {
		t.Run(set.name, func(t *testing.T) {
			aio := newAio(t, engine, set.opts...)
			dir := t.TempDir()
			r := newRand(5, 5)

			// Rename: the data follows the file.
			oldName, newName := filepath.Join(dir, "old"), filepath.Join(dir, "new")
			f, err := aio.Create(oldName)
			if err != nil {
				t.Fatal(err)
			}
			a, b := pattern(r.Uint64(), 0, 100000), pattern(r.Uint64(), 0, 5000)
			f.Write(a)
			if err := aio.Rename(oldName, newName); err != nil {
				t.Fatal(err)
			}
			f.Write(b)
			rd, err := aio.Open(newName)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(rd); err != nil || !bytes.Equal(got, append(a, b...)) {
				t.Errorf("read through the new name before Close: %v, %s", err, diff(got, append(a, b...), "got", "want"))
			}
			rd.Close()
			if fi, err := aio.Stat(newName); err != nil || fi.Size() != int64(len(a)+len(b)) {
				t.Errorf("Fs.Stat of the new name before Close: %v, size %d", err, fi.Size())
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(newName); err != nil || !bytes.Equal(got, append(a, b...)) {
				t.Errorf("new name after Close: %v, %s", err, diff(got, append(a, b...), "got", "want"))
			}
			if _, err := os.Stat(oldName); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the old name exists after Close: %v", err)
			}

			// Remove: the handle keeps working; the name stays gone.
			gone := filepath.Join(dir, "gone")
			g, err := aio.Create(gone)
			if err != nil {
				t.Fatal(err)
			}
			g.Write(pattern(r.Uint64(), 0, 3*cxBlock))
			if err := aio.Remove(gone); err != nil {
				t.Fatal(err)
			}
			c := pattern(r.Uint64(), 0, 700)
			if _, err := g.WriteAt(c, 10); err != nil {
				t.Errorf("WriteAt after Remove: %v", err)
			}
			p := make([]byte, len(c))
			if _, err := g.(io.ReaderAt).ReadAt(p, 10); err != nil || !bytes.Equal(p, c) {
				t.Errorf("ReadAt after Remove: %v, %s", err, diff(p, c, "got", "want"))
			}
			time.Sleep(50 * time.Millisecond) // let a delayed flush run
			if err := g.Sync(); err != nil {
				t.Errorf("Sync after Remove: %v", err)
			}
			if err := g.Close(); err != nil {
				t.Errorf("Close after Remove: %v", err)
			}
			if err := aio.Sync(); err != nil {
				t.Errorf("Fs.Sync: %v", err)
			}
			if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the removed name exists again: %v", err)
			}
			names, _ := os.ReadDir(dir)
			var got []string
			for _, n := range names {
				got = append(got, n.Name())
			}
			sort.Strings(got)
			if strings.Join(got, ",") != "new" {
				t.Errorf("directory holds %v, want [new]", got)
			}
		})
	}
}

// TestWBWriteThrough: with WithWriteBehind(0), and on O_SYNC handles, a
// write is in the file when Write returns: a reader bypassing the Fs sees
// it. (O_DSYNC, which package os does not name, is in writebehind_faults_linux_test.go.)
func TestWBWriteThrough(t *testing.T) { parallelForEngines(t, testWBWriteThrough) }

func testWBWriteThrough(t *testing.T, engine string) {
	t.Run("WithWriteBehind(0)", func(t *testing.T) { cxWriteThroughCase(t, engine, []aiofs.Option{aiofs.WithWriteBehind(0)}, 0) })
	t.Run("WithWriteBehind(0)|O_APPEND", func(t *testing.T) {
		cxWriteThroughCase(t, engine, []aiofs.Option{aiofs.WithWriteBehind(0)}, os.O_APPEND)
	})
	t.Run("O_SYNC", func(t *testing.T) { cxWriteThroughCase(t, engine, nil, os.O_SYNC) })
	t.Run("O_SYNC|O_APPEND", func(t *testing.T) { cxWriteThroughCase(t, engine, nil, os.O_SYNC|os.O_APPEND) })
}

// cxWriteThroughCase writes through a handle opened with flag on an Fs
// made with opts, and checks after every Write that the OS has the bytes.
func cxWriteThroughCase(t *testing.T, engine string, opts []aiofs.Option, flag int) {
	aio := newAio(t, engine, opts...)
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, pattern(newRand(6, 6).Uint64(), 0, 200<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	model, _ := os.ReadFile(name)
	// A reader of the Fs caches the blocks first.
	rd, err := aio.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	io.ReadAll(rd)
	f, err := aio.OpenFile(name, os.O_RDWR|flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := newRand(7, 7)
	for i := range 20 {
		p := pattern(r.Uint64(), 0, cxLen(r)%(150<<10)+1)
		var off int64
		if flag&os.O_APPEND != 0 {
			off = int64(len(model))
			if _, err := f.Write(p); err != nil {
				t.Fatal(err)
			}
		} else {
			off = r.Int64N(int64(len(model)) + 10000)
			if i%2 == 0 {
				_, err = f.WriteAt(p, off)
			} else {
				if _, err = f.Seek(off, io.SeekStart); err == nil {
					_, err = f.Write(p)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if end := off + int64(len(p)); end > int64(len(model)) {
			model = append(model, make([]byte, end-int64(len(model)))...)
		}
		copy(model[off:], p)
		disk, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(disk, model) {
			t.Fatalf("write %d (len %d at %d): the OS does not have it when Write returns: %s", i, len(p), off, diff(disk, model, "got", "want"))
		}
		got := make([]byte, len(model))
		if n, err := rd.ReadAt(got, 0); n != len(model) || err != nil && err != io.EOF || !bytes.Equal(got, model) {
			t.Fatalf("write %d: a reader of the Fs: %d, %v, %s", i, n, err, diff(got[:n], model, "got", "want"))
		}
	}
	if st := aio.Stats(); st.DirtyBytes != 0 {
		t.Errorf("write-through left DirtyBytes %d", st.DirtyBytes)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWBStatDuringFlush: File.Stat and Fs.Stat of a file being written
// never report less than what Writes that returned before the Stat put
// there, even when a flush completes during the Stat.
func TestWBStatDuringFlush(t *testing.T) { parallelForEngines(t, testWBStatDuringFlush) }

func testWBStatDuringFlush(t *testing.T, engine string) {
	aio := newAio(t, engine)
	dir := t.TempDir()
	chunk := bytes.Repeat([]byte("q"), 2*cxBlock) // full blocks: flushed at once
	var bad, checks atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(1500 * time.Millisecond)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; time.Now().Before(deadline); round++ {
				name := filepath.Join(dir, fmt.Sprint(g, "-", round))
				w, err := aio.Create(name)
				if err != nil {
					t.Error(err)
					return
				}
				r, err := aio.Open(name)
				if err != nil {
					t.Error(err)
					return
				}
				var written atomic.Int64
				done := make(chan struct{})
				go func() {
					defer close(done)
					for range 100 {
						if _, err := w.Write(chunk); err != nil {
							t.Error(err)
							return
						}
						written.Add(int64(len(chunk)))
					}
				}()
				check := func(what string, stat func() (os.FileInfo, error)) {
					before := written.Load()
					fi, err := stat()
					if err != nil {
						t.Error(err)
						return
					}
					if fi.Size() < before {
						if bad.Add(1) <= 3 {
							t.Errorf("%s: size %d, but Writes that returned before it had made the file %d bytes", what, fi.Size(), before)
						}
					}
					checks.Add(1)
				}
				for running := true; running; {
					select {
					case <-done:
						running = false
					default:
					}
					check("Fs.Stat", func() (os.FileInfo, error) { return aio.Stat(name) })
					check("File.Stat of another handle", r.Stat)
				}
				w.Close()
				r.Close()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d of %d Stats were short", bad.Load(), checks.Load())
}

// TestWBCreateTruncWhileFlushing: Create (O_TRUNC) of a file whose
// buffered data is being flushed leaves it empty, as with OsFs: the
// flush in flight does not bring the old data back after the truncate.
func TestWBCreateTruncWhileFlushing(t *testing.T) {
	parallelForEngines(t, testWBCreateTruncWhileFlushing)
}

func testWBCreateTruncWhileFlushing(t *testing.T, engine string) {
	aio := newAio(t, engine)
	name := filepath.Join(t.TempDir(), "f")
	data := pattern(newRand(11, 11).Uint64(), 0, 2<<20) // full blocks: flushed at once
	deadline := time.Now().Add(2 * time.Second)
	for round := 0; round < 200 && time.Now().Before(deadline); round++ {
		h1, err := aio.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h1.Write(data); err != nil {
			t.Fatal(err)
		}
		h2, err := aio.OpenFile(name, os.O_RDWR|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h2.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		fi, err := h2.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if err := h1.Close(); err != nil {
			t.Fatal(err)
		}
		if err := h2.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "x" || fi.Size() != 1 {
			t.Fatalf("round %d: after Write of %d bytes, O_TRUNC open, Write of 1 byte: Stat said %d bytes, the file has %d (want 1)",
				round, len(data), fi.Size(), len(got))
		}
	}
}

// TestWBStreamWindow: a sequential writer under a large write-behind bound
// holds no more than the stream window dirty (plus the block it is
// writing), waiting for its flushes instead of filling the bound, and its
// data arrives whole.
func TestWBStreamWindow(t *testing.T) { parallelForEngines(t, testWBStreamWindow) }

func testWBStreamWindow(t *testing.T, engine string) {
	const size = 64 << 20
	aio := newAio(t, engine, aiofs.WithWriteBehind(size))
	name := filepath.Join(t.TempDir(), "stream")
	f, err := aio.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	data := pattern(testSeed(t), 0, size)
	var maxDirty int64
	for off := 0; off < size; off += 4 << 10 {
		if _, err := f.Write(data[off : off+4<<10]); err != nil {
			t.Fatal(err)
		}
		maxDirty = max(maxDirty, aio.Stats().DirtyBytes)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if limit := int64(aiofs.StreamWindowBytes + 64<<10); maxDirty > limit {
		t.Errorf("a sequential writer held %d dirty bytes; want at most %d", maxDirty, limit)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("file differs from what was written (%d bytes, want %d)", len(got), len(data))
	}
}

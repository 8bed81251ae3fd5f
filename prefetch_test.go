package aiofs_test

// Tests of readahead: sequential readers are prefetched for, and use what
// was prefetched; random readers are not; net/http's access pattern keeps
// readahead on; a prefetch that fails is dropped and the reader meets the
// real error itself.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// cxWriteRandomFile writes size pseudo-random bytes to a new file in dir.
func cxWriteRandomFile(t *testing.T, dir, base string, seed uint64, size int) (string, []byte) {
	t.Helper()
	data := pattern(newRand(seed, uint64(size)).Uint64(), 0, size)
	name := filepath.Join(dir, base)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return name, data
}

// coldOpen drops name from the page cache and opens it in a new Fs on
// engine; the file is closed when the test ends.
func coldOpen(t *testing.T, engine, name string) (*aiofs.Fs, afero.File) {
	t.Helper()
	cxDropPageCache(t, name)
	fsys := newAio(t, engine)
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return fsys, f
}

// readInPieces reads f to its end with Reads of n bytes.
func readInPieces(f afero.File, n int) ([]byte, error) {
	var out []byte
	buf := make([]byte, n)
	for {
		m, err := f.Read(buf)
		out = append(out, buf[:m]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// checkPrefetched fails t unless what was read through fsys issued a
// readahead window and used at least 90% of the prefetched bytes; it
// returns the Stats it checked.
func checkPrefetched(t *testing.T, fsys *aiofs.Fs, what string) aiofs.Stats {
	t.Helper()
	st := fsys.Stats()
	t.Log(cxPrefetchLine(st))
	if st.PrefetchWindows == 0 {
		t.Errorf("%s issued no readahead window", what)
	}
	if r := cxUsedRatio(st); r < 0.9 {
		t.Errorf("%s: only %.1f%% of the prefetched bytes were used (want >= 90%%)", what, 100*r)
	}
	return st
}

// cxUsedRatio is PrefetchUsed / (PrefetchUsed + PrefetchWasted).
func cxUsedRatio(st aiofs.Stats) float64 {
	if st.PrefetchUsed+st.PrefetchWasted == 0 {
		return 0
	}
	return float64(st.PrefetchUsed) / float64(st.PrefetchUsed+st.PrefetchWasted)
}

func cxPrefetchLine(st aiofs.Stats) string {
	return fmt.Sprintf("windows %d, used %d, wasted %d (%.1f%% used), hits %d, misses %d, cached %d",
		st.PrefetchWindows, st.PrefetchUsed, st.PrefetchWasted, 100*cxUsedRatio(st), st.CacheHits, st.CacheMisses, st.CachedBytes)
}

// TestPrefetchSequential: a pure sequential read of a multi-MiB file
// issues readahead windows, and at least 90% of the prefetched bytes are
// used; nearly the whole file comes from prefetched blocks.
func TestPrefetchSequential(t *testing.T) { parallelForEngines(t, testPrefetchSequential) }

func testPrefetchSequential(t *testing.T, engine string) {
	seed := testSeed(t)
	const size = 8<<20 + 4321
	name, data := cxWriteRandomFile(t, t.TempDir(), "f", seed, size)
	type reader struct {
		name string
		read func(f afero.File) ([]byte, error)
	}
	readers := []reader{
		{"Read32K", func(f afero.File) ([]byte, error) { return readInPieces(f, 32<<10) }},
		{"Read4K", func(f afero.File) ([]byte, error) { return readInPieces(f, 4096) }},
		{"ReadAt100K", func(f afero.File) ([]byte, error) {
			var out []byte
			buf := make([]byte, 100<<10)
			for off := int64(0); ; off += int64(len(buf)) {
				n, err := f.ReadAt(buf, off)
				out = append(out, buf[:n]...)
				if err == io.EOF {
					return out, nil
				}
				if err != nil {
					return out, err
				}
			}
		}},
		{"io.Copy", func(f afero.File) ([]byte, error) {
			var out bytes.Buffer
			_, err := io.Copy(&out, f)
			return out.Bytes(), err
		}},
	}
	sets := []cxOptSet{
		{"default", nil},
		{"cache1M-ra256K", []aiofs.Option{aiofs.WithCacheSize(1 << 20), aiofs.WithReadahead(256 << 10)}},
		{"cache512K-ra2M", []aiofs.Option{aiofs.WithCacheSize(512 << 10)}},
	}
	for _, set := range sets {
		for _, rd := range readers {
			if set.name != "default" && rd.name == "Read4K" {
				continue // the slow one, once is enough
			}
			t.Run(set.name+"/"+rd.name, func(t *testing.T) {
				cxDropPageCache(t, name)
				fsys := newAio(t, engine, set.opts...)
				f, err := fsys.Open(name)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				got, err := rd.read(f)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read: %v; %s", err, diff(got, data, "got", "want"))
				}
				st := checkPrefetched(t, fsys, fmt.Sprintf("a sequential read of %d bytes", size))
				// How much of the file came from the Fs's own windows is
				// not checked: the Fs leaves to the kernel what its
				// readahead has put in the page cache already.
				t.Logf("%.0f%% of the file came from prefetched blocks", 100*float64(st.PrefetchUsed)/size)
			})
		}
	}
}

// TestPrefetchColdFileFirstWindow: the first read at offset 0 of a file
// that is not in the page cache issues a readahead window, every time.
// (The Fs may skip windows that the page cache holds already; a cold file
// holds none.)
func TestPrefetchColdFileFirstWindow(t *testing.T) {
	parallelForEngines(t, testPrefetchColdFileFirstWindow)
}

func testPrefetchColdFileFirstWindow(t *testing.T, engine string) {
	seed := testSeed(t)
	name, data := cxWriteRandomFile(t, t.TempDir(), "f", seed, 4<<20)
	missed := 0
	const rounds = 24
	for i := range rounds {
		cxDropPageCache(t, name)
		fsys := aiofs.New(aiofs.WithEngine(engine))
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 32<<10)
		if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, data[:len(buf)]) {
			t.Fatalf("Read: %v", err)
		}
		if st := fsys.Stats(); st.PrefetchWindows == 0 {
			missed++
			t.Logf("round %d: no window after the first Read of a cold file: %s", i, cxPrefetchLine(st))
		}
		f.Close()
		if err := fsys.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if missed > 0 {
		t.Errorf("in %d of %d rounds the first Read of a cold file issued no readahead window", missed, rounds)
	}
}

// TestPrefetchRandomReadsDoNotPrefetch: random 4 KiB ReadAts on a big file
// issue (next to) no readahead: at most 2% of the reads may be taken for
// the start of a stream, where a read happens to land just after an
// earlier one. Then sequential reading switches readahead back on.
func TestPrefetchRandomReadsDoNotPrefetch(t *testing.T) {
	parallelForEngines(t, testPrefetchRandomReadsDoNotPrefetch)
}

func testPrefetchRandomReadsDoNotPrefetch(t *testing.T, engine string) {
	seed := testSeed(t)
	r := newRand(seed, 3)
	dir := t.TempDir()
	const size = 64 << 20
	name, data := cxWriteRandomFile(t, dir, "big", seed, size)
	for _, aligned := range []bool{true, false} {
		t.Run(fmt.Sprintf("aligned=%v", aligned), func(t *testing.T) {
			fsys, f := coldOpen(t, engine, name)
			const reads = 500
			buf := make([]byte, 4096)
			for range reads {
				off := r.Int64N(size/4096-2)*4096 + 4096
				if !aligned {
					off += r.Int64N(4096)
				}
				n, err := f.ReadAt(buf, off)
				if n != len(buf) || err != nil || !bytes.Equal(buf, data[off:off+4096]) {
					t.Fatalf("ReadAt(4096, %d) = %d, %v", off, n, err)
				}
			}
			st := fsys.Stats()
			t.Logf("after %d random reads: %s", reads, cxPrefetchLine(st))
			if st.PrefetchWindows > reads*2/100 {
				t.Errorf("%d random 4 KiB reads issued %d readahead windows (allowed: %d)", reads, st.PrefetchWindows, reads*2/100)
			}
			// Sequential again from here: readahead comes back.
			before := st.PrefetchWindows
			cxDropPageCache(t, name)
			pos := r.Int64N(size / 2)
			for range 128 {
				if _, err := f.ReadAt(buf, pos); err != nil {
					t.Fatal(err)
				}
				pos += int64(len(buf))
			}
			st = fsys.Stats()
			if st.PrefetchWindows == before {
				t.Errorf("sequential reads after random ones issued no readahead: %s", cxPrefetchLine(st))
			}
		})
	}
}

// TestPrefetchServeContent: net/http's pattern (read 512 bytes at 0 to
// sniff the type, seek back to 0, then read sequentially) keeps readahead
// on, and the response carries the file.
func TestPrefetchServeContent(t *testing.T) { parallelForEngines(t, testPrefetchServeContent) }

func testPrefetchServeContent(t *testing.T, engine string) {
	seed := testSeed(t)
	const size = 4<<20 + 99
	name, data := cxWriteRandomFile(t, t.TempDir(), "noext", seed, size)

	t.Run("by hand", func(t *testing.T) {
		fsys, f := coldOpen(t, engine, name)
		if end, err := f.Seek(0, io.SeekEnd); err != nil || end != size {
			t.Fatalf("Seek end: %d, %v", end, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		sniff := make([]byte, 512)
		if _, err := io.ReadFull(f, sniff); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		out, err := readInPieces(f, 32<<10)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("data: %s", diff(out, data, "got", "want"))
		}
		checkPrefetched(t, fsys, "sniff, rewind, sequential read")
	})

	t.Run("http.ServeContent", func(t *testing.T) {
		fsys, f := coldOpen(t, engine, name)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/noext", nil)
		http.ServeContent(rec, req, "noext", time.Time{}, f)
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), data) {
			t.Fatalf("status %d, body: %s", rec.Code, diff(rec.Body.Bytes(), data, "got", "want"))
		}
		if ct := rec.Header().Get("Content-Type"); ct == "" {
			t.Errorf("no Content-Type: the handler did not sniff, so the pattern was not exercised")
		}
		checkPrefetched(t, fsys, "ServeContent")
	})

	t.Run("http.FileServer over NewHttpFs", func(t *testing.T) {
		cxDropPageCache(t, name)
		fsys := newAio(t, engine)
		srv := http.FileServer(afero.NewHttpFs(fsys).Dir(filepath.Dir(name)))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/noext", nil))
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), data) {
			t.Fatalf("status %d, body: %s", rec.Code, diff(rec.Body.Bytes(), data, "got", "want"))
		}
		st := fsys.Stats()
		t.Log(cxPrefetchLine(st))
		if st.PrefetchWindows == 0 {
			t.Errorf("FileServer issued no readahead window")
		}
	})
}

// TestPrefetchInterleavedStreams: three sequential streams of ReadAt on
// one handle, interleaved (as zip readers make), are each prefetched for,
// and the prefetched bytes are used.
func TestPrefetchInterleavedStreams(t *testing.T) {
	parallelForEngines(t, testPrefetchInterleavedStreams)
}

func testPrefetchInterleavedStreams(t *testing.T, engine string) {
	seed := testSeed(t)
	const size = 6 << 20
	name, data := cxWriteRandomFile(t, t.TempDir(), "f", seed, size)
	for _, k := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d streams", k), func(t *testing.T) {
			fsys, f := coldOpen(t, engine, name)
			part := int64(size / k)
			offs := make([]int64, k)
			for i := range offs {
				offs[i] = int64(i) * part
			}
			buf := make([]byte, 16<<10)
			for done := false; !done; {
				done = true
				for i := range offs {
					if offs[i] >= int64(i+1)*part {
						continue
					}
					done = false
					n, err := f.ReadAt(buf, offs[i])
					if err != nil && err != io.EOF || !bytes.Equal(buf[:n], data[offs[i]:offs[i]+int64(n)]) {
						t.Fatalf("stream %d ReadAt at %d: %d, %v", i, offs[i], n, err)
					}
					offs[i] += int64(n)
				}
			}
			checkPrefetched(t, fsys, fmt.Sprintf("%d interleaved streams", k))
		})
	}
}

// TestPrefetchLargeReadsBypassCache: reads at least as large as the
// largest window go straight to the caller's buffer: no windows, nothing
// cached.
func TestPrefetchLargeReadsBypassCache(t *testing.T) {
	parallelForEngines(t, testPrefetchLargeReadsBypassCache)
}

func testPrefetchLargeReadsBypassCache(t *testing.T, engine string) {
	seed := testSeed(t)
	const size = 4 << 20
	name, data := cxWriteRandomFile(t, t.TempDir(), "f", seed, size)
	cxDropPageCache(t, name)
	fsys := newAio(t, engine, aiofs.WithReadahead(256<<10))
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := readInPieces(f, 512<<10)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, data) {
		t.Fatalf("data: %s", diff(out, data, "got", "want"))
	}
	st := fsys.Stats()
	t.Log(cxPrefetchLine(st))
	if st.PrefetchWindows != 0 || st.CachedBytes != 0 {
		t.Errorf("512 KiB reads with a 256 KiB readahead limit: %d windows, %d bytes cached; want none", st.PrefetchWindows, st.CachedBytes)
	}
}

// TestPrefetchFileTruncatedByOther: a file that another process shortens
// while a handle reads it sequentially (readahead in flight): the reader
// gets no error beyond what the OS gives, and after a reopen every read
// returns what OsFs returns.
func TestPrefetchFileTruncatedByOther(t *testing.T) {
	parallelForEngines(t, testPrefetchFileTruncatedByOther)
}

func testPrefetchFileTruncatedByOther(t *testing.T, engine string) {
	seed := testSeed(t)
	dir := t.TempDir()
	for _, cut := range []int64{0, 1, 100<<10 + 7, 1 << 20, 3<<20 - 1} {
		t.Run(fmt.Sprintf("cut%d", cut), func(t *testing.T) {
			name, _ := cxWriteRandomFile(t, dir, fmt.Sprintf("f%d", cut), seed, 4<<20)
			cxDropPageCache(t, name)
			fsys := newAio(t, engine)
			f, err := fsys.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 32<<10)
			if _, err := io.ReadFull(f, buf); err != nil {
				t.Fatal(err)
			}
			// Readahead is running now; the file shrinks under it.
			if err := os.Truncate(name, cut); err != nil {
				t.Fatal(err)
			}
			for {
				_, err := f.Read(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("reading on after the truncate: %v", err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			h := newReadH(t, "after reopen", fsys, dir)
			h.must(func() {
				h.Open("a", filepath.Base(name))
				h.ReadAll("a")
			})
			for _, off := range []int64{0, cut - 1, cut, cut + 1, cxBlock, 2 << 20} {
				if off >= 0 {
					h.ReadAt("a", 100<<10, off)
				}
			}
			h.must(func() { h.Close("a") })
			// Nothing in flight is left behind, and the cache is within
			// its bound.
			deadline := time.Now().Add(5 * time.Second)
			for fsys.Stats().InFlight != 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if st := fsys.Stats(); st.InFlight != 0 || st.CachedBytes > aiofs.DefaultCacheSize {
				t.Errorf("afterwards: InFlight %d, CachedBytes %d", st.InFlight, st.CachedBytes)
			}
		})
	}
}

// cxFailingFile finds a regular file with a size whose reads fail (sysfs
// attributes such as power/autosuspend_delay_ms return EIO), or skips.
func cxFailingFile(t *testing.T) (string, syscall.Errno) {
	t.Helper()
	var cands []string
	for _, pat := range []string{
		"/sys/devices/*/power/autosuspend_delay_ms",
		"/sys/devices/*/*/power/autosuspend_delay_ms",
		"/sys/devices/*/*/*/power/autosuspend_delay_ms",
	} {
		m, _ := filepath.Glob(pat)
		cands = append(cands, m...)
	}
	for _, c := range cands {
		fi, err := os.Stat(c)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
			continue
		}
		f, err := os.Open(c)
		if err != nil {
			continue
		}
		_, err = f.ReadAt(make([]byte, 4096), 0)
		f.Close()
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return c, errno
		}
	}
	t.Skip("no regular file whose reads fail was found in /sys")
	return "", 0
}

// TestPrefetchFailureReachesReader: when the readahead of a sequential
// reader fails, the failure is dropped, and the reader's own read returns
// the real error, as OsFs does, never short or zeroed data.
func TestPrefetchFailureReachesReader(t *testing.T) {
	parallelForEngines(t, testPrefetchFailureReachesReader)
}

func testPrefetchFailureReachesReader(t *testing.T, engine string) {
	name, errno := cxFailingFile(t)
	t.Logf("%s: reads fail with %v", name, errno)
	fsys := newAio(t, engine)
	// Both sides must fail alike (the same *os.PathError{Op: "read"},
	// Path and errno) and, as the harness compares only the two, with
	// the errno the file fails with.
	h := newReadH(t, "failing file", fsys, filepath.Dir(name))
	h.stopOnFail = false
	for i := range 3 {
		h.must(func() { h.Open("f", filepath.Base(name)) })
		if r := h.Read("f", 512); !errors.Is(r.err, errno) {
			t.Errorf("round %d: Read: %s, want %v", i, r.s, errno)
		}
		if r := h.ReadAt("f", 512, 0); !errors.Is(r.err, errno) {
			t.Errorf("round %d: ReadAt: %s, want %v", i, r.s, errno)
		}
		h.must(func() { h.Close("f") })
	}
	st := fsys.Stats()
	t.Log(cxPrefetchLine(st))
	if st.PrefetchWindows == 0 {
		t.Logf("no readahead window was issued: the reads failed without a prefetch")
	}
	if st.CachedBytes != 0 || st.PrefetchUsed != 0 {
		t.Errorf("after failed reads: CachedBytes %d, PrefetchUsed %d; want 0", st.CachedBytes, st.PrefetchUsed)
	}
}

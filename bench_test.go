package aiofs_test

// Benchmarks of aiofs beside afero.OsFs in the same run. Every benchmark
// ends in a sub-benchmark per backend, named backend=os or backend=aiofs
// (and backend=osbufio for writes through a 1 MiB bufio.Writer), so that
//
//	go test -run '^$' -bench . -count 10 > new.txt
//	benchstat -col /backend new.txt
//
// shows the two side by side with their ratio. Other keys are in the name
// too (cache=warm|cold, g=1|32, size=..., chunk=...). On Linux every
// backend's run also reports peakRSS-MiB, the process's peak resident set
// during the run (bench_rss_test.go).
//
// The environment sets the sizes:
//
//	AIOFS_BENCH_SIZE        size of the file read by the read benchmarks
//	                        (default 64MiB; bench/run.sh uses 1GiB)
//	AIOFS_BENCH_WRITE_SIZE  bytes written per op by BenchmarkWrite
//	                        (default 256MiB, or AIOFS_BENCH_SIZE if smaller)
//	AIOFS_BENCH_FILES       files per op of BenchmarkSmallFiles (default 10000)
//	AIOFS_BENCH_DIR         directory of the files (default os.TempDir())
//	AIOFS_BENCH_COLD=1      also run the cache=cold variants, which drop the
//	                        page cache before each run (Linux, root; they
//	                        skip otherwise)
//	AIOFS_ENGINE            engine of the aiofs backend (uring, kqueue, pool)
//	AIOFS_BENCH_ORDER=reverse  run the backends in reverse order (bench/ab.sh
//	                        alternates it between rounds)
//
// The read benchmarks' input files are kept in AIOFS_BENCH_DIR/aiofs-bench,
// named by size, and reused by later runs; remove the directory to reclaim
// the space. Everything else a benchmark writes is removed when it ends.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs"
	"github.com/aiofs/aiofs/internal/bytesize"
)

// benchEnvSize reads a size from the environment.
func benchEnvSize(b *testing.B, name string, def int64) int64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := bytesize.Parse(s)
	if err != nil || v <= 0 {
		b.Fatalf("%s=%q: want a positive byte count such as 1GiB", name, s)
	}
	return v
}

// benchHuman formats a byte count for a sub-benchmark name.
func benchHuman(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

type benchConfig struct {
	size      int64 // read file
	writeSize int64 // per op of BenchmarkWrite
	files     int   // per op of BenchmarkSmallFiles
	dir       string
	cold      bool
}

func benchCfg(b *testing.B) benchConfig {
	c := benchConfig{
		size:  benchEnvSize(b, "AIOFS_BENCH_SIZE", 64<<20),
		files: int(benchEnvSize(b, "AIOFS_BENCH_FILES", 10000)),
		dir:   os.Getenv("AIOFS_BENCH_DIR"),
		cold:  os.Getenv("AIOFS_BENCH_COLD") == "1",
	}
	c.writeSize = benchEnvSize(b, "AIOFS_BENCH_WRITE_SIZE", min(256<<20, c.size))
	if c.dir == "" {
		c.dir = os.TempDir()
	}
	if c.size < 1<<20 {
		b.Fatalf("AIOFS_BENCH_SIZE=%d: want at least 1MiB", c.size)
	}
	return c
}

// The read inputs, made once per process (and kept across processes).
var benchInputs struct {
	mu    sync.Mutex
	paths map[int64]string
}

// benchInput returns the path of a file of size random bytes in the
// benchmark directory, making it if needed.
func benchInput(b *testing.B, size int64) string {
	b.Helper()
	cfg := benchCfg(b)
	benchInputs.mu.Lock()
	defer benchInputs.mu.Unlock()
	if p, ok := benchInputs.paths[size]; ok {
		return p
	}
	dir := filepath.Join(cfg.dir, "aiofs-bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "input-"+benchHuman(size)+".bin")
	if fi, err := os.Stat(path); err != nil || fi.Size() != size {
		// Write under a temporary name, then rename: another process may
		// be doing the same.
		f, err := os.CreateTemp(dir, "input-*.tmp")
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(size), 1))
		buf := make([]byte, 1<<20)
		for left := size; left > 0; {
			for i := 0; i+8 <= len(buf); i += 8 {
				v := r.Uint64()
				for j := range 8 {
					buf[i+j] = byte(v >> (8 * j))
				}
			}
			n := min(int64(len(buf)), left)
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				os.Remove(f.Name())
				b.Fatal(err)
			}
			left -= n
		}
		// Synced, so that dropping the page cache leaves nothing dirty.
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), path)
		}
		if err != nil {
			os.Remove(f.Name())
			b.Fatal(err)
		}
	}
	if benchInputs.paths == nil {
		benchInputs.paths = map[int64]string{}
	}
	benchInputs.paths[size] = path
	return path
}

// benchWorkDir returns an empty directory on the benchmark file system,
// removed when b ends.
func benchWorkDir(b *testing.B) string {
	b.Helper()
	cfg := benchCfg(b)
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		b.Fatal(err)
	}
	dir, err := os.MkdirTemp(cfg.dir, "aiofs-bench-work-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Page cache state. Warm benchmarks read their input once after the cache
// was dropped, so that cold variants don't make later warm ones cold.
var benchCache struct {
	mu      sync.Mutex
	dropped uint64            // times the cache was dropped
	warmAt  map[string]uint64 // path: value of dropped when it was warmed
}

// benchDropCaches drops the page cache (Linux, root), or skips b.
func benchDropCaches(b *testing.B) {
	b.Helper()
	if runtime.GOOS != "linux" {
		b.Skip("dropping the page cache needs Linux")
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		b.Skipf("cannot drop the page cache (needs root): %v", err)
	}
	benchCache.mu.Lock()
	benchCache.dropped++
	benchCache.mu.Unlock()
}

// benchWarm makes sure path is in the page cache.
func benchWarm(b *testing.B, path string) {
	b.Helper()
	benchCache.mu.Lock()
	defer benchCache.mu.Unlock()
	if at, ok := benchCache.warmAt[path]; ok && at == benchCache.dropped {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		b.Fatal(err)
	}
	if benchCache.warmAt == nil {
		benchCache.warmAt = map[string]uint64{}
	}
	benchCache.warmAt[path] = benchCache.dropped
}

// benchCacheModes returns the cache states to run: warm, and cold when
// AIOFS_BENCH_COLD=1.
func benchCacheModes(b *testing.B) []string {
	if benchCfg(b).cold {
		return []string{"warm", "cold"}
	}
	return []string{"warm"}
}

// benchPrepare puts path in the cache state asked for; the timer must be
// stopped.
func benchPrepare(b *testing.B, mode, path string) {
	if mode == "cold" {
		benchDropCaches(b)
	} else {
		benchWarm(b, path)
	}
}

// A benchBackend makes the Fs of one benchmark run.
type benchBackend struct {
	name string
	open func() (afero.Fs, func() error)
}

var (
	benchOs    = benchBackend{"os", func() (afero.Fs, func() error) { return afero.NewOsFs(), func() error { return nil } }}
	benchAiofs = benchBackend{"aiofs", func() (afero.Fs, func() error) {
		fs := aiofs.New()
		return fs, fs.Close
	}}
	benchReadBackends = []benchBackend{benchOs, benchAiofs}
)

// benchEach runs fn as sub-benchmark backend=<name> of each backend, with
// a new Fs per run, closed after the timer stops. Where it can be
// measured, each run reports the process's peak RSS from before the Fs is
// made until it is closed (bench_rss_test.go).
func benchEach(b *testing.B, backends []benchBackend, fn func(b *testing.B, fs afero.Fs)) {
	if os.Getenv("AIOFS_BENCH_ORDER") == "reverse" {
		backends = slices.Clone(backends)
		slices.Reverse(backends)
	}
	for _, be := range backends {
		b.Run("backend="+be.name, func(b *testing.B) {
			rss := benchResetPeakRSS()
			fs, closeFs := be.open()
			defer func() {
				b.StopTimer()
				if err := closeFs(); err != nil {
					b.Errorf("closing the Fs: %v", err)
				}
				if rss {
					benchReportPeakRSS(b)
				}
			}()
			// Neither the reset's garbage collection nor New is the
			// workload.
			b.ResetTimer()
			fn(b, fs)
		})
	}
}

// benchOpen opens path on fs for reading, failing b on error.
func benchOpen(b *testing.B, fs afero.Fs, path string) afero.File {
	b.Helper()
	f, err := fs.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkRandRead4K: 4 KiB ReadAt at random aligned offsets, by 1 and by
// 32 goroutines sharing one handle.
func BenchmarkRandRead4K(b *testing.B) {
	cfg := benchCfg(b)
	path := benchInput(b, cfg.size)
	for _, mode := range benchCacheModes(b) {
		b.Run("cache="+mode, func(b *testing.B) {
			for _, g := range []int{1, 32} {
				b.Run(fmt.Sprintf("g=%d", g), func(b *testing.B) {
					benchEach(b, benchReadBackends, func(b *testing.B, fs afero.Fs) {
						benchPrepare(b, mode, path)
						f := benchOpen(b, fs, path)
						defer f.Close()
						b.SetBytes(4096)
						b.ResetTimer()
						benchRandReads(b, f, cfg.size, g, b.N, uint64(b.N))
						b.StopTimer()
					})
				})
			}
		})
	}
}

// benchHotRegion is the working set of BenchmarkHotRead4K: half the
// default cache.
const benchHotRegion = 16 << 20

// benchRandReads does n 4 KiB ReadAts of f at random aligned offsets in
// [0, span) from g goroutines, failing b on a short read.
func benchRandReads(b *testing.B, f afero.File, span int64, g, n int, seed uint64) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, g)
	for i := range g {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), seed))
			buf := make([]byte, 4096)
			for next.Add(1) <= int64(n) {
				off := r.Int64N(span/4096) * 4096
				if m, err := f.ReadAt(buf, off); m != len(buf) {
					errs[i] = fmt.Errorf("ReadAt(4096 bytes at %d) = %d, %v", off, m, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotRead4K: 4 KiB ReadAt at random within the first 16 MiB of a
// held file, warm (each backend reads the region 16 times over before the
// timer starts), by 1 and 32 goroutines. With scan=once, one pass over the
// whole file, with the page cache dropped first where it can be, comes
// between the warming and the timed reads: a hot set must survive it.
// aiofs's runs report the share of the timed reads its cache served
// (hit-%).
func BenchmarkHotRead4K(b *testing.B) {
	cfg := benchCfg(b)
	path := benchInput(b, cfg.size)
	region := min(int64(benchHotRegion), cfg.size)
	for _, scan := range []string{"none", "once"} {
		b.Run("scan="+scan, func(b *testing.B) {
			for _, g := range []int{1, 32} {
				b.Run(fmt.Sprintf("g=%d", g), func(b *testing.B) {
					benchEach(b, benchReadBackends, func(b *testing.B, fs afero.Fs) {
						b.StopTimer()
						benchWarm(b, path)
						f := benchOpen(b, fs, path)
						defer f.Close()
						benchRandReads(b, f, region, g, int(16*region/4096), 1)
						if scan == "once" {
							if cfg.cold {
								benchDropCaches(b)
							}
							s := benchOpen(b, fs, path)
							_, err := io.Copy(io.Discard, s)
							s.Close()
							if err != nil {
								b.Fatal(err)
							}
						}
						b.SetBytes(4096)
						a, _ := fs.(*aiofs.Fs)
						var before aiofs.Stats
						if a != nil {
							before = a.Stats()
						}
						b.StartTimer()
						benchRandReads(b, f, region, g, b.N, uint64(b.N))
						b.StopTimer()
						if a != nil {
							st := a.Stats()
							hits, misses := st.CacheHits-before.CacheHits, st.CacheMisses-before.CacheMisses
							b.ReportMetric(100*float64(hits)/float64(max(hits+misses, 1)), "hit-%")
						}
					})
				})
			}
		})
	}
}

// benchSeqRead reads f sequentially in chunks of len(buf), one chunk per
// op, starting over at end of file; work is called on each chunk.
func benchSeqRead(b *testing.B, f afero.File, buf []byte, work func([]byte)) {
	b.Helper()
	benchSeqPasses(b, f, buf, work, func(f afero.File) afero.File {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		return f
	})
}

// benchSeqPasses is benchSeqRead that calls again at end of file for the
// file to read next from its start.
func benchSeqPasses(b *testing.B, f afero.File, buf []byte, work func([]byte), again func(afero.File) afero.File) {
	b.Helper()
	for i := 0; i < b.N; i++ {
		n, err := io.ReadFull(f, buf)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			f = again(f)
			if n == 0 {
				n, err = io.ReadFull(f, buf)
			} else {
				err = nil
			}
		}
		if err != nil {
			b.Fatalf("read: %d, %v", n, err)
		}
		if work != nil {
			work(buf[:n])
		}
	}
}

// benchSeqReadFile is benchSeqRead of path on fs in the cache mode asked
// for. In mode cold every pass is cold: before starting over, with the
// timer stopped, it drops the page cache and changes the file's
// modification time, so that the Open of the next pass drops what the
// Fs's own cache kept of it too (close-to-open coherence).
func benchSeqReadFile(b *testing.B, fs afero.Fs, mode, path string, buf []byte, work func([]byte)) {
	b.Helper()
	benchPrepare(b, mode, path)
	f := benchOpen(b, fs, path)
	defer func() { f.Close() }()
	again := func(f afero.File) afero.File {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		return f
	}
	if mode == "cold" {
		again = func(old afero.File) afero.File {
			b.StopTimer()
			defer b.StartTimer()
			old.Close()
			if err := os.Chtimes(path, time.Time{}, time.Now()); err != nil {
				b.Fatal(err)
			}
			benchDropCaches(b)
			f = benchOpen(b, fs, path)
			return f
		}
	}
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	benchSeqPasses(b, f, buf, work, again)
}

// benchSeqReads runs benchSeqReadFile of the read input in 128 KiB
// chunks in each cache mode, by each backend, calling work (if not nil)
// on each chunk.
func benchSeqReads(b *testing.B, work func([]byte)) {
	cfg := benchCfg(b)
	path := benchInput(b, cfg.size)
	for _, mode := range benchCacheModes(b) {
		b.Run("cache="+mode, func(b *testing.B) {
			benchEach(b, benchReadBackends, func(b *testing.B, fs afero.Fs) {
				benchSeqReadFile(b, fs, mode, path, make([]byte, 128<<10), work)
			})
		})
	}
}

// BenchmarkSeqRead128K: sequential Read of 128 KiB per op.
func BenchmarkSeqRead128K(b *testing.B) {
	benchSeqReads(b, nil)
}

// benchCRCRounds is how many crc32 passes over a chunk cost about 1 ms of
// CPU per MiB on this machine.
var benchCRCRounds = sync.OnceValue(func() int {
	buf := make([]byte, 1<<20)
	const tries = 32
	start := time.Now()
	var sum uint32
	for range tries {
		sum = crc32.Update(sum, crc32.IEEETable, buf)
	}
	per := time.Since(start) / tries
	if per <= 0 {
		return 1
	}
	return max(1, int((time.Millisecond+per/2)/per))
})

// BenchmarkSeqReadCRC: sequential 128 KiB Reads with about 1 ms of CPU work
// (crc32) per MiB read, where readahead can overlap I/O and computation.
func BenchmarkSeqReadCRC(b *testing.B) {
	rounds := benchCRCRounds()
	var sum uint32
	benchSeqReads(b, func(p []byte) {
		for range rounds {
			sum = crc32.Update(sum, crc32.IEEETable, p)
		}
	})
}

// BenchmarkSeqReadSHA256: sequential 128 KiB Reads, each chunk hashed with
// SHA-256 as a checksumming reader would: real CPU work per chunk that
// readahead can overlap with the next read.
func BenchmarkSeqReadSHA256(b *testing.B) {
	benchSeqReads(b, func(p []byte) { _ = sha256.Sum256(p) })
}

// BenchmarkCopyDiscard: io.Copy of the whole file to io.Discard per op.
func BenchmarkCopyDiscard(b *testing.B) {
	cfg := benchCfg(b)
	path := benchInput(b, cfg.size)
	for _, mode := range benchCacheModes(b) {
		b.Run("cache="+mode, func(b *testing.B) {
			benchEach(b, benchReadBackends, func(b *testing.B, fs afero.Fs) {
				b.SetBytes(cfg.size)
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					benchPrepare(b, mode, path)
					b.StartTimer()
					f := benchOpen(b, fs, path)
					n, err := io.Copy(io.Discard, f)
					f.Close()
					if err != nil || n != cfg.size {
						b.Fatalf("io.Copy = %d, %v; want %d bytes", n, err, cfg.size)
					}
				}
			})
		})
	}
}

// BenchmarkHTTPFileServer: GET of a whole file (8 KiB, 1 MiB, 64 MiB)
// from http.FileServer over afero.NewHttpFs, on loopback; net/http sends
// both backends' files with sendfile.
func BenchmarkHTTPFileServer(b *testing.B) {
	cfg := benchCfg(b)
	for _, size := range []int64{8 << 10, 1 << 20, min(64<<20, cfg.size)} {
		path := benchInput(b, size)
		b.Run("size="+benchHuman(size), func(b *testing.B) {
			benchEach(b, benchReadBackends, func(b *testing.B, fs afero.Fs) {
				benchWarm(b, path)
				srv := httptest.NewServer(http.FileServer(afero.NewHttpFs(fs).Dir(filepath.Dir(path))))
				defer srv.Close()
				tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr}
				url := srv.URL + "/" + filepath.Base(path)
				b.SetBytes(size)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					resp, err := client.Get(url)
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || n != size || resp.StatusCode != http.StatusOK {
						b.Fatalf("GET: status %d, %d bytes, %v; want %d bytes", resp.StatusCode, n, err, size)
					}
				}
				b.StopTimer()
			})
		})
	}
}

// BenchmarkWrite: a new file of AIOFS_BENCH_WRITE_SIZE bytes per op, written
// sequentially in chunks of 4 KiB, 64 KiB or 1 MiB, then Sync and Close.
// osbufio is OsFs through a 1 MiB bufio.Writer, the baseline of
// buffered writes.
func BenchmarkWrite(b *testing.B) {
	cfg := benchCfg(b)
	backends := []benchBackend{benchOs, {"osbufio", benchOs.open}, benchAiofs}
	for _, chunk := range []int{4 << 10, 64 << 10, 1 << 20} {
		b.Run("chunk="+benchHuman(int64(chunk)), func(b *testing.B) {
			for _, be := range backends {
				buffered := be.name == "osbufio"
				benchEach(b, []benchBackend{be}, func(b *testing.B, fs afero.Fs) {
					dir := benchWorkDir(b)
					buf := bytes.Repeat([]byte("aiofs-bench\n"), chunk/12+1)[:chunk]
					name := filepath.Join(dir, "out.bin")
					b.SetBytes(cfg.writeSize)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						f, err := fs.Create(name)
						if err != nil {
							b.Fatal(err)
						}
						var w io.Writer = f
						var bw *bufio.Writer
						if buffered {
							bw = bufio.NewWriterSize(f, 1<<20)
							w = bw
						}
						for left := cfg.writeSize; left > 0; {
							p := buf[:min(int64(len(buf)), left)]
							if _, err := w.Write(p); err != nil {
								b.Fatal(err)
							}
							left -= int64(len(p))
						}
						if bw != nil {
							if err := bw.Flush(); err != nil {
								b.Fatal(err)
							}
						}
						if err := f.Sync(); err != nil {
							b.Fatal(err)
						}
						if err := f.Close(); err != nil {
							b.Fatal(err)
						}
						b.StopTimer()
						if fi, err := os.Stat(name); err != nil || fi.Size() != cfg.writeSize {
							b.Fatalf("after Sync and Close: %v, %v; want %d bytes on disk", fi, err, cfg.writeSize)
						}
						if err := os.Remove(name); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				})
			}
		})
	}
}

// BenchmarkSmallFiles: AIOFS_BENCH_FILES files of 4 KiB per op, each
// created, written and closed, 1000 to a directory. Between ops, with the
// timer stopped, the files are removed and the file systems synced, so
// that an op does not pay for the deletions and writes of the one before.
// (Keeping every op's files until the end instead made later ops slower
// on tmpfs, by a fifth to a half, for whichever backend ran second.)
func BenchmarkSmallFiles(b *testing.B) {
	cfg := benchCfg(b)
	data := bytes.Repeat([]byte("small file\n"), 4096/11+1)[:4096]
	benchEach(b, benchReadBackends, func(b *testing.B, fs afero.Fs) {
		work := benchWorkDir(b)
		names := make([]string, cfg.files)
		var dirs []string
		for i := range names {
			if i%1000 == 0 {
				dirs = append(dirs, fmt.Sprintf("d%03d", i/1000))
			}
			names[i] = filepath.Join(dirs[len(dirs)-1], fmt.Sprintf("f%05d", i))
		}
		b.SetBytes(int64(cfg.files * len(data)))
		benchSettle()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			round := filepath.Join(work, strconv.Itoa(i))
			for _, d := range dirs {
				if err := os.MkdirAll(filepath.Join(round, d), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			for _, name := range names {
				f, err := fs.Create(filepath.Join(round, name))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Write(data); err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := os.RemoveAll(round); err != nil {
				b.Fatal(err)
			}
			benchSettle()
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N*cfg.files)/b.Elapsed().Seconds(), "files/s")
	})
}

// BenchmarkLogAppend: 256-byte records appended to an O_APPEND file, one
// per op, with a Sync after every MiB.
func BenchmarkLogAppend(b *testing.B) {
	const record, syncEvery = 256, 1 << 20
	line := append(bytes.Repeat([]byte("x"), record-1), '\n')
	benchEach(b, benchReadBackends, func(b *testing.B, fs afero.Fs) {
		name := filepath.Join(benchWorkDir(b), "log")
		f, err := fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(record)
		b.ResetTimer()
		unsynced := 0
		for i := 0; i < b.N; i++ {
			if _, err := f.Write(line); err != nil {
				b.Fatal(err)
			}
			if unsynced += record; unsynced >= syncEvery {
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				unsynced = 0
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		if fi, err := os.Stat(name); err != nil || fi.Size() != int64(b.N*record) {
			b.Fatalf("log: %v, %v; want %d bytes", fi, err, b.N*record)
		}
	})
}

// The threads measurement runs in a child process of the test binary, so
// that threads left over by earlier benchmarks (the Go runtime keeps idle
// threads) don't count.
const (
	benchThreadsGoroutines = 256
	benchThreadsReads      = 32 // per goroutine
)

// BenchmarkThreads: 256 goroutines doing random 4 KiB reads, cold when
// the page cache can be dropped. It reports the peak of the process's OS
// threads ("Threads:" of /proc/self/status) as threads,
// pprof's threadcreate count growth during the reads as threads-created,
// and the child's peak RSS over its life (VmHWM) as peakRSS-MiB; ns/op is
// the time of the 256×32 reads.
func BenchmarkThreads(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("counts threads in /proc/self/status")
	}
	cfg := benchCfg(b)
	path := benchInput(b, cfg.size)
	for _, be := range benchReadBackends {
		b.Run("backend="+be.name, func(b *testing.B) {
			var threads, created, rss, cold float64
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				cold = 1
				if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
					cold = 0
					if i == 0 {
						b.Logf("cannot drop the page cache (%v): the reads are warm and block little", err)
					}
				}
				out, err := childCmd(context.Background(), "threads", be.name+":"+path, "").CombinedOutput()
				if err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				var t, c, ns, m float64
				found := false
				for _, line := range strings.Split(string(out), "\n") {
					if _, err := fmt.Sscanf(line, "aiofs-threads %g %g %g %g", &t, &c, &ns, &m); err == nil {
						found = true
						break
					}
				}
				if !found {
					b.Fatalf("child printed no measurement:\n%s", out)
				}
				threads = max(threads, t)
				created = max(created, c)
				rss = max(rss, m)
				elapsed += time.Duration(ns)
			}
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/op")
			b.ReportMetric(threads, "threads")
			b.ReportMetric(created, "threads-created")
			b.ReportMetric(rss, "peakRSS-MiB")
			b.ReportMetric(cold, "cold")
		})
	}
}

// benchThreadsNow returns the "Threads:" line of /proc/self/status.
func benchThreadsNow() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

func init() { children["threads"] = benchThreadsChild }

// benchThreadsChild is BenchmarkThreads's measurement, run in a child
// process; arg is "backend:path".
func benchThreadsChild(t *testing.T, arg, _ string) {
	backend, path, _ := strings.Cut(arg, ":")
	var fs afero.Fs
	switch backend {
	case "os":
		fs = afero.NewOsFs()
	case "aiofs":
		afs := aiofs.New()
		defer afs.Close()
		fs = afs
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	blocks := fi.Size() / 4096

	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(benchThreadsNow()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	tc := pprof.Lookup("threadcreate")
	before := tc.Count()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Value
	for g := range benchThreadsGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 99))
			buf := make([]byte, 4096)
			for range benchThreadsReads {
				off := r.Int64N(blocks) * 4096
				if n, err := f.ReadAt(buf, off); n != len(buf) {
					failed.Store(fmt.Sprintf("ReadAt at %d: %d, %v", off, n, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	created := tc.Count() - before
	close(stop)
	<-sampled
	if msg := failed.Load(); msg != nil {
		t.Fatal(msg)
	}
	if n := int64(benchThreadsNow()); n > peak.Load() {
		peak.Store(n)
	}
	hwm, ok := benchStatusKiB("VmHWM")
	if !ok {
		t.Fatal("no VmHWM in /proc/self/status")
	}
	fmt.Printf("aiofs-threads %d %d %d %g\n", peak.Load(), created, elapsed.Nanoseconds(), float64(hwm)/1024)
}

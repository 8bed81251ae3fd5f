package aiofs_test

// Benchmarks of aiofs.Wrap beside its unwrapped base in the same run
//: sub-benchmarks backend=base and backend=wrap, so that
//
//	go test -run '^$' -bench Wrap -count 3 > wrap.txt
//	benchstat -col /backend wrap.txt
//
// sets them side by side. BenchmarkWrapSeqRead, WrapWrite4K,
// WrapRandRead4K and WrapReadFile go over SFTP to OpenSSH's sshd on
// 127.0.0.1 (internal/sftptest) through a delay line, 1 ms each way; they
// skip when sshd is missing. The files are written on the server's side
// of the link, which is this machine, so the base's reads find them in the
// server's page cache: the link, not the disk, is what is measured.
// BenchmarkWrapMemWarm reads through Wrap(MemMapFs) blocks already in
// aiofs's cache, against the bare MemMapFs: the cost of the layer itself.
//
// The environment sets the sizes:
//
//	AIOFS_BENCH_WRAP_SIZE        file of the read benchmarks (default 64MiB,
//	                             or AIOFS_BENCH_SIZE if smaller)
//	AIOFS_BENCH_WRAP_WRITE_SIZE  bytes per op of BenchmarkWrapWrite4K
//	                             (default 16MiB, or a quarter of the read
//	                             file if smaller)
//	AIOFS_BENCH_WRAP_FILES       files per op of BenchmarkWrapReadFile
//	                             (default 1000, or one per 64 KiB of the
//	                             read file if fewer)
//	AIOFS_BENCH_DELAY            delay of each direction of the SFTP link
//	                             (default 1ms; 0 for none)
//
// so that CI's AIOFS_BENCH_SIZE=16MiB run takes seconds, not minutes, at
// the base's one round trip per call.

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs"
	"github.com/aiofs/aiofs/internal/sftptest"
)

type benchWrapConfig struct {
	size  int64         // file of the read benchmarks
	write int64         // bytes per op of BenchmarkWrapWrite4K
	files int           // files per op of BenchmarkWrapReadFile
	delay time.Duration // each way on the SFTP link
}

func benchWrapCfg(b *testing.B) benchWrapConfig {
	b.Helper()
	c := benchWrapConfig{delay: time.Millisecond}
	c.size = benchEnvSize(b, "AIOFS_BENCH_WRAP_SIZE", min(64<<20, benchCfg(b).size))
	c.write = benchEnvSize(b, "AIOFS_BENCH_WRAP_WRITE_SIZE", min(16<<20, c.size/4))
	c.files = int(benchEnvSize(b, "AIOFS_BENCH_WRAP_FILES", min(1000, c.size/(64<<10))))
	if s := os.Getenv("AIOFS_BENCH_DELAY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			b.Fatalf("AIOFS_BENCH_DELAY=%q: want a duration such as 1ms", s)
		}
		c.delay = d
	}
	if c.size < 1<<20 {
		b.Fatalf("AIOFS_BENCH_WRAP_SIZE=%d: want at least 1MiB", c.size)
	}
	return c
}

// benchSSHD starts sshd serving dir, stopped when b ends, or skips b if
// sshd is not installed.
func benchSSHD(b *testing.B, dir string) *sftptest.Server {
	b.Helper()
	srv, err := sftptest.StartSSHD(dir)
	if err != nil {
		sftptest.SkipOrFatal(b, err)
	}
	b.Cleanup(func() {
		if err := srv.Close(); err != nil {
			b.Errorf("stopping sshd: %v", err)
		}
	})
	return srv
}

// A benchWrapBackend makes the Fs of one run over base: base itself, or a
// fresh Wrap of it, so that aiofs starts with an empty cache.
type benchWrapBackend struct {
	name string
	over func(base afero.Fs) (afero.Fs, func() error)
}

var benchWrapBackends = []benchWrapBackend{
	{"base", func(base afero.Fs) (afero.Fs, func() error) { return base, func() error { return nil } }},
	{"wrap", func(base afero.Fs) (afero.Fs, func() error) {
		fs := aiofs.Wrap(base)
		return fs, fs.Close
	}},
}

// benchWrapEach runs fn as sub-benchmark backend=<name> of each backend,
// each run over a base of its own that dial makes (over a connection
// through the delayed link, closed when the run ends); fn makes its Fs
// over the base with benchFresh, off the timer. Each run reports the
// process's peak RSS during it as peakRSS-MiB (bench_rss_test.go), and
// what report, if not nil, reports off the timer.
func benchWrapEach(b *testing.B, dial func(b *testing.B) (base afero.Fs, report func()),
	fn func(b *testing.B, be benchWrapBackend, base afero.Fs)) {
	for _, be := range benchWrapBackends {
		b.Run("backend="+be.name, func(b *testing.B) {
			base, report := dial(b)
			rss := benchResetPeakRSS()
			b.ResetTimer()
			fn(b, be, base)
			b.StopTimer()
			if rss {
				benchReportPeakRSS(b)
			}
			if report != nil {
				report()
			}
		})
	}
}

// benchWrapSFTP is benchWrapEach over connections to srv.
func benchWrapSFTP(b *testing.B, srv *sftptest.Server, delay time.Duration,
	fn func(b *testing.B, be benchWrapBackend, base afero.Fs)) {
	benchWrapEach(b, func(b *testing.B) (afero.Fs, func()) {
		conn, err := srv.Dial(delay)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		return conn.Fs(), nil
	}, fn)
}

// benchFresh returns be's Fs over base with the timer stopped, and a
// function that closes it, also off the timer.
func benchFresh(b *testing.B, be benchWrapBackend, base afero.Fs) (afero.Fs, func()) {
	b.Helper()
	b.StopTimer()
	fs, closeFs := be.over(base)
	b.StartTimer()
	return fs, func() {
		b.StopTimer()
		if err := closeFs(); err != nil {
			b.Errorf("closing the Fs: %v", err)
		}
		b.StartTimer()
	}
}

// benchWrapSeqRead reads name, of size bytes, whole per op in 32 KiB
// Reads, through a fresh Fs of be over base each time.
func benchWrapSeqRead(b *testing.B, be benchWrapBackend, base afero.Fs, name string, size int64) {
	buf := make([]byte, 32<<10)
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		fs, done := benchFresh(b, be, base)
		f := benchOpen(b, fs, name)
		// Not io.CopyBuffer to io.Discard, whose ReadFrom reads in
		// 8 KiB, four times the base's requests.
		var total int64
		for {
			n, err := f.Read(buf)
			total += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatalf("Read at %d: %v", total, err)
			}
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		if total != size {
			b.Fatalf("read %d bytes; want %d", total, size)
		}
		done()
	}
}

// benchWrapWrite4K writes out.bin of size bytes per op in 4 KiB Writes,
// then Sync and Close, through a fresh Fs of be over base each time;
// check, called off the timer, looks at what the store holds.
func benchWrapWrite4K(b *testing.B, be benchWrapBackend, base afero.Fs, size int64, check func()) {
	chunk := bytes.Repeat([]byte("aiofs-wrap\n"), 4096/11+1)[:4096]
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		fs, done := benchFresh(b, be, base)
		f, err := fs.Create("out.bin")
		if err != nil {
			b.Fatal(err)
		}
		for left := size; left > 0; left -= int64(len(chunk)) {
			if _, err := f.Write(chunk[:min(int64(len(chunk)), left)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		done()
		b.StopTimer()
		check()
		b.StartTimer()
	}
}

// benchWrapRandRead4K does b.N 4 KiB ReadAts of name, of size bytes, at
// random aligned offsets by 32 goroutines sharing one handle, through one
// fresh Fs of be over base, and reports the share of aiofs's cache hits
// as hit-%.
func benchWrapRandRead4K(b *testing.B, be benchWrapBackend, base afero.Fs, name string, size int64) {
	fs, done := benchFresh(b, be, base)
	defer done()
	b.StopTimer()
	f := benchOpen(b, fs, name)
	defer f.Close()
	b.SetBytes(4096)
	b.StartTimer()
	benchRandReads(b, f, size, 32, b.N, uint64(b.N))
	b.StopTimer()
	if a, ok := fs.(*aiofs.Fs); ok {
		st := a.Stats()
		if n := st.CacheHits + st.CacheMisses; n > 0 {
			b.ReportMetric(100*float64(st.CacheHits)/float64(n), "hit-%")
		}
	}
}

// benchWrapReadFile reads each of names, size bytes each, with
// afero.ReadFile per op, through a fresh Fs of be over base each time.
func benchWrapReadFile(b *testing.B, be benchWrapBackend, base afero.Fs, names []string, size int) {
	b.SetBytes(int64(len(names) * size))
	for i := 0; i < b.N; i++ {
		fs, done := benchFresh(b, be, base)
		for _, name := range names {
			got, err := afero.ReadFile(fs, name)
			if err != nil || len(got) != size {
				b.Fatalf("ReadFile(%s) = %d bytes, %v; want %d", name, len(got), err, size)
			}
		}
		done()
	}
	b.ReportMetric(float64(b.N*len(names))/b.Elapsed().Seconds(), "files/s")
}

// benchWrapOnInput runs op through benchWrapSFTP on the read input,
// which sshd serves.
func benchWrapOnInput(b *testing.B, op func(b *testing.B, be benchWrapBackend, base afero.Fs, name string, size int64)) {
	cfg := benchWrapCfg(b)
	path := benchInput(b, cfg.size)
	srv := benchSSHD(b, filepath.Dir(path))
	benchWrapSFTP(b, srv, cfg.delay, func(b *testing.B, be benchWrapBackend, base afero.Fs) {
		op(b, be, base, filepath.Base(path), cfg.size)
	})
}

// BenchmarkWrapSeqRead: the whole read file per op in 32 KiB Reads, cold
// for aiofs. The base's file has one 32 KiB request in flight at a time;
// Wrap's readahead keeps many.
func BenchmarkWrapSeqRead(b *testing.B) {
	benchWrapOnInput(b, benchWrapSeqRead)
}

// BenchmarkWrapWrite4K: a new file per op written in 4 KiB Writes, then
// Sync (fsync@openssh.com) and Close.
func BenchmarkWrapWrite4K(b *testing.B) {
	cfg := benchWrapCfg(b)
	dir := benchWorkDir(b)
	srv := benchSSHD(b, dir)
	benchWrapSFTP(b, srv, cfg.delay, func(b *testing.B, be benchWrapBackend, base afero.Fs) {
		benchWrapWrite4K(b, be, base, cfg.write, func() {
			local := filepath.Join(dir, "out.bin")
			if fi, err := os.Stat(local); err != nil || fi.Size() != cfg.write {
				b.Fatalf("after Sync and Close: %v, %v; want %d bytes on the server", fi, err, cfg.write)
			}
			if err := os.Remove(local); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkWrapRandRead4K: 4 KiB ReadAt at random aligned offsets by 32
// goroutines sharing one handle, b.N of them in all, starting from an
// empty aiofs cache. aiofs reads a whole 64 KiB block for each miss, and
// later reads may hit blocks earlier ones brought in: hit-% says how many
// did.
func BenchmarkWrapRandRead4K(b *testing.B) {
	benchWrapOnInput(b, benchWrapRandRead4K)
}

// BenchmarkWrapReadFile: afero.ReadFile of every one of the small files
// per op, 8 KiB each, one after the other, with a fresh Wrap per op.
func BenchmarkWrapReadFile(b *testing.B) {
	cfg := benchWrapCfg(b)
	dir := benchWorkDir(b)
	names := make([]string, cfg.files)
	r := rand.New(rand.NewPCG(8, 1))
	data := make([]byte, 8<<10)
	for i := range names {
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		names[i] = fmt.Sprintf("f%04d", i)
		if err := os.WriteFile(filepath.Join(dir, names[i]), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	srv := benchSSHD(b, dir)
	benchWrapSFTP(b, srv, cfg.delay, func(b *testing.B, be benchWrapBackend, base afero.Fs) {
		benchWrapReadFile(b, be, base, names, len(data))
	})
}

// BenchmarkWrapMemWarm: reads of a file whose every block is already in
// aiofs's cache, through Wrap(MemMapFs) against the bare MemMapFs: 4 KiB
// ReadAt at random aligned offsets, and sequential 128 KiB Reads.
func BenchmarkWrapMemWarm(b *testing.B) {
	cfg := benchWrapCfg(b)
	mem := afero.NewMemMapFs()
	data := make([]byte, cfg.size)
	r := rand.New(rand.NewPCG(uint64(cfg.size), 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	const name = "/warm.bin"
	if err := afero.WriteFile(mem, name, data, 0o644); err != nil {
		b.Fatal(err)
	}
	data = nil
	backends := []benchWrapBackend{benchWrapBackends[0], {"wrap", func(base afero.Fs) (afero.Fs, func() error) {
		// Room for the whole file, so that every read hits.
		fs := aiofs.Wrap(base, aiofs.WithCacheSize(cfg.size+cfg.size/2))
		return fs, fs.Close
	}}}
	reads := []struct {
		name string
		// run does b.N reads and returns how many of them were at end of
		// file, which aiofs asks the base about: misses, but not of data.
		run func(b *testing.B, f afero.File) (atEOF int)
	}{
		{"read=ReadAt4K", func(b *testing.B, f afero.File) int {
			blocks := cfg.size / 4096
			r := rand.New(rand.NewPCG(1, uint64(b.N)))
			buf := make([]byte, 4096)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				off := r.Int64N(blocks) * 4096
				if n, err := f.ReadAt(buf, off); n != len(buf) {
					b.Fatalf("ReadAt(4096 bytes at %d) = %d, %v", off, n, err)
				}
			}
			return 0
		}},
		{"read=Seq128K", func(b *testing.B, f afero.File) int {
			buf := make([]byte, 128<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			benchSeqRead(b, f, buf, nil)
			return int(int64(b.N) * int64(len(buf)) / cfg.size)
		}},
	}
	for _, rd := range reads {
		b.Run(rd.name, func(b *testing.B) {
			for _, be := range backends {
				b.Run("backend="+be.name, func(b *testing.B) {
					fs, closeFs := be.over(mem)
					defer func() {
						if err := closeFs(); err != nil {
							b.Errorf("closing the Fs: %v", err)
						}
					}()
					f := benchOpen(b, fs, name)
					defer f.Close()
					// Warm: every block read once.
					if n, err := io.Copy(io.Discard, f); err != nil || n != cfg.size {
						b.Fatalf("warming: %d bytes, %v; want %d", n, err, cfg.size)
					}
					if _, err := f.Seek(0, io.SeekStart); err != nil {
						b.Fatal(err)
					}
					a, wrapped := fs.(*aiofs.Fs)
					var before aiofs.Stats
					if wrapped {
						before = a.Stats()
					}
					atEOF := rd.run(b, f)
					b.StopTimer()
					if wrapped {
						if n := a.Stats().CacheMisses - before.CacheMisses; n > uint64(atEOF) {
							b.Errorf("%d of %d reads missed the cache, %d of them at end of file: not a warm read", n, b.N, atEOF)
						}
					}
				})
			}
		})
	}
}

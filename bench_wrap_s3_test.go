package aiofs_test

// BenchmarkWrapS3: aiofs.Wrap over the S3 Fs (internal/s3fs) beside the
// bare S3 Fs in the same run (issue 20), against SeaweedFS's S3 gateway
// on 127.0.0.1 (internal/s3test) through a delay line of
// AIOFS_BENCH_DELAY each way (default 1ms: a 2 ms round trip). It skips
// when weed is not built (go run ./internal/s3test/buildweed). The
// objects are uploaded before the timed part, directly, and the sizes are
// BenchmarkWrapSeqRead's and its siblings' (AIOFS_BENCH_WRAP_SIZE,
// AIOFS_BENCH_WRAP_WRITE_SIZE, AIOFS_BENCH_WRAP_FILES):
//
//	op=SeqRead     the read object per op in 32 KiB Reads, cold (a fresh
//	               Wrap per op)
//	op=ReadFile    afero.ReadFile of each small object, 8 KiB each
//	op=RandRead4K  4 KiB ReadAt at random by 32 goroutines on one handle
//	op=Write4K     a new object per op in 4 KiB Writes, then Sync and Close
//
// Each run reports the requests it made per op by method (GETs/op,
// HEADs/op, PUTs/op...) and the process's peak RSS during it as
// peakRSS-MiB (see bench_rss_test.go).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aiofs/aiofs"
	"github.com/aiofs/aiofs/internal/s3fs"
	"github.com/aiofs/aiofs/internal/s3test"
	"github.com/minio/minio-go/v7"
	"github.com/spf13/afero"
)

func BenchmarkWrapS3(b *testing.B) {
	cfg := benchWrapCfg(b)
	srv := s3test.ForTest(b)
	setup, err := srv.Dial(0)
	if err != nil {
		b.Fatal(err)
	}
	defer setup.Close()
	put := func(name string, data []byte) {
		if _, err := setup.Client.PutObject(context.Background(), "bench", name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := setup.Fs("bench", ""); err != nil { // makes the bucket
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(20, 1))
	big := make([]byte, cfg.size)
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	put("big", big)
	big = nil
	names := make([]string, cfg.files)
	small := make([]byte, 8<<10)
	for i := range names {
		for j := range small {
			small[j] = byte(r.Uint32())
		}
		names[i] = fmt.Sprintf("small/f%04d", i)
		put(names[i], small)
	}

	// each runs fn as backend=base and backend=wrap, each over a
	// connection of its own through the delay line.
	each := func(b *testing.B, fn func(b *testing.B, be benchWrapBackend, base *s3fs.Fs)) {
		for _, be := range benchWrapBackends {
			b.Run("backend="+be.name, func(b *testing.B) {
				conn, err := srv.Dial(cfg.delay)
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				rss := benchResetPeakRSS()
				b.ResetTimer()
				fn(b, be, s3fs.New(conn.Client, "bench", ""))
				b.StopTimer()
				if rss {
					benchReportPeakRSS(b)
				}
				for method, n := range conn.Requests() {
					b.ReportMetric(float64(n)/float64(b.N), method+"s/op")
				}
			})
		}
	}

	b.Run("op=SeqRead", func(b *testing.B) {
		each(b, func(b *testing.B, be benchWrapBackend, base *s3fs.Fs) {
			buf := make([]byte, 32<<10)
			b.SetBytes(cfg.size)
			for i := 0; i < b.N; i++ {
				fs, done := benchFresh(b, be, base)
				f := benchOpen(b, fs, "big")
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
				if total != cfg.size {
					b.Fatalf("read %d bytes; want %d", total, cfg.size)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
				done()
			}
		})
	})

	b.Run("op=ReadFile", func(b *testing.B) {
		each(b, func(b *testing.B, be benchWrapBackend, base *s3fs.Fs) {
			b.SetBytes(int64(cfg.files * len(small)))
			for i := 0; i < b.N; i++ {
				fs, done := benchFresh(b, be, base)
				for _, name := range names {
					got, err := afero.ReadFile(fs, name)
					if err != nil || len(got) != len(small) {
						b.Fatalf("ReadFile(%s) = %d bytes, %v; want %d", name, len(got), err, len(small))
					}
				}
				done()
			}
			b.ReportMetric(float64(b.N*cfg.files)/b.Elapsed().Seconds(), "files/s")
		})
	})

	b.Run("op=RandRead4K", func(b *testing.B) {
		const g = 32
		blocks := cfg.size / 4096
		each(b, func(b *testing.B, be benchWrapBackend, base *s3fs.Fs) {
			fs, done := benchFresh(b, be, base)
			defer done()
			b.StopTimer()
			f := benchOpen(b, fs, "big")
			defer f.Close()
			b.SetBytes(4096)
			b.StartTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make([]error, g)
			for i := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(i), uint64(b.N)))
					buf := make([]byte, 4096)
					for next.Add(1) <= int64(b.N) {
						off := r.Int64N(blocks) * 4096
						if n, err := f.ReadAt(buf, off); n != len(buf) {
							errs[i] = fmt.Errorf("ReadAt(4096 bytes at %d) = %d, %v", off, n, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
			if a, ok := fs.(*aiofs.Fs); ok {
				st := a.Stats()
				if n := st.CacheHits + st.CacheMisses; n > 0 {
					b.ReportMetric(100*float64(st.CacheHits)/float64(n), "hit-%")
				}
			}
		})
	})

	b.Run("op=Write4K", func(b *testing.B) {
		chunk := bytes.Repeat([]byte("aiofs-wrap\n"), 4096/11+1)[:4096]
		each(b, func(b *testing.B, be benchWrapBackend, base *s3fs.Fs) {
			b.SetBytes(cfg.write)
			for i := 0; i < b.N; i++ {
				fs, done := benchFresh(b, be, base)
				f, err := fs.Create("out.bin")
				if err != nil {
					b.Fatal(err)
				}
				for left := cfg.write; left > 0; left -= int64(len(chunk)) {
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
				oi, err := setup.Client.StatObject(context.Background(), "bench", "out.bin", minio.StatObjectOptions{})
				if err != nil || oi.Size != cfg.write {
					b.Fatalf("after Sync and Close: %d bytes, %v; want %d in the store", oi.Size, err, cfg.write)
				}
				b.StartTimer()
			}
		})
	})
}

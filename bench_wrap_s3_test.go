package aiofs_test

// BenchmarkWrapS3: aiofs.Wrap over the S3 Fs (internal/s3fs) beside the
// bare S3 Fs in the same run, against SeaweedFS's S3 gateway
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
	"math/rand/v2"
	"testing"

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

	// each is benchWrapEach over connections of its own to srv, and
	// reports the requests of each run by method.
	each := func(b *testing.B, fn func(b *testing.B, be benchWrapBackend, base afero.Fs)) {
		benchWrapEach(b, func(b *testing.B) (afero.Fs, func()) {
			conn, err := srv.Dial(cfg.delay)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { conn.Close() })
			return s3fs.New(conn.Client, "bench", ""), func() {
				for method, n := range conn.Requests() {
					b.ReportMetric(float64(n)/float64(b.N), method+"s/op")
				}
			}
		}, fn)
	}

	b.Run("op=SeqRead", func(b *testing.B) {
		each(b, func(b *testing.B, be benchWrapBackend, base afero.Fs) {
			benchWrapSeqRead(b, be, base, "big", cfg.size)
		})
	})

	b.Run("op=ReadFile", func(b *testing.B) {
		each(b, func(b *testing.B, be benchWrapBackend, base afero.Fs) {
			benchWrapReadFile(b, be, base, names, len(small))
		})
	})

	b.Run("op=RandRead4K", func(b *testing.B) {
		each(b, func(b *testing.B, be benchWrapBackend, base afero.Fs) {
			benchWrapRandRead4K(b, be, base, "big", cfg.size)
		})
	})

	b.Run("op=Write4K", func(b *testing.B) {
		each(b, func(b *testing.B, be benchWrapBackend, base afero.Fs) {
			benchWrapWrite4K(b, be, base, cfg.write, func() {
				oi, err := setup.Client.StatObject(context.Background(), "bench", "out.bin", minio.StatObjectOptions{})
				if err != nil || oi.Size != cfg.write {
					b.Fatalf("after Sync and Close: %d bytes, %v; want %d in the store", oi.Size, err, cfg.write)
				}
			})
		})
	})
}

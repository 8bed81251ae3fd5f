//go:build linux || freebsd

package aiofs

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkEngineRead4K compares the engines on 4 KiB reads at random
// offsets, beside plain pread(2) on an os.File ("os"), with 1 and 32
// goroutines: warm (a file the page cache holds) and cold (pages of this
// test binary never read before by the run, dropped from the cache with
// FADV_DONTNEED where that drops them, and read with readahead off). On
// FreeBSD it also runs the kqueue engine with no read skipping the AIO
// queue (direct=0) and with every one skipping it (direct=32), the
// choices kqueueDirectReaders is picked from. In the FreeBSD VM
// (bench/README.md):
//
//	go test -c -o /tmp/aiofs.test . (GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0)
//	../shared/freebsd-vm/run-tests.sh /tmp/aiofs.test -- -test.run '^$' -test.bench EngineRead4K -test.benchtime 400x
//
// A cold cell fails rather than read a page twice; -benchtime 400x keeps
// a 19 MB test binary's pages enough for every cold cell.
func BenchmarkEngineRead4K(b *testing.B) {
	const size = 16 << 20
	warm := benchWarmFile(b, size)
	cold := benchColdFile(b)
	for _, temp := range []string{"warm", "cold"} {
		for _, g := range []int{1, 32} {
			for _, v := range benchEngineVariants() {
				b.Run(fmt.Sprintf("%s/g%d/%s", temp, g, v.name), func(b *testing.B) {
					var e engine
					if v.engine != "" {
						e = v.open(b)
						defer e.close()
					}
					var read func(p []byte) error
					if temp == "warm" {
						read = func(p []byte) error { return benchRead(e, warm, p, rand.Int64N(size/4096)*4096) }
					} else {
						read = func(p []byte) error { return cold.read(b, e, p) }
					}
					b.SetBytes(4096)
					if g == 1 {
						p := make([]byte, 4096)
						for b.Loop() {
							if err := read(p); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					b.SetParallelism((g + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					b.RunParallel(func(pb *testing.PB) {
						p := make([]byte, 4096)
						for pb.Next() {
							if err := read(p); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		}
	}
}

// A benchEngine is one column of BenchmarkEngineRead4K: an engine, or
// plain pread when engine is empty.
type benchEngine struct {
	name, engine string
	direct       int32 // setDirectReaders, when >= 0
}

func (v benchEngine) open(b *testing.B) engine {
	e, fallback := openEngine(v.engine, 0)
	if fallback != nil {
		b.Fatalf("engine %s: %v", v.engine, fallback)
	}
	if d, ok := e.(interface{ setDirectReaders(int32) }); ok && v.direct >= 0 {
		d.setDirectReaders(v.direct)
	}
	return e
}

func benchEngineVariants() []benchEngine {
	vs := []benchEngine{{"os", "", -1}, {"pool", "pool", -1}, {platformEngine, platformEngine, -1}}
	if platformEngine == "kqueue" {
		vs = append(vs, benchEngine{"kqueue-direct=0", "kqueue", 0}, benchEngine{"kqueue-direct=32", "kqueue", 32})
	}
	return vs
}

// benchRead reads p at off through e, or with pread when e is nil.
func benchRead(e engine, f *os.File, p []byte, off int64) error {
	var n int
	var err error
	if e == nil {
		n, err = unix.Pread(int(f.Fd()), p, off)
	} else {
		n, err = e.pread(f, p, off)
	}
	if err == nil && n != len(p) {
		err = fmt.Errorf("read %d of %d bytes at %d", n, len(p), off)
	}
	return err
}

func benchWarmFile(b *testing.B, size int) *os.File {
	name := filepath.Join(b.TempDir(), "warm")
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// benchCold hands out pages of a file that the run has not read, in an
// order that skips about.
type benchCold struct {
	f     *os.File
	pages int64
	next  atomic.Int64
}

func benchColdFile(b *testing.B) *benchCold {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM) // no readahead to warm the next page
	return &benchCold{f: f, pages: fi.Size()/4096 - 1}
}

// read reads a page never read before through e.
func (c *benchCold) read(b *testing.B, e engine, p []byte) error {
	i := c.next.Add(1)
	if i >= c.pages {
		b.Fatalf("out of cold pages after %d reads: use a smaller -benchtime", i)
	}
	const step = 7919 // a prime: i*step visits every page once
	off := (i * step % c.pages) * 4096
	unix.Fadvise(int(c.f.Fd()), off, 4096, unix.FADV_DONTNEED)
	return benchRead(e, c.f, p, off)
}

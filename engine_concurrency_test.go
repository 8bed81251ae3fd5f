package aiofs

// The engine contract's cases that run many goroutines at once; the table
// is in engine_test.go.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// contractCloseInFlight closes the engine while goroutines keep it busy:
// close waits for what is in flight, every operation either completes or
// says os.ErrClosed, nothing writes into a buffer after its call returned,
// and no goroutine is left behind.
func contractCloseInFlight(t *testing.T, eut engineUnderTest) {
	for _, depth := range []int{2, 16} {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			base := runtime.NumGoroutine()
			e := eut.open(t, depth)
			const size = 4 << 20
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i * 13)
			}
			name := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(name, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			const goroutines = 32
			var wg sync.WaitGroup
			var mu sync.Mutex
			var ok, closed int
			last := make([][]byte, goroutines) // each goroutine's buffer after its last read
			errc := make(chan error, goroutines)
			for g := range goroutines {
				wg.Go(func() {
					p := make([]byte, 256<<10)
					defer func() {
						for i := range p {
							p[i] = byte(g)
						}
						last[g] = p
					}()
					for i := 0; ; i++ {
						off := int64((g*7+i)%16) * int64(len(p))
						var n int
						var err error
						switch i % 8 {
						case 0:
							// Drop the cache so that reads wait for the disk.
							dropCache(f, off, int64(len(p)))
							fallthrough
						case 1, 2, 4, 5:
							n, err = e.pread(f, p, off)
							if err == nil && (n != len(p) || !bytes.Equal(p, data[off:off+int64(n)])) {
								err = fmt.Errorf("pread at %d: %d bytes, wrong data", off, n)
							}
						case 3, 6:
							// Write back what is there.
							n, err = e.pwritev(f, [][]byte{data[off : off+int64(len(p))]}, off)
							if err == nil && n != len(p) {
								err = fmt.Errorf("pwritev = %d", n)
							}
						case 7:
							err = e.fsync(f)
						}
						mu.Lock()
						switch {
						case err == nil:
							ok++
						case err == os.ErrClosed:
							closed++
						}
						mu.Unlock()
						if err == os.ErrClosed {
							return
						}
						if err != nil {
							errc <- err
							return
						}
					}
				})
			}
			time.Sleep(50 * time.Millisecond)
			done := make(chan error)
			go func() { done <- e.close() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("close: %v", err)
				}
			case <-time.After(10 * time.Second):
				buf := make([]byte, 1<<20)
				t.Fatalf("close hangs:\n%s", buf[:runtime.Stack(buf, true)])
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Error(err)
			}
			if ok == 0 || closed != goroutines {
				t.Errorf("%d operations succeeded, %d goroutines saw ErrClosed; want >0 and %d", ok, closed, goroutines)
			}
			checkDrained(t, e)
			settle(t, base)
			for g, p := range last {
				if bytes.Count(p, []byte{byte(g)}) != len(p) {
					t.Errorf("goroutine %d: its buffer changed after the last call returned", g)
				}
			}
			got, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("the file changed under writes of what it held")
			}
		})
	}
}

// contractBuffersAfterReturn: once a call has returned, the engine leaves
// its buffers alone. The caller may overwrite what pwritev wrote without
// changing the file, and nothing arrives in what pread filled.
func contractBuffersAfterReturn(t *testing.T, eut engineUnderTest) {
	e := eut.open(t, 4)
	const goroutines, block, rounds = 16, 64 << 10, 16
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := make([]byte, goroutines*block)
	var wg sync.WaitGroup
	kept := make([][][]byte, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			off := int64(g * block)
			region := want[off : off+block]
			fill := rand.NewChaCha8([32]byte{byte(g), 3})
			for r := range rounds {
				data := make([]byte, block)
				fill.Read(data)
				copy(region, data)
				// Write from scratch buffers, then scribble over them.
				a, b := bytes.Clone(data[:block/3]), bytes.Clone(data[block/3:])
				if n, err := e.pwritev(f, [][]byte{a, b}, off); n != block || err != nil {
					t.Errorf("goroutine %d: pwritev = %d, %v", g, n, err)
					return
				}
				for i := range a {
					a[i] = ^a[i]
				}
				for i := range b {
					b[i] = ^b[i]
				}
				if r%4 == 0 {
					dropCache(f, off, block)
				}
				p := make([]byte, block)
				if n, err := e.pread(f, p, off); n != block || err != nil || !bytes.Equal(p, data) {
					t.Errorf("goroutine %d: pread = %d, %v, equal %v", g, n, err, bytes.Equal(p, data))
					return
				}
				// Mark what was read; a late write into p would show.
				for i := range p {
					p[i] = byte(r)
				}
				kept[g] = append(kept[g], p)
			}
		})
	}
	wg.Wait()
	if err := e.close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the file changed when written buffers were reused")
	}
	for g, ps := range kept {
		for r, p := range ps {
			if bytes.Count(p, []byte{byte(r)}) != len(p) {
				t.Errorf("goroutine %d, round %d: a read buffer changed after pread returned", g, r)
			}
		}
	}
}

// contractQueueFull: with room for one or two operations, many goroutines
// reading and writing at once all complete correctly.
func contractQueueFull(t *testing.T, eut engineUnderTest) {
	for _, depth := range []int{1, 2} {
		t.Run(fmt.Sprint(depth), func(t *testing.T) { queueFull(t, eut, depth) })
	}
}

func queueFull(t *testing.T, eut engineUnderTest, depth int) {
	e := eut.open(t, depth)
	const (
		goroutines = 64
		files      = 4
		region     = 160 << 10 // per goroutine; reads take both paths
		ops        = 32
	)
	dir := t.TempDir()
	fs := make([]*os.File, files)
	for i := range fs {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(goroutines / files * region); err != nil {
			t.Fatal(err)
		}
		fs[i] = f
	}
	want := make([][]byte, files)
	for i := range want {
		want[i] = make([]byte, goroutines/files*region)
	}

	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			fill := rand.NewChaCha8([32]byte{byte(g)})
			fi, base := g%files, int64(g/files*region)
			f, mirror := fs[fi], want[fi][base:base+region]
			for range ops {
				size := 1 + rnd.IntN(region)
				if rnd.IntN(4) == 0 {
					size = 1 + rnd.IntN(4096)
				}
				at := rnd.IntN(region - size + 1)
				data := make([]byte, size)
				fill.Read(data)
				// Split the write into up to 5 buffers, some empty.
				var bufs [][]byte
				for rest := data; len(rest) > 0; {
					k := min(len(rest), rnd.IntN(size/2+2))
					bufs = append(bufs, rest[:k])
					rest = rest[k:]
				}
				n, err := e.pwritev(f, bufs, base+int64(at))
				if n != size || err != nil {
					errc <- fmt.Errorf("pwritev(%d bytes in %d bufs) = %d, %v", size, len(bufs), n, err)
					return
				}
				copy(mirror[at:], data)

				size = 1 + rnd.IntN(region)
				at = rnd.IntN(region - size + 1)
				got := make([]byte, size)
				n, err = e.pread(f, got, base+int64(at))
				if n != size || err != nil {
					errc <- fmt.Errorf("pread(%d bytes) = %d, %v", size, n, err)
					return
				}
				if !bytes.Equal(got, mirror[at:at+size]) {
					errc <- fmt.Errorf("pread at %d: wrong data", base+int64(at))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	for i, f := range fs {
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[i]) {
			t.Errorf("file %d differs from what was written", i)
		}
	}

	c := e.counters()
	checkDrained(t, e)
	// Each write is submitted or, on an engine with a fast path, may be
	// written directly.
	if c.submitted.Load()+c.fastPath.Load() < goroutines*ops {
		t.Errorf("submitted %d + fast path %d, want at least %d", c.submitted.Load(), c.fastPath.Load(), goroutines*ops)
	}
	if !eut.fastPath && c.fastPath.Load() != 0 {
		t.Errorf("fastPath = %d on an engine without one", c.fastPath.Load())
	}
	if c.bytesRead.Load() == 0 || c.bytesWritten.Load() == 0 {
		t.Errorf("bytesRead %d, bytesWritten %d", c.bytesRead.Load(), c.bytesWritten.Load())
	}
}

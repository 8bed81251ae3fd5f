package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/afero"
)

// A workload runs against one Fs. Inputs it reads were made by prepare;
// outputs go under out, which is empty and removed afterwards.
type workload struct {
	name  string
	desc  string
	syncs bool // it calls File.Sync
	run   func(w *env) outcome
}

// env is what a workload run gets.
type env struct {
	fs      afero.Fs
	in      string       // directory holding the prepared inputs
	out     string       // empty directory for outputs
	cfg     *config      // sizes
	stopped *atomic.Bool // set on Ctrl-C: stop early
}

// outcome is what a workload measured. Latencies are per operation.
type outcome struct {
	bytes int64
	ops   int64
	lat   []time.Duration
	err   error
}

const (
	seqChunk    = 128 << 10
	randChunk   = 4 << 10
	smallWrite  = 4 << 10
	largeWrite  = 1 << 20
	smallFile   = 4 << 10
	walkReps    = 5
	filesPerDir = 100
)

var errStopped = errors.New("interrupted")

var workloads = []workload{
	{"seqread", "sequential Read of the data file, 128 KiB at a time", false, seqRead},
	{"randread-1g", "4 KiB ReadAt at random offsets, 1 goroutine", false, func(w *env) outcome { return randRead(w, 1) }},
	{"randread-32g", "4 KiB ReadAt at random offsets, 32 goroutines (a handle each)", false, func(w *env) outcome { return randRead(w, 32) }},
	{"write4k-sync", "sequential 4 KiB Writes of -size bytes, then Sync", true, func(w *env) outcome { return seqWrite(w, smallWrite) }},
	{"write1m-sync", "sequential 1 MiB Writes of -size bytes, then Sync", true, func(w *env) outcome { return seqWrite(w, largeWrite) }},
	{"smallfiles", "create, write 4 KiB, close -files files", false, smallFiles},
	{"walk", "afero.Walk of a tree of -files entries, 5 times", false, walk},
}

func dataPath(in string) string { return filepath.Join(in, "data.bin") }
func treePath(in string) string { return filepath.Join(in, "tree") }

// prepare writes the inputs: the data file of cfg.size bytes and a tree of
// cfg.files small files. Everything is synced, so that the measurements
// don't pay for write-back of the inputs.
func prepare(fs afero.Fs, in string, cfg *config) error {
	if err := fs.MkdirAll(in, 0o755); err != nil {
		return err
	}
	f, err := fs.Create(dataPath(in))
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(7, 11))
	buf := make([]byte, 1<<20)
	for left := cfg.size; left > 0; {
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8; j++ {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		n := int64(len(buf))
		if n > left {
			n = left
		}
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	// A store whose Sync is unsupported has the data all the same: its
	// server acknowledged the writes.
	if err := f.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}

	tree := treePath(in)
	for i := 0; i < cfg.files; i++ {
		dir := filepath.Join(tree, fmt.Sprintf("d%03d", i/filesPerDir/10), fmt.Sprintf("d%03d", i/filesPerDir))
		if i%filesPerDir == 0 {
			if err := fs.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		name := filepath.Join(dir, fmt.Sprintf("f%06d", i))
		if err := afero.WriteFile(fs, name, buf[:i%200], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// timer collects the latencies of one goroutine without allocating while
// measuring.
type timer struct {
	lat []time.Duration
}

func newTimer(n int) *timer { return &timer{lat: make([]time.Duration, 0, n)} }

func (t *timer) add(d time.Duration) {
	if len(t.lat) < cap(t.lat) {
		t.lat = append(t.lat, d)
	}
}

func seqRead(w *env) outcome {
	want := w.cfg.size
	t := newTimer(int(want/seqChunk) + 2)
	buf := make([]byte, seqChunk)
	o := outcome{}
	f, err := w.fs.Open(dataPath(w.in))
	if err != nil {
		return outcome{err: err}
	}
	defer f.Close()
	for {
		if o.ops%64 == 0 && w.stopped.Load() {
			return outcome{err: errStopped}
		}
		start := time.Now()
		n, err := f.Read(buf)
		t.add(time.Since(start))
		o.ops++
		o.bytes += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			o.err = err
			break
		}
	}
	if o.err == nil && o.bytes != want {
		o.err = fmt.Errorf("read %d bytes of a %d-byte file", o.bytes, want)
	}
	o.lat = t.lat
	return o
}

func randRead(w *env, goroutines int) outcome {
	size := w.cfg.size
	blocks := size / randChunk
	if blocks == 0 {
		return outcome{err: fmt.Errorf("-size %d is below one 4 KiB read", size)}
	}
	per := w.cfg.ops / goroutines
	if per == 0 {
		per = 1
	}
	timers := make([]*timer, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		timers[g] = newTimer(per)
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			// Each goroutine opens its own handle, as a server's request
			// handlers do: on a remote store an Open costs round trips,
			// which one loop before the goroutines would add up.
			f, err := w.fs.Open(dataPath(w.in))
			if err != nil {
				errs[g] = err
				return
			}
			defer f.Close()
			t, buf := timers[g], make([]byte, randChunk)
			r := rand.New(rand.NewPCG(uint64(g), 42))
			for i := 0; i < per; i++ {
				if i%64 == 0 && w.stopped.Load() {
					errs[g] = errStopped
					return
				}
				off := r.Int64N(blocks) * randChunk
				start := time.Now()
				n, err := f.ReadAt(buf, off)
				t.add(time.Since(start))
				if n != len(buf) || err != nil && err != io.EOF {
					errs[g] = fmt.Errorf("ReadAt(%d bytes at %d) = %d, %v", len(buf), off, n, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	o := outcome{ops: int64(per * goroutines), bytes: int64(per*goroutines) * randChunk, err: errors.Join(errs...)}
	for _, t := range timers {
		o.lat = append(o.lat, t.lat...)
	}
	return o
}

func seqWrite(w *env, chunk int) outcome {
	total := w.cfg.size
	n := int((total + int64(chunk) - 1) / int64(chunk))
	t := newTimer(n + 2)
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	name := filepath.Join(w.out, "written.bin")
	f, err := w.fs.Create(name)
	if err != nil {
		return outcome{err: err}
	}
	o := outcome{}
	for o.bytes < total {
		if o.ops%64 == 0 && w.stopped.Load() {
			f.Close()
			return outcome{err: errStopped}
		}
		p := buf
		if left := total - o.bytes; left < int64(len(p)) {
			p = p[:left]
		}
		start := time.Now()
		m, err := f.Write(p)
		t.add(time.Since(start))
		o.ops++
		o.bytes += int64(m)
		if err != nil {
			f.Close()
			o.err = err
			return o
		}
	}
	start := time.Now()
	o.err = f.Sync()
	t.add(time.Since(start)) // the Sync counts as one more operation
	o.ops++
	if err := f.Close(); o.err == nil {
		o.err = err
	}
	if o.err == nil {
		if fi, err := w.fs.Stat(name); err != nil {
			o.err = err
		} else if fi.Size() != total {
			o.err = fmt.Errorf("wrote %d bytes, then Stat says %d", total, fi.Size())
		}
	}
	o.lat = t.lat
	return o
}

func smallFiles(w *env) outcome {
	n := w.cfg.files
	t := newTimer(n)
	buf := make([]byte, smallFile)
	for i := range buf {
		buf[i] = byte(i)
	}
	dirs := make([]string, (n+filesPerDir-1)/filesPerDir)
	for i := range dirs {
		dirs[i] = filepath.Join(w.out, fmt.Sprintf("d%03d", i))
		if err := w.fs.Mkdir(dirs[i], 0o755); err != nil {
			return outcome{err: err}
		}
	}
	names := make([]string, n)
	for i := range names {
		names[i] = filepath.Join(dirs[i/filesPerDir], fmt.Sprintf("f%06d", i))
	}
	o := outcome{}
	for i, name := range names {
		if i%64 == 0 && w.stopped.Load() {
			return outcome{err: errStopped}
		}
		start := time.Now()
		f, err := w.fs.Create(name)
		if err == nil {
			_, err = f.Write(buf)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		t.add(time.Since(start))
		if err != nil {
			o.err = err
			break
		}
		o.ops++
		o.bytes += smallFile
	}
	o.lat = t.lat
	return o
}

func walk(w *env) outcome {
	want := int64(w.cfg.files)
	t := newTimer(int(want+int64(want/filesPerDir)+20) * walkReps)
	o := outcome{}
	for rep := 0; rep < walkReps; rep++ {
		files := int64(0)
		last := time.Now()
		err := afero.Walk(w.fs, treePath(w.in), func(path string, info os.FileInfo, err error) error {
			now := time.Now()
			t.add(now.Sub(last))
			last = now
			if err != nil {
				return err
			}
			o.ops++
			if info.Mode().IsRegular() {
				files++
			}
			if o.ops%64 == 0 && w.stopped.Load() {
				return errStopped
			}
			return nil
		})
		if err != nil {
			return outcome{err: err}
		}
		if files != want {
			return outcome{err: fmt.Errorf("walk found %d files, want %d", files, want)}
		}
	}
	o.lat = t.lat
	return o
}

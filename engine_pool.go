package aiofs

import (
	"io"
	"os"
	"sync"

	"github.com/spf13/afero"
)

// defaultPoolWorkers is the pool's size when no queue depth is given. Each
// busy worker blocks one OS thread in pread or pwrite, so the pool is kept
// smaller than the ring engines' queue.
const defaultPoolWorkers = 64

// poolEngine is the portable engine: a fixed set of goroutines doing
// blocking positioned reads and writes. It is the engine on systems
// without one of their own and the fallback when the platform engine
// cannot start. The same pool, named "wrap", moves the data of an Fs made
// by Wrap, calling its base files' ReadAt, WriteAt and Sync.
type poolEngine struct {
	jobs chan *poolJob
	done sync.WaitGroup // workers
	kind string         // "pool" or "wrap"

	gate gate

	c engineCounters
}

type poolOp uint8

const (
	opRead poolOp = iota
	opWrite
	opFsync
)

type poolJob struct {
	op   poolOp
	f    afero.File
	p    []byte
	bufs [][]byte
	off  int64
	n    int
	err  error
	done chan struct{}
}

var poolJobs = sync.Pool{New: func() any { return &poolJob{done: make(chan struct{}, 1)} }}

func newPoolEngine(workers int) *poolEngine { return startPool("pool", workers) }

func startPool(kind string, workers int) *poolEngine {
	if workers <= 0 {
		workers = defaultPoolWorkers
	}
	e := &poolEngine{jobs: make(chan *poolJob), kind: kind}
	e.done.Add(workers)
	for range workers {
		go e.work()
	}
	return e
}

func (e *poolEngine) work() {
	defer e.done.Done()
	for j := range e.jobs {
		j.run()
		j.done <- struct{}{}
	}
}

// run does the job's operation. Errors of an *os.File are stripped to the
// errno; a base file's are kept as they are.
func (j *poolJob) run() {
	osf, isOS := j.f.(*os.File)
	switch j.op {
	case opRead:
		j.n, j.err = j.f.ReadAt(j.p, j.off)
		if j.err == io.EOF {
			j.err = nil
		}
	case opWrite:
		off := j.off
		for _, b := range j.bufs {
			var m int
			if isOS {
				m, j.err = pwrite(osf, b, off)
			} else {
				m, j.err = j.f.WriteAt(b, off)
			}
			j.n += m
			off += int64(m)
			if j.err != nil {
				break
			}
		}
	case opFsync:
		j.err = j.f.Sync()
	}
	if isOS {
		j.err = bareErr(j.err)
	}
}

// do runs j on a worker and waits for it.
func (e *poolEngine) do(j *poolJob) (int, error) {
	if !e.gate.enter() {
		return 0, os.ErrClosed
	}
	defer e.gate.exit()
	e.submit(j)
	return e.wait(j)
}

// submit hands j to a worker; the caller has entered the gate.
func (e *poolEngine) submit(j *poolJob) {
	e.c.submitted.Add(1)
	e.c.inFlight.Add(1)
	e.jobs <- j
}

// wait waits for j, returns its result and recycles it.
func (e *poolEngine) wait(j *poolJob) (int, error) {
	<-j.done
	e.c.inFlight.Add(-1)
	e.c.completed.Add(1)
	n, err := j.n, j.err
	*j = poolJob{done: j.done}
	poolJobs.Put(j)
	return n, err
}

func (e *poolEngine) pread(f afero.File, p []byte, off int64) (int, error) {
	j := poolJobs.Get().(*poolJob)
	j.op, j.f, j.p, j.off = opRead, f, p, off
	n, err := e.do(j)
	e.c.bytesRead.Add(off, uint64(n))
	return n, err
}

func (e *poolEngine) pwritev(f afero.File, bufs [][]byte, off int64) (int, error) {
	if _, isOS := f.(*os.File); !isOS && len(bufs) > 1 {
		return e.writeEach(f, bufs, off)
	}
	j := poolJobs.Get().(*poolJob)
	j.op, j.f, j.bufs, j.off = opWrite, f, bufs, off
	n, err := e.do(j)
	e.c.bytesWritten.Add(off, uint64(n))
	return n, err
}

// writeEach writes each of bufs to a base file with a WriteAt of its own,
// all at once, as io.WriterAt allows for ranges that do not overlap, so
// that a flush to a remote base costs one round trip rather than one per
// buffer. It counts what was written before the first buffer that failed:
// bytes written after it are reported as not written, and stay dirty.
func (e *poolEngine) writeEach(f afero.File, bufs [][]byte, off int64) (int, error) {
	if !e.gate.enter() {
		return 0, os.ErrClosed
	}
	defer e.gate.exit()
	jobs := make([]*poolJob, len(bufs))
	at := off
	for i, b := range bufs {
		j := poolJobs.Get().(*poolJob)
		j.op, j.f, j.bufs, j.off = opWrite, f, bufs[i:i+1], at
		at += int64(len(b))
		jobs[i] = j
		e.submit(j)
	}
	var n int
	var first error
	for i, j := range jobs {
		m, err := e.wait(j)
		e.c.bytesWritten.Add(off, uint64(m))
		if first == nil {
			n += m
			if err == nil && m < len(bufs[i]) {
				err = io.ErrShortWrite
			}
			first = err
		}
	}
	return n, first
}

func (e *poolEngine) fsync(f afero.File) error {
	j := poolJobs.Get().(*poolJob)
	j.op, j.f = opFsync, f
	_, err := e.do(j)
	return err
}

func (e *poolEngine) close() error {
	return e.gate.close(func() error {
		close(e.jobs)
		e.done.Wait()
		return nil
	})
}

func (e *poolEngine) name() string              { return e.kind }
func (e *poolEngine) counters() *engineCounters { return &e.c }

package aiofs

import (
	"io"
	"os"
	"sync"
)

// defaultPoolWorkers is the pool's size when no queue depth is given. Each
// busy worker blocks one OS thread in pread or pwrite, so the pool is kept
// smaller than the ring engines' queue.
const defaultPoolWorkers = 64

// poolEngine is the portable engine: a fixed set of goroutines doing
// blocking positioned reads and writes. It is the engine on systems
// without one of their own and the fallback when the platform engine
// cannot start.
type poolEngine struct {
	jobs chan *poolJob
	done sync.WaitGroup // workers

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
	f    *os.File
	p    []byte
	bufs [][]byte
	off  int64
	n    int
	err  error
	done chan struct{}
}

var poolJobs = sync.Pool{New: func() any { return &poolJob{done: make(chan struct{}, 1)} }}

func newPoolEngine(workers int) *poolEngine {
	if workers <= 0 {
		workers = defaultPoolWorkers
	}
	e := &poolEngine{jobs: make(chan *poolJob)}
	e.done.Add(workers)
	for range workers {
		go e.work()
	}
	return e
}

func (e *poolEngine) work() {
	defer e.done.Done()
	for j := range e.jobs {
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
				m, j.err = pwrite(j.f, b, off)
				j.n += m
				off += int64(m)
				if j.err != nil {
					break
				}
			}
		case opFsync:
			j.err = j.f.Sync()
		}
		j.done <- struct{}{}
	}
}

// do runs j on a worker and waits for it.
func (e *poolEngine) do(j *poolJob) (int, error) {
	if !e.gate.enter() {
		return 0, os.ErrClosed
	}
	defer e.gate.exit()
	e.c.submitted.Add(1)
	e.c.inFlight.Add(1)
	e.jobs <- j
	<-j.done
	e.c.inFlight.Add(-1)
	e.c.completed.Add(1)
	n, err := j.n, bareErr(j.err)
	*j = poolJob{done: j.done}
	poolJobs.Put(j)
	return n, err
}

func (e *poolEngine) pread(f *os.File, p []byte, off int64) (int, error) {
	j := poolJobs.Get().(*poolJob)
	j.op, j.f, j.p, j.off = opRead, f, p, off
	n, err := e.do(j)
	e.c.bytesRead.Add(uint64(n))
	return n, err
}

func (e *poolEngine) pwritev(f *os.File, bufs [][]byte, off int64) (int, error) {
	j := poolJobs.Get().(*poolJob)
	j.op, j.f, j.bufs, j.off = opWrite, f, bufs, off
	n, err := e.do(j)
	e.c.bytesWritten.Add(uint64(n))
	return n, err
}

func (e *poolEngine) fsync(f *os.File) error {
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

func (e *poolEngine) name() string              { return "pool" }
func (e *poolEngine) counters() *engineCounters { return &e.c }

//go:build linux

package uring

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRingOneWorkqueue: once the submitter keeps to one thread, the
// requests that wait in io-wq workers, from callers on many threads, all
// belong to one thread's io-wq. The kernel names each worker
// iou-wrk-<tid> after the thread whose io-wq it serves; idle workers
// linger for seconds, so they can be counted after the requests.
func TestRingOneWorkqueue(t *testing.T) {
	before := ioWorkers(t)
	r, c := openTest(t, Config{})
	r.slow.Store(true) // as if requests had been slow
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			// Callers on threads of their own, which outlive them.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			p := make([]byte, 4096)
			for i := range 16 {
				if _, err := r.Writev(fd, [][]byte{p}, 0, int64(g*16+i)*4096); err != nil {
					t.Error(err)
					return
				}
				// The kernel always hands fsync to an io-wq worker.
				if err := r.Fsync(fd); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	workers := make(map[string]int) // owner's tid: workers
	for tid, owner := range ioWorkers(t) {
		if before[tid] == "" {
			workers[owner]++
		}
	}
	r.Close()
	c.check(t)
	if len(workers) == 0 {
		t.Skip("no io-wq workers seen")
	}
	if len(workers) > 1 {
		t.Errorf("io-wq workers of %d threads (tid: workers): %v; want one thread's", len(workers), workers)
	}
	t.Logf("io-wq workers (tid: workers): %v", workers)
}

// ioWorkers returns the tids of the process's io-wq workers whose owner
// is alive, and their owners' tids.
func ioWorkers(t *testing.T) map[string]string {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip(err)
	}
	live := make(map[string]bool)
	owners := make(map[string]string)
	for _, task := range tasks {
		live[task.Name()] = true
		comm, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "comm"))
		if err != nil {
			continue // the thread has exited
		}
		if owner, ok := strings.CutPrefix(strings.TrimSpace(string(comm)), "iou-wrk-"); ok {
			owners[task.Name()] = owner
		}
	}
	for tid, owner := range owners {
		if !live[owner] {
			delete(owners, tid) // of a thread that exited with its ring
		}
	}
	return owners
}

// TestRingNoteLatency: the submitter is told to keep to one thread once
// half of a window of requests were slow for the requests in flight, and
// not for a few slow ones, or for long waits shared by many.
func TestRingNoteLatency(t *testing.T) {
	r, _ := openTest(t, Config{Entries: 2})
	defer r.Close()
	for i := range 10 * pinWindow {
		d := time.Duration(0)
		if i%8 == 0 {
			d = time.Second // one in 8: a local disk's outliers, and more
		}
		r.noteLatency(d, 1)
		r.noteLatency(255*pinAfter, 256) // queued behind 255 others
	}
	if r.slow.Load() {
		t.Fatal("slow after fast requests")
	}
	for i := range pinWindow / 2 {
		if r.slow.Load() {
			t.Fatalf("slow after %d slow requests, want %d", i, pinWindow/2)
		}
		r.noteLatency(256*pinAfter, 256)
	}
	if !r.slow.Load() {
		t.Errorf("not slow after %d slow requests", pinWindow/2)
	}
}

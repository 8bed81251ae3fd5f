//go:build linux

package uring

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestRingOneWorkqueue: the requests that wait in io-wq workers, from
// callers on many threads, all belong to one thread's io-wq. The kernel names each worker
// iou-wrk-<tid> after the thread whose io-wq it serves; idle workers
// linger for seconds, so they can be counted after the requests.
func TestRingOneWorkqueue(t *testing.T) {
	r, c := openTest(t, Config{})
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

	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip(err)
	}
	live := make(map[string]bool)
	workers := make(map[string]int) // owner's tid: workers
	for _, task := range tasks {
		live[task.Name()] = true
		comm, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "comm"))
		if err != nil {
			continue // the thread has exited
		}
		if owner, ok := strings.CutPrefix(strings.TrimSpace(string(comm)), "iou-wrk-"); ok {
			workers[owner]++
		}
	}
	for owner := range workers {
		if !live[owner] {
			delete(workers, owner) // of a ring an earlier test closed; exiting
		}
	}
	if len(workers) == 0 {
		t.Skip("no io-wq workers seen")
	}
	if len(workers) > 1 {
		t.Errorf("io-wq workers of %d threads (tid: workers): %v; want one thread's", len(workers), workers)
	}
	t.Logf("io-wq workers (tid: workers): %v", workers)
	r.Close()
	c.check(t)
}

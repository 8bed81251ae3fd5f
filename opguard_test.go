package aiofs

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpGuardClose: close waits for every operation admitted before it,
// none is admitted once it has begun, and the counts of those turned away
// while it waits do not keep it waiting.
func TestOpGuardClose(t *testing.T) {
	t.Parallel()
	var g opGuard
	if !g.tryHold() {
		t.Fatal("tryHold fails on a new guard")
	}
	closed := make(chan bool)
	go func() { closed <- g.close() }()
	for !g.closing() {
		time.Sleep(time.Millisecond)
	}
	if g.tryHold() {
		t.Fatal("tryHold admits an operation after close began")
	}
	select {
	case <-closed:
		t.Fatal("close returned while an operation was in progress")
	case <-time.After(20 * time.Millisecond):
	}
	g.exit()
	if !<-closed {
		t.Error("the first close reports false")
	}
	if g.close() {
		t.Error("a second close reports true")
	}

	// Many operations come and go while close runs: when close returns,
	// none is in progress, and none starts after.
	var g2 opGuard
	var in atomic.Int64
	var after atomic.Bool
	var wg sync.WaitGroup
	stop := make(chan struct{})
	defer wg.Wait()
	defer close(stop) // a failing test leaves no goroutine spinning
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if g2.tryHold() {
					if after.Load() {
						t.Error("an operation admitted after close returned")
					}
					in.Add(1)
					in.Add(-1)
					g2.exit()
				}
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		g2.close()
		after.Store(true)
		if n := in.Load(); n != 0 {
			t.Errorf("close returned with %d operations in progress", n)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("close hangs")
	}
}

package connset

import (
	"slices"
	"sync"
	"testing"
)

func TestSet(t *testing.T) {
	var s Set[int]
	for i := range 4 {
		if !s.Add(i) {
			t.Fatalf("Add(%d) to an open set = false", i)
		}
	}
	s.Remove(2)
	s.Remove(7) // not a member: nothing happens
	if s.Closed() {
		t.Fatal("Closed before Close")
	}
	got := s.Close()
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 1, 3}) {
		t.Errorf("Close = %v; want the members left, [0 1 3]", got)
	}
	if !s.Closed() || s.Add(5) {
		t.Error("a closed set is not closed, or admits a member")
	}
	if got := s.Close(); len(got) != 0 {
		t.Errorf("a second Close = %v; want none: the first handed them over", got)
	}
}

// TestSetRace adds and removes from many goroutines while the set closes:
// every member added is either removed or returned by Close, never lost,
// and nothing is admitted after Close.
func TestSetRace(t *testing.T) {
	var s Set[int]
	var wg sync.WaitGroup
	var mu sync.Mutex
	kept := map[int]bool{}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				x := g*1000 + i
				if !s.Add(x) {
					return
				}
				if i%2 == 0 {
					s.Remove(x)
					continue
				}
				mu.Lock()
				kept[x] = true
				mu.Unlock()
			}
		}()
	}
	closed := s.Close()
	wg.Wait()
	after := s.Close()
	if len(after) != 0 {
		t.Errorf("members added after Close: %v", after)
	}
	for _, x := range closed {
		if x%1000%2 == 0 {
			continue // removed, but perhaps after Close took it
		}
		delete(kept, x)
	}
	mu.Lock()
	defer mu.Unlock()
	for x := range kept {
		// Kept members that Close did not return were added after it:
		// Add must have refused them.
		t.Errorf("member %d was added and kept but neither refused nor returned by Close", x)
		break
	}
}

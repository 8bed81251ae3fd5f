// Package connset keeps what a test server or proxy has open (its
// connections, its clients), so that closing it closes them all and
// admits no more.
package connset

import "sync"

// A Set holds open members until it is closed; the zero Set is empty and
// open.
type Set[T comparable] struct {
	mu     sync.Mutex
	m      map[T]struct{}
	closed bool
}

// Add adds x and reports true, or reports false once the set is closed:
// then the caller closes x itself.
func (s *Set[T]) Add(x T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.m == nil {
		s.m = map[T]struct{}{}
	}
	s.m[x] = struct{}{}
	return true
}

// Remove removes x, closed or not.
func (s *Set[T]) Remove(x T) {
	s.mu.Lock()
	delete(s.m, x)
	s.mu.Unlock()
}

// Closed reports whether Close has been called.
func (s *Set[T]) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes the set and hands its members over, for the caller to
// close: the set is left empty.
func (s *Set[T]) Close() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	all := make([]T, 0, len(s.m))
	for x := range s.m {
		all = append(all, x)
	}
	clear(s.m)
	return all
}

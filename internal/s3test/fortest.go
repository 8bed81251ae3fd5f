package s3test

import (
	"errors"
	"os"
	"sync"
	"time"
)

// A TB is the part of testing.TB that ForTest needs.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
	Cleanup(func())
}

// ci reports whether the tests run in CI, where the S3 tests must run.
func ci() bool { return os.Getenv("CI") == "true" }

// shared is the server of ForTest, started once per process.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// ForTest returns the server of the tests of this process, started at
// the first call: starting one takes about 10 seconds, so the tests share
// it, each with buckets of its own. It stops when the process exits. When
// weed is not built, the test is skipped, except with CI=true, where weed
// is built (if .ci/run has not) and a failure fails the test.
func ForTest(tb TB) *Server {
	tb.Helper()
	shared.once.Do(func() {
		var bin string
		bin, shared.err = Binary(ci())
		if shared.err == nil {
			shared.srv, shared.err = Start(bin)
		}
	})
	if errors.Is(shared.err, ErrNotBuilt) {
		tb.Skip(shared.err)
		return nil // for a TB whose Skip returns
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.srv
}

// DialForTest is Dial, closed when the test ends; a failure fails it.
func (s *Server) DialForTest(tb TB, delay time.Duration) *Conn {
	tb.Helper()
	c, err := s.Dial(delay)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

package s3test

import (
	"errors"
	"os"
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

// ForTest starts a server for a test and stops it when the test ends.
// When weed is not built, the test is skipped, except with CI=true,
// where weed is built (if .ci/run has not) and a failure fails the test.
func ForTest(tb TB) *Server {
	tb.Helper()
	bin, err := Binary(ci())
	if errors.Is(err, ErrNotBuilt) {
		tb.Skip(err)
		return nil // for a TB whose Skip returns
	}
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := Start(bin)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
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

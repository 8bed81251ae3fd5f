package sftptest_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/aiofs/aiofs/internal/sftptest"
	"github.com/pkg/sftp"
	"github.com/spf13/afero"
)

var servers = []struct {
	name  string
	start func(string) (*sftptest.Server, error)
}{
	{"inprocess", sftptest.StartInProcess},
	{"sshd", sftptest.StartSSHD},
}

// goroutinesBack waits until the goroutine count is back to before; a
// server that leaks one never gets there.
func goroutinesBack(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServe writes through a server, directly and through a delay proxy,
// reads the file on the local disk, and checks that Close leaves no
// goroutine behind, with connections still open when it is called.
func TestServe(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			root := t.TempDir()
			srv, err := s.start(root)
			if err != nil {
				sftptest.SkipOrFatal(t, err)
			}
			for _, delay := range []time.Duration{0, time.Millisecond} {
				c, err := srv.Dial(delay)
				if err != nil {
					srv.Close()
					t.Fatal(err)
				}
				if err := afero.WriteFile(c.Fs(), "f", []byte("through "+delay.String()), 0o666); err != nil {
					t.Error(err)
				}
				data, err := os.ReadFile(filepath.Join(root, "f"))
				if err != nil || string(data) != "through "+delay.String() {
					t.Errorf("on disk: %q, %v", data, err)
				}
				// Left open for srv.Close to close.
			}
			if err := srv.Close(); err != nil {
				t.Error(err)
			}
			if _, err := srv.Dial(0); err == nil {
				t.Error("Dial after Close succeeded")
			}
			goroutinesBack(t, before)
		})
	}
}

// TestDelay checks that a round trip through the proxy takes at least
// the two delays: a lower bound the delay line guarantees, not a timing
// that load could change.
func TestDelay(t *testing.T) {
	srv, err := sftptest.StartInProcess(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const delay = 20 * time.Millisecond
	c, err := srv.Dial(delay)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Client.Stat(srv.Root()); err != nil {
		t.Fatal(err)
	}
	if rtt := time.Since(start); rtt < 2*delay {
		t.Errorf("a Stat took %v through a proxy delaying %v each way", rtt, delay)
	}
}

// TestCut cuts the connection under an open file: reads and writes fail
// with the lost connection, never with io.EOF.
func TestCut(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			srv, err := s.start(t.TempDir())
			if err != nil {
				sftptest.SkipOrFatal(t, err)
			}
			defer srv.Close()
			c, err := srv.Dial(time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fsys := c.Fs()
			if err := afero.WriteFile(fsys, "f", make([]byte, 1<<20), 0o666); err != nil {
				t.Fatal(err)
			}
			f, err := fsys.Open("f")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Cut(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			for i := range 3 {
				n, err := f.ReadAt(buf, 0)
				if err == io.EOF || !errors.Is(err, sftp.ErrSSHFxConnectionLost) {
					t.Errorf("ReadAt %d after Cut: %d, %v; want the connection lost", i, n, err)
				}
				if _, err := f.Read(buf); err == io.EOF || err == nil {
					t.Errorf("Read %d after Cut: %v", i, err)
				}
			}
			if err := f.Close(); err == nil {
				t.Error("Close after Cut succeeded")
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close after Cut: %v", err)
			}
		})
	}
}

// TestSkipOrFatal: a missing sshd skips, except under CI=true.
func TestSkipOrFatal(t *testing.T) {
	missing := errors.Join(sftptest.ErrNoSSHD)
	for _, c := range []struct {
		ci       string
		err      error
		wantSkip bool
	}{
		{"", missing, true},
		{"true", missing, false},
		{"", errors.New("other"), false},
	} {
		t.Setenv("CI", c.ci)
		var r recorder
		sftptest.SkipOrFatal(&r, c.err)
		if r.skipped != c.wantSkip || r.failed == c.wantSkip {
			t.Errorf("CI=%q, %v: skipped %v failed %v", c.ci, c.err, r.skipped, r.failed)
		}
	}
}

// recorder is a sftptest.TB that records instead of stopping the test;
// SkipOrFatal returns after its first call, which is fine here.
type recorder struct{ skipped, failed bool }

func (r *recorder) Helper()      {}
func (r *recorder) Skip(...any)  { r.skipped = true }
func (r *recorder) Fatal(...any) { r.failed = true }

package sftptest

import (
	"errors"
	"os"
)

// ErrNoSSHD is the cause of StartSSHD's error when OpenSSH's sshd is not
// installed.
var ErrNoSSHD = errors.New("sftptest: OpenSSH's sshd is not installed (apt-get install openssh-server)")

// sshdPath is where Debian's openssh-server puts sshd.
const sshdPath = "/usr/sbin/sshd"

// A TB is the part of testing.TB that SkipOrFatal needs.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
}

// SkipOrFatal ends a test that could not start a server: it skips when
// sshd is missing on a developer's machine and fails otherwise, and also
// when the environment has CI=true, where sshd is installed and its tests
// must run.
func SkipOrFatal(tb TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNoSSHD) && os.Getenv("CI") != "true" {
		tb.Skip(err)
		return // for a TB whose Skip returns
	}
	tb.Fatal(err)
}

// A T is the part of testing.TB that ForTest needs.
type T interface {
	TB
	Cleanup(func())
	Error(args ...any)
}

// ForTest starts a server with start on root for a test and connects to
// it without delay; both are closed when the test ends. A server that
// cannot start ends the test as SkipOrFatal says.
func ForTest(t T, start func(root string) (*Server, error), root string) (*Server, *Conn) {
	t.Helper()
	srv, err := start(root)
	if err != nil {
		SkipOrFatal(t, err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	c, err := srv.Dial(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

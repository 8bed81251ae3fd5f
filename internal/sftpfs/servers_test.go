package sftpfs_test

import (
	"testing"

	"github.com/aiofs/aiofs/internal/sftpfs"
	"github.com/aiofs/aiofs/internal/sftptest"
)

// forServers runs f against an Fs on each real server: pkg/sftp's in
// process and OpenSSH's sshd, each serving a fresh directory.
func forServers(t *testing.T, f func(t *testing.T, fsys *sftpfs.Fs, srv *sftptest.Server)) {
	for _, s := range []struct {
		name  string
		start func(string) (*sftptest.Server, error)
	}{
		{"inprocess", sftptest.StartInProcess},
		{"sshd", sftptest.StartSSHD},
	} {
		t.Run(s.name, func(t *testing.T) {
			srv, c := sftptest.ForTest(t, s.start, t.TempDir())
			f(t, c.Fs(), srv)
		})
	}
}

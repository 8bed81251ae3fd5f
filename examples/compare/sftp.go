package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aiofs/aiofs/internal/sftptest"
)

// openSFTP makes the sftp store: an SFTP server on 127.0.0.1 serving a new
// directory under work, and one connection to it through a delay proxy of
// cfg.delay each way. The server is OpenSSH's sshd, as a user's remote
// would be, unless -sftp-server says otherwise or sshd cannot start (it
// needs /usr/sbin/sshd and root); then it is pkg/sftp's server in this
// process, which has no fsync@openssh.com, so Sync fails there.
func openSFTP(work string, cfg *config) (*opened, error) {
	root := filepath.Join(work, "sftp")
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, err
	}
	var srv *sftptest.Server
	var err error
	about := "OpenSSH's sshd"
	switch cfg.sftpServer {
	case "sshd":
		srv, err = sftptest.StartSSHD(root)
	case "inprocess":
		about = "pkg/sftp's server in process"
		srv, err = sftptest.StartInProcess(root)
	default:
		srv, err = sftptest.StartSSHD(root)
		if err != nil {
			fmt.Fprintf(os.Stderr, "compare: sftp store: cannot start sshd (%v); using pkg/sftp's server in process instead\n", err)
			about = "pkg/sftp's server in process"
			srv, err = sftptest.StartInProcess(root)
		}
	}
	if err != nil {
		return nil, err
	}
	conn, err := srv.Dial(cfg.delay)
	if err != nil {
		return nil, errors.Join(err, srv.Close())
	}
	if cfg.delay > 0 {
		about += fmt.Sprintf(" at %s, through a delay proxy of %v each way", srv.Addr(), cfg.delay)
	} else {
		about += fmt.Sprintf(" at %s, no delay", srv.Addr())
	}
	return &opened{
		// Relative names resolve under the server's root, which the Fs of
		// the connection is rooted at.
		fs: conn.Fs(), dir: ".", about: about,
		close: func() error { return errors.Join(conn.Close(), srv.Close()) },
	}, nil
}

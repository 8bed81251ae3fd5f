//go:build !unix

package sftptest

import "fmt"

// StartSSHD needs a Unix system; elsewhere it fails with ErrNoSSHD.
func StartSSHD(root string) (*Server, error) {
	return nil, fmt.Errorf("%w: sftptest runs sshd on Unix systems only", ErrNoSSHD)
}

package sftpfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"

	"github.com/pkg/sftp"

	"github.com/aiofs/aiofs/internal/remotefile"
)

// SFTP version 3, which OpenSSH and pkg/sftp speak, has few status codes:
// no such file, permission denied, and a generic failure that covers
// everything else, EEXIST and ENOTEMPTY included. The Fs reports the errno
// package os would for the first two, and for the cases below where one
// more round trip tells which failure it was:
//   - Mkdir, Symlink and OpenFile with O_CREATE|O_EXCL on an existing name: EEXIST;
//   - Remove of a non-empty directory: ENOTEMPTY;
//   - Readdir of a file that is not a directory: ENOTDIR.
//
// Other failures keep the server's *sftp.StatusError as the cause, so
// errors.Is(err, fs.ErrExist) is false for, say, a rename onto a non-empty
// directory, where os would say true.

// ErrNoFsync is the cause of File.Sync's error when the server lacks the
// fsync@openssh.com extension (pkg/sftp's own server lacks it; OpenSSH's
// has it). It matches errors.ErrUnsupported. The data written before such
// a Sync has been acknowledged by the server, which means written to its
// file, not that it is on stable storage.
var ErrNoFsync = fmt.Errorf("sftpfs: the server has no fsync@openssh.com extension: %w", errors.ErrUnsupported)

// pathError returns err as the *fs.PathError os would return for op on
// name, with the errno of the SFTP status under it; nil for nil.
func pathError(op, name string, err error) error {
	return remotefile.PathError(op, name, cause(err))
}

// cause returns the reason under err. pkg/sftp wraps some errors in an
// *fs.PathError of its own, with the server-side path; that wrapper is
// dropped so the caller's names and Op replace it. Status codes become the
// errno os would give, so that errors.Is and the messages match OsFs.
func cause(err error) error {
	err = remotefile.Bare(err)
	var se *sftp.StatusError
	if errors.As(err, &se) {
		switch se.FxCode() {
		case sftp.ErrSSHFxNoSuchFile:
			return syscall.ENOENT
		case sftp.ErrSSHFxPermissionDenied:
			return syscall.EACCES
		}
		return err
	}
	switch err {
	case fs.ErrNotExist:
		return syscall.ENOENT
	case fs.ErrPermission:
		return syscall.EACCES
	}
	return err
}

// isFailure reports whether err is the server's generic failure, the one
// code that may hide EEXIST or ENOTEMPTY.
func isFailure(err error) bool {
	var se *sftp.StatusError
	return errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxFailure
}

// lostGuard is the write side of an SFTP session. When the SSH connection
// is gone, x/crypto/ssh reports a write on the channel as io.EOF (or as
// the transport's error), and pkg/sftp hands that error to the request
// that made the write; a Read would then see io.EOF, a clean end of file,
// for a lost connection. The guard makes every failed write an error that
// matches sftp.ErrSSHFxConnectionLost, the error pkg/sftp gives the
// requests in flight when the connection drops: a session whose channel
// cannot be written is lost.
type lostGuard struct {
	w     io.WriteCloser
	close func() error
}

func (g lostGuard) Write(b []byte) (int, error) {
	n, err := g.w.Write(b)
	if err != nil {
		err = fmt.Errorf("%w: %v", sftp.ErrSSHFxConnectionLost, err)
	}
	return n, err
}

func (g lostGuard) Close() error {
	err := g.w.Close()
	if cerr := g.close(); err == nil && cerr != nil && cerr != io.EOF {
		err = cerr
	}
	return err
}

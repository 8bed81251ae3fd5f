// Package sftpfs is an afero.Fs over an SFTP connection made with
// github.com/pkg/sftp, for aiofs's tests, examples and benchmarks: the
// remote, high-latency backend that aiofs.Wrap is measured on. (afero's
// own sftpfs is a separate module that is not available here.)
//
// It differs from afero.OsFs where SFTP does:
//   - perm in OpenFile and Mkdir is not sent; the server creates files and
//     directories with its defaults (0666 and 0777 less its umask);
//   - a Write on an O_APPEND file costs one more round trip (a stat for the
//     end of file), and appends are atomic only where the server honors
//     SSH_FXF_APPEND (OpenSSH does; pkg/sftp's server writes at the offset
//     the client sends);
//   - Rename replaces an existing newname only when the server has the
//     posix-rename@openssh.com extension (both OpenSSH and pkg/sftp do);
//   - Sync needs the fsync@openssh.com extension (see ErrNoFsync);
//   - Readdir lists the whole directory at its first call and returns the
//     entries sorted by name;
//   - errors are *fs.PathError (*os.LinkError for Rename and Symlink) with
//     os's Op and errno where SFTP says enough (see errors.go); the generic
//     SFTP failure stays an *sftp.StatusError where one more round trip
//     cannot tell what it was;
//   - a lost connection fails every call with sftp.ErrSSHFxConnectionLost;
//     the Fs does not reconnect.
package sftpfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"github.com/spf13/afero"

	"github.com/aiofs/aiofs/internal/remotefile"
)

// Fs is an afero.Fs whose names are paths on an SFTP server. It is safe
// for concurrent use, as the client is.
type Fs struct {
	c           *sftp.Client
	root        string // names that are not absolute are resolved under it; "" is the server's working directory
	posixRename bool
	fsync       bool
	closer      io.Closer // what Dial opened; nil for New
}

var (
	_ afero.Fs        = (*Fs)(nil)
	_ afero.Symlinker = (*Fs)(nil)
	_ afero.File      = (*File)(nil)
)

// New returns an Fs over c whose relative names are resolved against the
// server's working directory. The Fs does not own c: Close leaves it open.
func New(c *sftp.Client) *Fs {
	return newFs(c, "", nil)
}

func newFs(c *sftp.Client, root string, closer io.Closer) *Fs {
	_, posixRename := c.HasExtension("posix-rename@openssh.com")
	v, fsync := c.HasExtension("fsync@openssh.com")
	return &Fs{c: c, root: root, posixRename: posixRename, fsync: fsync && v == "1", closer: closer}
}

// Close closes the connection Dial made. For an Fs from New it does nothing.
func (fsys *Fs) Close() error {
	if fsys.closer == nil {
		return nil
	}
	return fsys.closer.Close()
}

// Client returns the SFTP client the Fs uses.
func (fsys *Fs) Client() *sftp.Client { return fsys.c }

// Name returns "sftp".
func (fsys *Fs) Name() string { return "sftp" }

// remote returns the server's path for name. The root works like a
// working directory, not a jail: absolute names and symbolic links reach
// outside it, as they would with os.Chdir.
func (fsys *Fs) remote(name string) string {
	name = filepath.ToSlash(name)
	if path.IsAbs(name) || fsys.root == "" {
		return path.Clean(name)
	}
	return path.Join(fsys.root, name)
}

// Create creates or truncates the named file, as os.Create does.
func (fsys *Fs) Create(name string) (afero.File, error) {
	return fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Open opens the named file or directory for reading.
func (fsys *Fs) Open(name string) (afero.File, error) {
	return fsys.OpenFile(name, os.O_RDONLY, 0)
}

// OpenFile opens name with os's flags; O_APPEND, O_CREATE, O_EXCL and
// O_TRUNC are honored, others ignored. perm is not sent (see the package
// comment).
func (fsys *Fs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	p := fsys.remote(name)
	sf, err := fsys.c.OpenFile(p, flag)
	if err != nil {
		if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC) == 0 {
			// Some servers refuse to open a directory as a file; a
			// directory needs no handle to be listed.
			if fi, serr := fsys.c.Stat(p); serr == nil && fi.IsDir() {
				return &File{fsys: fsys, name: name, path: p}, nil
			}
		}
		if flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL && fsys.exists(err, p) {
			err = syscall.EEXIST
		}
		return nil, pathError("open", name, err)
	}
	return &File{fsys: fsys, name: name, path: p, f: sf, append: flag&os.O_APPEND != 0}, nil
}

// exists reports whether err is a generic failure on an operation that
// would create p, and p exists: the EEXIST that SFTP cannot express.
func (fsys *Fs) exists(err error, p string) bool {
	if !isFailure(err) {
		return false
	}
	_, lerr := fsys.c.Lstat(p)
	return lerr == nil
}

// Mkdir creates a directory; perm is not sent (see the package comment).
func (fsys *Fs) Mkdir(name string, perm os.FileMode) error {
	p := fsys.remote(name)
	err := fsys.c.Mkdir(p)
	if err != nil && fsys.exists(err, p) {
		err = syscall.EEXIST
	}
	return pathError("mkdir", name, err)
}

// MkdirAll creates a directory and the parents it lacks, as os.MkdirAll.
func (fsys *Fs) MkdirAll(name string, perm os.FileMode) error {
	return fsys.mkdirAll(name, fsys.remote(name))
}

func (fsys *Fs) mkdirAll(name, p string) error {
	if fi, err := fsys.c.Stat(p); err == nil {
		if fi.IsDir() {
			return nil
		}
		return pathError("mkdir", name, syscall.ENOTDIR)
	}
	if parent := path.Dir(p); parent != p {
		if err := fsys.mkdirAll(path.Dir(name), parent); err != nil {
			return err
		}
	}
	if err := fsys.c.Mkdir(p); err != nil {
		// Made by someone else meanwhile, as os.MkdirAll allows.
		if fi, serr := fsys.c.Lstat(p); serr == nil && fi.IsDir() {
			return nil
		}
		return pathError("mkdir", name, err)
	}
	return nil
}

// Remove removes a file, a symbolic link or an empty directory.
func (fsys *Fs) Remove(name string) error {
	return pathError("remove", name, fsys.remove(fsys.remote(name)))
}

// remove removes p. Client.Remove tries p as a file, then as a
// directory, and returns the error that fits what p is; a directory that
// is not empty is told apart from the generic failure by listing it.
func (fsys *Fs) remove(p string) error {
	err := fsys.c.Remove(p)
	if err == nil || !isFailure(err) {
		return err
	}
	if fi, lerr := fsys.c.Lstat(p); lerr == nil && fi.IsDir() {
		if entries, lerr := fsys.c.ReadDir(p); lerr == nil && len(entries) > 0 {
			return syscall.ENOTEMPTY
		}
	}
	return err
}

// RemoveAll removes name and everything under it, as os.RemoveAll: a
// missing name is no error, and symbolic links are removed, not followed.
func (fsys *Fs) RemoveAll(name string) error {
	if name == "" {
		return nil
	}
	if base := path.Base(filepath.ToSlash(name)); base == "." || base == ".." {
		return &fs.PathError{Op: "RemoveAll", Path: name, Err: syscall.EINVAL}
	}
	return fsys.removeAll(name, fsys.remote(name))
}

func (fsys *Fs) removeAll(name, p string) error {
	fi, err := fsys.c.Lstat(p)
	if err != nil {
		if errors.Is(cause(err), fs.ErrNotExist) {
			return nil
		}
		return pathError("lstat", name, err)
	}
	if fi.IsDir() {
		entries, err := fsys.c.ReadDir(p)
		if err != nil && !errors.Is(cause(err), fs.ErrNotExist) {
			return pathError("open", name, err)
		}
		for _, e := range entries {
			if err := fsys.removeAll(path.Join(name, e.Name()), path.Join(p, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := fsys.remove(p); err != nil && !errors.Is(cause(err), fs.ErrNotExist) {
		return pathError("remove", name, err)
	}
	return nil
}

// Rename renames oldname to newname, replacing newname as os.Rename does
// when the server has posix-rename@openssh.com.
func (fsys *Fs) Rename(oldname, newname string) error {
	o, n := fsys.remote(oldname), fsys.remote(newname)
	var err error
	if fsys.posixRename {
		err = fsys.c.PosixRename(o, n)
	} else {
		err = fsys.c.Rename(o, n)
	}
	return remotefile.LinkError("rename", oldname, newname, cause(err))
}

// Stat returns the FileInfo of name, following symbolic links.
func (fsys *Fs) Stat(name string) (os.FileInfo, error) {
	fi, err := fsys.c.Stat(fsys.remote(name))
	if err != nil {
		return nil, pathError("stat", name, err)
	}
	return fi, nil
}

// LstatIfPossible returns the FileInfo of name without following a
// symbolic link; the bool is always true.
func (fsys *Fs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	fi, err := fsys.c.Lstat(fsys.remote(name))
	if err != nil {
		return nil, true, pathError("lstat", name, err)
	}
	return fi, true, nil
}

// SymlinkIfPossible creates newname as a symbolic link to oldname, which
// is stored as given, as os.Symlink does.
func (fsys *Fs) SymlinkIfPossible(oldname, newname string) error {
	n := fsys.remote(newname)
	err := fsys.c.Symlink(oldname, n)
	if err != nil && fsys.exists(err, n) {
		err = syscall.EEXIST
	}
	return remotefile.LinkError("symlink", oldname, newname, cause(err))
}

// ReadlinkIfPossible returns the target of the symbolic link name.
func (fsys *Fs) ReadlinkIfPossible(name string) (string, error) {
	target, err := fsys.c.ReadLink(fsys.remote(name))
	if err != nil {
		return "", pathError("readlink", name, err)
	}
	return target, nil
}

// Chmod changes the mode of name.
func (fsys *Fs) Chmod(name string, mode os.FileMode) error {
	return pathError("chmod", name, fsys.c.Chmod(fsys.remote(name), mode))
}

// Chown changes the owner and group of name.
func (fsys *Fs) Chown(name string, uid, gid int) error {
	return pathError("chown", name, fsys.c.Chown(fsys.remote(name), uid, gid))
}

// Chtimes changes the access and modification times of name.
func (fsys *Fs) Chtimes(name string, atime, mtime time.Time) error {
	return pathError("chtimes", name, fsys.c.Chtimes(fsys.remote(name), atime, mtime))
}

// sortByName sorts a listing the way the tests and MemMapFs expect.
func sortByName(list []os.FileInfo) {
	slices.SortFunc(list, func(a, b os.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
}

// NewRooted returns an Fs over c whose relative names are resolved under
// root, a path on the server. The Fs does not own c.
func NewRooted(c *sftp.Client, root string) *Fs {
	return newFs(c, root, nil)
}

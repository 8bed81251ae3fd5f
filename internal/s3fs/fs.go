// Package s3fs is an afero.Fs over an S3 bucket, made with
// github.com/minio/minio-go/v7, for aiofs's tests, examples and
// benchmarks: the object store that aiofs.Wrap is proven and measured on.
// (The afero S3 backends known to the Go module proxy here are refused.)
//
// Files are objects, named by their cleaned path under a prefix of the
// bucket; directories are key prefixes, and Mkdir leaves a zero-byte
// marker object "dir/" so that an empty directory exists.
//
// Reading: every ReadAt, and every Read, is one ranged GET of the bytes
// asked for; Stat is a HEAD. Writing: S3 stores whole objects, so a file
// opened for writing is spooled in a local temporary file (an existing
// object is first downloaded into it, unless O_TRUNC) and uploaded by
// Sync and Close, in parallel parts when larger than the part size. The
// handles of one Fs that write one file share its spool, so they see
// each other's writes, as on one machine; the Fs's readers of that file
// read the spool too. Sync returns nil once the object holds everything
// written before it.
//
// It differs from afero.OsFs where S3 does:
//   - perm is not kept; files have mode 0644 and directories 0755;
//   - Chmod, Chown, Chtimes and symbolic links fail with ErrUnsupported;
//     there are no hard links;
//   - an object's modification time is the upload's, to the second (the
//     HTTP Last-Modified header);
//   - Rename copies the object (up to 5 GiB) and deletes the old one: it is
//     not atomic, and a directory is renamed object by object;
//   - O_EXCL, the parent checks of OpenFile and Mkdir, and Remove's
//     emptiness check are a look before the change, not atomic with it;
//   - a directory that was never made with Mkdir exists while objects
//     are under it, and vanishes with the last of them;
//   - other clients see a file's new contents only after its upload, and
//     a writer's upload replaces the object whole: of two processes
//     writing one object, the last upload wins;
//   - errors are *fs.PathError (*os.LinkError for Rename) with os's Op, and
//     errno where S3 says enough (see errors.go);
//   - the Fs does not reconnect or retry beyond what the client does.
package s3fs

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/spf13/afero"

	"github.com/aiofs/aiofs/internal/remotefile"
)

// DefaultPartSize is the size of an upload's parts: an object larger than
// it is uploaded in parts, several at once.
const DefaultPartSize = 16 << 20

// Fs is an afero.Fs whose names are keys in an S3 bucket. It is safe for
// concurrent use.
type Fs struct {
	c        *minio.Client
	core     minio.Core
	bucket   string
	prefix   string // "" or ending in "/": put before every key
	partSize uint64
	closer   func() // what Dial made; nil for New

	mu     sync.Mutex
	spools map[string]*spool // by key: files open for writing
}

var (
	_ afero.Fs   = (*Fs)(nil)
	_ afero.File = (*File)(nil)
)

// New returns an Fs over the objects of bucket whose keys begin with
// prefix (a "directory" of the bucket, or "" for all of it). The Fs does
// not own c.
func New(c *minio.Client, bucket, prefix string) *Fs {
	prefix = strings.Trim(path.Clean("/"+prefix), "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Fs{c: c, core: minio.Core{Client: c}, bucket: bucket, prefix: prefix, partSize: DefaultPartSize, spools: make(map[string]*spool)}
}

// Name returns "s3".
func (fsys *Fs) Name() string { return "s3" }

// Client returns the client the Fs uses.
func (fsys *Fs) Client() *minio.Client { return fsys.c }

// Bucket returns the bucket and the prefix of the Fs's keys.
func (fsys *Fs) Bucket() (bucket, prefix string) { return fsys.bucket, fsys.prefix }

// Key returns the object key of name.
func (fsys *Fs) Key(name string) string { return fsys.key(name) }

// Close closes the idle connections of the client Dial made; for an Fs
// from New it does nothing. Files still open keep working.
func (fsys *Fs) Close() error {
	if fsys.closer != nil {
		fsys.closer()
	}
	return nil
}

// key returns the object key of name; the root's is the prefix.
func (fsys *Fs) key(name string) string {
	return fsys.prefix + strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(name)), "/")
}

func (fsys *Fs) isRoot(key string) bool { return key == fsys.prefix }

// ctx is the context of the Fs's requests.
func ctx() context.Context { return context.Background() }

// A kind is what a key is.
type kind int

const (
	missing kind = iota
	file
	dir
)

// stat finds what key is: an object, a directory (a marker or objects
// under it), or nothing. A file open for writing in this Fs is described
// by its spool.
func (fsys *Fs) stat(name, key string) (kind, *fileInfo, error) {
	base := path.Base(path.Clean("/" + filepath.ToSlash(name)))
	if fsys.isRoot(key) {
		return dir, dirInfo(base, time.Time{}), nil
	}
	if sp := fsys.spoolOf(key); sp != nil {
		fi, err := sp.info(base)
		return file, fi, err
	}
	oi, err := fsys.c.StatObject(ctx(), fsys.bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return file, &fileInfo{name: base, size: oi.Size, mode: 0o644, mtime: oi.LastModified}, nil
	}
	if !notFound(err) {
		return missing, nil, err
	}
	isDir, mtime, err := fsys.dirExists(key)
	if err != nil || !isDir {
		return missing, nil, err
	}
	return dir, dirInfo(base, mtime), nil
}

// dirExists reports whether anything is under key+"/", and the time of
// the first key there.
func (fsys *Fs) dirExists(key string) (bool, time.Time, error) {
	res, err := fsys.core.ListObjectsV2(fsys.bucket, key+"/", "", "", "/", 1)
	if err != nil {
		return false, time.Time{}, err
	}
	if len(res.Contents) > 0 {
		return true, res.Contents[0].LastModified, nil
	}
	return len(res.CommonPrefixes) > 0, time.Time{}, nil
}

// parentOK checks that the directory a new key would be in exists, as
// os's calls that create do: ENOENT if it does not, ENOTDIR if it is a
// file.
func (fsys *Fs) parentOK(key string) error {
	parent := path.Dir(strings.TrimPrefix(key, fsys.prefix))
	if parent == "." {
		return nil
	}
	k, _, err := fsys.existing(parent, fsys.prefix+parent)
	if err == nil && k == file {
		return syscall.ENOTDIR
	}
	return err
}

// existing is stat for calls that need name to exist: ENOENT where
// nothing is.
func (fsys *Fs) existing(name, key string) (kind, *fileInfo, error) {
	k, fi, err := fsys.stat(name, key)
	if err == nil && k == missing {
		err = syscall.ENOENT
	}
	return k, fi, err
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
// O_TRUNC are honored, others ignored. perm is not kept. A file opened for
// writing is spooled (see the package comment); O_CREATE of a new file
// uploads it empty at once, so that others see it exist.
func (fsys *Fs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := fsys.openFile(name, flag)
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return f, nil
}

func (fsys *Fs) openFile(name string, flag int) (*File, error) {
	key := fsys.key(name)
	acc := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	f := &File{fsys: fsys, name: name, key: key, append: flag&os.O_APPEND != 0}
	f.readable = acc == os.O_RDONLY || acc == os.O_RDWR
	f.writable = acc == os.O_WRONLY || acc == os.O_RDWR
	excl := flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL
	trunc := flag&os.O_TRUNC != 0 && f.writable
	k, fi, err := fsys.stat(name, key)
	if err != nil {
		return nil, err
	}
	switch {
	case k == dir:
		if excl {
			return nil, syscall.EEXIST
		}
		if f.writable {
			return nil, syscall.EISDIR
		}
		f.dir = true
		return f, nil
	case k == file && excl:
		return nil, syscall.EEXIST
	case k == missing:
		if flag&os.O_CREATE == 0 {
			return nil, syscall.ENOENT
		}
		if err := fsys.parentOK(key); err != nil {
			return nil, err
		}
		if _, err := fsys.c.PutObject(ctx(), fsys.bucket, key, strings.NewReader(""), 0, fsys.putOptions()); err != nil {
			return nil, err
		}
		fi = &fileInfo{}
	}
	if !f.writable {
		return f, nil
	}
	sp, err := fsys.openSpool(key, fi.size, trunc)
	if err != nil {
		return nil, err
	}
	f.sp = sp
	return f, nil
}

// Mkdir creates a directory: a marker object. perm is not kept.
func (fsys *Fs) Mkdir(name string, perm os.FileMode) error {
	return pathError("mkdir", name, fsys.mkdir(name, fsys.key(name)))
}

func (fsys *Fs) mkdir(name, key string) error {
	k, _, err := fsys.stat(name, key)
	if err != nil {
		return err
	}
	if k != missing {
		return syscall.EEXIST
	}
	if err := fsys.parentOK(key); err != nil {
		return err
	}
	_, err = fsys.c.PutObject(ctx(), fsys.bucket, key+"/", strings.NewReader(""), 0, fsys.putOptions())
	return err
}

// MkdirAll creates a directory and the parents it lacks, as os.MkdirAll.
func (fsys *Fs) MkdirAll(name string, perm os.FileMode) error {
	rel := strings.TrimPrefix(fsys.key(name), fsys.prefix)
	if rel == "" {
		return nil
	}
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		k, _, err := fsys.stat(p, fsys.prefix+p)
		switch {
		case err != nil:
			return pathError("mkdir", name, err)
		case k == file:
			return pathError("mkdir", name, syscall.ENOTDIR)
		case k == missing:
			if _, err := fsys.c.PutObject(ctx(), fsys.bucket, fsys.prefix+p+"/", strings.NewReader(""), 0, fsys.putOptions()); err != nil {
				return pathError("mkdir", name, err)
			}
		}
	}
	return nil
}

// Remove removes a file or an empty directory. A file open for writing
// in this Fs is unlinked: its handles keep working, and upload nothing.
func (fsys *Fs) Remove(name string) error {
	return pathError("remove", name, fsys.remove(name, fsys.key(name)))
}

func (fsys *Fs) remove(name, key string) error {
	k, _, err := fsys.existing(name, key)
	switch {
	case err != nil:
		return err
	case k == file:
		if sp := fsys.spoolOf(key); sp != nil {
			sp.mu.Lock() // no upload recreates the object
			defer sp.mu.Unlock()
		}
		fsys.unlink(key)
		return fsys.c.RemoveObject(ctx(), fsys.bucket, key, minio.RemoveObjectOptions{})
	case fsys.isRoot(key):
		return syscall.EBUSY
	}
	res, err := fsys.core.ListObjectsV2(fsys.bucket, key+"/", "", "", "/", 2)
	if err != nil {
		return err
	}
	if len(res.CommonPrefixes) > 0 || len(res.Contents) > 1 || len(res.Contents) == 1 && res.Contents[0].Key != key+"/" {
		return syscall.ENOTEMPTY
	}
	return fsys.c.RemoveObject(ctx(), fsys.bucket, key+"/", minio.RemoveObjectOptions{})
}

// RemoveAll removes name and everything under it, as os.RemoveAll: a
// missing name is no error.
func (fsys *Fs) RemoveAll(name string) error {
	if name == "" {
		return nil
	}
	if base := path.Base(filepath.ToSlash(name)); base == "." || base == ".." {
		return &fs.PathError{Op: "RemoveAll", Path: name, Err: syscall.EINVAL}
	}
	key := fsys.key(name)
	if fsys.isRoot(key) {
		return pathError("unlinkat", name, syscall.EBUSY)
	}
	keys, err := fsys.list(key+"/", true)
	if err != nil {
		return pathError("unlinkat", name, err)
	}
	keys = append(keys, key)
	for _, k := range keys {
		fsys.unlink(k)
		if err := fsys.c.RemoveObject(ctx(), fsys.bucket, k, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
			return pathError("unlinkat", name, err)
		}
	}
	return nil
}

// list returns the keys under prefix, all of them if recursive.
func (fsys *Fs) list(prefix string, recursive bool) ([]string, error) {
	var keys []string
	for oi := range fsys.c.ListObjects(ctx(), fsys.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: recursive}) {
		if oi.Err != nil {
			return nil, oi.Err
		}
		keys = append(keys, oi.Key)
	}
	return keys, nil
}

// Rename renames oldname to newname by copying and deleting (see the
// package comment). A file open for writing in this Fs moves with it.
func (fsys *Fs) Rename(oldname, newname string) error {
	return remotefile.LinkError("rename", oldname, newname, cause(fsys.rename(oldname, newname)))
}

func (fsys *Fs) rename(oldname, newname string) error {
	from, to := fsys.key(oldname), fsys.key(newname)
	if fsys.isRoot(from) || fsys.isRoot(to) {
		return syscall.EBUSY
	}
	fk, _, err := fsys.existing(oldname, from)
	if err != nil {
		return err
	}
	if from == to {
		return nil
	}
	tk, _, err := fsys.stat(newname, to)
	if err != nil {
		return err
	}
	switch {
	case fk == file && tk == dir:
		return syscall.EISDIR
	case fk == dir && tk == file:
		return syscall.ENOTDIR
	case fk == dir && strings.HasPrefix(to, from+"/"):
		return syscall.EINVAL
	case fk == dir && tk == dir:
		if err := fsys.remove(newname, to); err != nil {
			return err
		}
	}
	if tk == missing {
		if err := fsys.parentOK(to); err != nil {
			return err
		}
	}
	if fk == file {
		if sp := fsys.spoolOf(from); sp != nil {
			sp.mu.Lock() // no upload recreates the old object
			defer sp.mu.Unlock()
		}
		if err := fsys.move(from, to); err != nil {
			return err
		}
		fsys.moveSpool(from, to)
		return nil
	}
	keys, err := fsys.list(from+"/", true)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := fsys.move(k, to+strings.TrimPrefix(k, from)); err != nil {
			return err
		}
		fsys.moveSpool(k, to+strings.TrimPrefix(k, from))
	}
	return nil
}

// move copies the object from to to and deletes from.
func (fsys *Fs) move(from, to string) error {
	_, err := fsys.c.CopyObject(ctx(), minio.CopyDestOptions{Bucket: fsys.bucket, Object: to}, minio.CopySrcOptions{Bucket: fsys.bucket, Object: from})
	if err != nil {
		return err
	}
	return fsys.c.RemoveObject(ctx(), fsys.bucket, from, minio.RemoveObjectOptions{})
}

// Stat returns the FileInfo of name.
func (fsys *Fs) Stat(name string) (os.FileInfo, error) {
	_, fi, err := fsys.existing(name, fsys.key(name))
	if err != nil {
		return nil, pathError("stat", name, err)
	}
	return fi, nil
}

// Chmod fails with ErrUnsupported: S3 keeps no mode.
func (fsys *Fs) Chmod(name string, mode os.FileMode) error {
	return pathError("chmod", name, ErrUnsupported)
}

// Chown fails with ErrUnsupported: S3 keeps no owner.
func (fsys *Fs) Chown(name string, uid, gid int) error {
	return pathError("chown", name, ErrUnsupported)
}

// Chtimes fails with ErrUnsupported: an object's time is its upload's.
func (fsys *Fs) Chtimes(name string, atime, mtime time.Time) error {
	return pathError("chtimes", name, ErrUnsupported)
}

// putOptions are the options of every upload.
func (fsys *Fs) putOptions() minio.PutObjectOptions {
	return minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: fsys.partSize, NumThreads: 4}
}

// readdir lists the directory key: its subdirectories and objects, by
// name, with the sizes of files open for writing in this Fs taken from
// their spools.
func (fsys *Fs) readdir(key string) ([]os.FileInfo, error) {
	prefix := key + "/"
	if fsys.isRoot(key) {
		prefix = key
	}
	var list []os.FileInfo
	for oi := range fsys.c.ListObjects(ctx(), fsys.bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if oi.Err != nil {
			return nil, oi.Err
		}
		name := strings.TrimPrefix(oi.Key, prefix)
		if name == "" {
			continue // the directory's marker
		}
		if sub, ok := strings.CutSuffix(name, "/"); ok {
			if sub != "" {
				list = append(list, dirInfo(sub, oi.LastModified))
			}
			continue
		}
		fi := &fileInfo{name: name, size: oi.Size, mode: 0o644, mtime: oi.LastModified}
		if sp := fsys.spoolOf(oi.Key); sp != nil {
			if sfi, err := sp.info(name); err == nil {
				fi = sfi
			}
		}
		list = append(list, fi)
	}
	slices.SortFunc(list, func(a, b os.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	return list, nil
}

// A fileInfo describes an object or a directory.
type fileInfo struct {
	name  string
	size  int64
	mode  os.FileMode
	mtime time.Time
}

func dirInfo(name string, mtime time.Time) *fileInfo {
	return &fileInfo{name: name, mode: os.ModeDir | 0o755, mtime: mtime}
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() os.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return nil }

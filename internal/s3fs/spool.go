package s3fs

import (
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
)

// A spool holds the contents of a file open for writing, in an unlinked
// temporary file, until they are uploaded. The handles of one Fs that
// write one key share it.
type spool struct {
	fsys *Fs
	f    *os.File
	key  string // guarded by fsys.mu: "" once the file was removed
	refs int    // guarded by fsys.mu: writable handles

	gen      atomic.Uint64 // changes made; uploaded is the last one uploaded
	mu       sync.Mutex    // held by an upload and by moves of the key
	uploaded uint64        // guarded by mu
	appendMu sync.Mutex    // makes each O_APPEND write atomic
}

// spoolOf returns the spool of key, or nil.
func (fsys *Fs) spoolOf(key string) *spool {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	return fsys.spools[key]
}

// openSpool returns the spool of key for a new writable handle: the one
// open already, or a new one holding the object's size bytes (none if
// trunc).
func (fsys *Fs) openSpool(key string, size int64, trunc bool) (*spool, error) {
	if sp := fsys.joinSpool(key); sp != nil {
		if trunc {
			return sp, sp.truncate(0)
		}
		return sp, nil
	}
	tmp, err := os.CreateTemp("", "s3fs-spool")
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name()) // the descriptor keeps it until Close
	sp := &spool{fsys: fsys, f: tmp, key: key, refs: 1}
	if size > 0 && !trunc {
		if err := fsys.download(key, tmp); err != nil {
			tmp.Close()
			return nil, err
		}
	}
	if size > 0 && trunc {
		sp.gen.Add(1) // the object still has the old contents
	}
	fsys.mu.Lock()
	if other := fsys.spools[key]; other != nil { // opened meanwhile
		other.refs++
		fsys.mu.Unlock()
		tmp.Close()
		if trunc {
			return other, other.truncate(0)
		}
		return other, nil
	}
	fsys.spools[key] = sp
	fsys.mu.Unlock()
	return sp, nil
}

// joinSpool adds a handle to the spool of key, if there is one.
func (fsys *Fs) joinSpool(key string) *spool {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	sp := fsys.spools[key]
	if sp != nil {
		sp.refs++
	}
	return sp
}

// download copies the object key into w.
func (fsys *Fs) download(key string, w io.Writer) error {
	body, _, _, err := fsys.core.GetObject(ctx(), fsys.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(w, body)
	return err
}

// unlink detaches the spool of key, just removed: its handles keep it,
// and it uploads nothing.
func (fsys *Fs) unlink(key string) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	if sp := fsys.spools[key]; sp != nil {
		sp.key = ""
		delete(fsys.spools, key)
	}
}

// moveSpool moves the spool of from, just renamed, to to; a spool of to
// is unlinked.
func (fsys *Fs) moveSpool(from, to string) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	if sp := fsys.spools[to]; sp != nil {
		sp.key = ""
		delete(fsys.spools, to)
	}
	if sp := fsys.spools[from]; sp != nil {
		delete(fsys.spools, from)
		sp.key = to
		fsys.spools[to] = sp
	}
}

func (sp *spool) writeAt(p []byte, off int64) (int, error) {
	n, err := sp.f.WriteAt(p, off)
	sp.gen.Add(1)
	return n, err
}

func (sp *spool) truncate(size int64) error {
	err := sp.f.Truncate(size)
	sp.gen.Add(1)
	return err
}

func (sp *spool) size() (int64, error) {
	fi, err := sp.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// info describes the spooled file as name.
func (sp *spool) info(name string) (*fileInfo, error) {
	fi, err := sp.f.Stat()
	if err != nil {
		return nil, err
	}
	return &fileInfo{name: name, size: fi.Size(), mode: 0o644, mtime: fi.ModTime()}, nil
}

// upload puts the spool's contents in its object, unless they are there
// already. Changes made during the upload may be in it or not; they are
// uploaded again by the next one.
func (sp *spool) upload() error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	gen := sp.gen.Load()
	if gen == sp.uploaded {
		return nil
	}
	size, err := sp.size()
	if err != nil {
		return err
	}
	fsys := sp.fsys
	fsys.mu.Lock()
	key := sp.key
	fsys.mu.Unlock()
	if key != "" {
		if _, err := fsys.c.PutObject(ctx(), fsys.bucket, key, io.NewSectionReader(sp.f, 0, size), size, fsys.putOptions()); err != nil {
			return err
		}
	}
	sp.uploaded = gen
	return nil
}

// release ends a writable handle's use of the spool: it uploads what
// changed, and the last handle closes it.
func (sp *spool) release() error {
	err := sp.upload()
	fsys := sp.fsys
	fsys.mu.Lock()
	sp.refs--
	last := sp.refs == 0
	if last && sp.key != "" && fsys.spools[sp.key] == sp {
		delete(fsys.spools, sp.key)
	}
	fsys.mu.Unlock()
	if last {
		sp.f.Close()
	}
	return err
}

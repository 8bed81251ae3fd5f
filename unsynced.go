package aiofs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// maxUnsynced bounds the closed files an Fs remembers for Fs.Sync; past
// it, Fs.Sync commits every file system instead.
const maxUnsynced = 1 << 16

// unsyncedFiles remembers the files written through the Fs, closed by all
// their handles and not yet committed, so that Fs.Sync can commit them:
// by name, since the Fs no longer holds a descriptor. Renames and removals
// through the Fs keep the names current; a file the name no longer leads
// to (renamed by another process) makes Fs.Sync commit everything.
// Guarded by Fs.mu.
type unsyncedFiles struct {
	names map[fileKey]string
	all   bool // more than maxUnsynced, or a name lost: sync everything
}

func (u *unsyncedFiles) add(key fileKey, name string) {
	if len(u.names) >= maxUnsynced {
		u.all = true
		return
	}
	if u.names == nil {
		u.names = make(map[fileKey]string)
	}
	u.names[key] = name
}

// take forgets the file with key, reporting whether it was remembered:
// it is open again, and its node tracks it.
func (u *unsyncedFiles) take(key fileKey) bool {
	_, ok := u.names[key]
	delete(u.names, key)
	return ok
}

// renamed follows a rename of oldname, a file or a directory.
func (u *unsyncedFiles) renamed(oldname, newname string) {
	for k, name := range u.names {
		if rest, ok := under(name, oldname); ok {
			u.names[k] = newname + rest
		}
	}
}

// removed forgets the files at or under name.
func (u *unsyncedFiles) removed(name string) {
	for k, n := range u.names {
		if _, ok := under(n, name); ok {
			delete(u.names, k)
		}
	}
}

// under reports whether name is dir or inside it, and returns the rest.
func under(name, dir string) (string, bool) {
	if name == dir {
		return "", true
	}
	d := strings.TrimSuffix(dir, string(filepath.Separator)) + string(filepath.Separator)
	if rest, ok := strings.CutPrefix(name, d); ok {
		return string(filepath.Separator) + rest, true
	}
	return "", false
}

// syncClosed commits the remembered files, and returns the first error.
// Files it cannot commit stay remembered.
func (fs *Fs) syncClosed() error {
	fs.mu.Lock()
	names, all := fs.unsynced.names, fs.unsynced.all
	fs.unsynced = unsyncedFiles{}
	fs.mu.Unlock()
	var first error
	for key, name := range names {
		err := fs.syncByName(key, name)
		if err == errNameLost {
			// On the OS, the file may live on under another name; a base
			// file that is gone needs no commit.
			all = all || !fs.wrapped
			continue
		}
		if err != nil {
			if first == nil {
				first = err
			}
			fs.mu.Lock()
			fs.unsynced.add(key, name)
			fs.mu.Unlock()
		}
	}
	if all {
		if fs.wrapped {
			return errTooManyUnsynced // a base has no sync(2)
		}
		if err := syncAll(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// errTooManyUnsynced says Fs.Sync had more closed files to commit than it
// remembers, and no call that commits them all.
var errTooManyUnsynced = errors.New("aiofs: too many closed files to commit")

// errNameLost says a remembered name no longer leads to its file.
var errNameLost = errors.New("aiofs: name no longer leads to the file")

// syncByName opens name, checks that it is still the file with key, and
// commits it.
func (fs *Fs) syncByName(key fileKey, name string) error {
	f, err := fs.base.Open(name)
	if err != nil {
		return errNameLost
	}
	defer f.Close()
	// In a wrapped Fs the key is the name the file had, and renames
	// through the Fs have moved the name: only the OS can tell more.
	fi, err := f.Stat()
	if err != nil || !fs.wrapped && fs.keyOf(name, fi) != key {
		return errNameLost
	}
	if err := fs.eng.fsync(f); err != nil {
		return &os.PathError{Op: "sync", Path: name, Err: err}
	}
	return nil
}

package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs"
	"github.com/aiofs/aiofs/internal/s3fs"
	"github.com/aiofs/aiofs/internal/sftpfs"
)

// openBackend returns the Fs that -backend names, the directory of it to
// serve, and what releases it. It prints the backend on stdout.
func openBackend(backend, root string) (afero.Fs, string, func() error, error) {
	if strings.HasPrefix(backend, "sftp://") {
		if root != "" {
			return nil, "", nil, fmt.Errorf("-root %s with -backend %s: the URL's path is the directory served", root, backend)
		}
		sfs, err := sftpfs.Dial(backend)
		if err != nil {
			return nil, "", nil, err
		}
		fsys, closeFs := wrapRemote(sfs)
		fmt.Printf("backend %s through aiofs.Wrap, engine %s\n", redact(backend), fsys.Stats().Engine)
		// Relative names resolve under the URL's path, the Fs's root.
		return fsys, ".", closeFs, nil
	}

	if strings.HasPrefix(backend, "s3://") || strings.HasPrefix(backend, "s3+http://") {
		if root != "" {
			return nil, "", nil, fmt.Errorf("-root %s with -backend %s: the URL's bucket and prefix are what is served", root, backend)
		}
		s3, err := s3fs.Dial(backend)
		if err != nil {
			return nil, "", nil, err
		}
		fsys, closeFs := wrapRemote(s3)
		fmt.Printf("backend %s through aiofs.Wrap, engine %s\n", redact(backend), fsys.Stats().Engine)
		return fsys, "/", closeFs, nil
	}

	if root == "" {
		root = "."
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, "", nil, err
	}
	if !fi.IsDir() {
		return nil, "", nil, fmt.Errorf("-root %s is not a directory", root)
	}
	switch backend {
	case "aiofs":
		afs := aiofs.New()
		st := afs.Stats()
		if st.Fallback != "" {
			fmt.Printf("backend aiofs, engine %s (fallback: %s)\n", st.Engine, st.Fallback)
		} else {
			fmt.Printf("backend aiofs, engine %s\n", st.Engine)
		}
		return afs, root, afs.Close, nil
	case "os":
		fmt.Println("backend os (afero.OsFs)")
		return afero.NewOsFs(), root, func() error { return nil }, nil
	}
	return nil, "", nil, fmt.Errorf(`-backend %q: want "aiofs", "os", sftp://[user@]host[:port][/path] or s3://host[:port]/bucket[/prefix]`, backend)
}

// A remote is a remote backend's Fs, which Close disconnects.
type remote interface {
	afero.Fs
	Close() error
}

// wrapRemote returns aiofs.Wrap over sfs and what closes both: the
// wrapper first, which writes back what it holds, then the connection.
func wrapRemote(sfs remote) (*aiofs.Fs, func() error) {
	fsys := aiofs.Wrap(sfs)
	return fsys, func() error {
		err := fsys.Close()
		if cerr := sfs.Close(); err == nil {
			err = cerr
		}
		return err
	}
}

// redact drops a password from an sftp:// URL before it is printed.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Redacted()
}

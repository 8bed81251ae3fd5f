package aiofs_test

// aiofs.Wrap over the SFTP Fs (internal/sftpfs), against both real
// servers of internal/sftptest: pkg/sftp's in process and OpenSSH's sshd.
// A missing sshd skips its half locally and fails it when CI=true.

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/aiofs/aiofs"
	"github.com/aiofs/aiofs/internal/sftpfs"
	"github.com/aiofs/aiofs/internal/sftptest"
	"github.com/pkg/sftp"
)

// sftpServers are the servers the tests run against.
var sftpServers = []struct {
	name   string
	start  func(root string) (*sftptest.Server, error)
	noSync bool // no fsync@openssh.com: every Sync fails with sftpfs.ErrNoFsync
}{
	{"inprocess", sftptest.StartInProcess, true},
	{"sshd", sftptest.StartSSHD, false},
}

// forSFTP runs f on each server, started on a fresh directory of its own
// (or root, if not ""), with a connection to it.
func forSFTP(t *testing.T, root string, f func(t *testing.T, srv *sftptest.Server, c *sftptest.Conn, noSync bool)) {
	for _, s := range sftpServers {
		t.Run(s.name, func(t *testing.T) {
			dir := root
			if dir == "" {
				dir = t.TempDir()
			}
			srv, c := sftptest.ForTest(t, s.start, dir)
			f(t, srv, c, s.noSync)
		})
	}
}

// TestWrapSFTPDifferential is TestWrapDifferential with the SFTP Fs as
// the base: both sides are directories of one server, each reached by an
// Fs rooted in it over the same connection.
func TestWrapSFTPDifferential(t *testing.T) {
	wrapChecks(t, 12)
	forSFTP(t, "", func(t *testing.T, srv *sftptest.Server, c *sftptest.Conn, noSync bool) {
		kind := wrapKind{name: "sftp", noSync: noSync, make: func(t wrapTB) (*wside, *wside) {
			side := func() *wside {
				dir, err := os.MkdirTemp(srv.Root(), "side")
				if err != nil {
					t.Fatalf("%v", err)
				}
				t.Cleanup(func() { os.RemoveAll(dir) })
				return &wside{base: sftpfs.NewRooted(c.Client, dir), hide: []string{dir, filepath.Base(dir)}}
			}
			return side(), side()
		}}
		// Serial (wrapChecks sets a flag), but its configurations run
		// in parallel: most of their time is the round trips.
		for _, cfg := range wrapConfigs {
			t.Run(cfg.name, func(t *testing.T) {
				t.Parallel()
				wrapDifferential(t, kind, 60, cfg.opts)
			})
		}
	})
}

// TestWrapSFTPCut cuts the connection while a flush is writing: the
// error is the lost connection's, sticky on Write, Sync and Close, and
// the server holds nothing but bytes that were written, all of those a
// Sync reported.
func TestWrapSFTPCut(t *testing.T) {
	forSFTP(t, "", func(t *testing.T, srv *sftptest.Server, c *sftptest.Conn, noSync bool) {
		ffs := newFaultFs(c.Fs())
		aio := aiofs.Wrap(ffs)
		defer aio.Close()
		f := mustOpen(t, aio, "cut", os.O_RDWR|os.O_CREATE)
		g := mustOpen(t, aio, "cut", os.O_RDWR)
		d1, d2 := pattern(uint64(1), 0, 100<<10), pattern(uint64(2), 0, 200<<10)
		if _, err := f.Write(d1); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil && !(noSync && errors.Is(err, sftpfs.ErrNoFsync)) {
			t.Fatalf("Sync: %v", err)
		}
		if _, err := f.Write(d2); err != nil {
			t.Fatal(err)
		}
		entered, release := ffs.holdWrites("cut", 64)
		synced := make(chan error, 1)
		go func() { synced <- f.Sync() }()
		<-entered
		if err := c.Cut(); err != nil {
			t.Fatal(err)
		}
		close(release)
		// The flush's write fails with the connection's error, lost or
		// closed under it; every later call reports the failure (a retry
		// of the data may meet the connection's end anew).
		lost := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, sftp.ErrSSHFxConnectionLost) && !errors.Is(err, net.ErrClosed) {
				t.Errorf("%s after the cut: %v; want the lost connection's error", what, err)
			}
		}
		lost("Sync", <-synced)
		_, err := f.Write(d1)
		lost("Write", err)
		_, err = g.Write(d1)
		lost("other handle's Write", err)
		lost("Sync again", f.Sync())
		lost("Close", f.Close())
		lost("other handle's Close", g.Close())
		want := append(append([]byte(nil), d1...), d2...)
		got, err := os.ReadFile(filepath.Join(srv.Root(), "cut"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < len(d1) || len(got) > len(want) || !bytes.Equal(got, want[:len(got)]) {
			t.Errorf("the server holds %d bytes; want what was written, at least the %d synced: %s", len(got), len(d1), diff(want, got, "want", "got"))
		}
	})
}

// TestWrapSFTPReaddirBatches: the SFTP client reads a directory's entries
// once and hands them out in batches, so a later batch can carry a size
// from before data the Fs held was flushed; Readdir corrects every entry
// whose file the Fs knows, not only while something is buffered (found by
// TestWrapSFTPDifferential).
func TestWrapSFTPReaddirBatches(t *testing.T) {
	forSFTP(t, "", func(t *testing.T, srv *sftptest.Server, c *sftptest.Conn, noSync bool) {
		aio := aiofs.Wrap(c.Fs())
		defer aio.Close()
		for _, name := range []string{"a", "b"} {
			if err := os.WriteFile(filepath.Join(srv.Root(), name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		d := mustOpen(t, aio, ".", os.O_RDONLY)
		defer d.Close()
		if _, err := d.Readdir(1); err != nil {
			t.Fatal(err)
		}
		data := pattern(uint64(1), 0, 1000)
		for _, name := range []string{"a", "b"} {
			f := mustOpen(t, aio, name, os.O_RDWR)
			if _, err := f.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
		fis, err := d.Readdir(-1)
		if err != nil || len(fis) != 1 {
			t.Fatalf("second Readdir: %v, %v; want one entry", fis, err)
		}
		if fis[0].Size() != int64(len(data)) {
			t.Errorf("Readdir reports %s with size %d; want %d, written and closed before the call", fis[0].Name(), fis[0].Size(), len(data))
		}
	})
}

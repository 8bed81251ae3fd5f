package aiofs_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aiofs/aiofs"
	"github.com/aiofs/aiofs/internal/sftptest"
	"github.com/spf13/afero"
)

// TestWrapSFTPFullDisk serves a 1 MiB tmpfs over SFTP and writes 4 MiB
// to it, through the bare SFTP Fs and through Wrap: write-through, Wrap's
// Writes fail as the bare ones do, at the same byte; with write-behind,
// Sync, Write and Close fail with the bare Fs's error, sticky. Either way
// the server holds only bytes that were written.
func TestWrapSFTPFullDisk(t *testing.T) {
	mnt := relTmpfs(t, "1m")
	forSFTP(t, mnt, func(t *testing.T, srv *sftptest.Server, c *sftptest.Conn, noSync bool) {
		fsys := c.Fs()
		data := pattern(uint64(9), 0, 4<<20)
		// onDisk fails t unless the server's file holds a prefix of data,
		// at least the first min bytes.
		onDisk := func(what string, min int) {
			t.Helper()
			got, err := os.ReadFile(filepath.Join(mnt, "full"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < min || !bytes.Equal(got, data[:len(got)]) {
				t.Errorf("%s: the server holds %d bytes, not a prefix of the %d written: %s", what, len(got), min, diff(data[:max(len(got), min)], got, "want", "got"))
			}
		}
		bareN, bareErr := fillThrough(fsys, data)
		if bareErr == nil {
			t.Fatal("bare SFTP Fs: 4 MiB fit on a 1 MiB tmpfs")
		}
		onDisk("bare", bareN)
		t.Logf("bare: %d bytes, then %v", bareN, bareErr)
		want := describeErr(bareErr)
		if err := fsys.Remove("full"); err != nil {
			t.Fatal(err)
		}

		t.Run("writethrough", func(t *testing.T) {
			aio := aiofs.Wrap(fsys, aiofs.WithWriteBehind(0))
			defer aio.Close()
			n, err := fillThrough(aio, data)
			if n != bareN || describeErr(err) != want {
				t.Errorf("Wrap: %d bytes, then %s; bare: %d bytes, then %s", n, describeErr(err), bareN, want)
			}
			onDisk("write-through", n)
			if err := aio.Remove("full"); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("writebehind", func(t *testing.T) {
			aio := aiofs.Wrap(fsys, aiofs.WithWriteBehind(8<<20))
			defer aio.Close()
			f, err := aio.Create("full")
			if err != nil {
				t.Fatal(err)
			}
			same := func(what string, err error) {
				t.Helper()
				if got := describeErr(err); got != want {
					t.Errorf("%s: %s; want the bare Fs's %s", what, got, want)
				}
			}
			// Writes smaller than a large one are buffered; a flush that
			// fails makes a later one fail, or else Sync.
			for off := 0; off < len(data); off += 64 << 10 {
				if _, err := f.Write(data[off : off+64<<10]); err != nil {
					same(fmt.Sprintf("Write at %d", off), err)
					break
				}
			}
			same("Sync", f.Sync())
			onDisk("after Sync", 0)
			_, err = f.Write(data[:10])
			same("Write after the failure", err)
			same("Sync again", f.Sync())
			same("Close", f.Close())
			onDisk("after Close", 0)
		})
	})
}

// fillThrough writes data to "full" in fsys in 64 KiB Writes and closes
// it, and returns the bytes Write accepted and the first error.
func fillThrough(fsys afero.Fs, data []byte) (int, error) {
	f, err := fsys.Create("full")
	if err != nil {
		return 0, err
	}
	total := 0
	for total < len(data) {
		n, err := f.Write(data[total:min(total+64<<10, len(data))])
		total += n
		if err != nil {
			f.Close()
			return total, err
		}
	}
	return total, f.Close()
}

// describeErr is an error as the full-disk test compares it: its type and
// text, and whether it is fs.ErrExist or fs.ErrNotExist.
func describeErr(err error) string {
	if err == nil {
		return "nil"
	}
	return fmt.Sprintf("%T(%q) exist=%v notexist=%v", err, err.Error(), errors.Is(err, os.ErrExist), errors.Is(err, os.ErrNotExist))
}

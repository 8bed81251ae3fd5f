package sftpfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aiofs/aiofs/internal/sftpfs"
	"github.com/aiofs/aiofs/internal/sftptest"
)

// TestConcurrentReadWriteAt has many WriteAt and then ReadAt calls in
// flight on one File at once, as aiofs issues them, each on its own block.
func TestConcurrentReadWriteAt(t *testing.T) {
	forServers(t, func(t *testing.T, fsys *sftpfs.Fs, _ *sftptest.Server) {
		const blocks, size = 64, 40 << 10 // more than one SFTP packet per call
		f, err := fsys.Create("c")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		block := func(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, size) }
		var wg sync.WaitGroup
		errs := make(chan error, 2*blocks)
		for i := range blocks {
			wg.Go(func() {
				if n, err := f.WriteAt(block(i), int64(i*size)); err != nil || n != size {
					errs <- fmt.Errorf("WriteAt block %d: %d, %v", i, n, err)
				}
			})
		}
		wg.Wait()
		for i := range blocks {
			wg.Go(func() {
				b := make([]byte, size)
				if n, err := f.ReadAt(b, int64(i*size)); err != nil || n != size || !bytes.Equal(b, block(i)) {
					errs <- fmt.Errorf("ReadAt block %d: %d, %v, data equal %v", i, n, err, bytes.Equal(b, block(i)))
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// TestSync: OpenSSH has fsync@openssh.com, pkg/sftp's server does not.
func TestSync(t *testing.T) {
	forServers(t, func(t *testing.T, fsys *sftpfs.Fs, _ *sftptest.Server) {
		f, err := fsys.Create("s")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
		_, has := fsys.Client().HasExtension("fsync@openssh.com")
		err = f.Sync()
		if has && err != nil {
			t.Errorf("Sync with fsync@openssh.com: %v", err)
		}
		if !has && (!errors.Is(err, sftpfs.ErrNoFsync) || !errors.Is(err, errors.ErrUnsupported)) {
			t.Errorf("Sync without fsync@openssh.com: %v, want ErrNoFsync", err)
		}
		if t.Name() == "TestSync/sshd" && !has {
			t.Error("OpenSSH's sftp server lacks fsync@openssh.com")
		}
	})
}

// TestDial logs in as a user would, with a key in ~/.ssh and the host in
// ~/.ssh/known_hosts, and checks the advice for an unknown host.
func TestDial(t *testing.T) {
	root := t.TempDir()
	srv, err := sftptest.StartInProcess(root)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	dotSSH, err := srv.MakeSSHDir(home)
	if err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(dotSSH, "known_hosts")
	if err := os.WriteFile(known, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("sftp://%s@%s%s", srv.User(), srv.Addr(), root)

	if _, err := sftpfs.Dial(url); err == nil || !strings.Contains(err.Error(), "ssh-keyscan") {
		t.Errorf("Dial of an unknown host: %v, want advice to add its key", err)
	}
	line := srv.KnownHostsLine()
	if err := os.WriteFile(known, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sftpfs.Dial(url + "/missing"); err == nil {
		t.Error("Dial with a missing root succeeded")
	}
	fsys, err := sftpfs.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := fsys.Create("rel"); err != nil {
		t.Error(err)
	} else {
		f.Close()
	}
	if _, err := os.Stat(filepath.Join(root, "rel")); err != nil {
		t.Errorf("a relative name is not under the root: %v", err)
	}
	if err := fsys.Close(); err != nil {
		t.Error(err)
	}
	if _, err := fsys.Stat("rel"); err == nil {
		t.Error("Stat after Close succeeded")
	}

	if err := os.Remove(filepath.Join(dotSSH, "id_ed25519")); err != nil {
		t.Fatal(err)
	}
	if _, err := sftpfs.Dial(url); err == nil || !strings.Contains(err.Error(), "ssh-keygen") {
		t.Errorf("Dial without keys: %v, want advice to make one", err)
	}
}

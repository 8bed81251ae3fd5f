//go:build unix

package sftptest

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// StartSSHD starts OpenSSH's sshd in the foreground on a free port of
// 127.0.0.1, with a host key, an authorized client key and an sshd_config
// of its own in a temporary directory: key authentication only, for the
// current user, with sftp served in process (internal-sftp). Clients use
// root's absolute path. sshd runs in a process group of its own, which
// Close kills whole, so no session process outlives the server. It needs
// root, as sshd does to log anyone in, and /usr/sbin/sshd; without it the
// error wraps ErrNoSSHD.
func StartSSHD(root string) (*Server, error) {
	if _, err := os.Stat(sshdPath); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoSSHD, err)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	k, err := newKeys()
	if err != nil {
		return nil, err
	}
	// sshd's privilege separation directory; Debian's package makes it at
	// boot, which a container may not have had.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("sftptest: sshd needs /run/sshd: %w", err)
	}
	dir, err := os.MkdirTemp("", "sftptest-sshd-")
	if err != nil {
		return nil, err
	}
	d := &sshd{dir: dir}
	if err := d.writeKeys(k); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A free port can be taken between our probe and sshd's bind; a few
	// tries make that harmless.
	for try := 0; ; try++ {
		err = d.start()
		if err == nil || try == 3 {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Server{
		addr: d.addr, root: root, user: u.Username,
		hostKey: k.host, client: k.client, clientKey: k.clientKey,
		stop: d.close,
	}, nil
}

// sshd is one running sshd and its directory.
type sshd struct {
	dir    string
	addr   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	log    lockedBuffer
}

func (d *sshd) writeKeys(k keys) error {
	host, err := ssh.MarshalPrivateKey(k.hostKey, "sftptest-host")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d.dir, "host"), pem.EncodeToMemory(host), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.dir, "authorized_keys"), ssh.MarshalAuthorizedKey(k.client.PublicKey()), 0o600)
}

// start runs sshd on a port that was free a moment ago and waits until it
// answers with its SSH banner.
func (d *sshd) start() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	d.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	config := filepath.Join(d.dir, "sshd_config")
	conf := strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"Port " + strconv.Itoa(port),
		"HostKey " + filepath.Join(d.dir, "host"),
		"PidFile " + filepath.Join(d.dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(d.dir, "authorized_keys"),
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"AllowTcpForwarding no",
		"X11Forwarding no",
		"MaxStartups 100",
		"MaxSessions 100",
		"Subsystem sftp internal-sftp",
		"",
	}, "\n")
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		return err
	}
	d.log.Reset()
	d.cmd = exec.Command(sshdPath, "-D", "-e", "-f", config)
	d.cmd.Stderr = &d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("sftptest: starting sshd: %w", err)
	}
	d.exited = make(chan struct{})
	go func() {
		d.cmd.Wait()
		close(d.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if banner(d.addr) {
			return nil
		}
		select {
		case <-d.exited:
			d.kill()
			return fmt.Errorf("sftptest: sshd exited (%v): %s", d.cmd.ProcessState, strings.TrimSpace(d.log.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.kill()
			return fmt.Errorf("sftptest: sshd did not listen on %s in 30s: %s", d.addr, strings.TrimSpace(d.log.String()))
		}
	}
}

// banner reports whether an SSH server answers at addr.
func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4)
	_, err = c.Read(b)
	return err == nil && string(b) == "SSH-"
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// kill kills sshd's process group, sshd and the session processes it
// forked, waits for sshd and then until no process of the group is left.
func (d *sshd) kill() error {
	pgid := d.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-d.exited
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("sftptest: processes of sshd's group %d are still alive", pgid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (d *sshd) close() error {
	err := d.kill()
	if rerr := os.RemoveAll(d.dir); err == nil {
		err = rerr
	}
	return err
}

// lockedBuffer is sshd's stderr: written by exec's copying goroutine and
// read for error messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

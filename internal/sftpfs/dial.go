package sftpfs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// NewClient starts an SFTP session on conn. Unlike sftp.NewClient, a
// request sent after the connection was lost fails with
// sftp.ErrSSHFxConnectionLost rather than io.EOF, so a lost connection is
// never taken for an end of file. Closing the client ends the session, not
// conn.
func NewClient(conn *ssh.Client, opts ...sftp.ClientOption) (*sftp.Client, error) {
	s, err := conn.NewSession()
	if err != nil {
		return nil, err
	}
	w, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	r, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		s.Close()
		return nil, fmt.Errorf("sftpfs: starting the sftp subsystem: %w", err)
	}
	return sftp.NewClientPipe(r, lostGuard{w: w, close: s.Close}, opts...)
}

// Dial connects to rawURL, sftp://[user@]host[:port][/path], and returns
// an Fs rooted at path (the server's working directory, usually the
// user's home, when there is none). It authenticates with ~/.ssh/id_ed25519,
// id_ecdsa and id_rsa (those without a passphrase) and with the ssh-agent at
// SSH_AUTH_SOCK, and checks the server's host key against
// ~/.ssh/known_hosts. The Fs's Close closes the connection.
func Dial(rawURL string) (*Fs, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sftpfs: %w", err)
	}
	if u.Scheme != "sftp" || u.Host == "" {
		return nil, fmt.Errorf("sftpfs: %q is not an sftp://[user@]host[:port][/path] URL", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "22")
	}
	name := u.User.Username()
	if name == "" {
		cur, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("sftpfs: no user in %q and no current user: %w", rawURL, err)
		}
		name = cur.Username
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, fmt.Errorf("sftpfs: finding ~/.ssh: %w", err)
	}
	dotSSH := filepath.Join(home, ".ssh")

	auth, keys, closeAgent, err := authMethods(dotSSH)
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	knownHosts := filepath.Join(dotSSH, "known_hosts")
	hostKeys, err := knownhosts.New(knownHosts)
	if err != nil {
		return nil, fmt.Errorf("sftpfs: reading the known hosts: %w (add the server's key with: ssh-keyscan -p %s %s >> %s)",
			err, portOf(addr), u.Hostname(), knownHosts)
	}
	conn, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            name,
		Auth:            auth,
		HostKeyCallback: hostKeys,
	})
	if err != nil {
		return nil, explainDial(err, name, addr, keys, knownHosts)
	}
	c, err := NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sftpfs: %s: %w (does the server allow the sftp subsystem?)", addr, err)
	}
	fsys := newFs(c, u.Path, dialed{c, conn})
	if u.Path != "" {
		fi, err := c.Stat(u.Path)
		if err == nil && !fi.IsDir() {
			err = fmt.Errorf("not a directory")
		}
		if err != nil {
			fsys.Close()
			return nil, fmt.Errorf("sftpfs: the root %s on %s: %w", u.Path, addr, cause(err))
		}
	}
	return fsys, nil
}

// dialed closes the client and then the connection Dial made.
type dialed struct {
	c    *sftp.Client
	conn *ssh.Client
}

func (d dialed) Close() error {
	err := d.c.Close()
	if cerr := d.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// authMethods returns the keys found in dir and the agent's, with the
// names of the key files used, for error messages.
func authMethods(dir string) ([]ssh.AuthMethod, []string, func(), error) {
	var signers []ssh.Signer
	var used, skipped []string
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		file := filepath.Join(dir, name)
		pem, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("sftpfs: %w", err)
		}
		s, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			skipped = append(skipped, file)
			continue
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("sftpfs: %s: %w", file, err)
		}
		signers = append(signers, s)
		used = append(used, file)
	}
	var auth []ssh.AuthMethod
	if len(signers) > 0 {
		auth = append(auth, ssh.PublicKeys(signers...))
	}
	closeAgent := func() {}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("sftpfs: the ssh-agent at SSH_AUTH_SOCK=%s: %w (start one, or unset SSH_AUTH_SOCK)", sock, err)
		}
		auth = append(auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		used = append(used, "the ssh-agent's keys")
		closeAgent = func() { conn.Close() }
	}
	if len(auth) == 0 {
		msg := fmt.Sprintf("sftpfs: no key to log in with: none of id_ed25519, id_ecdsa, id_rsa in %s and no SSH_AUTH_SOCK", dir)
		if len(skipped) > 0 {
			msg += fmt.Sprintf("; %s need a passphrase: add them to an ssh-agent (ssh-add)", strings.Join(skipped, ", "))
		} else {
			msg += fmt.Sprintf("; create one with ssh-keygen -t ed25519 and add %s.pub to the server's authorized_keys", filepath.Join(dir, "id_ed25519"))
		}
		return nil, nil, nil, errors.New(msg)
	}
	return auth, used, closeAgent, nil
}

// explainDial says what to fix for the usual ways an SSH login fails.
func explainDial(err error, name, addr string, keys []string, knownHosts string) error {
	var keyErr *knownhosts.KeyError
	if errors.As(err, &keyErr) {
		if len(keyErr.Want) == 0 {
			return fmt.Errorf("sftpfs: %s is not in %s: check its host key and add it with: ssh-keyscan -p %s %s >> %s",
				addr, knownHosts, portOf(addr), hostOf(addr), knownHosts)
		}
		return fmt.Errorf("sftpfs: the host key of %s does not match the one in %s:%d: the server was reinstalled or someone is in the middle; if the new key is right, remove the old line (ssh-keygen -R %s)",
			addr, keyErr.Want[0].Filename, keyErr.Want[0].Line, knownhosts.Normalize(addr))
	}
	if strings.Contains(err.Error(), "unable to authenticate") {
		return fmt.Errorf("sftpfs: %s refused %s's keys (%s): add the public key to ~%s/.ssh/authorized_keys on the server: %w",
			addr, name, strings.Join(keys, ", "), name, err)
	}
	return fmt.Errorf("sftpfs: connecting to %s: %w", addr, err)
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func hostOf(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return host
}

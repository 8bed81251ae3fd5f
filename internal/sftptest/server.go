// Package sftptest starts real SFTP servers on 127.0.0.1 for tests,
// benchmarks and examples: pkg/sftp's server in process, and OpenSSH's
// sshd with a configuration of its own. Each server has a fresh host key
// and accepts one client key, both made in memory.
package sftptest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aiofs/aiofs/internal/connset"
	"github.com/aiofs/aiofs/internal/delayproxy"
	"github.com/aiofs/aiofs/internal/sftpfs"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// A Server is a running SFTP server on 127.0.0.1 serving the files under
// its root.
type Server struct {
	addr      string
	root      string
	user      string
	hostKey   ssh.Signer
	client    ssh.Signer
	clientKey ed25519.PrivateKey
	stop      func() error // stops the server itself

	conns connset.Set[*Conn]
}

// keys holds a new host key and client key.
type keys struct {
	host, client       ssh.Signer
	hostKey, clientKey ed25519.PrivateKey
}

func newKeys() (keys, error) {
	var k keys
	var err error
	if _, k.hostKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return k, err
	}
	if _, k.clientKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return k, err
	}
	if k.host, err = ssh.NewSignerFromKey(k.hostKey); err != nil {
		return k, err
	}
	k.client, err = ssh.NewSignerFromKey(k.clientKey)
	return k, err
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Root returns the absolute path of the directory served, on this
// machine and on the server alike: the root to give an sftpfs.Fs.
func (s *Server) Root() string { return s.root }

// User returns the user name the server accepts.
func (s *Server) User() string { return s.user }

// HostKey returns the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// ClientKeyPEM returns the private key the server accepts, in OpenSSH's
// format, as a file in ~/.ssh would hold it.
func (s *Server) ClientKeyPEM() ([]byte, error) {
	b, err := ssh.MarshalPrivateKey(s.clientKey, "sftptest")
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(b), nil
}

// MakeSSHDir makes home/.ssh as a user's holds the client key the server
// accepts (id_ed25519), and returns its path. What known_hosts holds is
// the test's to say (KnownHostsLine).
func (s *Server) MakeSSHDir(home string) (string, error) {
	dir := filepath.Join(home, ".ssh")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	key, err := s.ClientKeyPEM()
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "id_ed25519"), key, 0o600)
}

// KnownHostsLine returns the line of known_hosts that names the server's
// host key.
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, s.HostKey())
}

// ClientConfig returns an SSH client configuration that logs in to the
// server and accepts only its host key.
func (s *Server) ClientConfig() *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            s.user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.client)},
		HostKeyCallback: ssh.FixedHostKey(s.hostKey.PublicKey()),
		Timeout:         30 * time.Second,
	}
}

// A Conn is one SSH connection to a Server with an SFTP session on it,
// through a delay proxy if one was asked for.
type Conn struct {
	// Client is the SFTP client, made with sftpfs.NewClient.
	Client *sftp.Client

	srv   *Server
	tcp   net.Conn
	ssh   *ssh.Client
	proxy *delayproxy.Proxy

	closeOnce sync.Once
	closeErr  error
}

// Dial connects to the server. With delay > 0 the connection goes through
// a delayproxy.Proxy that delays each direction by delay (1 ms each way is
// a 2 ms round trip). opts go to the SFTP client.
func (s *Server) Dial(delay time.Duration, opts ...sftp.ClientOption) (*Conn, error) {
	c := &Conn{srv: s}
	if !s.conns.Add(c) {
		return nil, errors.New("sftptest: the server is closed")
	}
	var addr string
	var err error
	if c.proxy, addr, err = delayproxy.Via(s.addr, delay); err == nil {
		err = c.dial(addr, opts)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) dial(addr string, opts []sftp.ClientOption) error {
	cfg := c.srv.ClientConfig()
	tcp, err := net.DialTimeout("tcp", addr, cfg.Timeout)
	if err != nil {
		return err
	}
	c.tcp = tcp
	sc, chans, reqs, err := ssh.NewClientConn(tcp, addr, cfg)
	if err != nil {
		return err
	}
	c.ssh = ssh.NewClient(sc, chans, reqs)
	c.Client, err = sftpfs.NewClient(c.ssh, opts...)
	return err
}

// Fs returns an sftpfs.Fs over the connection rooted at the server's
// root. Closing the Fs leaves the connection open.
func (c *Conn) Fs() *sftpfs.Fs {
	return sftpfs.NewRooted(c.Client, c.srv.root)
}

// Cut closes the TCP connection under the client at once, as a network
// failure would: requests in flight and later ones fail with
// sftp.ErrSSHFxConnectionLost. Close is still needed.
func (c *Conn) Cut() error {
	return c.tcp.Close()
}

// Close closes the SFTP client, the SSH connection and the proxy.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		if c.Client != nil {
			c.Client.Close()
		}
		if c.ssh != nil {
			c.closeErr = c.ssh.Close()
		} else if c.tcp != nil {
			c.closeErr = c.tcp.Close()
		}
		if c.proxy != nil {
			c.proxy.Close()
		}
		c.srv.conns.Remove(c)
	})
	if errors.Is(c.closeErr, net.ErrClosed) {
		return nil // cut before
	}
	return c.closeErr
}

// Close closes the connections made with Dial and stops the server. It
// returns once the server's goroutines or processes have ended.
func (s *Server) Close() error {
	for _, c := range s.conns.Close() {
		c.Close()
	}
	return s.stop()
}

package sftptest

import (
	"net"
	"os"
	"os/user"
	"path/filepath"
	"sync"

	"github.com/aiofs/aiofs/internal/connset"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// StartInProcess starts pkg/sftp's server (sftp.NewServer) behind an SSH
// server from golang.org/x/crypto/ssh, in this process, on 127.0.0.1:0.
// It serves the files under root, which is also its working directory.
func StartInProcess(root string) (*Server, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	k, err := newKeys()
	if err != nil {
		return nil, err
	}
	name := "sftptest"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	clientKey := k.client.PublicKey().Marshal()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if meta.User() == name && string(key.Marshal()) == string(clientKey) {
				return nil, nil
			}
			return nil, errUnknownKey
		},
	}
	cfg.AddHostKey(k.host)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ip := &inProcess{ln: ln, cfg: cfg, root: root}
	ip.wg.Add(1)
	go ip.accept()
	return &Server{
		addr: ln.Addr().String(), root: root, user: name,
		hostKey: k.host, client: k.client, clientKey: k.clientKey,
		stop: ip.close,
	}, nil
}

var errUnknownKey = errorString("sftptest: not the client key this server accepts")

type errorString string

func (e errorString) Error() string { return string(e) }

// inProcess is the SSH side of StartInProcess's server.
type inProcess struct {
	ln    net.Listener
	cfg   *ssh.ServerConfig
	root  string
	wg    sync.WaitGroup // every goroutine of the server
	conns connset.Set[net.Conn]
}

func (ip *inProcess) accept() {
	defer ip.wg.Done()
	for {
		c, err := ip.ln.Accept()
		if err != nil {
			return // closed; a loopback listener has no other failure worth retrying
		}
		if !ip.conns.Add(c) {
			c.Close()
			return
		}
		ip.wg.Add(1) // while accept's own count holds close's Wait off
		go ip.serveConn(c)
	}
}

// serveConn runs one SSH connection: session channels whose "sftp"
// subsystem request starts an SFTP server on the channel.
func (ip *inProcess) serveConn(c net.Conn) {
	defer ip.wg.Done()
	defer func() {
		ip.conns.Remove(c)
		c.Close()
	}()
	sc, chans, reqs, err := ssh.NewServerConn(c, ip.cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		ssh.DiscardRequests(reqs)
	}()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip.serveSession(ch, chReqs, &wg)
		}()
	}
}

// serveSession answers a session's requests; the first "sftp" subsystem
// request starts an SFTP server on the channel, in a goroutine counted in
// wg, which closes the channel when the client is done.
func (ip *inProcess) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request, wg *sync.WaitGroup) {
	defer ch.Close()
	started := false
	for req := range reqs {
		// The payload of a subsystem request is the name as an SSH string.
		ok := !started && req.Type == "subsystem" && string(req.Payload) == "\x00\x00\x00\x04sftp"
		req.Reply(ok, nil)
		if !ok {
			continue
		}
		started = true
		srv, err := sftp.NewServer(ch, sftp.WithServerWorkingDirectory(ip.root))
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.Serve()
			srv.Close()
		}()
	}
}

// close stops accepting, closes every connection and waits for all the
// server's goroutines.
func (ip *inProcess) close() error {
	for _, c := range ip.conns.Close() {
		c.Close()
	}
	err := ip.ln.Close()
	ip.wg.Wait()
	return err
}

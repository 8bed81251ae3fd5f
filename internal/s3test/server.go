package s3test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aiofs/aiofs/internal/connset"
	"github.com/aiofs/aiofs/internal/delayproxy"
	"github.com/aiofs/aiofs/internal/s3fs"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// A Server is a running `weed server -s3` on 127.0.0.1, its data in a
// temporary directory of its own.
type Server struct {
	addr  string // the S3 gateway's host:port
	cmd   *exec.Cmd
	stdin io.Closer     // closing it stops the server
	log   string        // weed's output
	done  chan struct{} // closed when the process has exited

	conns connset.Set[*Conn]
}

// supervisor runs weed ($3...) and, when its standard input ends (Close,
// or the exit of the process that started it, however it ends), kills
// weed and removes its data directory ($1) and the gRPC sockets weed
// makes in /tmp for its ports ($2). So no weed outlives its test.
const supervisor = `dir=$1 ports=$2; shift 2
exec 3<&0 # a job's standard input would be /dev/null
"$@" & pid=$!
{ cat <&3 >/dev/null; kill -9 $pid 2>/dev/null; } &
wait $pid
for p in $ports; do rm -f /tmp/seaweedfs-*-$p.sock; done
rm -rf "$dir"
`

// Start starts a server with the weed binary at bin (see Binary), and
// waits until its S3 gateway takes writes: about 10 seconds, most of it
// SeaweedFS's filers agreeing on a lock ring.
func Start(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "aiofs-weed")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Free ports, found by listening on port 0; another process may take
	// one before weed does, and then the start fails.
	ports, err := freePorts(8)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	s := &Server{addr: "127.0.0.1:" + p(6), log: filepath.Join(dir, "weed.log"), done: make(chan struct{})}
	// A file, not a pipe to this process: once this process is gone,
	// writes to a pipe would kill the supervisor before it cleans up.
	log, err := os.Create(s.log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer log.Close()
	s.cmd = exec.Command("/bin/sh", "-c", supervisor, "s3test", dir, strings.Join([]string{p(1), p(3), p(5), p(6), p(7)}, " "),
		bin, "server",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-dir="+filepath.Join(dir, "data"),
		"-master.port="+p(0), "-master.port.grpc="+p(1),
		"-volume.port="+p(2), "-volume.port.grpc="+p(3),
		"-filer", "-filer.port="+p(4), "-filer.port.grpc="+p(5),
		"-filer.localSocket="+filepath.Join(dir, "filer.sock"),
		"-s3", "-s3.port="+p(6), "-s3.port.grpc="+p(7),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		// Nothing leaves the machine: no usage reports.
		"-master.telemetry=false", "-master.telemetry.url=http://127.0.0.1:1/",
		"-volume.max=0", "-master.volumeSizeLimitMB=256", "-volume.preStopSeconds=0",
	)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.Env = append(os.Environ(), "HOME="+dir) // weed looks for configuration files in $HOME
	s.cmd.SysProcAttr = sysProcAttr()
	stdin, err := s.cmd.StdinPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.stdin = stdin
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(90 * time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady waits until a bucket can be made and an object written.
func (s *Server) waitReady(limit time.Duration) error {
	c, err := newClient(s.addr, nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var last error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("s3test: weed exited: %v\n%s", s.cmd.ProcessState, s.tail())
		case <-ctx.Done():
			return fmt.Errorf("s3test: weed's S3 gateway not ready after %v: %v\n%s", limit, last, s.tail())
		case <-time.After(200 * time.Millisecond):
		}
		last = c.MakeBucket(ctx, "ready", minio.MakeBucketOptions{})
		if last != nil && minio.ToErrorResponse(last).Code == "BucketAlreadyOwnedByYou" {
			last = nil
		}
		if last == nil {
			_, last = c.PutObject(ctx, "ready", "probe", strings.NewReader("ok"), 2, minio.PutObjectOptions{})
		}
		if last == nil {
			return nil
		}
	}
}

// Addr returns the S3 gateway's host:port.
func (s *Server) Addr() string { return s.addr }

// Close closes the connections made with Dial, stops the server and
// removes its data.
func (s *Server) Close() error {
	for _, c := range s.conns.Close() {
		c.Close()
	}
	return s.stop()
}

// stop ends the process and removes its data.
func (s *Server) stop() error {
	s.stdin.Close()
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("s3test: weed did not stop")
	}
}

// A Conn is an S3 client of a Server, through a delay proxy if one was
// asked for, whose TCP connections the test can cut.
type Conn struct {
	// Client fails a request at the first error instead of retrying it,
	// so that the tests see the failures they make.
	Client *minio.Client

	srv       *Server
	transport *http.Transport
	proxy     *delayproxy.Proxy

	mu    sync.Mutex
	tcp   map[net.Conn]struct{} // open connections
	dials int
	reqs  map[string]int // requests made, by method
	holds []*Hold
	once  sync.Once
}

// Dial returns a client of the server. With delay > 0 its connections go
// through a delayproxy.Proxy that delays each direction by delay (1 ms
// each way is a 2 ms round trip).
func (s *Server) Dial(delay time.Duration) (*Conn, error) {
	c := &Conn{srv: s, tcp: map[net.Conn]struct{}{}, reqs: map[string]int{}}
	if !s.conns.Add(c) {
		return nil, errors.New("s3test: the server is closed")
	}
	var addr string
	var err error
	if c.proxy, addr, err = delayproxy.Via(s.addr, delay); err == nil {
		c.Client, err = newClient(addr, c)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// newClient returns an anonymous client of the gateway at addr that does
// not retry; with c, its connections are c's.
func newClient(addr string, c *Conn) (*minio.Client, error) {
	tr := &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	if c != nil {
		c.transport = tr
		d := &net.Dialer{Timeout: 10 * time.Second}
		tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, a)
			if err != nil {
				return nil, err
			}
			return c.trackTCP(conn), nil
		}
	}
	var rt http.RoundTripper = tr
	if c != nil {
		rt = holdingTransport{c: c, base: tr}
	}
	return minio.New(addr, &minio.Options{
		Creds:      credentials.NewStaticV4("", "", ""),
		Region:     "us-east-1",
		Transport:  rt,
		MaxRetries: 1,
	})
}

// Fs returns an s3fs.Fs over bucket, made if it does not exist, with keys
// under prefix. Several may make one bucket at once: SeaweedFS has once
// answered NoSuchBucket to such a MakeBucket (CI, two parallel tests), so
// that answer is taken as "being made" and the call made again.
func (c *Conn) Fs(bucket, prefix string) (*s3fs.Fs, error) {
	for try := 0; ; try++ {
		err := c.Client.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{})
		switch code := minio.ToErrorResponse(err).Code; {
		case err == nil || code == "BucketAlreadyOwnedByYou":
			return s3fs.New(c.Client, bucket, prefix), nil
		case code != "NoSuchBucket" || try == 20:
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Object returns what fsys's bucket holds under fsys's key of name, read
// with fsys's client directly, as another client of the store reads it.
func Object(fsys *s3fs.Fs, name string) ([]byte, error) {
	bucket, _ := fsys.Bucket()
	o, err := fsys.Client().GetObject(context.Background(), bucket, fsys.Key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}

// Cut closes every TCP connection of the client at once, as a network
// failure would: requests in flight fail; later requests connect anew.
func (c *Conn) Cut() {
	c.mu.Lock()
	conns := make([]net.Conn, 0, len(c.tcp))
	for conn := range c.tcp {
		conns = append(conns, conn)
	}
	c.mu.Unlock()
	for _, conn := range conns {
		conn.Close()
	}
}

// Open returns how many TCP connections of the client are open, and how
// many it has made.
func (c *Conn) Open() (open, dials int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tcp), c.dials
}

// Requests returns how many requests the client has made, by method.
func (c *Conn) Requests() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.reqs)
}

// Close closes the client's idle connections and the proxy. Requests in
// flight keep their connections until they end.
func (c *Conn) Close() error {
	c.once.Do(func() {
		if c.transport != nil {
			c.transport.CloseIdleConnections()
		}
		if c.proxy != nil {
			c.proxy.Close()
		}
		c.srv.conns.Remove(c)
	})
	return nil
}

func (c *Conn) trackTCP(conn net.Conn) net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dials++
	t := &trackedConn{Conn: conn, c: c}
	c.tcp[t] = struct{}{}
	return t
}

// A trackedConn leaves its Conn's set when closed.
type trackedConn struct {
	net.Conn
	c    *Conn
	once sync.Once
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.c.mu.Lock()
		delete(t.c.tcp, t)
		t.c.mu.Unlock()
	})
	return t.Conn.Close()
}

// freePorts returns n distinct free TCP ports of 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tail returns the end of weed's output, for error messages.
func (s *Server) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Package delayproxy is a TCP proxy that delays the bytes it forwards by a
// fixed time in each direction, to make a loopback service look like one
// across a slow link. It is a delay line, not stop-and-wait: every chunk
// read from one side is stamped with its arrival time and written to the
// other side once the delay has passed, in order, while later chunks keep
// being read, so a pipelining protocol keeps many chunks in flight and
// loses latency, not bandwidth.
package delayproxy

import (
	"errors"
	"net"
	"sync"
	"time"
)

// A Proxy forwards each connection accepted on its listener to a target
// address.
type Proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New returns a Proxy that forwards connections accepted on ln to target,
// delaying each direction by delay. Call Serve to start it.
func New(ln net.Listener, target string, delay time.Duration) *Proxy {
	return &Proxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]struct{}{}}
}

// Addr returns the address the proxy listens on.
func (p *Proxy) Addr() net.Addr { return p.ln.Addr() }

// Serve accepts connections until Close; it returns nil after Close.
func (p *Proxy) Serve() error {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !p.track(c) {
			c.Close()
			return nil
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(c)
		}()
	}
}

// Close stops accepting, closes every connection and waits for their
// goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// track records c so that Close can close it; it reports false once the
// proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// forward connects client to the target and runs one delay line each way.
func (p *Proxy) forward(client net.Conn) {
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		server.Close()
		return
	}
	defer p.untrack(server)
	done := make(chan struct{})
	go func() {
		p.line(server, client)
		close(done)
	}()
	p.line(client, server)
	<-done
}

// A chunk is bytes read from one side, due on the other at a given time.
type chunk struct {
	buf *[chunkSize]byte
	n   int
	due time.Time
}

// chunkSize is the most one read takes from a side. The buffers are
// pooled and go back once written, so a connection holds one per
// direction while idle and otherwise what is in flight: the proxy runs in
// the process of the benchmarks whose memory is measured, beside as many
// connections as they open (64 under Wrap's readahead), and a buffer and
// a copy per read were that process's largest garbage.
const chunkSize = 32 << 10

var chunks = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// inFlight bounds the chunks queued in one direction; when it is reached
// the reader stops reading and TCP's flow control pushes back on the
// sender, as a full link would. 256 chunks a millisecond is more than a
// read a side on this machine makes.
const inFlight = 256

// line copies src to dst, each chunk delay after it was read. When src
// ends, dst's write side is shut down so that the peer sees the end of
// stream after the bytes before it; when dst fails, both are closed.
func (p *Proxy) line(dst, src net.Conn) {
	queue := make(chan chunk, inFlight)
	go func() {
		defer close(queue)
		for {
			buf := chunks.Get().(*[chunkSize]byte)
			n, err := src.Read(buf[:])
			if n > 0 {
				queue <- chunk{buf, n, time.Now().Add(p.delay)}
			} else {
				chunks.Put(buf)
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range queue {
		if !failed {
			time.Sleep(time.Until(c.due))
			if _, err := dst.Write(c.buf[:c.n]); err != nil {
				failed = true
				dst.Close()
				src.Close()
			}
		}
		chunks.Put(c.buf) // and drain until the reader sees src closed
	}
	if failed {
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
}

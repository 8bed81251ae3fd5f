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

	"github.com/aiofs/aiofs/internal/connset"
)

// A Proxy forwards each connection accepted on its listener to a target
// address.
type Proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	conns  connset.Set[net.Conn]
	wg     sync.WaitGroup
	served chan struct{} // closed when Serve returns, if Start started it
}

// New returns a Proxy that forwards connections accepted on ln to target,
// delaying each direction by delay. Call Serve to start it.
func New(ln net.Listener, target string, delay time.Duration) *Proxy {
	return &Proxy{ln: ln, target: target, delay: delay}
}

// Start returns a Proxy to target on a port of 127.0.0.1 of its own,
// serving until Close.
func Start(target string, delay time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := New(ln, target, delay)
	p.served = make(chan struct{})
	go func() {
		defer close(p.served)
		p.Serve()
	}()
	return p, nil
}

// Via returns the address to dial for target: with delay > 0 that of a
// new Proxy to it (see Start), else target itself and a nil Proxy.
func Via(target string, delay time.Duration) (*Proxy, string, error) {
	if delay <= 0 {
		return nil, target, nil
	}
	p, err := Start(target, delay)
	if err != nil {
		return nil, "", err
	}
	return p, p.Addr().String(), nil
}

// Addr returns the address the proxy listens on.
func (p *Proxy) Addr() net.Addr { return p.ln.Addr() }

// Serve accepts connections until Close; it returns nil after Close.
func (p *Proxy) Serve() error {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.conns.Closed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !p.conns.Add(c) {
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
// goroutines to end, and for Serve's if Start started it.
func (p *Proxy) Close() error {
	for _, c := range p.conns.Close() {
		c.Close()
	}
	err := p.ln.Close()
	p.wg.Wait()
	if p.served != nil {
		<-p.served
	}
	return err
}

func (p *Proxy) untrack(c net.Conn) {
	p.conns.Remove(c)
	c.Close()
}

// forward connects client to the target and runs one delay line each way.
func (p *Proxy) forward(client net.Conn) {
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.conns.Add(server) {
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

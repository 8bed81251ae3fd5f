package delayproxy

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// startEcho starts a TCP echo server on 127.0.0.1 that half-closes after
// echoing everything it read.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

// startProxy starts a Proxy to target and stops it when t ends.
func startProxy(t *testing.T, target string, delay time.Duration) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := New(ln, target, delay)
	served := make(chan error, 1)
	go func() { served <- p.Serve() }()
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve after Close: %v", err)
		}
	})
	return p
}

// TestRoundTripDelayed checks that a reply comes no sooner than the delay
// each way: the proxy never forwards a chunk early.
func TestRoundTripDelayed(t *testing.T) {
	const delay = 20 * time.Millisecond
	p := startProxy(t, startEcho(t), delay)
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 5)
	for range 3 {
		start := time.Now()
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if rtt := time.Since(start); rtt < 2*delay {
			t.Errorf("round trip took %v, want at least %v", rtt, 2*delay)
		}
		if string(buf) != "hello" {
			t.Fatalf("echo = %q, want %q", buf, "hello")
		}
	}
}

// TestStreamsIntact sends random streams in many pieces over concurrent
// connections, reading while writing, and checks that each comes back
// whole and in order, and that a half-close travels through behind the
// data.
func TestStreamsIntact(t *testing.T) {
	p := startProxy(t, startEcho(t), time.Millisecond)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			want := make([]byte, 1<<20+r.IntN(1<<16))
			for j := range want {
				want[j] = byte(r.Uint32())
			}
			c, err := net.Dial("tcp", p.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			wrote := make(chan error, 1)
			go func() {
				rest := want
				for len(rest) > 0 {
					n := min(len(rest), 1+r.IntN(100<<10))
					if _, err := c.Write(rest[:n]); err != nil {
						wrote <- err
						return
					}
					rest = rest[n:]
				}
				wrote <- c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c) // ends at the echo server's half-close
			if err != nil {
				t.Errorf("conn %d: read: %v", i, err)
			}
			if err := <-wrote; err != nil {
				t.Errorf("conn %d: write: %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("conn %d: got %d bytes back, want the %d sent, in order", i, len(got), len(want))
			}
		}()
	}
	wg.Wait()
}

// TestCloseEndsConnections checks that Close returns while a connection
// is open and idle, and that the client then sees its connection end.
func TestCloseEndsConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := New(ln, startEcho(t), time.Millisecond)
	served := make(chan error, 1)
	go func() { served <- p.Serve() }()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A round trip, so that the proxy has accepted the connection.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("Read after Close = %d, nil; want the connection closed", n)
	}
}

// TestUnreachableTarget checks that a client of a proxy whose target
// refuses connections is disconnected rather than left hanging.
func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := startProxy(t, target, time.Millisecond)
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("Read = %d, nil; want the connection closed", n)
	}
}

package s3test

import (
	"io"
	"net/http"
	"strings"
	"sync"
)

// A Hold stops the next request of a Conn with a given method and key
// inside its body: a PUT's before its body is sent, a GET's once its
// response is under way. The test can then cut the connection under the
// request, and release it to meet the cut.
type Hold struct {
	method, key string
	// Entered is closed when the request reaches the hold.
	Entered chan struct{}
	release chan struct{}
	once    sync.Once

	mu  sync.Mutex
	err error // the first error the held body met
}

// Hold sets a hold on the next request with method whose object key
// contains key.
func (c *Conn) Hold(method, key string) *Hold {
	h := &Hold{method: method, key: key, Entered: make(chan struct{}), release: make(chan struct{})}
	c.mu.Lock()
	c.holds = append(c.holds, h)
	c.mu.Unlock()
	return h
}

// Release lets the held request go on.
func (h *Hold) Release() { h.once.Do(func() { close(h.release) }) }

// Err returns the first error the held request's body met after the hold.
func (h *Hold) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// take counts req and removes and returns the hold for it, if any.
func (c *Conn) take(req *http.Request) *Hold {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs[req.Method]++
	for i, h := range c.holds {
		if h.method == req.Method && strings.Contains(req.URL.Path, h.key) {
			c.holds = append(c.holds[:i], c.holds[i+1:]...)
			return h
		}
	}
	return nil
}

// holdingTransport applies a Conn's holds to its requests.
type holdingTransport struct {
	c    *Conn
	base http.RoundTripper
}

func (t holdingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h := t.c.take(req)
	if h == nil {
		return t.base.RoundTrip(req)
	}
	if req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(req.Context())
		req.Body = &heldBody{ReadCloser: req.Body, h: h}
		return t.base.RoundTrip(req)
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		resp.Body = &heldBody{ReadCloser: resp.Body, h: h}
	}
	return resp, err
}

// A heldBody waits at its first Read for the hold's release.
type heldBody struct {
	io.ReadCloser
	h    *Hold
	once sync.Once
}

func (b *heldBody) Read(p []byte) (int, error) {
	b.once.Do(func() {
		close(b.h.Entered)
		<-b.h.release
	})
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.h.mu.Lock()
		if b.h.err == nil {
			b.h.err = err
		}
		b.h.mu.Unlock()
	}
	return n, err
}

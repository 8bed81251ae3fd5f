package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildServer builds the command into a temporary directory, for a
// test that runs it: it skips the test in -short mode, and on Windows
// when the test interrupts the server, which it stops with SIGINT.
func buildServer(t *testing.T, interrupts bool) string {
	t.Helper()
	if interrupts && runtime.GOOS == "windows" {
		t.Skip("the test stops the server with SIGINT")
	}
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(gobin); err != nil {
			t.Skip("no go command to build the server with")
		}
	}
	exe := filepath.Join(t.TempDir(), "fileserver")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	out, err := exec.Command(gobin, "build", "-o", exe, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// server is a running fileserver process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	out  *lockedBuffer // stdout after the address line, and stderr
	done chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// start runs the server on a free loopback port, serving root unless it is
// "", and waits until it says where it listens.
func start(t *testing.T, exe, root string, env []string, args ...string) *server {
	t.Helper()
	args = append([]string{"-addr", "127.0.0.1:0"}, args...)
	if root != "" {
		args = append([]string{"-root", root}, args...)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, out: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	var head []string
	for s.url == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("server exited before listening; stdout:\n%s\nstderr:\n%s", strings.Join(head, "\n"), s.out)
			}
			head = append(head, line)
			if addr, ok := strings.CutPrefix(line, "listening on "); ok {
				s.url = addr
			}
		case <-timeout:
			t.Fatalf("server did not print its address; stdout so far:\n%s", strings.Join(head, "\n"))
		}
	}
	t.Logf("server %v: %s", args, strings.Join(head, "; "))
	if !strings.HasPrefix(head[0], "backend ") {
		t.Errorf("first line %q does not name the backend", head[0])
	}
	go func() {
		for line := range lines {
			fmt.Fprintln(s.out, line)
		}
		s.done <- cmd.Wait()
	}()
	return s
}

// get fetches path with the given extra header lines ("Key: value").
func (s *server) get(path string, headers ...string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest("GET", s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp, body
}

// interrupt sends SIGINT and expects a clean exit within a few seconds.
func (s *server) interrupt() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		s.t.Fatalf("SIGINT: %v", err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("server exited with %v after SIGINT; output:\n%s", err, s.out)
		}
	case <-time.After(10 * time.Second):
		s.t.Fatalf("server still running 10s after SIGINT; output:\n%s", s.out)
	}
}

func TestServeFilesAndRanges(t *testing.T) {
	exe := buildServer(t, true)

	root := t.TempDir()
	big := make([]byte, 3<<20+12345) // several blocks and readahead windows, odd tail
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(root, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	small := []byte("hello, aiofs\n")
	if err := os.WriteFile(filepath.Join(root, "sub", "hello.txt"), small, 0o644); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(root, ".hidden"), small, 0o644); err != nil {
		t.Fatal(err)
	}
	shown := start(t, exe, root, nil, "-dotfiles")
	if resp, body := shown.get("/.hidden"); resp.StatusCode != http.StatusOK || !bytes.Equal(body, small) {
		t.Errorf("GET /.hidden with -dotfiles: status %d, body %q", resp.StatusCode, body)
	}
	shown.interrupt()

	ref := start(t, exe, root, nil, "-backend", "os")
	if resp, _ := ref.get("/.hidden"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /.hidden without -dotfiles: status %d, want 404", resp.StatusCode)
	}
	ranges := []string{"bytes=0-99", "bytes=1000000-2100000", "bytes=-5000", "bytes=3145000-", "bytes=10-20,100-200"}

	engines := []string{""}
	if runtime.GOOS == "linux" {
		engines = append(engines, "pool")
	}
	for _, engine := range engines {
		name := "default"
		var env []string
		if engine != "" {
			name = engine
			env = []string{"AIOFS_ENGINE=" + engine}
		}
		t.Run(name, func(t *testing.T) {
			s := start(t, exe, root, env)
			s.t = t
			ref.t = t

			resp, body := s.get("/big.bin")
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, big) {
				t.Fatalf("GET /big.bin: status %d, %d bytes, equal to the file: %v", resp.StatusCode, len(body), bytes.Equal(body, big))
			}
			resp, body = s.get("/sub/hello.txt")
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, small) {
				t.Fatalf("GET /sub/hello.txt: status %d, body %q", resp.StatusCode, body)
			}

			for _, rg := range ranges {
				want, wantBody := ref.get("/big.bin", "Range: "+rg)
				got, gotBody := s.get("/big.bin", "Range: "+rg)
				if got.StatusCode != http.StatusPartialContent || got.StatusCode != want.StatusCode {
					t.Errorf("Range %s: status %d, OsFs %d", rg, got.StatusCode, want.StatusCode)
				}
				if g, w := got.Header.Get("Content-Range"), want.Header.Get("Content-Range"); g != w {
					t.Errorf("Range %s: Content-Range %q, OsFs %q", rg, g, w)
				}
				if strings.Contains(rg, ",") {
					// Multipart bodies differ in their random boundary:
					// compare the parts.
					if len(gotBody) != len(wantBody) {
						t.Errorf("Range %s: %d bytes, OsFs %d", rg, len(gotBody), len(wantBody))
					}
					for _, part := range [][]byte{big[10:21], big[100:201]} {
						if !bytes.Contains(gotBody, part) {
							t.Errorf("Range %s: multipart body lacks a part", rg)
						}
					}
					continue
				}
				if !bytes.Equal(gotBody, wantBody) {
					t.Errorf("Range %s: body (%d bytes) differs from OsFs's (%d bytes)", rg, len(gotBody), len(wantBody))
				}
			}
			// The range bodies are the bytes on disk.
			_, body = s.get("/big.bin", "Range: bytes=1000000-2100000")
			if !bytes.Equal(body, big[1000000:2100001]) {
				t.Errorf("Range bytes=1000000-2100000: body differs from the file")
			}
			_, body = s.get("/big.bin", "Range: bytes=-5000")
			if !bytes.Equal(body, big[len(big)-5000:]) {
				t.Errorf("Range bytes=-5000: body differs from the file's tail")
			}

			resp, body = s.get("/sub/")
			if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("hello.txt")) {
				t.Errorf("GET /sub/: status %d, listing %q", resp.StatusCode, body)
			}
			if resp, _ := s.get("/missing"); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET /missing: status %d, want 404", resp.StatusCode)
			}
			if resp, body := s.get("/../../etc/passwd"); resp.StatusCode == http.StatusOK || bytes.Contains(body, []byte("root:")) {
				t.Errorf("GET /../../etc/passwd escaped the root: status %d", resp.StatusCode)
			}

			s.interrupt()
			out := s.out.String()
			for _, want := range []string{
				fmt.Sprintf("GET /big.bin 200 %d ", len(big)),
				"GET /big.bin 206 100 ",
				"GET /missing 404 ",
				"stopped",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	ref.t = t
	ref.interrupt()
}

func TestBadFlags(t *testing.T) {
	exe := buildServer(t, false)
	for _, args := range [][]string{
		{"-backend", "nfs"},
		{"-backend", "sftp://"},
		{"-root", filepath.Join(t.TempDir(), "missing")},
		{"-addr", "not an address"},
	} {
		out, err := exec.Command(exe, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%v: %v, want exit status 1; output:\n%s", args, err, out)
		}
	}
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiofs/aiofs/internal/sftptest"
)

// remoteTree starts pkg/sftp's server on a new directory, stopped when t
// ends, writes the files the sftp tests serve into it, and returns the
// server, the directory and the large file's bytes.
func remoteTree(t *testing.T) (srv *sftptest.Server, root string, big []byte) {
	t.Helper()
	root = t.TempDir()
	srv, err := sftptest.StartInProcess(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	big = make([]byte, 2<<20+4321) // several blocks and readahead windows, odd tail
	r := rand.New(rand.NewPCG(3, 4))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	files := map[string][]byte{
		"big.bin":       big,
		"sub/hello.txt": []byte("hello over sftp\n"),
		".env":          []byte("SECRET=1\n"),
		"sub/.git/HEAD": []byte("ref: refs/heads/main\n"),
	}
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return srv, root, big
}

// TestServeSFTP serves a directory of pkg/sftp's server through the
// Fs -backend sftp:// makes, aiofs.Wrap over the SFTP Fs, and the
// handler the command uses.
func TestServeSFTP(t *testing.T) {
	srv, _, big := remoteTree(t)
	conn, err := srv.Dial(0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fsys, closeFs := wrapRemote(conn.Fs())
	if e := fsys.Stats().Engine; e != "wrap" {
		t.Errorf("the sftp backend runs engine %q, want wrap", e)
	}
	hs := httptest.NewServer(fileHandler(fsys, ".", false))
	defer hs.Close()

	get := func(path string, headers ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", hs.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp, body
	}

	if resp, body := get("/big.bin"); resp.StatusCode != http.StatusOK || !bytes.Equal(body, big) {
		t.Errorf("GET /big.bin: status %d, %d bytes, equal to the file: %v", resp.StatusCode, len(body), bytes.Equal(body, big))
	}
	if resp, body := get("/sub/hello.txt"); resp.StatusCode != http.StatusOK || string(body) != "hello over sftp\n" {
		t.Errorf("GET /sub/hello.txt: status %d, body %q", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		rg         string
		start, end int // of big, end exclusive
	}{
		{"bytes=0-99", 0, 100},
		{"bytes=1000000-1600000", 1000000, 1600001},
		{"bytes=-5000", len(big) - 5000, len(big)},
		{"bytes=2097000-", 2097000, len(big)},
	} {
		resp, body := get("/big.bin", "Range: "+tc.rg)
		want := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end-1, len(big))
		if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != want {
			t.Errorf("Range %s: status %d, Content-Range %q; want 206, %q", tc.rg, resp.StatusCode, resp.Header.Get("Content-Range"), want)
		}
		if !bytes.Equal(body, big[tc.start:tc.end]) {
			t.Errorf("Range %s: %d bytes, not the file's %d", tc.rg, len(body), tc.end-tc.start)
		}
	}
	if resp, body := get("/"); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`href="big.bin"`)) ||
		!bytes.Contains(body, []byte(`href="sub/"`)) || bytes.Contains(body, []byte(".env")) {
		t.Errorf("GET /: status %d, want a listing of big.bin and sub/ without .env:\n%s", resp.StatusCode, body)
	}
	if resp, body := get("/sub/"); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("hello.txt")) ||
		bytes.Contains(body, []byte(".git")) {
		t.Errorf("GET /sub/: status %d, want a listing of hello.txt without .git:\n%s", resp.StatusCode, body)
	}
	for _, p := range []string{"/.env", "/sub/.git/HEAD", "/missing"} {
		if resp, _ := get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, resp.StatusCode)
		}
	}
	hs.Close()
	if err := closeFs(); err != nil {
		t.Errorf("closing the Fs: %v", err)
	}
}

// TestSFTPFlag runs the command with -backend sftp:// as a user would, a
// key in ~/.ssh and the host in ~/.ssh/known_hosts, and checks that -root
// beside it is refused.
func TestSFTPFlag(t *testing.T) {
	exe := buildServer(t, true)
	srv, root, big := remoteTree(t)

	home := t.TempDir()
	dotSSH, err := srv.MakeSSHDir(home)
	if err != nil {
		t.Fatal(err)
	}
	line := srv.KnownHostsLine()
	if err := os.WriteFile(filepath.Join(dotSSH, "known_hosts"), []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "SSH_AUTH_SOCK="}
	url := fmt.Sprintf("sftp://%s@%s%s", srv.User(), srv.Addr(), filepath.ToSlash(root))

	s := start(t, exe, "", env, "-backend", url)
	if resp, body := s.get("/big.bin", "Range: bytes=1000-1999"); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, big[1000:2000]) {
		t.Errorf("GET /big.bin bytes 1000-1999: status %d, %d bytes, equal to the file's: %v", resp.StatusCode, len(body), bytes.Equal(body, big[1000:2000]))
	}
	if resp, _ := s.get("/.env"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /.env: status %d, want 404", resp.StatusCode)
	}
	s.interrupt()
	if out := s.out.String(); !strings.Contains(out, "GET /big.bin 206 1000 ") || !strings.Contains(out, "stopped") {
		t.Errorf("output lacks the request or the stop:\n%s", out)
	}

	cmd := exec.Command(exe, "-root", root, "-backend", url, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "the URL's path is the directory served") {
		t.Errorf("-root with an sftp:// backend: %v, want exit status 1 and why; output:\n%s", err, out)
	}
}

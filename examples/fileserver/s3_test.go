package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/aiofs/aiofs/internal/s3test"
)

// TestS3Flag runs the command with -backend s3+http:// against
// SeaweedFS's S3 gateway on 127.0.0.1 (skipped when weed is not built,
// except with CI=true), as a user would: objects with slashes in their
// keys served as files in directories, dot-files hidden.
func TestS3Flag(t *testing.T) {
	exe := buildServer(t, true)
	srv := s3test.ForTest(t)
	c := srv.DialForTest(t, 0)
	if _, err := c.Fs("www", ""); err != nil { // makes the bucket
		t.Fatal(err)
	}
	big := make([]byte, 2<<20+4321)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	for key, data := range map[string][]byte{
		"site/big.bin":       big,
		"site/sub/hello.txt": []byte("hello over s3\n"),
		"site/.env":          []byte("SECRET=1\n"),
	} {
		if _, err := c.Client.PutObject(context.Background(), "www", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	url := fmt.Sprintf("s3+http://%s/www/site", srv.Addr())
	s := start(t, exe, "", []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="}, "-backend", url)
	if resp, body := s.get("/big.bin", "Range: bytes=1000000-1999999"); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, big[1000000:2000000]) {
		t.Errorf("GET /big.bin bytes 1000000-1999999: status %d, %d bytes, equal to the object's: %v", resp.StatusCode, len(body), bytes.Equal(body, big[1000000:2000000]))
	}
	if resp, body := s.get("/big.bin"); resp.StatusCode != http.StatusOK || !bytes.Equal(body, big) {
		t.Errorf("GET /big.bin: status %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, body := s.get("/sub/hello.txt"); resp.StatusCode != http.StatusOK || string(body) != "hello over s3\n" {
		t.Errorf("GET /sub/hello.txt: status %d, %q", resp.StatusCode, body)
	}
	if resp, body := s.get("/"); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`href="big.bin"`)) ||
		!bytes.Contains(body, []byte(`href="sub/"`)) || bytes.Contains(body, []byte(".env")) {
		t.Errorf("GET /: status %d, want a listing of big.bin and sub/ without .env:\n%s", resp.StatusCode, body)
	}
	if resp, _ := s.get("/.env"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /.env: status %d, want 404", resp.StatusCode)
	}
	s.interrupt()
	if out := s.out.String(); !strings.Contains(out, "GET /big.bin 206 1000000 ") || !strings.Contains(out, "stopped") {
		t.Errorf("output lacks the request or the stop:\n%s", out)
	}
}

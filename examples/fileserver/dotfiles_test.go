package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs"
)

// TestDotFilesHidden: by default names beginning with a dot answer 404,
// at any depth, and are left out of listings, even when a listing batch
// holds nothing else; other files are served as before.
func TestDotFilesHidden(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{".git/config", ".env", "sub/.secret", "sub/ok.txt", "index/a.txt"} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	afs := aiofs.New()
	defer afs.Close()
	srv := httptest.NewServer(http.FileServer(hideDotFiles{afero.NewHttpFs(afs).Dir(root)}))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{"/.git/config", "/.git/", "/.env", "/sub/.secret", "/sub/../.env"} {
		if code, _ := get(path); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
	if code, body := get("/sub/ok.txt"); code != http.StatusOK || body != "sub/ok.txt" {
		t.Errorf("GET /sub/ok.txt: %d %q", code, body)
	}
	for path, hidden := range map[string][]string{"/": {".git", ".env"}, "/sub/": {".secret"}} {
		code, body := get(path)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d", path, code)
		}
		for _, h := range hidden {
			if strings.Contains(body, h) {
				t.Errorf("listing of %s shows %s:\n%s", path, h, body)
			}
		}
	}
	if _, body := get("/"); !strings.Contains(body, "sub/") || !strings.Contains(body, "index/") {
		t.Errorf("listing of / lost the visible entries:\n%s", body)
	}

	// A batch of only dot-files is not the end of the directory.
	d, err := hideDotFiles{afero.NewHttpFs(afs).Dir(root)}.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var names []string
	for {
		fis, err := d.Readdir(1)
		for _, fi := range fis {
			names = append(names, fi.Name())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(names) != 2 {
		t.Errorf("Readdir(1) batches gave %q, want index and sub", names)
	}
}

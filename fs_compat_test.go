package aiofs_test

// Compatibility: aiofs under io/fs (testing/fstest), net/http (via
// afero.HttpFs), and afero's wrappers and helpers, compared with OsFs.
// What these tests add is the layering over the Fs, which does not depend
// on the engine, so they run once, on the default one; the tests of the
// Fs itself run on every engine (forEngines).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// testTree is the content of the prepared tree, by slash-separated name.
// The large files are smaller when small is set (fstest.TestFS reads
// every file in many ways, slowly).
func testTree() map[string][]byte { return sizedTree(false) }

func sizedTree(small bool) map[string][]byte {
	big, mid, deep, lines := 1<<20+3, 300<<10, 131073, 1000
	if small {
		big, mid, deep, lines = 66<<10+3, 9<<10, 4097, 100
	}
	return map[string][]byte{
		"a.txt":              []byte("hello, aiofs\n"),
		"empty":              {},
		"noext":              []byte("<!DOCTYPE html><html><body>sniff me</body></html>"),
		"big.bin":            pattern(uint64(21), 0, big),
		"dir/b.bin":          pattern(uint64(22), 0, mid),
		"dir/sub/c.txt":      []byte(strings.Repeat("line\n", lines)),
		"dir/sub/deep/d.dat": pattern(uint64(23), 0, deep),
		"index/index.html":   []byte("<html>index page</html>"),
		"index/other.css":    []byte("body{}"),
	}
}

var emptyDirs = []string{"dir/emptydir", "emptytop"}

// writeTree writes testTree under dir with os and sets every mtime to
// fixedTime.
func writeTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	return writeSizedTree(t, dir, false)
}

func writeSizedTree(t *testing.T, dir string, small bool) map[string][]byte {
	t.Helper()
	tree := sizedTree(small)
	for name, data := range tree {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range emptyDirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, fixedTime, fixedTime)
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func treeNames() []string {
	var names []string
	for n := range testTree() {
		names = append(names, n)
	}
	sort.Strings(names)
	return append(names, emptyDirs...)
}

func TestFSTest(t *testing.T) {
	t.Run("os.DirFS-reference", func(t *testing.T) {
		dir := t.TempDir()
		writeSizedTree(t, dir, true)
		if err := fstest.TestFS(os.DirFS(dir), treeNames()...); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("IOFS-cwd", func(t *testing.T) {
		dir := t.TempDir()
		tree := writeSizedTree(t, dir, true)
		t.Chdir(dir)
		fsys := afero.NewIOFS(newAio(t, ""))
		if err := fstest.TestFS(fsys, treeNames()...); err != nil {
			t.Fatal(err)
		}
		checkContents(t, fsys, tree)
	})
	t.Run("IOFS-basepath", func(t *testing.T) {
		dir := t.TempDir()
		tree := writeSizedTree(t, dir, true)
		fsys := afero.NewIOFS(afero.NewBasePathFs(newAio(t, ""), dir))
		if err := fstest.TestFS(fsys, treeNames()...); err != nil {
			t.Fatal(err)
		}
		checkContents(t, fsys, tree)
	})
	t.Run("IOFS-writethrough-nocache", func(t *testing.T) {
		dir := t.TempDir()
		tree := writeSizedTree(t, dir, true)
		fsys := afero.NewIOFS(afero.NewBasePathFs(newAio(t, "", aiofs.WithCacheSize(0), aiofs.WithReadahead(0), aiofs.WithWriteBehind(0)), dir))
		if err := fstest.TestFS(fsys, treeNames()...); err != nil {
			t.Fatal(err)
		}
		checkContents(t, fsys, tree)
	})
}

func checkContents(t *testing.T, fsys fs.FS, tree map[string][]byte) {
	t.Helper()
	for name, want := range tree {
		got, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Errorf("ReadFile(%q): %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("ReadFile(%q): %s", name, diff(want, got, "want", "got"))
		}
	}
}

// ---------------------------------------------------------------------------
// net/http

type httpCase struct {
	name    string
	method  string
	path    string
	headers map[string]string
	// Optional expectations beyond equality with OsFs.
	status int
	body   []byte
}

var boundaryRE = regexp.MustCompile(`[0-9a-f]{60}`)

// normResponse describes a response: status, the headers that matter,
// and the body, with the multipart boundary replaced.
func normResponse(resp *http.Response, body []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status=%d\n", resp.StatusCode)
	for _, h := range []string{"Content-Type", "Content-Length", "Content-Range", "Last-Modified", "Accept-Ranges", "Location", "Content-Encoding", "Etag"} {
		if v := resp.Header.Values(h); len(v) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", h, boundaryRE.ReplaceAllString(strings.Join(v, ","), "BOUNDARY"))
		}
	}
	body = boundaryRE.ReplaceAll(body, []byte("BOUNDARY"))
	fmt.Fprintf(&b, "body=%s", dataString(body))
	return b.String()
}

func TestHTTPFileServer(t *testing.T) {
	t.Parallel()
	osDir, aioDir := t.TempDir(), t.TempDir()
	tree := writeTree(t, osDir)
	writeTree(t, aioDir)
	aio := newAio(t, "")

	srvOS := httptest.NewServer(http.FileServer(afero.NewHttpFs(afero.NewOsFs()).Dir(osDir)))
	defer srvOS.Close()
	srvAIO := httptest.NewServer(http.FileServer(afero.NewHttpFs(aio).Dir(aioDir)))
	defer srvAIO.Close()
	client := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()

	big := tree["big.bin"]
	lastMod := fixedTime.UTC().Format(http.TimeFormat)
	before := fixedTime.Add(-time.Hour).UTC().Format(http.TimeFormat)
	after := fixedTime.Add(time.Hour).UTC().Format(http.TimeFormat)
	cases := []httpCase{
		{name: "small", path: "/a.txt", status: 200, body: tree["a.txt"]},
		{name: "big", path: "/big.bin", status: 200, body: big},
		{name: "empty", path: "/empty", status: 200, body: []byte{}},
		{name: "sniff", path: "/noext", status: 200, body: tree["noext"]},
		{name: "head", method: "HEAD", path: "/big.bin", status: 200},
		{name: "range-head", path: "/big.bin", headers: map[string]string{"Range": "bytes=0-99"}, status: 206, body: big[:100]},
		{name: "range-open-end", path: "/big.bin", headers: map[string]string{"Range": "bytes=700000-"}, status: 206, body: big[700000:]},
		{name: "range-suffix", path: "/big.bin", headers: map[string]string{"Range": "bytes=-500"}, status: 206, body: big[len(big)-500:]},
		{name: "range-past-end", path: "/big.bin", headers: map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", len(big)-5, len(big)+50)}, status: 206, body: big[len(big)-5:]},
		{name: "range-block-boundary", path: "/dir/b.bin", headers: map[string]string{"Range": "bytes=131071-131073"}, status: 206, body: tree["dir/b.bin"][131071:131074]},
		{name: "range-multi", path: "/big.bin", headers: map[string]string{"Range": "bytes=0-9,100-199,-10"}, status: 206},
		{name: "range-multi-unordered", path: "/dir/sub/c.txt", headers: map[string]string{"Range": "bytes=500-600,0-10,4000-"}, status: 206},
		{name: "range-unsatisfiable", path: "/big.bin", headers: map[string]string{"Range": "bytes=99999999-"}, status: 416},
		{name: "range-garbage", path: "/big.bin", headers: map[string]string{"Range": "bytes=abc"}},
		{name: "ims-equal", path: "/big.bin", headers: map[string]string{"If-Modified-Since": lastMod}, status: 304},
		{name: "ims-after", path: "/a.txt", headers: map[string]string{"If-Modified-Since": after}, status: 304},
		{name: "ims-before", path: "/a.txt", headers: map[string]string{"If-Modified-Since": before}, status: 200, body: tree["a.txt"]},
		{name: "ius-before", path: "/a.txt", headers: map[string]string{"If-Unmodified-Since": before}, status: 412},
		{name: "if-range-match", path: "/big.bin", headers: map[string]string{"Range": "bytes=10-19", "If-Range": lastMod}, status: 206, body: big[10:20]},
		{name: "if-range-stale", path: "/a.txt", headers: map[string]string{"Range": "bytes=0-1", "If-Range": before}, status: 200, body: tree["a.txt"]},
		{name: "dir-listing", path: "/dir/", status: 200},
		{name: "dir-redirect", path: "/dir", status: 301},
		{name: "index", path: "/index/", status: 200, body: tree["index/index.html"]},
		{name: "index-redirect", path: "/index/index.html", status: 301},
		{name: "css", path: "/index/other.css", status: 200},
		{name: "missing", path: "/missing", status: 404},
		{name: "deep", path: "/dir/sub/deep/d.dat", status: 200, body: tree["dir/sub/deep/d.dat"]},
	}
	get := func(base string, c httpCase) (*http.Response, []byte) {
		t.Helper()
		method := c.method
		if method == "" {
			method = "GET"
		}
		req, err := http.NewRequest(method, base+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: reading body: %v", c.name, err)
		}
		return resp, body
	}
	for _, c := range cases {
		respOS, bodyOS := get(srvOS.URL, c)
		respAIO, bodyAIO := get(srvAIO.URL, c)
		no, na := normResponse(respOS, bodyOS), normResponse(respAIO, bodyAIO)
		if no != na {
			t.Errorf("%s: responses differ\n--- OsFs:\n%s\n--- aiofs:\n%s", c.name, no, na)
			if !bytes.Equal(bodyOS, bodyAIO) {
				t.Errorf("%s: body %s", c.name, diff(bodyOS, bodyAIO, "OsFs", "aiofs"))
			}
		}
		if c.status != 0 && respAIO.StatusCode != c.status {
			t.Errorf("%s: aiofs status %d, want %d", c.name, respAIO.StatusCode, c.status)
		}
		if c.body != nil && !bytes.Equal(bodyAIO, c.body) {
			t.Errorf("%s: aiofs body: %s", c.name, diff(c.body, bodyAIO, "want", "got"))
		}
	}

	// A file written through the Fs is served at once by the same Fs
	// (read-your-writes) and after Close by OsFs too.
	f, err := aio.Create(filepath.Join(aioDir, "fresh.bin"))
	if err != nil {
		t.Fatal(err)
	}
	fresh := pattern(uint64(99), 0, 200000)
	if _, err := f.Write(fresh); err != nil {
		t.Fatal(err)
	}
	c := httpCase{name: "fresh-range", path: "/fresh.bin", headers: map[string]string{"Range": "bytes=150000-150099"}}
	resp, body := get(srvAIO.URL, c)
	if resp.StatusCode != 206 || !bytes.Equal(body, fresh[150000:150100]) {
		t.Errorf("range of a file still open for writing: status %d, %s", resp.StatusCode, diff(fresh[150000:150100], body, "want", "got"))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(aioDir, "fresh.bin")); err != nil || !bytes.Equal(got, fresh) {
		t.Errorf("after Close, disk content: %v %s", err, diff(fresh, got, "want", "got"))
	}
}

// ---------------------------------------------------------------------------
// afero wrappers

// TestBasePathFsDifferential runs every differential scenario with both
// sides behind afero.NewBasePathFs, which strips the base from Name().
func TestBasePathFsDifferential(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			osDisk, aioDisk := t.TempDir(), t.TempDir()
			aio := newAio(t, "")
			so := newSide("OsFs", afero.NewBasePathFs(afero.NewOsFs(), osDisk), nil, "")
			so.disk = osDisk
			sa := newSide("aiofs", afero.NewBasePathFs(aio, aioDisk), aio, "")
			sa.disk = aioDisk
			h := newH(t, sc.name+"/basepath", so, sa)
			sc.run(h)
			h.CloseAll()
			h.TreeNow()
		})
	}
}

func TestBasePathFsName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bp := afero.NewBasePathFs(newAio(t, ""), dir)
	if err := bp.MkdirAll("/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := bp.Create("/sub/x.txt")
	if err != nil {
		t.Fatal(err)
	}
	if f.Name() != "/sub/x.txt" {
		t.Errorf("BasePathFs Create Name() = %q, want /sub/x.txt (the base stripped)", f.Name())
	}
	if _, err := f.WriteString("based"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "sub", "x.txt")); err != nil || string(got) != "based" {
		t.Errorf("on disk: %q, %v", got, err)
	}
	g, err := bp.Open("/sub")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Name() != "/sub" {
		t.Errorf("Open dir Name() = %q, want /sub", g.Name())
	}
	des, err := g.(fs.ReadDirFile).ReadDir(-1)
	if err != nil || len(des) != 1 || des[0].Name() != "x.txt" {
		t.Errorf("ReadDir through BasePathFile: %v, %v", des, err)
	}
}

// TestReadOnlyFsDifferential: writes are refused with the same errors.
func TestReadOnlyFsDifferential(t *testing.T) {
	t.Parallel()
	osRoot, aioRoot := t.TempDir(), t.TempDir()
	aio := newAio(t, "")
	h := newH(t, "readonly", newSide("OsFs", afero.NewReadOnlyFs(afero.NewOsFs()), nil, osRoot), newSide("aiofs", afero.NewReadOnlyFs(aio), aio, aioRoot))
	h.DiskWrite("a", []byte(digits), 0o644)
	h.DiskMkdir("d")
	h.DiskWrite("d/x", pattern(uint64(1), 0, 100000), 0o600)
	h.Open("f", "a")
	h.Read("f", 100)
	h.Write("f", []byte("no"))
	h.Create("g", "new")
	h.OpenFile("g", "a", wo, 0)
	h.OpenFile("g", "a", rw|creat, 0o644)
	h.OpenFile("g", "a", ro, 0)
	h.ReadAt("g", 5, 3)
	h.Remove("a")
	h.RemoveAll("d")
	h.Rename("a", "b")
	h.Mkdir("e", 0o755)
	h.MkdirAll("e/f", 0o755)
	h.Chmod("a", 0o600)
	h.Chtimes("a", fixedTime, fixedTime)
	h.FsStat("a")
	h.Lstat("a")
	h.Open("dir", "d")
	h.Readdir("dir", -1)
	h.Open("x", "d/x")
	h.CopyTo("x")
	h.CloseAll()
	h.TreeNow()

	ro := afero.NewReadOnlyFs(aio)
	if _, err := ro.Create(filepath.Join(aioRoot, "z")); err != syscall.EPERM {
		t.Errorf("ReadOnlyFs(aiofs).Create: %v, want EPERM", err)
	}
}

// TestCacheOnReadFsDifferential: base aiofs, layer MemMapFs.
func TestCacheOnReadFsDifferential(t *testing.T) {
	t.Parallel()
	for _, cacheTime := range []time.Duration{0, time.Hour} {
		t.Run(cacheTime.String(), func(t *testing.T) {
			osRoot, aioRoot := t.TempDir(), t.TempDir()
			aio := newAio(t, "")
			layer := afero.NewMemMapFs()
			h := newH(t, "cacheonread", newSide("OsFs", afero.NewCacheOnReadFs(afero.NewOsFs(), afero.NewMemMapFs(), cacheTime), nil, osRoot),
				newSide("aiofs", afero.NewCacheOnReadFs(aio, layer, cacheTime), aio, aioRoot))
			h.DiskWrite("a", pattern(uint64(3), 0, 150000), 0o644)
			h.DiskMkdir("d")
			h.Open("f", "a")
			h.Read("f", 200000)
			h.Close("f")
			h.Create("g", "b")
			h.Write("g", pattern(uint64(4), 0, 70000))
			h.WriteAt("g", []byte("patch"), 10)
			h.Close("g")
			h.TreeNow()
			h.OpenFile("g", "a", rw, 0)
			h.WriteAt("g", []byte("PATCHED"), 100)
			h.ReadAt("g", 200, 0)
			h.Close("g")
			h.TreeNow()
			h.Open("f", "a")
			h.ReadAt("f", 300, 0)
			h.Close("f")
			h.Rename("b", "c")
			h.FsStat("c")
			h.Remove("a")
			h.FsStat("a")
			h.Open("f", "a")
			h.Mkdir("d/e", 0o755)
			h.OpenFile("k", "d/e/new", wo|creat|appnd, 0o600)
			h.Write("k", []byte("appended"))
			h.Write("k", []byte(" twice"))
			h.CloseAll()
			h.TreeNow()

			// The layer holds what was read through the cache.
			got, err := afero.ReadFile(layer, filepath.Join(aioRoot, "c"))
			if err != nil {
				t.Fatalf("layer after reading through the cache: %v", err)
			}
			want, _ := os.ReadFile(filepath.Join(aioRoot, "c"))
			if !bytes.Equal(got, want) {
				t.Errorf("layer copy of c: %s", diff(want, got, "want", "got"))
			}
		})
	}
}

// TestCopyOnWriteFs: base OsFs read-only, layer aiofs (each behind a
// BasePathFs so that the two trees are separate directories); and base
// aiofs read-only, layer MemMapFs.
func TestCopyOnWriteFs(t *testing.T) {
	t.Parallel()
	t.Run("layer-aiofs", func(t *testing.T) {
		mk := func(layerFs afero.Fs) (afero.Fs, string, string) {
			base, layer := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(base, "a"), pattern(uint64(5), 0, 100000), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(base, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(base, "d", "x"), []byte("base x"), 0o600); err != nil {
				t.Fatal(err)
			}
			cow := afero.NewCopyOnWriteFs(afero.NewReadOnlyFs(afero.NewBasePathFs(afero.NewOsFs(), base)), afero.NewBasePathFs(layerFs, layer))
			return cow, base, layer
		}
		aio := newAio(t, "")
		cowOS, baseOS, layerOS := mk(afero.NewOsFs())
		cowAIO, baseAIO, layerAIO := mk(aio)
		so := newSide("OsFs", cowOS, nil, "")
		so.disk = layerOS
		sa := newSide("aiofs", cowAIO, aio, "")
		sa.disk = layerAIO
		h := newH(t, "copyonwrite", so, sa)
		h.Open("f", "/a")
		h.Read("f", 1000)
		h.Close("f")
		h.TreeNow() // nothing copied up yet
		h.OpenFile("g", "/a", rw, 0)
		h.WriteAt("g", []byte("COPIED UP"), 50)
		h.ReadAt("g", 100, 0)
		h.Seek("g", 0, io.SeekEnd)
		h.Write("g", []byte("end"))
		h.Close("g")
		h.TreeNow()
		h.Open("f", "/a")
		h.ReadAt("f", 200, 0)
		h.Stat("f")
		h.Create("n", "/d/new")
		h.WriteString("n", "brand new")
		h.Close("n")
		h.Open("dir", "/d")
		h.Readdirnames("dir", -1)
		h.Remove("/d/x")
		h.Remove("/d/new")
		h.Remove("/missing")
		h.FsStat("/d/x")
		h.Rename("/a", "/a2")
		h.CloseAll()
		h.TreeNow()
		if d := compareTrees(baseOS, baseAIO); d != "" {
			t.Errorf("base trees differ:\n\t%s", d)
		}
		if got, _ := os.ReadFile(filepath.Join(baseAIO, "a")); !bytes.Equal(got, pattern(uint64(5), 0, 100000)) {
			t.Errorf("the read-only base was modified")
		}
		if got, err := os.ReadFile(filepath.Join(layerAIO, "a2")); err != nil || !bytes.Contains(got, []byte("COPIED UP")) {
			t.Errorf("the layer (aiofs) lacks the copied-up file: %v", err)
		}
	})
	t.Run("base-aiofs", func(t *testing.T) {
		dir := t.TempDir()
		data := pattern(uint64(6), 0, 200000)
		if err := os.WriteFile(filepath.Join(dir, "a"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		layer := afero.NewMemMapFs()
		cow := afero.NewCopyOnWriteFs(afero.NewReadOnlyFs(newAio(t, "")), layer)
		p := filepath.Join(dir, "a")
		got, err := afero.ReadFile(cow, p)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read through the base: %v %s", err, diff(data, got, "want", "got"))
		}
		// A missing file must be reported as missing (CopyOnWriteFs
		// compares the PathError's Err with syscall.ENOENT).
		if _, err := cow.Stat(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat missing through CopyOnWriteFs: %v", err)
		}
		f, err := cow.OpenFile(filepath.Join(dir, "new"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatalf("create in the layer: %v", err)
		}
		f.Write([]byte("layer only"))
		f.Close()
		if _, err := os.Stat(filepath.Join(dir, "new")); !os.IsNotExist(err) {
			t.Errorf("a file created through CopyOnWriteFs reached the read-only base: %v", err)
		}
		g, err := cow.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatalf("open for writing (copy up from aiofs): %v", err)
		}
		g.WriteAt([]byte("X"), 0)
		g.Close()
		lg, _ := afero.ReadFile(layer, p)
		if len(lg) != len(data) || lg[0] != 'X' || !bytes.Equal(lg[1:], data[1:]) {
			t.Errorf("copied-up file in the layer: %d bytes, want %d with the first patched", len(lg), len(data))
		}
		if disk, _ := os.ReadFile(p); !bytes.Equal(disk, data) {
			t.Errorf("the base on disk changed")
		}
		if err := cow.Remove(p); err != nil {
			// Removing the copied-up file from the layer succeeds.
			t.Errorf("Remove copied-up: %v", err)
		}
	})
}

// TestWalk: afero.Walk visits the same paths with the same infos.
func TestWalk(t *testing.T) {
	t.Parallel()
	osDir, aioDir := t.TempDir(), t.TempDir()
	writeTree(t, osDir)
	writeTree(t, aioDir)
	for _, d := range []string{osDir, aioDir} {
		os.Symlink("a.txt", filepath.Join(d, "link"))
		os.Symlink("missing", filepath.Join(d, "dangling"))
	}
	walk := func(fsys afero.Fs, root string) []string {
		var out []string
		err := afero.Walk(fsys, root, func(p string, info fs.FileInfo, err error) error {
			rel := strings.TrimPrefix(p, root)
			s := newSide("", fsys, nil, root)
			desc := "root"
			if rel != "" && rel != "/" {
				// Times are the tree's, set by writeTree, except
				// those of the symlinks.
				desc = s.fiString(info, info == nil || info.Mode()&fs.ModeSymlink == 0)
			}
			out = append(out, fmt.Sprintf("%s %s err=%s", rel, desc, s.errString(err)))
			if info != nil && info.Name() == "sub" {
				return filepath.SkipDir
			}
			return nil
		})
		out = append(out, fmt.Sprintf("walk err=%v", err))
		return out
	}
	aio := newAio(t, "")
	a, b := walk(afero.NewOsFs(), osDir), walk(aio, aioDir)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("Walk differs:\n--- OsFs:\n%s\n--- aiofs:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	if len(b) < len(treeNames()) {
		t.Errorf("Walk visited %d entries", len(b))
	}
	// Through a BasePathFs too.
	a, b = walk(afero.NewBasePathFs(afero.NewOsFs(), osDir), "/"), walk(afero.NewBasePathFs(aio, aioDir), "/")
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("Walk through BasePathFs differs:\n--- OsFs:\n%s\n--- aiofs:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// TestIoutilHelpers: ReadFile, WriteFile, ReadDir, TempFile, TempDir and
// friends.
func TestIoutilHelpers(t *testing.T) {
	dir := t.TempDir()
	aio := newAio(t, "")
	for _, n := range []int{0, 1, 4096, 131072 + 7, 3 << 20} {
		p := filepath.Join(dir, fmt.Sprintf("w%d", n))
		data := pattern(uint64(byte(n)), 0, n)
		if err := afero.WriteFile(aio, p, data, 0o640); err != nil {
			t.Fatalf("WriteFile %d: %v", n, err)
		}
		disk, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(disk, data) {
			t.Errorf("WriteFile %d: disk %v %s", n, err, diff(data, disk, "want", "got"))
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o640&^umask() {
			t.Errorf("WriteFile mode %v", fi.Mode())
		}
		got, err := afero.ReadFile(aio, p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("ReadFile %d: %v %s", n, err, diff(data, got, "want", "got"))
		}
		// Overwrite shorter: WriteFile truncates.
		if err := afero.WriteFile(aio, p, []byte("short"), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, _ := afero.ReadFile(aio, p); string(got) != "short" {
			t.Errorf("WriteFile over %d bytes: read back %d bytes", n, len(got))
		}
	}
	if _, err := afero.ReadFile(aio, filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("ReadFile missing: %v", err)
	}

	f, err := afero.TempFile(aio, dir, "pre-*.suf")
	if err != nil {
		t.Fatal(err)
	}
	name := f.Name()
	if filepath.Dir(name) != dir || !strings.HasPrefix(filepath.Base(name), "pre-") || !strings.HasSuffix(name, ".suf") {
		t.Errorf("TempFile name %q", name)
	}
	f.WriteString("temp")
	f.Close()
	if got, _ := os.ReadFile(name); string(got) != "temp" {
		t.Errorf("TempFile content %q", got)
	}
	td, err := afero.TempDir(aio, dir, "tdir")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(td); err != nil || !fi.IsDir() || !strings.HasPrefix(filepath.Base(td), "tdir") {
		t.Errorf("TempDir %q: %v", td, err)
	}
	empty, err := afero.IsEmpty(aio, td)
	if err != nil || !empty {
		t.Errorf("IsEmpty(TempDir) = %v, %v", empty, err)
	}
	infos, err := afero.ReadDir(aio, dir)
	if err != nil {
		t.Fatal(err)
	}
	osInfos, _ := afero.ReadDir(afero.NewOsFs(), dir)
	if len(infos) != len(osInfos) {
		t.Fatalf("ReadDir: %d entries, OsFs %d", len(infos), len(osInfos))
	}
	for i := range infos {
		if infos[i].Name() != osInfos[i].Name() || infos[i].Size() != osInfos[i].Size() || infos[i].Mode() != osInfos[i].Mode() {
			t.Errorf("ReadDir entry %d: %s %d %v, OsFs %s %d %v", i, infos[i].Name(), infos[i].Size(), infos[i].Mode(), osInfos[i].Name(), osInfos[i].Size(), osInfos[i].Mode())
		}
	}
	if ok, err := afero.Exists(aio, name); !ok || err != nil {
		t.Errorf("Exists: %v %v", ok, err)
	}
	if ok, err := afero.Exists(aio, name+"x"); ok || err != nil {
		t.Errorf("Exists missing: %v %v", ok, err)
	}
	if ok, err := afero.DirExists(aio, td); !ok || err != nil {
		t.Errorf("DirExists: %v %v", ok, err)
	}
	if ok, err := afero.FileContainsBytes(aio, name, []byte("emp")); !ok || err != nil {
		t.Errorf("FileContainsBytes: %v %v", ok, err)
	}

	// io.Copy between two aiofs files, and to and from an OsFs file.
	src := filepath.Join(dir, "w3145728")
	afero.WriteFile(aio, src, pattern(uint64(77), 0, 3<<20), 0o644)
	in, err := aio.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	out, err := aio.Create(filepath.Join(dir, "copy"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(out, in)
	if n != 3<<20 || err != nil {
		t.Errorf("io.Copy aiofs->aiofs: %d, %v", n, err)
	}
	in.Close()
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	osf, _ := os.Open(src)
	out2, _ := aio.Create(filepath.Join(dir, "copy2"))
	n, err = io.Copy(out2, osf)
	osf.Close()
	if n != 3<<20 || err != nil {
		t.Errorf("io.Copy os->aiofs: %d, %v", n, err)
	}
	out2.Close()
	for _, c := range []string{"copy", "copy2"} {
		if got, _ := os.ReadFile(filepath.Join(dir, c)); !bytes.Equal(got, pattern(uint64(77), 0, 3<<20)) {
			t.Errorf("%s: %s", c, diff(pattern(uint64(77), 0, 3<<20), got, "want", "got"))
		}
	}
}

package aiofs_test

import (
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs"
)

// exampleDir makes a temporary directory for an example; the caller removes
// it.
func exampleDir() string {
	dir, err := os.MkdirTemp("", "aiofs-example-")
	if err != nil {
		log.Fatal(err)
	}
	return dir
}

// An Fs is used like afero.NewOsFs(): paths are OS paths. Writes return
// once the data is copied; Sync makes it durable, Close flushes it.
func ExampleNew() {
	dir := exampleDir()
	defer os.RemoveAll(dir)

	fsys := aiofs.New() // instead of afero.NewOsFs()
	defer fsys.Close()

	name := filepath.Join(dir, "greeting.txt")
	f, err := fsys.Create(name)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := f.WriteString("hello from aiofs\n"); err != nil {
		log.Fatal(err)
	}
	if err := f.Sync(); err != nil { // durable on disk, or the error that stopped it
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}

	data, err := afero.ReadFile(fsys, name)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))

	// Other programs see the data too: it was flushed by Sync and Close.
	onDisk, _ := os.ReadFile(name)
	fmt.Println(len(onDisk) == len(data))
	// Output:
	// hello from aiofs
	// true
}

// Options tune the Fs. An Fs given WithEngine or WithQueueDepth has an
// engine of its own, which its Close stops; the others share one.
func ExampleNew_options() {
	dir := exampleDir()
	defer os.RemoveAll(dir)

	fsys := aiofs.New(
		aiofs.WithCacheSize(64<<20),   // at most 64 MiB of cached blocks
		aiofs.WithReadahead(8<<20),    // prefetch windows grow up to 8 MiB
		aiofs.WithWriteBehind(32<<20), // writers wait when 32 MiB are unflushed
		aiofs.WithQueueDepth(128),     // an engine of its own, 128 operations in flight
	)
	defer fsys.Close()

	name := filepath.Join(dir, "data.bin")
	if err := afero.WriteFile(fsys, name, make([]byte, 1<<20), 0o644); err != nil {
		log.Fatal(err)
	}
	fi, err := fsys.Stat(name)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fi.Size())
	// Output:
	// 1048576
}

// WithCacheSize bounds the block cache that every handle of the Fs shares.
// A size below one block turns the cache, and so prefetch, off.
func ExampleWithCacheSize() {
	cached := aiofs.New(aiofs.WithCacheSize(256 << 20))
	defer cached.Close()
	uncached := aiofs.New(aiofs.WithCacheSize(0))
	defer uncached.Close()

	fmt.Println(cached.Name(), uncached.Name())
	// Output:
	// aiofs aiofs
}

// A program that reads files once from start to end gains from large
// prefetch windows; one that reads at random places may turn prefetch off.
func ExampleWithReadahead() {
	dir := exampleDir()
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "log.txt")
	if err := os.WriteFile(name, []byte("line 1\nline 2\nline 3\n"), 0o644); err != nil {
		log.Fatal(err)
	}

	streaming := aiofs.New(aiofs.WithReadahead(16 << 20))
	defer streaming.Close()

	f, err := streaming.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	n, err := io.Copy(os.Stdout, f)
	fmt.Println(n, err)
	// Output:
	// line 1
	// line 2
	// line 3
	// 21 <nil>
}

// WithWriteBehind(0) makes every Write complete on disk before it returns,
// as with O_SYNC: slower, but nothing is buffered.
func ExampleWithWriteBehind() {
	dir := exampleDir()
	defer os.RemoveAll(dir)

	fsys := aiofs.New(aiofs.WithWriteBehind(0))
	defer fsys.Close()

	name := filepath.Join(dir, "journal")
	f, err := fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("committed\n"); err != nil {
		log.Fatal(err)
	}
	// Already written: another process sees it before Sync or Close.
	data, _ := os.ReadFile(name)
	fmt.Print(string(data))
	fmt.Println(fsys.Stats().DirtyBytes)
	// Output:
	// committed
	// 0
}

// WithEngine picks the engine. The portable goroutine pool exists on every
// system; an engine the system lacks is replaced by the pool, and Stats
// says why in Fallback.
func ExampleWithEngine() {
	fsys := aiofs.New(aiofs.WithEngine("pool"))
	defer fsys.Close()

	st := fsys.Stats()
	fmt.Println(st.Engine, st.Fallback == "")
	// Output:
	// pool true
}

// WithQueueDepth gives the Fs an engine of its own with at most n
// operations in flight.
func ExampleWithQueueDepth() {
	fsys := aiofs.New(aiofs.WithQueueDepth(8))
	defer fsys.Close()
	fmt.Println(fsys.Stats().InFlight)
	// Output:
	// 0
}

// Stats tells which engine is in use, and what the cache and write-behind
// did.
func ExampleFs_Stats() {
	dir := exampleDir()
	defer os.RemoveAll(dir)

	fsys := aiofs.New()
	defer fsys.Close()

	name := filepath.Join(dir, "stats.bin")
	f, err := fsys.Create(name)
	if err != nil {
		log.Fatal(err)
	}
	// Small writes are buffered and written behind; a single write of
	// 256 KiB or more would go straight to the file.
	for range 16 {
		if _, err := f.Write(make([]byte, 16<<10)); err != nil {
			log.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	if _, err := afero.ReadFile(fsys, name); err != nil {
		log.Fatal(err)
	}

	st := fsys.Stats()
	// The engine depends on the system (and AIOFS_ENGINE): "uring",
	// "kqueue" or "pool". Fallback is empty unless the platform's engine
	// was refused, io_uring under a seccomp profile for instance.
	fmt.Println("engine known:", st.Engine != "")
	fmt.Println("written through the engine:", st.BytesWritten >= 256<<10)
	fmt.Println("dirty after Sync:", st.DirtyBytes)
	fmt.Println("flushes:", st.Flushes > 0)
	fmt.Println("background errors:", st.BackgroundErrors)
	// Output:
	// engine known: true
	// written through the engine: true
	// dirty after Sync: 0
	// flushes: true
	// background errors: 0
}

// afero.NewIOFS turns the Fs into an io/fs.FS, for fs.WalkDir, fs.ReadFile,
// template.ParseFS and the like. io/fs names are relative and slash
// separated, so root it in a directory first.
func ExampleNew_ioFS() {
	dir := exampleDir()
	defer os.RemoveAll(dir)
	for name, text := range map[string]string{
		"a.txt":        "A",
		"sub/b.txt":    "B",
		"sub/deep/c.x": "C",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}

	afs := aiofs.New()
	defer afs.Close()
	fsys := afero.NewIOFS(afero.NewBasePathFs(afs, dir))

	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			data, err := fs.ReadFile(fsys, path)
			if err != nil {
				return err
			}
			fmt.Printf("%s: %s\n", path, data)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// a.txt: A
	// sub/b.txt: B
	// sub/deep/c.x: C
}

// afero.NewHttpFs serves the Fs with http.FileServer, Range requests
// included. Dir roots it in a directory. examples/fileserver is a complete
// server.
func ExampleNew_httpFs() {
	dir := exampleDir()
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "index.txt"), []byte("served by aiofs\n"), 0o644); err != nil {
		log.Fatal(err)
	}

	fsys := aiofs.New()
	defer fsys.Close()
	handler := http.FileServer(afero.NewHttpFs(fsys).Dir(dir))

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/index.txt", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())

	req := httptest.NewRequest("GET", "/index.txt", nil)
	req.Header.Set("Range", "bytes=10-14")
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Content-Range"), rec.Body.String())
	// Output:
	// 200 served by aiofs
	// 206 bytes 10-14/16 aiofs
}

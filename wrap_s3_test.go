package aiofs_test

// aiofs.Wrap over the S3 Fs (internal/s3fs) against SeaweedFS's S3
// gateway, started for each test by internal/s3test. Without a built
// weed these tests skip, except with CI=true, where they fail.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/aiofs/aiofs/internal/s3fs"
	"github.com/aiofs/aiofs/internal/s3test"
	"github.com/minio/minio-go/v7"
	"github.com/spf13/afero"
)

// s3ForTest starts a store for t and connects to it without delay.
func s3ForTest(t *testing.T) *s3test.Conn {
	t.Helper()
	return s3test.ForTest(t).DialForTest(t, 0)
}

// s3Fs returns an Fs over bucket (made if needed) under prefix.
func s3Fs(t wrapTB, c *s3test.Conn, bucket, prefix string) *s3fs.Fs {
	fsys, err := c.Fs(bucket, prefix)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return fsys
}

// TestWrapS3Differential is TestWrapDifferential with the S3 Fs as the
// base: each side a prefix of one bucket. The wrapped side's objects are
// checked through another Fs over its prefix, which sees the uploads and
// not the base's spools, so that a Sync is checked to have uploaded.
func TestWrapS3Differential(t *testing.T) {
	wrapChecks(t, 10)
	c := s3ForTest(t)
	s3Fs(t, c, "diff", "") // made once, before its parallel users
	var n atomic.Int64
	kind := wrapKind{name: "s3", make: func(t wrapTB) (*wside, *wside) {
		side := func(wrapped bool) *wside {
			prefix := fmt.Sprintf("side%d", n.Add(1))
			s := &wside{base: s3Fs(t, c, "diff", prefix), prefix: "/"}
			if wrapped {
				s.view = s3Fs(t, c, "diff", prefix)
			}
			return s
		}
		return side(false), side(true)
	}}
	// Serial (wrapChecks sets a flag), but its configurations run in
	// parallel: most of their time is the link's latency.
	for _, cfg := range wrapConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			wrapDifferential(t, kind, 60, cfg.opts)
		})
	}
}

// TestWrapS3SyncRenamedWithReaders is the case TestWrapS3Differential
// found: the S3 Fs moves a writer's spool with a rename, but its readers
// keep their old key, so Fs.Sync and a reader's Sync must upload through
// the writer. A new file under the old name gives the readers a spool of
// their own to upload instead.
func TestWrapS3SyncRenamedWithReaders(t *testing.T) {
	c := s3ForTest(t)
	base := s3Fs(t, c, "renamed", "")
	aio := aiofs.Wrap(base)
	defer aio.Close()
	w := mustOpen(t, aio, "f", os.O_RDWR|os.O_CREATE)
	defer w.Close()
	var rs []afero.File
	for range 8 {
		r := mustOpen(t, aio, "f", os.O_RDONLY)
		defer r.Close()
		rs = append(rs, r)
	}
	if err := aio.Rename("f", "g"); err != nil {
		t.Fatal(err)
	}
	again := mustOpen(t, aio, "f", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	defer again.Close()
	var want []byte
	for i, sync := range []func() error{aio.Sync, rs[0].Sync, aio.Sync, rs[1].Sync} {
		d := pattern(uint64(i), int64(len(want)), 1000)
		if _, err := w.Write(d); err != nil {
			t.Fatal(err)
		}
		want = append(want, d...)
		if err := sync(); err != nil {
			t.Fatalf("Sync %d: %v", i, err)
		}
		if got, err := s3test.Object(base, "g"); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("object g after Sync %d: %v, %s", i, err, diff(want, got, "want", "got"))
		}
	}
}

// TestWrapS3CutUpload cuts the connection while a Sync uploads: the Sync
// fails with the connection's error and the object keeps what the last
// good Sync put there; the data is kept, and a later Sync uploads it.
func TestWrapS3CutUpload(t *testing.T) {
	c := s3ForTest(t)
	base := s3Fs(t, c, "cut", "")
	aio := aiofs.Wrap(base)
	defer aio.Close()
	f := mustOpen(t, aio, "cut", os.O_RDWR|os.O_CREATE)
	g := mustOpen(t, aio, "cut", os.O_RDWR)
	d1, d2 := pattern(uint64(1), 0, 100<<10), pattern(uint64(2), 0, 200<<10)
	if _, err := f.Write(d1); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt(d2, int64(len(d1))); err != nil {
		t.Fatal(err)
	}
	h := c.Hold("PUT", "cut")
	synced := make(chan error, 1)
	go func() { synced <- f.Sync() }()
	<-h.Entered
	c.Cut()
	h.Release()
	if err := <-synced; err == nil {
		t.Fatal("Sync whose upload was cut succeeded")
	}
	want := append(append([]byte(nil), d1...), d2...)
	if got, err := s3test.Object(base, "cut"); err != nil || !bytes.Equal(got, d1) {
		t.Errorf("object after the failed Sync: %v, %s; want what the first Sync put", err, diff(d1, got, "want", "got"))
	}
	// Nothing was lost: the handles read everything, and Sync retries.
	got := make([]byte, len(want))
	if n, err := g.ReadAt(got, 0); n != len(want) || !bytes.Equal(got, want) {
		t.Errorf("ReadAt after the failed Sync: %d, %v, %s", n, err, diff(want, got, "want", "got"))
	}
	if err := g.Sync(); err != nil {
		t.Fatalf("Sync after the cut: %v", err)
	}
	if got, err := s3test.Object(base, "cut"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("object after the second Sync: %v, %s", err, diff(want, got, "want", "got"))
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
	if err := g.Close(); err != nil {
		t.Error(err)
	}
}

// TestWrapS3CutClose cuts the connection under the upload of a file's
// last Close: the Close reports it, and the object keeps what was there.
func TestWrapS3CutClose(t *testing.T) {
	c := s3ForTest(t)
	base := s3Fs(t, c, "cut", "")
	aio := aiofs.Wrap(base)
	defer aio.Close()
	if err := afero.WriteFile(aio, "old", []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := mustOpen(t, aio, "old", os.O_RDWR|os.O_TRUNC)
	if _, err := f.Write(pattern(uint64(5), 0, 300<<10)); err != nil {
		t.Fatal(err)
	}
	h := c.Hold("PUT", "old")
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	<-h.Entered
	c.Cut()
	h.Release()
	if err := <-closed; err == nil {
		t.Fatal("Close whose upload was cut succeeded")
	}
	if got, err := s3test.Object(base, "old"); err != nil || string(got) != "old" {
		t.Errorf("object after the failed Close: %q, %v; want the old contents", got, err)
	}
}

// TestWrapS3CutReadahead cuts the connection under a readahead window's
// GET: the reader still gets every byte right, through a read of its own,
// and no error is taken for the end of the file.
func TestWrapS3CutReadahead(t *testing.T) {
	c := s3ForTest(t)
	base := s3Fs(t, c, "cut", "")
	data := pattern(uint64(6), 0, 8<<20)
	if err := afero.WriteFile(base, "ra", data, 0o644); err != nil {
		t.Fatal(err)
	}
	aio := aiofs.Wrap(base)
	defer aio.Close()
	f := mustOpen(t, aio, "ra", os.O_RDONLY)
	defer f.Close()
	buf := make([]byte, 32<<10)
	got := bytes.NewBuffer(nil)
	if _, err := io.ReadFull(f, buf); err != nil {
		t.Fatal(err)
	}
	got.Write(buf)
	h := c.Hold("GET", "ra")
	go func() {
		<-h.Entered
		c.Cut()
		h.Release()
	}()
	for {
		n, err := f.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			// A read may report the cut; the next one must go on.
			t.Logf("Read after %d bytes: %v", got.Len(), err)
		}
		if got.Len() > len(data) {
			break
		}
	}
	select {
	case <-h.Entered:
	default:
		t.Fatal("no GET met the hold")
	}
	if h.Err() == nil {
		t.Error("the held GET did not fail: the cut was not under it")
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read through the cut: %s", diff(data, got.Bytes(), "want", "got"))
	}
}

// TestWrapS3ChangedBehind changes objects behind the wrapper's back: a
// new size, and the same size a second later (S3's modification times
// are whole seconds). The next Open sees each change.
func TestWrapS3ChangedBehind(t *testing.T) {
	c := s3ForTest(t)
	base := s3Fs(t, c, "behind", "")
	aio := aiofs.Wrap(base)
	defer aio.Close()
	put := func(data string) {
		t.Helper()
		if _, err := c.Client.PutObject(context.Background(), "behind", "f", strings.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		t.Helper()
		got, err := afero.ReadFile(aio, "f")
		if err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
	put("first")
	if got := read(); got != "first" {
		t.Fatalf("read %q; want \"first\"", got)
	}
	// Held open, so that the Fs keeps the file's cached blocks.
	keep := mustOpen(t, aio, "f", os.O_RDONLY)
	defer keep.Close()
	put("second!")
	if got := read(); got != "second!" {
		t.Errorf("after a change of size: %q; want \"second!\"", got)
	}
	time.Sleep(1100 * time.Millisecond)
	put("third!!")
	if got := read(); got != "third!!" {
		t.Errorf("after a change of contents a second later: %q; want \"third!!\"", got)
	}
}

// TestWrapS3Concurrent is TestWrapConcurrent over S3: 64 goroutines write
// regions of one shared object and objects of their own through Wrap,
// reading back as they go; after Fs.Sync the store holds every byte.
func TestWrapS3Concurrent(t *testing.T) {
	c := s3ForTest(t)
	for _, cfg := range wrapConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			base := s3Fs(t, c, "conc-"+cfg.name, "")
			view := s3Fs(t, c, "conc-"+cfg.name, "")
			wrapConcurrent(t, aiofs.Wrap(base, cfg.opts...), view)
		})
	}
}

// TestWrapS3NoLeak: after the files and the Fs are closed, no goroutine
// of the Wrap, the S3 client or the connections is left, and the client
// has no connection open.
func TestWrapS3NoLeak(t *testing.T) {
	srv := s3test.ForTest(t)
	baseline := settledGoroutines()
	c, err := srv.Dial(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	base := s3Fs(t, c, "leak", "")
	aio := aiofs.Wrap(base, aiofs.WithQueueDepth(8))
	data := pattern(uint64(7), 0, 3<<20)
	for i := range 4 {
		if err := afero.WriteFile(aio, fmt.Sprintf("f%d", i), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		if got, err := afero.ReadFile(aio, fmt.Sprintf("f%d", i)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadFile: %v, %s", err, diff(data, got, "want", "got"))
		}
	}
	if err := aio.Close(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if open, dials := c.Open(); open != 0 || dials == 0 {
		t.Errorf("after Close: %d connections open of %d made", open, dials)
	}
	checkGoroutinesReturn(t, baseline)
}

// TestWrapS3RenamedReader: the S3 Fs's readers read by key, so after a
// rename through the Fs an open reader reads whatever has the old name,
// as it does unwrapped; none of what it reads may become the renamed
// file's, for a later Open of it.
func TestWrapS3RenamedReader(t *testing.T) {
	c := s3ForTest(t)
	for _, wrapped := range []bool{false, true} {
		base := s3Fs(t, c, "strayreader", fmt.Sprintf("wrapped-%v", wrapped))
		var fsys afero.Fs = base
		if wrapped {
			aio := aiofs.Wrap(base)
			defer aio.Close()
			fsys = aio
		}
		old, other := bytes.Repeat([]byte("o"), 200<<10), bytes.Repeat([]byte("n"), 200<<10)
		w := mustOpen(t, fsys, "f", os.O_RDWR|os.O_CREATE)
		if _, err := w.Write(old); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r := mustOpen(t, fsys, "f", os.O_RDONLY)
		defer r.Close()
		p := make([]byte, 10)
		if _, err := r.ReadAt(p, 0); err != nil {
			t.Fatal(err)
		}
		if err := fsys.Rename("f", "g"); err != nil {
			t.Fatal(err)
		}
		if err := afero.WriteFile(fsys, "f", other, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, off := range []int64{0, 100 << 10} {
			if _, err := r.ReadAt(p, off); err != nil || !bytes.Equal(p, other[:10]) {
				t.Errorf("wrapped %v: the reader of f at %d after the rename: %q, %v; want what f has now", wrapped, off, p, err)
			}
		}
		if got, err := afero.ReadFile(fsys, "g"); err != nil || !bytes.Equal(got, old) {
			t.Errorf("wrapped %v: g read after the reader's reads: %v, %s", wrapped, err, diff(old, got, "want", "got"))
		}
	}
}

package aiofs_test

// One deterministic test per way a write path can silently corrupt
// data, named TestReliability<Case>. Each runs on every engine and
// expects what afero.OsFs does after the same calls, or what DESIGN.md's
// write path rules say. The cases that need Linux or root (tmpfs mounts,
// RLIMIT_FSIZE, sysfs, /dev/ptmx, O_DIRECT) are in
// writebehind_reliability_linux_test.go.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// relSkip skips a test that this system cannot run. In CI (CI=true) on
// Linux, where the tests run as root, a skip would hide a case, so it
// fails instead.
func relSkip(t testing.TB, format string, args ...any) {
	t.Helper()
	if runtime.GOOS == "linux" && os.Getenv("CI") == "true" {
		t.Fatalf("cannot run in CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// relHandles writes content to name and opens it through fsys once for
// each flag, under its name; the handles are closed when t ends.
func relHandles(t testing.TB, fsys afero.Fs, name string, content []byte, flags []relFlag) map[string]afero.File {
	t.Helper()
	if err := os.WriteFile(name, content, 0o644); err != nil {
		t.Fatal(err)
	}
	hs := map[string]afero.File{}
	for _, fl := range flags {
		f := mustOpen(t, fsys, name, fl.flag)
		t.Cleanup(func() { f.Close() })
		hs[fl.name] = f
	}
	return hs
}

// A relFlag names a handle of relHandles and gives its open flags.
type relFlag struct {
	name string
	flag int
}

// relRounds runs round n times, and stops the test after the fourth
// round that returns false: enough to show the failure's variety.
func relRounds(t testing.TB, n int, round func(round int) bool) {
	t.Helper()
	bad := 0
	for i := range n {
		if !round(i) {
			if bad++; bad > 3 {
				t.Fatalf("stopping after %d bad rounds", bad)
			}
		}
	}
}

// relReadAll reads the whole of f with ReadAt from 0, however large the
// file: what this handle would return for every byte.
func relReadAll(f afero.File) ([]byte, error) {
	var out []byte
	buf := make([]byte, 1<<20)
	for off := int64(0); ; {
		n, err := f.ReadAt(buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// relAgree checks that every handle reads what the file on disk holds and
// that its Stat reports the file's size: the quiescent check of the race
// tests, made with nothing pending (every writer has synced).
func relAgree(t testing.TB, name string, round int, hs map[string]afero.File) bool {
	t.Helper()
	disk, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	ok := true
	for what, h := range hs {
		got, err := relReadAll(h)
		if err != nil || !bytes.Equal(got, disk) {
			t.Errorf("round %d: handle %s reads other bytes than the file holds (%v): %s", round, what, err, diff(got, disk, "got", "want"))
			ok = false
		}
		if fi, err := h.Stat(); err != nil || fi.Size() != int64(len(disk)) {
			t.Errorf("round %d: handle %s: Stat size %v (%v), the file has %d bytes", round, what, fi.Size(), err, len(disk))
			ok = false
		}
	}
	return ok
}

// TestReliabilityWriteThroughVsFlush: an O_SYNC handle
// writes a range while another handle writes the last 4 KiB of it
// buffered and syncs. Whatever the order, every handle then reads what
// the file holds, and each write is whole. The larger range makes the
// write-through take longer to land, which widens the window.
func TestReliabilityWriteThroughVsFlush(t *testing.T) {
	t.Parallel()
	for _, span := range []int{cxBlock, 4 * cxBlock} {
		t.Run(fmt.Sprintf("%dKiB", span>>10), func(t *testing.T) {
			forEngines(t, func(t *testing.T, engine string) {
				relWriteThroughVsFlush(t, engine, span)
			})
		})
	}
}

func relWriteThroughVsFlush(t *testing.T, engine string, span int) {
	aio := newAio(t, engine)
	name := filepath.Join(t.TempDir(), "f")
	hs := relHandles(t, aio, name, make([]byte, span), []relFlag{
		{"O_SYNC", os.O_RDWR | os.O_SYNC}, {"buffered", os.O_RDWR}, {"reader", os.O_RDONLY}})
	ws, wb, rd := hs["O_SYNC"], hs["buffered"], hs["reader"]
	at := span - 4096
	relRounds(t, 300, func(round int) bool {
		a, b := byte(2*round+1), byte(2*round+2)
		// Cache the range, so that a stale copy could be served.
		if _, err := rd.ReadAt(make([]byte, span), 0); err != nil {
			t.Fatal(err)
		}
		var berr, serr error
		errs := atOnce(func() error {
			_, err := ws.WriteAt(bytes.Repeat([]byte{a}, span), 0)
			return err
		}, func() error {
			// Start at varying points of the write-through.
			for range round % 32 {
				runtime.Gosched()
			}
			if _, berr = wb.WriteAt(bytes.Repeat([]byte{b}, 4096), int64(at)); berr == nil {
				serr = wb.Sync()
			}
			return errors.Join(berr, serr)
		})
		if werr := errs[0]; werr != nil || berr != nil || serr != nil {
			t.Fatalf("round %d: write-through %v, buffered write %v, Sync %v", round, werr, berr, serr)
		}
		disk, _ := os.ReadFile(name)
		if tail := disk[at:span]; !bytes.Equal(tail, bytes.Repeat([]byte{a}, 4096)) && !bytes.Equal(tail, bytes.Repeat([]byte{b}, 4096)) {
			t.Errorf("round %d: the 4 KiB both wrote mix both writes", round)
		}
		if !bytes.Equal(disk[:at], bytes.Repeat([]byte{a}, at)) {
			t.Errorf("round %d: the write-through's other bytes are not in the file", round)
		}
		return relAgree(t, name, round, hs)
	})
}

// TestReliabilityTruncateVsWriteThrough: Truncate at a
// cut inside a block races an O_SYNC write of that block; every handle
// then reads what the file holds and reports its size.
func TestReliabilityTruncateVsWriteThrough(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		aio := newAio(t, engine)
		name := filepath.Join(t.TempDir(), "f")
		hs := relHandles(t, aio, name, make([]byte, 2*cxBlock), []relFlag{
			{"O_SYNC", os.O_RDWR | os.O_SYNC}, {"truncater", os.O_RDWR}, {"reader", os.O_RDONLY}})
		ws, tr, rd := hs["O_SYNC"], hs["truncater"], hs["reader"]
		relRounds(t, 200, func(round int) bool {
			if err := tr.Truncate(2 * cxBlock); err != nil {
				t.Fatal(err)
			}
			if _, err := rd.ReadAt(make([]byte, 2*cxBlock), 0); err != nil {
				t.Fatal(err)
			}
			errs := atOnce(func() error {
				_, err := ws.WriteAt(bytes.Repeat([]byte{byte(round + 1)}, cxBlock), cxBlock)
				return err
			}, func() error {
				for range round % 32 {
					runtime.Gosched()
				}
				return tr.Truncate(cxBlock + 1000)
			})
			if werr, terr := errs[0], errs[1]; werr != nil || terr != nil {
				t.Fatalf("round %d: write-through %v, Truncate %v", round, werr, terr)
			}
			if err := tr.Sync(); err != nil {
				t.Fatal(err)
			}
			return relAgree(t, name, round, hs)
		})
	})
}

// TestReliabilityOverlappingWritesTear: two concurrent
// WriteAts of 256 KiB - 1 bytes to the same range, with a write-behind
// bound smaller than either, leave one writer's bytes entirely: each
// Write is atomic against the Fs's other handles, even when it waits for
// room.
func TestReliabilityOverlappingWritesTear(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		aio := newAio(t, engine, aiofs.WithWriteBehind(64<<10))
		name := filepath.Join(t.TempDir(), "f")
		const size = 256<<10 - 1
		h1 := mustOpen(t, aio, name, os.O_RDWR|os.O_CREATE)
		defer h1.Close()
		h2 := mustOpen(t, aio, name, os.O_RDWR)
		defer h2.Close()
		torn := 0
		for round := range 200 {
			p1, p2 := bytes.Repeat([]byte{byte(2*round + 1)}, size), bytes.Repeat([]byte{byte(2*round + 2)}, size)
			errs := atOnce(func() error { _, err := h1.WriteAt(p1, 0); return err },
				func() error { _, err := h2.WriteAt(p2, 0); return err })
			if e1, e2 := errs[0], errs[1]; e1 != nil || e2 != nil {
				t.Fatalf("round %d: WriteAt: %v, %v", round, e1, e2)
			}
			got := make([]byte, size)
			if _, err := h1.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, p1) && !bytes.Equal(got, p2) {
				torn++
			}
			if err := h1.Sync(); err != nil {
				t.Fatal(err)
			}
			if disk, _ := os.ReadFile(name); !bytes.Equal(disk, got) {
				t.Fatalf("round %d: the file holds other bytes than the Fs reads: %s", round, diff(disk, got, "got", "want"))
			}
		}
		if torn > 0 {
			t.Errorf("the result mixes both writers in %d of 200 rounds (OsFs: 0)", torn)
		}
	})
}

// relOverflow is what the calls of TestReliabilityOffsetOverflow return.
type relOverflow struct {
	seek         int64
	seekErr      error
	writeN       int
	writeErr     error
	cur          int64
	curErr       error
	writeAtN     int
	writeAtErr   error
	size, onDisk int64
	readAtN      int
	readAtErr    error
	readN        int
	readErr      error
	seekOver     int64
	seekOverErr  error
}

func relOverflowSteps(t *testing.T, fsys afero.Fs, name string) relOverflow {
	var r relOverflow
	f := mustOpen(t, fsys, name, os.O_RDWR|os.O_CREATE)
	r.seek, r.seekErr = f.Seek(math.MaxInt64-10, io.SeekStart)
	p := bytes.Repeat([]byte{'x'}, 100)
	r.writeN, r.writeErr = f.Write(p)
	r.cur, r.curErr = f.Seek(0, io.SeekCurrent)
	r.writeAtN, r.writeAtErr = f.WriteAt(p, math.MaxInt64-10)
	if fi, err := f.Stat(); err == nil {
		r.size = fi.Size()
	}
	r.readAtN, r.readAtErr = f.ReadAt(make([]byte, 100), math.MaxInt64-10)
	if _, err := f.Seek(math.MaxInt64-10, io.SeekStart); err == nil {
		r.readN, r.readErr = f.Read(make([]byte, 100))
		f.Seek(math.MaxInt64-10, io.SeekStart)
		r.seekOver, r.seekOverErr = f.Seek(100, io.SeekCurrent)
	}
	f.Close()
	if fi, err := os.Stat(name); err == nil {
		r.onDisk = fi.Size()
	}
	return r
}

// TestReliabilityOffsetOverflow: a Seek to MaxInt64-10,
// a Write of 100 bytes there and a WriteAt there return what OsFs returns
// on the same file system (ext4 refuses the Seek; Linux's tmpfs accepts it
// and refuses the writes, whose end would pass MaxInt64; FreeBSD writes
// the 10 bytes that fit and fails the rest with EFBIG), and the handle's
// offset stays valid. So do a ReadAt and a Read there (EINVAL on Linux,
// the bytes up to MaxInt64 on FreeBSD) and a Seek whose sum overflows
// (EINVAL on Linux, EOVERFLOW on FreeBSD). The FreeBSD half runs in the
// VM.
func TestReliabilityOffsetOverflow(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		relOverflowCompare(t, engine, t.TempDir())
	})
}

// relOverflowCompare runs relOverflowSteps in dir through OsFs and through
// aiofs on engine, and checks that aiofs keeps its offset valid and
// returns what OsFs returns. It returns both, for the checks of a file
// system of its own.
func relOverflowCompare(t *testing.T, engine, dir string) (got, want relOverflow) {
	t.Helper()
	want = relOverflowSteps(t, afero.NewOsFs(), filepath.Join(dir, "os"))
	got = relOverflowSteps(t, newAio(t, engine), filepath.Join(dir, "aio"))
	t.Logf("OsFs: %+v", want)
	t.Logf("aiofs: %+v", got)
	if got.curErr != nil || got.cur < 0 {
		t.Errorf("Seek(0, io.SeekCurrent) after the Write: %d, %v; the offset must stay valid", got.cur, got.curErr)
	}
	if got.seek != want.seek || !relSameErr(got.seekErr, want.seekErr) {
		t.Errorf("Seek to MaxInt64-10: %d, %v; OsFs: %d, %v", got.seek, got.seekErr, want.seek, want.seekErr)
	}
	if got.writeN != want.writeN || !relSameErr(got.writeErr, want.writeErr) {
		t.Errorf("Write at MaxInt64-10: %d, %v; OsFs: %d, %v", got.writeN, got.writeErr, want.writeN, want.writeErr)
	}
	if got.cur != want.cur || !relSameErr(got.curErr, want.curErr) {
		t.Errorf("offset after the Write: %d, %v; OsFs: %d, %v", got.cur, got.curErr, want.cur, want.curErr)
	}
	if !relSameWriteAtN(got.writeAtN, want.writeAtN, want.writeAtErr) || !relSameErr(got.writeAtErr, want.writeAtErr) {
		t.Errorf("WriteAt at MaxInt64-10: %d, %v; OsFs: %d, %v", got.writeAtN, got.writeAtErr, want.writeAtN, want.writeAtErr)
	}
	if got.size != want.size || got.onDisk != want.onDisk {
		t.Errorf("size: Stat %d, on disk %d; OsFs: %d, %d", got.size, got.onDisk, want.size, want.onDisk)
	}
	if got.readAtN != want.readAtN || !relSameErr(got.readAtErr, want.readAtErr) {
		t.Errorf("ReadAt at MaxInt64-10: %d, %v; OsFs: %d, %v", got.readAtN, got.readAtErr, want.readAtN, want.readAtErr)
	}
	if got.readN != want.readN || !relSameErr(got.readErr, want.readErr) {
		t.Errorf("Read at MaxInt64-10: %d, %v; OsFs: %d, %v", got.readN, got.readErr, want.readN, want.readErr)
	}
	if got.seekOver != want.seekOver || !relSameErr(got.seekOverErr, want.seekOverErr) {
		t.Errorf("Seek(100, io.SeekCurrent) at MaxInt64-10: %d, %v; OsFs: %d, %v", got.seekOver, got.seekOverErr, want.seekOver, want.seekOverErr)
	}
	return got, want
}

// relDirtyPages reports the file's dirty pages in the page cache, and
// whether the system can tell (writebehind_reliability_linux_test.go sets it).
var relDirtyPages = func(t testing.TB, name string) (int, bool) { return 0, false }

// TestReliabilityFsSyncUnwrittenFiles: Fs.Sync makes
// durable what was written through the Fs to a file whose writer has
// closed, whether a reader still holds it open or no handle is left.
// Durability is seen two ways: an fsync reaches the engine (Sync fsyncs
// through the engine, DESIGN says), and where cachestat can tell, no page
// of the file is dirty afterwards.
func TestReliabilityFsSyncUnwrittenFiles(t *testing.T) {
	t.Parallel()
	for _, reader := range []bool{true, false} {
		what := "closed"
		if reader {
			what = "held-by-reader"
		}
		t.Run(what, func(t *testing.T) {
			forEngines(t, func(t *testing.T, engine string) {
				aio := newAio(t, engine)
				name := filepath.Join(t.TempDir(), "f")
				w := mustOpen(t, aio, name, os.O_RDWR|os.O_CREATE)
				if _, err := relWriteInPieces(w, pattern(newRand(10, 10).Uint64(), 0, 1<<20), 64<<10); err != nil {
					t.Fatal(err)
				}
				if reader {
					r := mustOpen(t, aio, name, os.O_RDONLY)
					defer r.Close()
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				dirty, known := relDirtyPages(t, name)
				t.Logf("dirty pages before Fs.Sync: %d (known %v)", dirty, known)
				before := aio.Stats()
				if err := aio.Sync(); err != nil {
					t.Fatalf("Fs.Sync: %v", err)
				}
				after := aio.Stats()
				if after.Submitted == before.Submitted {
					t.Errorf("Fs.Sync submitted no operation to the engine: the file written through the Fs was not fsynced")
				}
				if dirty, known := relDirtyPages(t, name); known && dirty > 0 {
					t.Errorf("%d pages of the file are still dirty after Fs.Sync returned nil", dirty)
				}
			})
		})
	}
}

// TestReliabilityTruncateWhileWriterWaits: a writer
// that waits for room between its 32 KiB pieces races Truncate(0) or an
// O_TRUNC open. Truncation is ordered against each piece, so the file
// ends either empty or as long as the writer wrote, with zeros where the
// pieces before the truncation were; every handle agrees with the file.
func TestReliabilityTruncateWhileWriterWaits(t *testing.T) {
	t.Parallel()
	for _, otrunc := range []bool{false, true} {
		what := "Truncate"
		if otrunc {
			what = "O_TRUNC"
		}
		t.Run(what, func(t *testing.T) {
			forEngines(t, func(t *testing.T, engine string) {
				aio := newAio(t, engine, aiofs.WithWriteBehind(64<<10))
				dir := t.TempDir()
				const piece, pieces = 32 << 10, 8
				data := pattern(newRand(11, 11).Uint64(), 0, piece*pieces)
				for round := range 100 {
					name := filepath.Join(dir, "f")
					w := mustOpen(t, aio, name, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
					other := mustOpen(t, aio, name, os.O_RDWR)
					errs := atOnce(func() error {
						_, err := relWriteInPieces(w, data, piece)
						return err
					}, func() error {
						if otrunc {
							f, err := aio.OpenFile(name, os.O_WRONLY|os.O_TRUNC, 0)
							if err == nil {
								err = f.Close()
							}
							return err
						}
						return other.Truncate(0)
					})
					if werr, terr := errs[0], errs[1]; werr != nil || terr != nil {
						t.Fatalf("round %d: writer %v, %s %v", round, werr, what, terr)
					}
					if err := w.Sync(); err != nil {
						t.Fatal(err)
					}
					ok := relAgree(t, name, round, map[string]afero.File{"writer": w, "other": other})
					disk, _ := os.ReadFile(name)
					if !relZeroPrefixThen(disk, data, piece) {
						ok = false
						t.Errorf("round %d: the file (%d bytes) is neither empty nor zero pieces followed by the writer's: %s",
							round, len(disk), diff(disk, data, "got", "want"))
					}
					w.Close()
					other.Close()
					if !ok {
						return
					}
				}
			})
		})
	}
}

// relZeroPrefixThen reports whether got is empty, or data with its first k
// pieces zeroed for some k.
func relZeroPrefixThen(got, data []byte, piece int) bool {
	if len(got) == 0 {
		return true
	}
	if len(got) != len(data) {
		return false
	}
	for k := 0; k*piece <= len(data); k++ {
		if bytes.Equal(got[k*piece:], data[k*piece:]) {
			return !bytes.ContainsFunc(got[:k*piece], func(r rune) bool { return r != 0 })
		}
	}
	return false
}

// relWriteInPieces writes data with Write in pieces of the given size.
func relWriteInPieces(f afero.File, data []byte, piece int) (int, error) {
	done := 0
	for done < len(data) {
		n, err := f.Write(data[done:min(len(data), done+piece)])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// TestReliabilityFsCloseDuringFileClose: Fs.Close
// racing the Closes of every writer of a file returns nil, and the data
// is in the file: a writer mid-Close is still a writer, and its data is
// not reported as unflushable.
func TestReliabilityFsCloseDuringFileClose(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		dir := t.TempDir()
		const writers, size = 3, 10 << 10
		for round := range 200 {
			aio := aiofs.New(aiofs.WithEngine(engine))
			name := filepath.Join(dir, "f")
			var want []byte
			hs := make([]afero.File, writers)
			for i := range hs {
				hs[i] = mustOpen(t, aio, name, os.O_RDWR|os.O_CREATE)
				p := bytes.Repeat([]byte{byte(round*writers + i + 1)}, size)
				if _, err := hs[i].WriteAt(p, int64(i*size)); err != nil {
					t.Fatal(err)
				}
				want = append(want, p...)
			}
			var wg sync.WaitGroup
			cerrs := make([]error, writers)
			for i, h := range hs {
				wg.Add(1)
				go func() { defer wg.Done(); cerrs[i] = h.Close() }()
			}
			ferr := aio.Close()
			wg.Wait()
			if ferr != nil {
				t.Errorf("round %d: Fs.Close while every writer closes: %v", round, ferr)
			}
			for i, err := range cerrs {
				if err != nil && !errors.Is(err, fs.ErrClosed) {
					t.Errorf("round %d: Close of writer %d: %v", round, i, err)
				}
			}
			if disk, _ := os.ReadFile(name); !bytes.Equal(disk, want) {
				t.Fatalf("round %d: the file after Fs.Close and every Close: %s", round, diff(disk, want, "got", "want"))
			}
			if t.Failed() {
				return
			}
			if err := os.Remove(name); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// relSameErr reports whether two errors are the same to a caller: both
// nil, both exactly io.EOF, or the same errno.
// relSameWriteAtN reports whether aiofs's WriteAt count got matches
// OsFs's want, which os.File.WriteAt makes 0 whenever it fails, even when
// its pwrite(2) wrote some bytes before failing (FreeBSD at the largest
// offset, any system at RLIMIT_FSIZE): aiofs reports the bytes written,
// and the file's contents and size are compared instead.
func relSameWriteAtN(got, want int, wantErr error) bool {
	return got == want || wantErr != nil && want == 0
}

func relSameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a == io.EOF || b == io.EOF {
		return a == b
	}
	var ae, be syscall.Errno
	if errors.As(a, &ae) != errors.As(b, &be) {
		return false
	}
	return ae == be
}

package aiofs_test

// The reliability cases that need Linux, and root for the tmpfs mounts
// that make a file system full on demand. See writebehind_reliability_test.go.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
	"golang.org/x/sys/unix"
)

func init() { relDirtyPages = relDirtyPagesLinux }

// relDirtyPagesLinux counts the file's dirty pages with cachestat(2)
// (Linux 6.5), where the file system keeps dirty pages (tmpfs has none to
// write back).
func relDirtyPagesLinux(t testing.TB, name string) (int, bool) {
	t.Helper()
	var sfs unix.Statfs_t
	if err := unix.Statfs(name, &sfs); err != nil || sfs.Type == unix.TMPFS_MAGIC {
		return 0, false
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &st, 0); err != nil {
		return 0, false
	}
	return int(st.Dirty + st.Writeback), true
}

// relTmpfs mounts a tmpfs of the given size in a new temporary directory.
// Without the right to mount it skips, but fails in CI, which runs as root.
func relTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size="+size); err != nil {
		relSkip(t, "cannot mount a tmpfs (%v); this test needs root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

// relFull fills the file system of dir through a file named filler, and
// returns that file's name: removing it frees the space.
func relFull(t *testing.T, dir string) string {
	t.Helper()
	filler := filepath.Join(dir, "filler")
	cxFill(t, filler)
	return filler
}

// relCalls is the outcome of a sequence of calls, compared between OsFs
// and aiofs: each call's result, then the file's size as the handle sees
// it and its bytes on disk once every handle is closed.
type relCalls struct {
	results []string
	size    int64
	seekEnd int64
	disk    []byte
}

func (c *relCalls) add(what string, n int, err error) {
	c.results = append(c.results, fmt.Sprintf("%s: %d, %s", what, n, relErrno(err)))
}

// relErrno names err by its errno, as cxSameErr compares errors.
func relErrno(err error) string {
	var e syscall.Errno
	switch {
	case err == nil:
		return "nil"
	case errors.As(err, &e):
		return e.Error()
	default:
		return err.Error()
	}
}

// relCompare fails the test where aiofs's calls differ from OsFs's.
func relCompare(t *testing.T, got, want relCalls) {
	t.Helper()
	for i := range max(len(got.results), len(want.results)) {
		var g, w string
		if i < len(got.results) {
			g = got.results[i]
		}
		if i < len(want.results) {
			w = want.results[i]
		}
		if g != w {
			t.Errorf("call %d: aiofs %q, OsFs %q", i, g, w)
		}
	}
	if got.size != want.size || got.seekEnd != want.seekEnd {
		t.Errorf("size: Stat %d, Seek(0, io.SeekEnd) %d; OsFs: %d, %d", got.size, got.seekEnd, want.size, want.seekEnd)
	}
	if !bytes.Equal(got.disk, want.disk) {
		t.Errorf("on disk (%d bytes) vs OsFs's (%d bytes): %s", len(got.disk), len(want.disk), diff(got.disk, want.disk, "got", "want"))
		if i := bytes.Index(got.disk, []byte("LOG")); i >= 0 {
			t.Logf("aiofs's file has LOG at %d; OsFs's at %d", i, bytes.Index(want.disk, []byte("LOG")))
		}
	}
}

// relSizes records what f says its size is.
// appendLOG appends "LOG" through a new O_APPEND handle, records the sizes
// f sees, closes both, and records what the file holds then.
func (c *relCalls) appendLOG(t *testing.T, fsys afero.Fs, name string, f afero.File) {
	a := mustOpen(t, fsys, name, os.O_WRONLY|os.O_APPEND)
	n, err := a.Write([]byte("LOG"))
	c.add("append LOG", n, err)
	c.sizes(f)
	c.add("Close appender", 0, a.Close())
	c.add("Close", 0, f.Close())
	c.disk, _ = os.ReadFile(name)
}

func (c *relCalls) sizes(f afero.File) {
	if fi, err := f.Stat(); err == nil {
		c.size = fi.Size()
	}
	c.seekEnd, _ = f.Seek(0, io.SeekEnd)
}

// relENOSPCSteps: on a 1 MiB tmpfs holding a 512 KiB file, a 768 KiB
// Write fails after 512 KiB; the other file is removed; then a WriteAt of
// "W" at 0 and an O_APPEND Write of "LOG".
func relENOSPCSteps(t *testing.T, fsys afero.Fs, dir string) relCalls {
	var c relCalls
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, make([]byte, 512<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "f")
	f := mustOpen(t, fsys, name, os.O_RDWR|os.O_CREATE)
	n, err := f.Write(pattern(newRand(20, 20).Uint64(), 0, 768<<10))
	c.add("Write 768 KiB", n, err)
	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	n, err = f.WriteAt([]byte("W"), 0)
	c.add("WriteAt W at 0", n, err)
	c.appendLOG(t, fsys, name, f)
	return c
}

// TestReliabilityENOSPCPhantomSize: a write that fails
// with ENOSPC claims no size beyond the bytes it wrote: later writes, the
// size and O_APPEND are as with OsFs.
func TestReliabilityENOSPCPhantomSize(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		want := relENOSPCSteps(t, afero.NewOsFs(), relTmpfs(t, "1m"))
		got := relENOSPCSteps(t, newAio(t, engine), relTmpfs(t, "1m"))
		t.Logf("OsFs: %q, size %d", want.results, want.size)
		t.Logf("aiofs: %q, size %d", got.results, got.size)
		relCompare(t, got, want)
	})
}

// TestReliabilityEFBIGPhantomSize: a WriteAt wholly
// past the largest file size (RLIMIT_FSIZE here, in a child process, with
// SIGXFSZ ignored) claims no size: a 1-byte Write and an O_APPEND Write
// afterwards land where OsFs puts them.
func TestReliabilityEFBIGPhantomSize(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) { runChild(t, "efbig-write", t.TempDir(), engine) })
}

// TestReliabilityFailedTruncateKeepsSize: a Truncate
// past the largest file size (RLIMIT_FSIZE, in a child process) fails and
// changes nothing: Stat, Seek(0, io.SeekEnd) and O_APPEND see the old
// size, as with OsFs.
func TestReliabilityFailedTruncateKeepsSize(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) { runChild(t, "efbig-truncate", t.TempDir(), engine) })
}

// relChildLimit is the RLIMIT_FSIZE of the EFBIG children.
const relChildLimit = 1 << 20

func relEFBIGWriteSteps(t *testing.T, fsys afero.Fs, dir string) relCalls {
	var c relCalls
	name := filepath.Join(dir, fsys.Name())
	f := mustOpen(t, fsys, name, os.O_RDWR|os.O_CREATE)
	n, err := f.WriteAt(make([]byte, 256<<10), 2*relChildLimit)
	c.add("WriteAt 256 KiB past the limit", n, err)
	n, err = f.Write([]byte("a"))
	c.add("Write a", n, err)
	c.appendLOG(t, fsys, name, f)
	return c
}

func relEFBIGTruncateSteps(t *testing.T, fsys afero.Fs, dir string) relCalls {
	var c relCalls
	name := filepath.Join(dir, fsys.Name())
	f := mustOpen(t, fsys, name, os.O_RDWR|os.O_CREATE)
	n, err := f.Write([]byte("hello"))
	c.add("Write hello", n, err)
	c.add("Truncate 2^50", 0, f.Truncate(1<<50))
	c.sizes(f)
	c.appendLOG(t, fsys, name, f)
	return c
}

func init() {
	children["efbig-write"] = func(t *testing.T, dir, engine string) { relEFBIGChild(t, dir, engine, relEFBIGWriteSteps) }
	children["efbig-truncate"] = func(t *testing.T, dir, engine string) { relEFBIGChild(t, dir, engine, relEFBIGTruncateSteps) }
}

// relEFBIGChild is the child of the EFBIG tests: it compares aiofs with
// OsFs under a process-wide RLIMIT_FSIZE.
func relEFBIGChild(t *testing.T, dir, engine string, steps func(*testing.T, afero.Fs, string) relCalls) {
	signal.Ignore(syscall.SIGXFSZ)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = relChildLimit
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	want := steps(t, afero.NewOsFs(), dir)
	got := steps(t, newAio(t, engine), dir)
	t.Logf("OsFs: %q, size %d", want.results, want.size)
	t.Logf("aiofs: %q, size %d", got.results, got.size)
	relCompare(t, got, want)
}

// TestReliabilityOffsetOverflowTmpfs is
// TestReliabilityOffsetOverflow on tmpfs, whose largest offset is
// MaxInt64: the Seek succeeds there, and the writes, whose end would pass
// MaxInt64, fail as the OS fails them (EINVAL).
func TestReliabilityOffsetOverflowTmpfs(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		got, want := relOverflowCompare(t, engine, relTmpfs(t, "1m"))
		// Exactly: on tmpfs the writes fail before writing, so OsFs's
		// count of 0 is the bytes written.
		if got.writeAtN != want.writeAtN {
			t.Errorf("WriteAt at MaxInt64-10: %d; OsFs: %d", got.writeAtN, want.writeAtN)
		}
	})
}

// TestReliabilityPseudoFilesFresh: sysfs and procfs
// files change without their size or times changing; every read through
// the Fs returns their contents at the time, as OsFs does. Counters that
// only grow make it deterministic: a value read through the Fs after one
// read through the OS is at least that one.
func TestReliabilityPseudoFilesFresh(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		aio := newAio(t, engine)
		t.Run("sysfs", func(t *testing.T) {
			const name = "/sys/class/net/lo/statistics/rx_bytes"
			if _, err := os.Stat(name); err != nil {
				relSkip(t, "%v", err)
			}
			relCounterFresh(t, aio, name, relLoopbackTraffic)
		})
		t.Run("procfs", func(t *testing.T) {
			// wchar of /proc/self/io counts the bytes this process
			// passed to write(2).
			const name = "/proc/self/io"
			wchar := func(t *testing.T, s string) uint64 {
				for line := range strings.Lines(s) {
					if v, ok := strings.CutPrefix(line, "wchar: "); ok {
						n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
						if err != nil {
							t.Fatal(err)
						}
						return n
					}
				}
				t.Fatalf("no wchar in %s: %q", name, s)
				return 0
			}
			write := func(t *testing.T) {
				if err := os.WriteFile(os.DevNull, make([]byte, 1<<20), 0); err != nil {
					t.Fatal(err)
				}
			}
			relCounterFreshText(t, aio, name, wchar, write)
		})
		t.Run("sizes", func(t *testing.T) {
			// Stat of a pseudo-file reports what the OS reports.
			for _, name := range []string{"/proc/self/status", "/sys/class/net/lo/statistics/rx_bytes"} {
				want, err := os.Stat(name)
				if err != nil {
					relSkip(t, "%v", err)
				}
				got, err := aio.Stat(name)
				if err != nil || got.Size() != want.Size() {
					t.Errorf("Stat(%s): size %v (%v), OsFs %d", name, got.Size(), err, want.Size())
				}
			}
		})
	})
}

// relCounterFresh checks a sysfs file holding one decimal counter.
func relCounterFresh(t *testing.T, aio *aiofs.Fs, name string, bump func(*testing.T)) {
	relCounterFreshText(t, aio, name, func(t *testing.T, s string) uint64 {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", name, s, err)
		}
		return v
	}, bump)
}

// relCounterFreshText reads a counter through the Fs (which would cache
// it), makes it grow, reads it through the OS, then through the Fs again
// twice (a new Open, and the handle of the first read): each must be at
// least the OS's value.
func relCounterFreshText(t *testing.T, aio *aiofs.Fs, name string, parse func(*testing.T, string) uint64, bump func(*testing.T)) {
	t.Helper()
	f, err := aio.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	first, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	before := parse(t, string(first))
	bump(t)
	osb, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	osv := parse(t, string(osb))
	if osv <= before {
		t.Fatalf("%s did not grow (%d then %d): the test makes no point", name, before, osv)
	}
	again, err := afero.ReadFile(aio, name)
	if err != nil {
		t.Fatal(err)
	}
	if v := parse(t, string(again)); v < osv {
		t.Errorf("afero.ReadFile(%s) through the Fs: %d, but the OS read %d before it (the Fs read %d earlier): stale", name, v, osv, before)
	}
	buf := make([]byte, 4096)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if v := parse(t, string(buf[:n])); v < osv {
		t.Errorf("ReadAt(0) of %s on the first handle: %d, but the OS read %d before it: stale", name, v, osv)
	}
}

// relLoopbackTraffic sends a few UDP datagrams over the loopback.
func relLoopbackTraffic(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := net.Dial("udp", c.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 10 {
		if _, err := s.Write(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2000)
	for range 10 {
		if _, _, err := c.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReliabilityDirtyBoundAfterFailedFlush: after a
// flush of a file fails, a 64 MiB WriteAt through a new handle of it
// still keeps the Fs's dirty bytes within WithWriteBehind(1 MiB): blocks
// of a file whose last flush failed count, and so do its new blocks. The
// file system stays full, so the WriteAt may fail (with ENOSPC, its own
// data's error); it must neither pass the bound nor hang.
func TestReliabilityDirtyBoundAfterFailedFlush(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		const bound = 1 << 20
		mnt := relTmpfs(t, "4m")
		aio := newAio(t, engine, aiofs.WithWriteBehind(bound))
		name := filepath.Join(mnt, "f")
		h1 := mustOpen(t, aio, name, os.O_RDWR|os.O_CREATE)
		defer h1.Close()
		filler := relFull(t, mnt)
		defer os.Remove(filler)
		if _, err := cxWriteInPieces(h1, pattern(newRand(21, 21).Uint64(), 0, 256<<10), 0, false); err != nil && !cxIs(err, syscall.ENOSPC) {
			t.Fatal(err)
		}
		if err := h1.Sync(); !cxIs(err, syscall.ENOSPC) {
			t.Fatalf("h1.Sync on a full file system: %v, want ENOSPC", err)
		}
		// Let the background flush that h1's writes scheduled fail too
		// before h2 opens, so that h2 starts with no error of its own.
		// (The bound must hold whatever the timing; the pause only makes
		// case happen on the code it was found on.)
		time.Sleep(100 * time.Millisecond)
		h2 := mustOpen(t, aio, name, os.O_RDWR)
		defer h2.Close()
		var maxDirty int64
		done := make(chan error)
		go func() {
			_, err := h2.WriteAt(pattern(newRand(22, 22).Uint64(), 0, 64<<20), 1<<20)
			done <- err
		}()
		var werr error
		hang := time.After(30 * time.Second)
	wait:
		for {
			select {
			case werr = <-done:
				break wait
			case <-hang:
				os.Remove(filler) // let it finish
				t.Fatalf("a 64 MiB WriteAt on a full file system has not returned after 30 s")
			default:
				maxDirty = max(maxDirty, aio.Stats().DirtyBytes)
				time.Sleep(time.Millisecond)
			}
		}
		st := aio.Stats()
		maxDirty = max(maxDirty, st.DirtyBytes)
		t.Logf("WriteAt: %v; DirtyBytes after %d, largest seen %d; WriterWaits %d", werr, st.DirtyBytes, maxDirty, st.WriterWaits)
		if werr != nil && !cxIs(werr, syscall.ENOSPC) {
			t.Errorf("h2.WriteAt: %v, want nil or ENOSPC", werr)
		}
		// The bound lets one block in beside those held. The 256 KiB
		// whose flush failed wait for a Sync and are counted apart (up to
		// one bound of them), so that a program that met ENOSPC on one
		// file can go on writing others; the 64 MiB are not.
		if maxDirty > bound+256<<10+cxBlock {
			t.Errorf("DirtyBytes reached %d with WithWriteBehind(%d)", maxDirty, bound)
		}
	})
}

// TestReliabilityODirectHandleFlush: with an O_DIRECT
// handle of the file open, unaligned buffered writes of another handle
// are flushed through a descriptor that accepts any buffer: every Write,
// Sync and Close succeeds, as with OsFs, and no error sticks.
func TestReliabilityODirectHandleFlush(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		for _, directFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("directFirst=%v", directFirst), func(t *testing.T) {
				aio := newAio(t, engine)
				name := filepath.Join(t.TempDir(), "f")
				if err := os.WriteFile(name, make([]byte, 3*cxBlock), 0o644); err != nil {
					t.Fatal(err)
				}
				var d, b afero.File
				openDirect := func() {
					var err error
					if d, err = aio.OpenFile(name, os.O_RDWR|syscall.O_DIRECT, 0); err != nil {
						relSkip(t, "O_DIRECT open: %v", err)
					}
				}
				if directFirst {
					openDirect()
				}
				b = mustOpen(t, aio, name, os.O_RDWR)
				if !directFirst {
					openDirect()
				}
				want, _ := os.ReadFile(name)
				for i := range 5 {
					p := []byte(fmt.Sprintf("unaligned %d", i))
					off := int64(i*cxBlock/2 + 3)
					if n, err := b.WriteAt(p, off); n != len(p) || err != nil {
						t.Errorf("buffered WriteAt %d: %d, %v", i, n, err)
					}
					copy(want[off:], p)
				}
				if err := b.Sync(); err != nil {
					t.Errorf("buffered handle's Sync: %v", err)
				}
				if n, err := b.WriteAt([]byte("again"), 1); n != 5 || err != nil {
					t.Errorf("buffered WriteAt after the Sync: %d, %v", n, err)
				}
				copy(want[1:], "again")
				if err := aio.Sync(); err != nil {
					t.Errorf("Fs.Sync: %v", err)
				}
				if err := d.Sync(); err != nil {
					t.Errorf("O_DIRECT handle's Sync: %v", err)
				}
				if err := b.Close(); err != nil {
					t.Errorf("buffered handle's Close: %v", err)
				}
				if err := d.Close(); err != nil {
					t.Errorf("O_DIRECT handle's Close: %v", err)
				}
				if disk, _ := os.ReadFile(name); !bytes.Equal(disk, want) {
					t.Errorf("on disk: %s", diff(disk, want, "got", "want"))
				}
			})
		}
	})
}

// TestReliabilityTerminalWrite: a Write to a terminal
// (the master of a new pseudo-terminal) works as with OsFs: a character
// device has no offsets to write at.
func TestReliabilityTerminalWrite(t *testing.T) {
	t.Parallel()
	forEngines(t, func(t *testing.T, engine string) {
		aio := newAio(t, engine)
		for _, fsys := range []afero.Fs{afero.NewOsFs(), aio} {
			f, err := fsys.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
			if err != nil {
				relSkip(t, "%s: open /dev/ptmx: %v", fsys.Name(), err)
			}
			n, werr := f.Write([]byte("hello\n"))
			serr := f.Sync()
			cerr := f.Close()
			if n != 6 || werr != nil {
				t.Errorf("%s: Write to /dev/ptmx: %d, %v; want 6, nil", fsys.Name(), n, werr)
			}
			t.Logf("%s: Write %d, %v; Sync %v; Close %v", fsys.Name(), n, werr, serr, cerr)
			if cerr != nil {
				t.Errorf("%s: Close of /dev/ptmx: %v", fsys.Name(), cerr)
			}
		}
	})
}

package aiofs_test

// Randomized differential tests: long random sequences of file operations
// over several files and several handles per file, applied in lockstep to
// afero.OsFs and aiofs, comparing every result and, at checkpoints and at
// the end, the trees on disk.
//
// Replay a failure with the seed it prints:
//
//	AIOFS_SEED=12345 go test -run TestRandomDifferential/default

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
	"pgregory.net/rapid"
)

// chooser is the source of random choices: a seeded PRNG, or rapid.
type chooser interface {
	intn(n int) int // in [0, n)
}

type prng struct{ r *rand.Rand }

func (p prng) intn(n int) int { return p.r.IntN(n) }

type rapidChooser struct{ t *rapid.T }

func (r rapidChooser) intn(n int) int { return rapid.IntRange(0, n-1).Draw(r.t, "c") }

// rstate is the random walk's view of the test: which files exist by
// name, and which handles are open.
type rstate struct {
	files    []string // names, relative to the roots
	perFile  int      // handle slots per file
	maxSize  int64    // offsets and sizes are mostly kept below this
	bigIO    bool     // allow transfers of hundreds of KiB
	checkFsS bool     // the aiofs side exposes Sync (Fs.Sync)
}

func newRState() *rstate {
	return &rstate{
		files:   []string{"f0", "f1", "f2", "f3", "d/f4"},
		perFile: 3,
		maxSize: 1 << 20,
		bigIO:   true,
	}
}

func handleID(file, slot int) string { return fmt.Sprintf("h%d.%d", file, slot) }

func (h *H) isOpen(id string) bool {
	f := h.os.files[id]
	return f != nil && !h.os.closed[id]
}

// size is the OsFs file's current size (0 if missing).
func (h *H) size(name string) int64 {
	fi, err := os.Stat(h.os.d(name))
	if err != nil {
		return 0
	}
	return fi.Size()
}

var openFlags = []int{
	ro, wo, rw,
	rw | creat, wo | creat, ro | creat,
	wo | creat | trunc, rw | creat | trunc, rw | trunc,
	wo | appnd, rw | appnd, wo | creat | appnd, rw | creat | appnd,
	rw | creat | excl, wo | creat | excl | appnd,
	rw | osync, wo | creat | appnd | osync,
}

var perms = []os.FileMode{0o644, 0o600, 0o666, 0o640}

func pick[T any](c chooser, xs []T) T { return xs[c.intn(len(xs))] }

// length picks a transfer size: mostly small, sometimes around block
// sizes, sometimes large; -1 is a nil buffer.
func (st *rstate) length(c chooser) int {
	switch r := c.intn(100); {
	case r < 3:
		return 0
	case r < 5:
		return -1
	case r < 45:
		return 1 + c.intn(64)
	case r < 80:
		return 1 + c.intn(8192)
	case r < 96:
		return pick(c, []int{4095, 4096, 4097, 65535, 65536, 65537, 131072, 131073}) + c.intn(3) - 1
	default:
		if st.bigIO {
			return 1 + c.intn(256<<10)
		}
		return 1 + c.intn(16<<10)
	}
}

// writeLength is length for sequential writes.
func (st *rstate) writeLength(c chooser) int {
	n := st.length(c)
	if n <= 0 && excluded("emptywrite") {
		n = 1
	}
	return n
}

// offset picks a position relative to the current size: inside, at the
// end, at block boundaries, past the end, or negative.
func (st *rstate) offset(c chooser, size int64) int64 {
	switch r := c.intn(100); {
	case r < 2:
		return -1 - int64(c.intn(3))
	case r < 12:
		return 0
	case r < 22:
		return size
	case r < 30:
		return max(0, size-int64(1+c.intn(100)))
	case r < 45:
		b := pick(c, []int64{4096, 65536, 131072, 1 << 20})
		return b*int64(c.intn(8)) + int64(c.intn(3)) - 1
	case r < 90:
		return int64(c.intn(int(size + 8192)))
	default:
		return int64(c.intn(int(st.maxSize * 2)))
	}
}

// randomStep performs one random operation.
func randomStep(h *H, st *rstate, c chooser) {
	fi := c.intn(len(st.files))
	name := st.files[fi]
	id := handleID(fi, c.intn(st.perFile))
	open := h.isOpen(id)

	// Operations on a handle need an open one: most of the time, open
	// it first.
	r := c.intn(1000)
	if r < 872 && !open && c.intn(4) != 0 {
		r = 0
	}
	switch {
	case r < 60: // (re)open
		if open {
			h.Close(id)
		}
		h.OpenFile(id, name, pick(c, openFlags), pick(c, perms))
	case r < 100:
		h.Close(id)
	case r < 230:
		h.Read(id, st.length(c))
	case r < 360:
		h.ReadAt(id, st.length(c), st.offset(c, h.size(name)))
	case r < 480:
		h.Write(id, pattern(uint64(byte(c.intn(256))), 0, st.writeLength(c)))
	case r < 600:
		h.WriteAt(id, pattern(uint64(byte(c.intn(256))), 0, st.length(c)), st.offset(c, h.size(name)))
	case r < 630:
		h.WriteString(id, string(pattern(uint64(byte(c.intn(256))), 0, st.writeLength(c))))
	case r < 720:
		whence := io.SeekStart
		off := st.offset(c, h.size(name))
		switch c.intn(10) {
		case 0, 1:
			whence = io.SeekCurrent
			off = int64(c.intn(20000)) - 10000
		case 2, 3:
			whence = io.SeekEnd
			off = int64(c.intn(2000)) - 1500
		case 4:
			// Invalid whence values. SEEK_DATA and SEEK_HOLE are left to
			// the seek-whence scenario: their answers depend on the file
			// system's allocation history (an O_TRUNC open and an
			// ftruncate leave different extents), not only on the bytes.
			whence = pick(c, []int{7, -1})
		}
		h.Seek(id, off, whence)
	case r < 770:
		size := st.offset(c, h.size(name))
		if c.intn(3) == 0 {
			size = max(0, h.size(name)-int64(c.intn(5000)))
		}
		h.Truncate(id, size)
	case r < 820:
		h.Stat(id)
	case r < 840:
		h.FsStat(name)
	case r < 852:
		h.Sync(id)
		if h.isOpen(id) && h.handleIsAt(id, name) {
			h.compareFileOnDisk(name)
		}
	case r < 862:
		h.CopyTo(id)
	case r < 872:
		h.ReadFrom(id, pattern(uint64(byte(c.intn(256))), 0, st.writeLength(c)))
	case r < 922:
		// Close every handle of this file, then compare it on disk.
		for s := 0; s < st.perFile; s++ {
			if hid := handleID(fi, s); h.isOpen(hid) {
				h.Close(hid)
			}
		}
		h.compareFileOnDiskIfClosed(st, fi)
	case r < 937:
		h.Name(id)
	case r < 952:
		h.Open("dir", "")
		h.Readdirnames("dir", -1)
		h.Close("dir")
		h.Open("dir", "d")
		h.Readdir("dir", 1+c.intn(3))
		h.Readdir("dir", -1)
		h.Close("dir")
	case r < 967:
		h.Remove(name)
	case r < 982:
		h.Rename(name, pick(c, st.files))
	case r < 986:
		if st.checkFsS {
			h.FsSync()
			h.TreeNow()
		}
	case r < 990: // checkpoint
		h.CloseAll()
		h.TreeNow()
	default:
		h.Stat(id)
	}
}

// relatedSteps picks the last 40 steps that involve the handles or the
// file of the failing step: those naming a handle of the same file
// ("h3."), the file's name, or a checkpoint.
func relatedSteps(desc string, all []string) []string {
	var keys []string
	if i := strings.IndexByte(desc, '.'); strings.HasPrefix(desc, "h") && i > 0 {
		keys = append(keys, " "+desc[:i+1]) // " h3."
		fi, _ := strconv.Atoi(desc[1:i])
		if names := newRState().files; fi < len(names) {
			keys = append(keys, fmt.Sprintf("%q", names[fi]))
		}
	}
	if strings.HasPrefix(desc, "\"") {
		keys = append(keys, desc)
		if name, err := strconv.Unquote(desc); err == nil {
			for i, n := range newRState().files {
				if n == name {
					keys = append(keys, fmt.Sprintf(" h%d.", i))
				}
			}
		}
	}
	keys = append(keys, "Rename(", "Remove(")
	var out []string
	for i := len(all) - 1; i >= 0 && len(out) < 40; i-- {
		line := all[i]
		for _, k := range keys {
			if strings.Contains(line, k) {
				out = append(out, line)
				break
			}
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// handleIsAt reports whether the OsFs handle id is the file now at name
// (not one renamed or removed since it was opened).
func (h *H) handleIsAt(id, name string) bool {
	hf, err := h.os.files[id].Stat()
	if err != nil {
		return false
	}
	pf, err := os.Stat(h.os.d(name))
	return err == nil && os.SameFile(hf, pf)
}

// compareFileOnDisk compares one file's bytes on disk (after a Sync).
func (h *H) compareFileOnDisk(name string) {
	h.t.Helper()
	a, erra := os.ReadFile(h.os.d(name))
	b, errb := os.ReadFile(h.aio.d(name))
	if (erra == nil) != (errb == nil) || (h.mustPass && erra != nil) || string(a) != string(b) {
		h.failures++
		msg := fmt.Sprintf("%s: after step %d (Sync) %s differs on disk: OsFs %d bytes (err %v), aiofs %d bytes (err %v); %s",
			h.label, h.step, name, len(a), erra, len(b), errb, diff(a, b, "OsFs", "aiofs"))
		msg += h.context(fmt.Sprintf("%q", name))
		if h.stopOnFail {
			h.t.Fatalf("%s", msg)
		}
		h.t.Errorf("%s", msg)
	}
}

// compareFileOnDiskIfClosed compares file fi on disk if none of the
// handles of the test (of any file: they may share the inode after a
// rename) is open.
func (h *H) compareFileOnDiskIfClosed(st *rstate, fi int) {
	h.t.Helper()
	if h.aio.openHandles() && !h.strictTree {
		return
	}
	h.compareFileOnDisk(st.files[fi])
}

// randomRun runs n random steps from seed against an aiofs made with
// engine and opts.
func randomRun(t *testing.T, engine string, seed uint64, n int, strict bool, opts ...aiofs.Option) {
	start := time.Now()
	osRoot, aioRoot := t.TempDir(), t.TempDir()
	aio := newAio(t, engine, opts...)
	env := ""
	if x := os.Getenv("AIOFS_EXCLUDE"); x != "" {
		env = "AIOFS_EXCLUDE=" + x + " "
	}
	env += "AIOFS_ENGINE=" + engine + " "
	label := fmt.Sprintf("seed %d (replay: %sAIOFS_SEED=%d go test -run '^%s$')", seed, env, seed, t.Name())
	h := newH(t, label, newSide("OsFs", afero.NewOsFs(), nil, osRoot), newSide("aiofs", aio, aio, aioRoot))
	h.stopOnFail = true
	h.strictTree = strict
	h.keepHist = 25
	h.related = relatedSteps
	st := newRState()
	st.checkFsS = true
	h.DiskMkdir("d")
	c := prng{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := 0; i < n; i++ {
		randomStep(h, st, c)
	}
	h.CloseAll()
	h.TreeNow()
	if err := aio.Sync(); err != nil {
		t.Errorf("%s: Fs.Sync: %v", label, err)
	}
	t.Logf("%s: %d operations in %v", label, n, time.Since(start).Round(time.Millisecond))
}

type randomConfig struct {
	name   string
	ops    int
	strict bool
	opts   []aiofs.Option
}

func runRandomConfigs(t *testing.T, cfgs []randomConfig) {
	seed := testSeed(t)
	t.Logf("base seed %d", seed)
	forEngines(t, func(t *testing.T, engine string) { runRandomConfigsOn(t, engine, seed, cfgs) })
}

func runRandomConfigsOn(t *testing.T, engine string, seed uint64, cfgs []randomConfig) {
	for i, cfg := range cfgs {
		t.Run(cfg.name, func(t *testing.T) {
			n := cfg.ops
			if testing.Short() {
				n /= 5
			}
			s := seed + uint64(i)
			if os.Getenv("AIOFS_SEED") != "" {
				s = seed
			}
			randomRun(t, engine, s, n, cfg.strict, cfg.opts...)
		})
	}
}

// TestRandomDifferential: >= 20,000 random operations in total.
func TestRandomDifferential(t *testing.T) {
	t.Parallel()
	runRandomConfigs(t, []randomConfig{
		{name: "default", ops: 8000},
		{name: "writethrough", ops: 4000, strict: true, opts: []aiofs.Option{aiofs.WithWriteBehind(0)}},
		{name: "smallcache", ops: 4000, opts: []aiofs.Option{aiofs.WithCacheSize(256 << 10), aiofs.WithReadahead(128 << 10)}},
		{name: "noreadahead", ops: 2000, strict: true, opts: []aiofs.Option{aiofs.WithReadahead(0), aiofs.WithWriteBehind(0)}},
		{name: "depth4", ops: 2000, opts: []aiofs.Option{aiofs.WithQueueDepth(4)}},
	})
}

// TestRandomDifferentialWriteBehind runs with write-behind: results seen
// through the Fs must be identical at once (read-your-writes), and the
// trees on disk after Sync/Close.
func TestRandomDifferentialWriteBehind(t *testing.T) {
	t.Parallel()
	runRandomConfigs(t, []randomConfig{
		{name: "wb8M", ops: 6000, opts: []aiofs.Option{aiofs.WithWriteBehind(8 << 20)}},
		{name: "wb64K-backpressure", ops: 3000, opts: []aiofs.Option{aiofs.WithWriteBehind(64 << 10), aiofs.WithCacheSize(1 << 20)}},
	})
}

// TestRapidDifferential is the property-based variant: rapid generates the
// operation sequences and shrinks a failing one to a minimal example.
// Budget: -rapid.checks (40 unless given) sequences of about -rapid.steps
// (default 30) operations.
func TestRapidDifferential(t *testing.T) {
	// A smaller budget than rapid's default 100 checks, unless asked.
	if os.Getenv("RAPID_CHECKS") == "" && !flagSet("rapid.checks") {
		flag.Set("rapid.checks", "40")
		t.Cleanup(func() { flag.Set("rapid.checks", "100") })
	}
	forEngines(t, testRapidDifferential)
}

func testRapidDifferential(t *testing.T, engine string) {
	base := t.TempDir()
	rapid.Check(t, func(rt *rapid.T) {
		osRoot, err := os.MkdirTemp(base, "os")
		if err != nil {
			rt.Fatalf("%v", err)
		}
		aioRoot, err := os.MkdirTemp(base, "aio")
		if err != nil {
			rt.Fatalf("%v", err)
		}
		writeBehind := rapid.Bool().Draw(rt, "writeBehind")
		opts := []aiofs.Option{aiofs.WithWriteBehind(0)}
		if writeBehind {
			opts = []aiofs.Option{aiofs.WithWriteBehind(8 << 20)}
		}
		aio := aiofs.New(append(opts, aiofs.WithEngine(engine))...)
		rt.Cleanup(func() {
			aio.Close()
			os.RemoveAll(osRoot)
			os.RemoveAll(aioRoot)
		})
		h := newH(rt, "rapid", newSide("OsFs", afero.NewOsFs(), nil, osRoot), newSide("aiofs", aio, aio, aioRoot))
		h.stopOnFail = true
		h.strictTree = !writeBehind
		st := newRState()
		st.checkFsS = true
		st.files = []string{"f0", "f1", "d/f2"}
		st.perFile = 2
		st.bigIO = false
		h.DiskMkdir("d")
		c := rapidChooser{rt}
		rt.Repeat(map[string]func(*rapid.T){
			"step": func(*rapid.T) { randomStep(h, st, c) },
			"": func(*rapid.T) {
				// Invariant after every step: the Fs reports the same
				// sizes and modes for every file.
				for _, name := range st.files {
					h.FsStat(name)
				}
			},
		})
		// At the end, a fresh handle on every file reads the same bytes,
		// and after closing everything the disks agree.
		for i, name := range st.files {
			id := fmt.Sprintf("check%d", i)
			h.Open(id, name)
			h.ReadAt(id, 1<<20, 0)
			h.Close(id)
		}
		h.CloseAll()
		h.TreeNow()
	})
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

package aiofs_test

// Differential tests of aiofs.Wrap: the same random operations on a base
// afero.Fs and on Wrap of a twin of it (a fresh instance of the same
// kind), comparing every result a caller can observe and, after Sync and
// at the end, what the bases hold.
//
// What must be equal: counts and offsets, the bytes read, Name, Stat's
// name, size, mode and IsDir, Readdir's names, sizes and modes batch by
// batch, and errors: their concrete type, their text with each side's
// root replaced by $ROOT, and which of the fs and io sentinels they are
// (errors.Is). Wrap promises the base's own errors, so nothing looser
// would do. Times are not compared (the two bases are written at
// different moments). What the bases hold is compared after a handle's
// successful Sync (that file), after Fs.Sync (every file) and after every
// handle is closed (every file): write-behind may keep data from the base
// until then, and only until then.
//
// Replay a failure with the -rapid.seed rapid prints.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
	"github.com/spf13/afero/mem"
	"pgregory.net/rapid"
)

// A wside is one of the two file systems a differential run compares.
type wside struct {
	fs     afero.Fs
	base   afero.Fs // where fs keeps its files: fs itself, or the base it wraps
	prefix string   // put before every name
	hide   []string // replaced by $ROOT in error texts
	hs     []afero.File
	// memFile: fs is MemMapFs, whose io.ErrUnexpectedEOF at the end of a
	// file is reported as io.EOF (see wrapKind).
	memFile bool
	// view, if set, is where the checks of what the base holds read it
	// instead of base: another client of the same store, which sees what
	// base has sent it and not what base still holds back.
	view afero.Fs
}

// p is the name a test's relative name (or "", the root) has on s.
func (s *wside) p(name string) string {
	if name == "" {
		if s.prefix == "" {
			return "."
		}
		if s.prefix == "/" {
			return "/"
		}
		return strings.TrimSuffix(s.prefix, "/")
	}
	return s.prefix + name
}

func (s *wside) norm(msg string) string {
	for _, h := range s.hide {
		msg = strings.ReplaceAll(msg, h, "$ROOT")
	}
	return msg
}

var wrapSentinels = []struct {
	name string
	err  error
}{
	{"NotExist", fs.ErrNotExist},
	{"Exist", fs.ErrExist},
	{"Closed", fs.ErrClosed},
	{"Permission", fs.ErrPermission},
	{"Invalid", fs.ErrInvalid},
	{"EOF", io.EOF},
	{"Unsupported", errors.ErrUnsupported},
}

func (s *wside) errString(err error) string {
	if err == nil {
		return "nil"
	}
	if s.memFile && err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	var is []string
	for _, x := range wrapSentinels {
		if errors.Is(err, x.err) {
			is = append(is, x.name)
		}
	}
	return fmt.Sprintf("%T(%q)is%v", err, s.norm(err.Error()), is)
}

func (s *wside) fiString(fi os.FileInfo) string {
	if fi == nil {
		return "<nil>"
	}
	if fi.IsDir() {
		return fmt.Sprintf("{%s %v dir}", s.norm(fi.Name()), fi.Mode())
	}
	return fmt.Sprintf("{%s %v %d}", fi.Name(), fi.Mode(), fi.Size())
}

// wrapTB is what making bases needs of a *testing.T or *rapid.T.
type wrapTB interface {
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// A wrapKind makes the two file systems of one differential run: a base
// and a twin of it, fresh and empty, in the order plain, twin. The
// returned sides have no fs for the twin yet: the run wraps twin.base.
type wrapKind struct {
	name   string
	make   func(t wrapTB) (plain, twin *wside)
	noSync bool // the base's Sync fails, on both sides alike
	// memFile: the base is MemMapFs, whose files break os.File's rules
	// in ways Wrap, answering from its cache by those rules, does not
	// copy. The run steers around them or compares through them:
	//   - a negative offset panics: the run gives none;
	//   - a read past the end fails with io.ErrUnexpectedEOF, and a short
	//     ReadAt returns no error: both compared as io.EOF;
	//   - a read or write of nothing may fail: the run gives none;
	//   - WriteAt moves the handle's offset: the run puts it back;
	//   - Seek to a negative position succeeds: the run seeks forward;
	//   - O_APPEND only seeks to the end at Open, and WriteAt is allowed
	//     then: the run opens without it;
	//   - write-only handles read (see writeOnlyMem): the run does not;
	//   - directories opened for writing, and files opened O_RDONLY with
	//     other flags, take writes: the run opens those with O_RDONLY;
	//   - Readdir in batches, or again, panics once entries went: the run
	//     reads a directory handle whole, once;
	//   - renaming or removing directories corrupts it until it panics:
	//     the run renames and removes only files;
	//   - a closed handle's Stat succeeds, and through Wrap, which passes
	//     it on, misses the data still buffered: the run does not Stat
	//     closed handles.
	memFile bool
}

// localKinds are the bases on this machine: OsFs with absolute names,
// BasePathFs over OsFs, MemMapFs, and OsFs as an object store would serve
// it: files known by path, and readers that reach files by name.
var localKinds = []wrapKind{
	{name: "OsFs", make: func(t wrapTB) (*wside, *wside) {
		side := func() *wside {
			dir := mkdirTemp(t)
			return &wside{base: afero.NewOsFs(), prefix: dir + "/", hide: []string{dir, filepath.Base(dir)}}
		}
		return side(), side()
	}},
	{name: "BasePathFs", make: func(t wrapTB) (*wside, *wside) {
		side := func() *wside {
			dir := mkdirTemp(t)
			return &wside{base: afero.NewBasePathFs(afero.NewOsFs(), dir), prefix: "/", hide: []string{dir, filepath.Base(dir)}}
		}
		return side(), side()
	}},
	{name: "NameReaders", make: func(t wrapTB) (*wside, *wside) {
		side := func() *wside {
			dir := mkdirTemp(t)
			return &wside{base: aiofs.NewNameReaderFs(), prefix: dir + "/", hide: []string{dir, filepath.Base(dir)}}
		}
		return side(), side()
	}},
	{name: "MemMapFs", memFile: true, make: func(wrapTB) (*wside, *wside) {
		return &wside{base: afero.NewMemMapFs(), prefix: "/"}, &wside{base: afero.NewMemMapFs(), prefix: "/"}
	}},
}

// mkdirTemp makes a directory removed when t ends; under rapid, a T of
// one check, so that checks do not pile up directories.
func mkdirTemp(t wrapTB) string {
	dir, err := os.MkdirTemp("", "aiofs-wrap")
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// wrapConfigs are the option sets each base is wrapped with: the
// defaults, and bounds small enough that flushes and evictions happen
// within a run.
var wrapConfigs = []struct {
	name string
	opts []aiofs.Option
}{
	{"default", nil},
	{"small", []aiofs.Option{aiofs.WithWriteBehind(64 << 10), aiofs.WithCacheSize(128 << 10)}},
}

// The names a run uses: files, and directories ("" is the root).
var (
	wrapFiles = []string{"a", "b", "d/c", "d/e/f", "d2/c"}
	wrapDirs  = []string{"", "d", "d/e", "d2"}
	wrapNames = append(append([]string(nil), wrapFiles...), wrapDirs...)
	wrapMoved = append(append([]string(nil), wrapFiles...), wrapDirs[1:]...) // all but the root
)

var wrapFlags = []int{
	os.O_RDONLY, os.O_WRONLY, os.O_RDWR,
	os.O_RDWR | os.O_CREATE, os.O_WRONLY | os.O_CREATE, os.O_RDONLY | os.O_CREATE,
	os.O_RDWR | os.O_CREATE | os.O_TRUNC, os.O_WRONLY | os.O_CREATE | os.O_TRUNC, os.O_RDWR | os.O_TRUNC,
	os.O_RDWR | os.O_CREATE | os.O_EXCL, os.O_WRONLY | os.O_CREATE | os.O_EXCL,
	os.O_WRONLY | os.O_APPEND, os.O_RDWR | os.O_APPEND, os.O_WRONLY | os.O_CREATE | os.O_APPEND,
	os.O_RDWR | os.O_CREATE | os.O_APPEND,
}

const wrapSlots = 6 // handles open at once, of any names

// A wrapRun is one differential run in progress.
type wrapRun struct {
	t       *rapid.T
	a, b    *wside // the base, and Wrap of its twin
	aio     *aiofs.Fs
	step    int
	log     []string
	stable  [wrapSlots]bool   // no rename or removal since the slot was opened
	names   [wrapSlots]string // what each slot was last opened as, and how
	flags   [wrapSlots]int
	listed  [wrapSlots]bool // read as a directory since opened (see wrapKind.memFile)
	closed  [wrapSlots]bool // closed and kept, for calls after Close
	noSync  bool            // the base's Sync fails alike on both sides, so Sync proves nothing
	memFile bool            // see wrapKind
}

// same runs fn on both sides and fails the run if the results differ.
func (r *wrapRun) same(desc string, fn func(s *wside) string) string {
	r.step++
	ra, rb := fn(r.a), fn(r.b)
	r.log = append(r.log, fmt.Sprintf("#%d %s -> %s", r.step, desc, ra))
	if ra != rb {
		start := max(0, len(r.log)-100)
		r.t.Fatalf("step %d: %s\n\tbase: %s\n\twrap: %s\nsteps:\n\t%s", r.step, desc, ra, rb, strings.Join(r.log[start:], "\n\t"))
	}
	return ra
}

func (r *wrapRun) length() int {
	switch k := rapid.IntRange(0, 99).Draw(r.t, "lenKind"); {
	case k < 3 && !r.memFile:
		return 0
	case k < 50:
		return rapid.IntRange(1, 100).Draw(r.t, "len")
	case k < 85:
		return rapid.IntRange(1, 9000).Draw(r.t, "len")
	case k < 95:
		return rapid.SampledFrom([]int{4095, 4096, 65535, 65536, 65537, 131072}).Draw(r.t, "len")
	default:
		return rapid.IntRange(1, 300<<10).Draw(r.t, "len")
	}
}

// offset is a position near the size of the base's file at slot.
func (r *wrapRun) offset(slot int) int64 {
	size := int64(0)
	if f := r.a.hs[slot]; f != nil {
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
	}
	switch k := rapid.IntRange(0, 99).Draw(r.t, "offKind"); {
	case k < 3 && !r.memFile:
		return -1
	case k < 15:
		return 0
	case k < 30:
		return size
	case k < 45:
		return rapid.SampledFrom([]int64{4096, 65536, 131072, 262144}).Draw(r.t, "blk") + int64(rapid.IntRange(-1, 1).Draw(r.t, "d"))
	default:
		return int64(rapid.IntRange(0, int(size)+9000).Draw(r.t, "off"))
	}
}

func (s *wside) nerr(n int64, err error) string {
	return fmt.Sprintf("n=%d err=%s", n, s.errString(err))
}

// writeOnlyMem reports whether slot is a MemMapFs handle opened
// write-only, which MemMapFs reads from: Wrap sends a read of such a
// handle to the base file, which has not seen the data still buffered.
func (r *wrapRun) writeOnlyMem(slot int) bool {
	return r.memFile && r.flags[slot]&(os.O_WRONLY|os.O_RDWR) == os.O_WRONLY
}

// do performs one random operation.
func (r *wrapRun) do() {
	slot := rapid.IntRange(0, wrapSlots-1).Draw(r.t, "slot")
	open := r.a.hs[slot] != nil
	op := rapid.IntRange(0, 99).Draw(r.t, "op")
	if !open && op < 70 && rapid.IntRange(0, 3).Draw(r.t, "reopen") != 0 {
		op = 0
	}
	switch {
	case op < 10: // open
		name := rapid.SampledFrom(wrapNames).Draw(r.t, "name")
		flag := rapid.SampledFrom(wrapFlags).Draw(r.t, "flag")
		if r.memFile {
			flag &^= os.O_APPEND
			if slices.Contains(wrapDirs, name) {
				flag &^= os.O_WRONLY | os.O_RDWR
			}
			if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
				flag = os.O_RDONLY
			}
		}
		perm := rapid.SampledFrom([]os.FileMode{0o644, 0o600}).Draw(r.t, "perm")
		r.stable[slot], r.names[slot], r.flags[slot], r.listed[slot], r.closed[slot] = true, name, flag, false, false
		r.same(fmt.Sprintf("h%d = OpenFile(%q, %s, %v)", slot, name, flagString(flag), perm), func(s *wside) string {
			if f := s.hs[slot]; f != nil {
				f.Close()
			}
			f, err := s.fs.OpenFile(s.p(name), flag, perm)
			s.hs[slot] = f
			if err != nil {
				s.hs[slot] = nil
				return "err=" + s.errString(err)
			}
			return "name=" + s.norm(f.Name())
		})
	case op < 15:
		// Most closed handles are forgotten; the others are used again,
		// which the bases refuse with errors that must be theirs.
		forget := rapid.IntRange(0, 3).Draw(r.t, "forget") != 0
		r.closed[slot] = true
		r.same(fmt.Sprintf("h%d.Close() forget %v", slot, forget), func(s *wside) string {
			f := s.hs[slot]
			if f == nil {
				return "none"
			}
			if forget {
				s.hs[slot] = nil
			}
			return "err=" + s.errString(f.Close())
		})
	case op < 27:
		n := r.length()
		if r.writeOnlyMem(slot) {
			return
		}
		r.same(fmt.Sprintf("h%d.Read(%d)", slot, n), func(s *wside) string {
			f := s.hs[slot]
			if f == nil {
				return "none"
			}
			p := make([]byte, n)
			got, err := f.Read(p)
			return s.nerr(int64(got), err) + " data=" + dataString(p[:max(got, 0)])
		})
	case op < 39:
		n, off := r.length(), r.offset(slot)
		if r.writeOnlyMem(slot) {
			return
		}
		r.same(fmt.Sprintf("h%d.ReadAt(%d, %d)", slot, n, off), func(s *wside) string {
			f := s.hs[slot]
			if f == nil {
				return "none"
			}
			p := make([]byte, n)
			got, err := f.ReadAt(p, off)
			if s.memFile && got < n && err == nil {
				err = io.EOF
			}
			return s.nerr(int64(got), err) + " data=" + dataString(p[:max(got, 0)])
		})
	case op < 54:
		n, seed := r.length(), byte(rapid.IntRange(0, 255).Draw(r.t, "seed"))
		r.same(fmt.Sprintf("h%d.Write(%d, seed %d)", slot, n, seed), func(s *wside) string {
			f := s.hs[slot]
			if f == nil {
				return "none"
			}
			got, err := f.Write(pattern(uint64(seed), 0, n))
			return s.nerr(int64(got), err)
		})
	case op < 64:
		n, off, seed := r.length(), r.offset(slot), byte(rapid.IntRange(0, 255).Draw(r.t, "seed"))
		r.same(fmt.Sprintf("h%d.WriteAt(%d, %d, seed %d)", slot, n, off, seed), func(s *wside) string {
			f := s.hs[slot]
			if f == nil {
				return "none"
			}
			if s.memFile { // also Wrap's: it passes directories and misuse on
				at, _ := f.Seek(0, io.SeekCurrent)
				defer f.Seek(at, io.SeekStart)
			}
			got, err := f.WriteAt(pattern(uint64(seed), 0, n), off)
			return s.nerr(int64(got), err)
		})
	case op < 70:
		off, whence := r.offset(slot), rapid.IntRange(0, 2).Draw(r.t, "whence")
		if whence != io.SeekStart && !r.memFile && rapid.Bool().Draw(r.t, "back") {
			off = -off / 2
		}
		r.same(fmt.Sprintf("h%d.Seek(%d, %d)", slot, off, whence), func(s *wside) string {
			f := s.hs[slot]
			if f == nil {
				return "none"
			}
			pos, err := f.Seek(off, whence)
			return s.nerr(pos, err)
		})
	case op < 74:
		size := r.offset(slot)
		r.same(fmt.Sprintf("h%d.Truncate(%d)", slot, size), func(s *wside) string {
			f := s.hs[slot]
			if f == nil {
				return "none"
			}
			return "err=" + s.errString(f.Truncate(size))
		})
	case op < 78:
		res := r.same(fmt.Sprintf("h%d.Sync()", slot), func(s *wside) string {
			f := s.hs[slot]
			if f == nil {
				return "none"
			}
			return "err=" + s.errString(f.Sync())
		})
		if res == "err=nil" && r.stable[slot] && !r.closed[slot] && !r.noSync {
			// Sync promises the file's data in the base.
			name := r.names[slot]
			r.same(fmt.Sprintf("base holds %q after Sync", name), func(s *wside) string {
				return s.contents(s.p(name))
			})
		}
	case op < 82:
		if r.memFile && r.closed[slot] {
			return
		}
		r.same(fmt.Sprintf("h%d.Stat()", slot), func(s *wside) string {
			f := s.hs[slot]
			if f == nil {
				return "none"
			}
			fi, err := f.Stat()
			return s.fiString(fi) + " err=" + s.errString(err)
		})
	case op < 86:
		name := rapid.SampledFrom(wrapNames).Draw(r.t, "name")
		r.same(fmt.Sprintf("Stat(%q)", name), func(s *wside) string {
			fi, err := s.fs.Stat(s.p(name))
			return s.fiString(fi) + " err=" + s.errString(err)
		})
	case op < 92:
		n := rapid.IntRange(-1, 3).Draw(r.t, "count")
		if r.memFile {
			if r.listed[slot] {
				return
			}
			n, r.listed[slot] = min(n, 0), true
		}
		names := rapid.Bool().Draw(r.t, "names")
		r.same(fmt.Sprintf("h%d.Readdir(%d) names %v", slot, n, names), func(s *wside) string {
			f := s.hs[slot]
			if f == nil {
				return "none"
			}
			if names {
				ns, err := f.Readdirnames(n)
				return fmt.Sprintf("%q err=%s", ns, s.errString(err))
			}
			fis, err := f.Readdir(n)
			var b strings.Builder
			for _, fi := range fis {
				b.WriteString(s.fiString(fi))
			}
			return b.String() + " err=" + s.errString(err)
		})
	case op < 95:
		moved := wrapMoved
		if r.memFile {
			moved = wrapFiles
		}
		from := rapid.SampledFrom(moved).Draw(r.t, "from")
		to := rapid.SampledFrom(moved).Draw(r.t, "to")
		r.stable = [wrapSlots]bool{}
		r.same(fmt.Sprintf("Rename(%q, %q)", from, to), func(s *wside) string {
			return "err=" + s.errString(s.fs.Rename(s.p(from), s.p(to)))
		})
	case op < 97:
		removed := wrapMoved
		if r.memFile {
			removed = wrapFiles
		}
		name := rapid.SampledFrom(removed).Draw(r.t, "name")
		all := rapid.Bool().Draw(r.t, "all")
		r.stable = [wrapSlots]bool{}
		r.same(fmt.Sprintf("Remove(%q) all %v", name, all), func(s *wside) string {
			if all {
				return "err=" + s.errString(s.fs.RemoveAll(s.p(name)))
			}
			return "err=" + s.errString(s.fs.Remove(s.p(name)))
		})
	case op < 99:
		name := rapid.SampledFrom(wrapDirs).Draw(r.t, "dir")
		all := rapid.Bool().Draw(r.t, "all")
		r.same(fmt.Sprintf("Mkdir(%q) all %v", name, all), func(s *wside) string {
			if all {
				return "err=" + s.errString(s.fs.MkdirAll(s.p(name), 0o755))
			}
			return "err=" + s.errString(s.fs.Mkdir(s.p(name), 0o755))
		})
	default:
		err := r.aio.Sync()
		if err != nil && !r.noSync {
			r.t.Fatalf("step %d: Fs.Sync: %v", r.step, err)
		}
		if !r.noSync {
			r.same("bases hold the same tree after Fs.Sync", func(s *wside) string { return s.tree() })
		}
	}
}

// contents describes the file name in s's base: its bytes, or the error
// reading it.
func (s *wside) contents(name string) string {
	data, err := afero.ReadFile(s.held(), name)
	if err != nil {
		return "err=" + s.errString(err)
	}
	return dataString(data)
}

// held returns the Fs through which to see what s's base holds.
func (s *wside) held() afero.Fs {
	if s.view != nil {
		return s.view
	}
	return s.base
}

// tree describes every file and directory in s's base under the root.
func (s *wside) tree() string {
	var lines []string
	root := s.p("")
	err := afero.Walk(s.held(), root, func(p string, fi os.FileInfo, err error) error {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if err != nil {
			lines = append(lines, rel+" err="+s.errString(err))
			return nil
		}
		line := rel + " " + fi.Mode().String()
		if fi.Mode().IsRegular() {
			line += " " + s.contents(p)
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		lines = append(lines, "walk: "+s.errString(err))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// wrapDifferential runs checks of about steps operations on kind, each on
// fresh bases, wrapped with opts.
func wrapDifferential(t *testing.T, kind wrapKind, steps int, opts []aiofs.Option) {
	rapid.Check(t, func(rt *rapid.T) {
		a, b := kind.make(rt)
		a.fs = a.base
		aio := aiofs.Wrap(b.base, opts...)
		b.fs = aio
		a.hs, b.hs = make([]afero.File, wrapSlots), make([]afero.File, wrapSlots)
		r := &wrapRun{t: rt, a: a, b: b, aio: aio}
		r.noSync, r.memFile = kind.noSync, kind.memFile
		rt.Cleanup(func() { // after a failure, what the run left open
			for _, s := range []*wside{a, b} {
				for _, f := range s.hs {
					if f != nil {
						f.Close()
					}
				}
			}
			aio.Close()
		})
		a.memFile, b.memFile = kind.memFile, kind.memFile
		for _, d := range []string{"d", "d/e"} {
			r.same(fmt.Sprintf("Mkdir(%q)", d), func(s *wside) string {
				return "err=" + s.errString(s.fs.Mkdir(s.p(d), 0o755))
			})
		}
		for range steps {
			r.do()
		}
		for slot := range wrapSlots {
			r.same(fmt.Sprintf("final h%d.Close()", slot), func(s *wside) string {
				if f := s.hs[slot]; f != nil {
					s.hs[slot] = nil
					return "err=" + s.errString(f.Close())
				}
				return "none"
			})
		}
		r.same("bases hold the same tree after Close", func(s *wside) string { return s.tree() })
		if err := aio.Close(); err != nil {
			rt.Fatalf("Fs.Close: %v", err)
		}
	})
}

// wrapChecks sets rapid's budget to n checks for the rest of t, unless
// given on the command line.
func wrapChecks(t *testing.T, n int) {
	if os.Getenv("RAPID_CHECKS") != "" || flagSet("rapid.checks") {
		return
	}
	old := flag.Lookup("rapid.checks").Value.String()
	flag.Set("rapid.checks", fmt.Sprint(n))
	t.Cleanup(func() { flag.Set("rapid.checks", old) })
}

func TestWrapDifferential(t *testing.T) {
	t.Parallel()
	wrapChecks(t, 30)
	for _, kind := range localKinds {
		for _, cfg := range wrapConfigs {
			t.Run(kind.name+"/"+cfg.name, func(t *testing.T) { wrapDifferential(t, kind, 80, cfg.opts) })
		}
	}
}

// TestWrapFSTest runs testing/fstest over Wrap of a tree in MemMapFs,
// OsFs and BasePathFs(OsFs). io/fs names are relative: the OsFs tree is
// in a directory made in the working directory.
func TestWrapFSTest(t *testing.T) {
	t.Parallel()
	tree := map[string]string{
		"a.txt":         "hello\n",
		"empty":         "",
		"dir/b.bin":     strings.Repeat("0123456789abcdef", 9000),
		"dir/sub/c.txt": strings.Repeat("line\n", 300),
		"emptydir/":     "",
	}
	kinds := []struct {
		name string
		base func(t *testing.T) (afero.Fs, string) // the base, and the tree's root in it
	}{
		{"MemMapFs", func(*testing.T) (afero.Fs, string) { return afero.NewMemMapFs(), "" }},
		{"OsFs", func(t *testing.T) (afero.Fs, string) {
			dir, err := os.MkdirTemp(".", "wrapfstest")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) })
			return afero.NewOsFs(), filepath.Base(dir) + "/"
		}},
		{"BasePathFs", func(t *testing.T) (afero.Fs, string) {
			return afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()), ""
		}},
	}
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			base, root := kind.base(t)
			var names []string
			for name, data := range tree {
				if dir, ok := strings.CutSuffix(name, "/"); ok {
					if err := base.MkdirAll(root+dir, 0o755); err != nil {
						t.Fatal(err)
					}
					names = append(names, dir)
					continue
				}
				if err := base.MkdirAll(path.Dir(root+name), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := afero.WriteFile(base, root+name, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
				names = append(names, name)
			}
			aio := aiofs.Wrap(base)
			defer aio.Close()
			var fsys fs.FS = afero.NewIOFS(aio)
			if root != "" {
				var err error
				if fsys, err = fs.Sub(fsys, strings.TrimSuffix(root, "/")); err != nil {
					t.Fatal(err)
				}
			}
			if err := fstest.TestFS(fsys, names...); err != nil {
				t.Fatal(err)
			}
			for name, data := range tree {
				if strings.HasSuffix(name, "/") {
					continue
				}
				got, err := fs.ReadFile(fsys, name)
				if err != nil || string(got) != data {
					t.Errorf("ReadFile(%q): %d bytes, %v; want %d bytes", name, len(got), err, len(data))
				}
			}
		})
	}
}

// TestWrapName checks that File.Name is the base file's, for bases that
// normalize names.
func TestWrapName(t *testing.T) {
	t.Parallel()
	bases := map[string]afero.Fs{
		"BasePathFs": afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()),
		"MemMapFs":   afero.NewMemMapFs(),
	}
	for label, base := range bases {
		aio := aiofs.Wrap(base)
		for _, name := range []string{"/", "/x", "x", "./y", "/d/../z"} {
			bf, err := base.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
			if name == "/" {
				bf, err = base.Open(name)
			}
			if err != nil {
				t.Fatalf("%s: base OpenFile(%q): %v", label, name, err)
			}
			want := bf.Name()
			bf.Close()
			f, err := aio.Open(name)
			if err != nil {
				t.Fatalf("%s: Open(%q): %v", label, name, err)
			}
			if got := f.Name(); got != want {
				t.Errorf("%s: Name() of %q = %q, base's %q", label, name, got, want)
			}
			f.Close()
		}
		if err := aio.Close(); err != nil {
			t.Error(err)
		}
	}
}

// TestWrapRenameOntoItself renames a file with buffered data to its own
// name, which changes nothing in the base: the Fs must still find the
// data, for a new handle and for Fs.Sync.
func TestWrapRenameOntoItself(t *testing.T) {
	t.Parallel()
	base := afero.NewMemMapFs()
	aio := aiofs.Wrap(base)
	defer aio.Close()
	f, err := aio.Create("/a")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := aio.Rename("/a", "/a"); err != nil {
		t.Fatal(err)
	}
	if got, err := afero.ReadFile(aio, "/a"); string(got) != "hello" || err != nil {
		t.Errorf("ReadFile after Rename onto itself: %q, %v; want \"hello\"", got, err)
	}
	if err := aio.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, err := afero.ReadFile(base, "/a"); string(got) != "hello" || err != nil {
		t.Errorf("base after Fs.Sync: %q, %v; want \"hello\"", got, err)
	}
}

// TestWrapWriteToRemovedNeedsRoom writes through a handle whose file was
// removed or renamed over, more than the write-behind bound allows
// without flushing: the writer's wait for room must flush its own file,
// which the Fs no longer finds by name (it waited forever).
func TestWrapWriteToRemovedNeedsRoom(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"Remove", "Rename"} {
		t.Run(how, func(t *testing.T) {
			base := afero.NewBasePathFs(afero.NewOsFs(), t.TempDir())
			aio := aiofs.Wrap(base, aiofs.WithWriteBehind(64<<10))
			defer aio.Close()
			f, err := aio.Create("/a")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil { // no timer left to flush later
				t.Fatal(err)
			}
			switch how {
			case "Remove":
				err = aio.Remove("/a")
			case "Rename":
				err = afero.WriteFile(aio, "/b", nil, 0o644)
				if err == nil {
					err = aio.Rename("/b", "/a")
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			data := pattern(uint64(3), 0, 192<<10)
			if n, err := f.Write(data); n != len(data) || err != nil {
				t.Fatalf("Write: %d, %v", n, err)
			}
			got := make([]byte, len(data))
			if n, err := f.ReadAt(got, 1); n != len(got) || err != nil || !bytes.Equal(got, data) {
				t.Fatalf("ReadAt: %d, %v; %s", n, err, diff(data, got, "want", "got"))
			}
		})
	}
}

// TestWrapMemHole reads, through another handle, a hole below data still
// buffered for a MemMapFs file: zeros, as for any file. (mem.File's
// ReadAt past its end fails with io.ErrUnexpectedEOF, which failed the
// read.)
func TestWrapMemHole(t *testing.T) {
	t.Parallel()
	aio := aiofs.Wrap(afero.NewMemMapFs())
	defer aio.Close()
	w, err := aio.OpenFile("/a", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := aio.Open("/a")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.WriteAt([]byte{1}, 65536); err != nil {
		t.Fatal(err)
	}
	p := []byte{9, 9}
	if n, err := r.ReadAt(p, 1); n != 2 || err != nil || p[0] != 0 || p[1] != 0 {
		t.Fatalf("ReadAt in the hole: %d, %v, %v; want 2 zeros", n, err, p)
	}
}

// TestWrapConcurrent runs 64 goroutines on a wrapped MemMapFs and
// BasePathFs(OsFs): each writes its own region of one shared file through
// a handle of its own, in random order, and a file of its own, reading
// back as it goes, while reading the regions of others (each byte there
// is 0 or its final value). The final contents are exact.
func TestWrapConcurrent(t *testing.T) {
	t.Parallel()
	bases := []struct {
		name string
		fs   func(t *testing.T) afero.Fs
	}{
		{"MemMapFs", func(*testing.T) afero.Fs { return afero.NewMemMapFs() }},
		{"BasePathFs", func(t *testing.T) afero.Fs { return afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()) }},
	}
	for _, b := range bases {
		for _, cfg := range wrapConfigs {
			t.Run(b.name+"/"+cfg.name, func(t *testing.T) {
				base := b.fs(t)
				wrapConcurrent(t, aiofs.Wrap(base, cfg.opts...), base)
			})
		}
	}
}

// wrapConcurrent runs TestWrapConcurrent's workers on aio, then checks
// through view (the base, or another view of it) that the base holds
// every byte after Fs.Sync; it closes aio.
func wrapConcurrent(t *testing.T, aio *aiofs.Fs, view afero.Fs) {
	const workers, region, own = 64, 24<<10 + 7, 40 << 10
	defer aio.Close()
	shared := pattern(uint64(11), 0, workers*region)
	if err := afero.WriteFile(aio, "/shared", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := wrapWorker(aio, w, region, shared, pattern(uint64(byte(w)), 0, own)); err != nil {
				errs <- fmt.Errorf("worker %d: %w", w, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := aio.Sync(); err != nil {
		t.Fatalf("Fs.Sync: %v", err)
	}
	check := func(name string, want []byte) {
		got, err := afero.ReadFile(view, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("base %s: %v, %s", name, err, diff(want, got, "want", "got"))
		}
	}
	check("/shared", shared)
	for w := range workers {
		check(fmt.Sprintf("/own%d", w), pattern(uint64(byte(w)), 0, own))
	}
}

// wrapWorker is one goroutine of TestWrapConcurrent.
func wrapWorker(aio *aiofs.Fs, w, region int, shared, mine []byte) error {
	r := rand.New(rand.NewPCG(uint64(w), 1))
	f, err := aio.OpenFile("/shared", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	o, err := aio.Create(fmt.Sprintf("/own%d", w))
	if err != nil {
		f.Close()
		return err
	}
	start := w * region
	pieces := r.Perm(8)
	step := (region + 7) / 8
	for i, k := range pieces {
		lo, hi := start+k*step, min(start+(k+1)*step, start+region)
		if _, err := f.WriteAt(shared[lo:hi], int64(lo)); err != nil {
			return err
		}
		// A region of another worker: each byte 0 or final.
		other := r.IntN(len(shared) / region)
		p := make([]byte, region)
		n, err := f.ReadAt(p, int64(other*region))
		if err != nil && err != io.EOF {
			return err
		}
		for j, c := range p[:n] {
			if c != 0 && c != shared[other*region+j] {
				return fmt.Errorf("byte %d of /shared: %#x, neither 0 nor %#x", other*region+j, c, shared[other*region+j])
			}
		}
		// The file of its own, written in order and read back.
		chunk := len(mine) / 8
		if _, err := o.Write(mine[i*chunk : (i+1)*chunk]); err != nil {
			return err
		}
	}
	got := make([]byte, region)
	if _, err := f.ReadAt(got, int64(start)); err != nil && err != io.EOF {
		return err
	}
	if !bytes.Equal(got, shared[start:start+region]) {
		return fmt.Errorf("own region: %s", diff(shared[start:start+region], got, "want", "got"))
	}
	if _, err := o.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if got, err := io.ReadAll(o); err != nil || !bytes.Equal(got, mine) {
		return fmt.Errorf("own file: %v, %s", err, diff(mine, got, "want", "got"))
	}
	if err := o.Close(); err != nil {
		return err
	}
	return f.Close()
}

// TestWrapNoGoroutineLeak: after Fs.Close of a Wrap with a pool of its
// own (WithQueueDepth), with data buffered in a file left open, the
// goroutine count returns to what it was before.
func TestWrapNoGoroutineLeak(t *testing.T) {
	baseline := settledGoroutines()
	base := afero.NewMemMapFs()
	aio := aiofs.Wrap(base, aiofs.WithQueueDepth(8), aiofs.WithWriteBehind(64<<10))
	data := pattern(uint64(4), 0, 300<<10)
	for i := range 4 {
		if err := afero.WriteFile(aio, fmt.Sprintf("/f%d", i), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		if got, err := afero.ReadFile(aio, fmt.Sprintf("/f%d", i)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadFile: %v, %s", err, diff(data, got, "want", "got"))
		}
	}
	open, err := aio.Create("/open")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open.Write(data[:1000]); err != nil {
		t.Fatal(err)
	}
	if err := aio.Close(); err != nil {
		t.Fatalf("Fs.Close: %v", err)
	}
	if got, err := afero.ReadFile(base, "/open"); err != nil || !bytes.Equal(got, data[:1000]) {
		t.Errorf("base after Fs.Close: %v, %s", err, diff(data[:1000], got, "want", "got"))
	}
	checkGoroutinesReturn(t, baseline)
}

// TestEmptyReadWriteAtAfterClose: ReadAt and WriteAt of nothing on a
// closed handle answer as the base's handle does: nil for OsFs (and New),
// ErrClosed for MemMapFs, whose answer Wrap did not ask for.
func TestEmptyReadWriteAtAfterClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i, c := range []struct {
		label string
		fs    afero.Fs
		want  error
	}{
		{"OsFs", afero.NewOsFs(), nil},
		{"New", newAio(t, ""), nil},
		{"Wrap(OsFs)", aiofs.Wrap(afero.NewOsFs()), nil},
		{"Wrap(MemMapFs)", aiofs.Wrap(afero.NewMemMapFs()), mem.ErrFileClosed},
	} {
		f, err := c.fs.Create(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ReadAt(nil, 0); !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
			t.Errorf("%s: ReadAt(nil) after Close: %v; want %v", c.label, err, c.want)
		}
		if _, err := f.WriteAt(nil, 0); !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
			t.Errorf("%s: WriteAt(nil) after Close: %v; want %v", c.label, err, c.want)
		}
	}
}

// TestWrapEmptyWriteAtReadOnly: WriteAt of nothing on a read-only handle
// answers as the base's handle does: MemMapFs refuses it (os.File does
// not; Wrap answered nil).
func TestWrapEmptyWriteAtReadOnly(t *testing.T) {
	t.Parallel()
	mfs := afero.NewMemMapFs()
	if err := afero.WriteFile(mfs, "/a", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	aio := aiofs.Wrap(mfs)
	defer aio.Close()
	bf, err := mfs.Open("/a")
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	f, err := aio.Open("/a")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, want := bf.WriteAt(nil, 0)
	if _, err := f.WriteAt(nil, 0); want == nil || err == nil || err.Error() != want.Error() {
		t.Errorf("WriteAt(nil) on a read-only handle: %v; the base's: %v", err, want)
	}
}

// TestWrapSyncFlushesRemoved writes through a handle whose file was then
// removed by one name through the Fs, and checks that Fs.Sync writes the
// data all the same: a hard link made beforehand shows it. (Such a file
// was no longer found by name, and Fs.Sync and Fs.Close went over named
// files only.)
func TestWrapSyncFlushesRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	aio := aiofs.Wrap(afero.NewOsFs())
	defer aio.Close()
	name, link := filepath.Join(dir, "a"), filepath.Join(dir, "link")
	f, err := aio.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Link(name, link); err != nil {
		t.Fatal(err)
	}
	if err := aio.Remove(name); err != nil {
		t.Fatal(err)
	}
	data := pattern(uint64(7), 0, 100<<10) // buffered, for a flush timer of 20 ms
	if n, err := f.Write(data); n != len(data) || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	if err := aio.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(link)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after Fs.Sync, the file holds %d bytes (%v); %s", len(got), err, diff(data, got, "want", "got"))
	}
}

// slowStatFs is a base whose files' Stat, while hold is set, looks at the
// file and then waits for release before it answers: an answer that a
// change made meanwhile has made old.
type slowStatFs struct {
	afero.Fs
	hold    atomic.Bool
	asked   chan struct{}
	release chan struct{}
}

func (s *slowStatFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := s.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return slowStatFile{f, s}, nil
}

func (s *slowStatFs) Open(name string) (afero.File, error) { return s.OpenFile(name, os.O_RDONLY, 0) }

type slowStatFile struct {
	afero.File
	s *slowStatFs
}

func (f slowStatFile) Stat() (os.FileInfo, error) {
	fi, err := f.File.Stat()
	if f.s.hold.CompareAndSwap(true, false) {
		f.s.asked <- struct{}{}
		<-f.s.release
	}
	return fi, err
}

// TestWrapOpenOldStat opens a file whose Stat answers with a size that a
// flush of another handle has since made old. The Fs must not take it for
// the file's size: reads of the data written meanwhile came back short.
func TestWrapOpenOldStat(t *testing.T) {
	t.Parallel()
	base := &slowStatFs{Fs: afero.NewBasePathFs(afero.NewOsFs(), t.TempDir()), asked: make(chan struct{}), release: make(chan struct{})}
	aio := aiofs.Wrap(base)
	defer aio.Close()
	a, err := aio.Create("/f")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	data := pattern(uint64(5), 0, 300)
	if _, err := a.Write(data[:100]); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	base.hold.Store(true)
	opened := make(chan error, 1)
	go func() {
		b, err := aio.Open("/f")
		if err == nil {
			err = b.Close()
		}
		opened <- err
	}()
	<-base.asked // the Open's Stat has seen 100 bytes
	if _, err := a.Write(data[100:]); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	close(base.release)
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	n, err := a.ReadAt(got, 0)
	if n != len(data) || !bytes.Equal(got, data) {
		t.Fatalf("ReadAt after the Open: %d, %v; %s", n, err, diff(data, got, "want", "got"))
	}
}

package aiofs_test

// Differential tests: every step runs on afero.NewOsFs() rooted in one
// temporary directory and on an aiofs.Fs rooted in another (or, for tests
// that only read, in the same one), and what a caller can observe (return
// values, n, error types, Op, Path, Err, the errno, sentinel identity,
// FileInfo, and finally the bytes and modes on disk) must be the same.
//
// Knobs:
//
//	AIOFS_ENGINE=uring|kqueue|pool  the only engine to test (forEngines), also that
//	                                of the default Fs; unset, every engine present
//	CI=true                         on Linux, TestEngineIsTheOneAsked fails without io_uring
//	AIOFS_TEST_TRACE=1              log every differential step with both results
//	AIOFS_SEED=N                    replay a randomized run
//	AIOFS_EXCLUDE=...               leave known differences out of random and
//	                                model runs, to look for others (excluded)
//	-rapid.checks=N                 budget of TestRapidDifferential (default 40 here)

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

// Compile-time checks of the public surface.
var (
	_ afero.Fs        = (*aiofs.Fs)(nil)
	_ afero.Lstater   = (*aiofs.Fs)(nil)
	_ afero.Symlinker = (*aiofs.Fs)(nil)
	_ afero.File      = (*aiofs.File)(nil)
	_ fs.ReadDirFile  = (*aiofs.File)(nil)
	_ io.WriterTo     = (*aiofs.File)(nil)
	_ io.ReaderFrom   = (*aiofs.File)(nil)
	_ io.ReaderAt     = (*aiofs.File)(nil)
	_ io.WriterAt     = (*aiofs.File)(nil)
	_ io.StringWriter = (*aiofs.File)(nil)
)

// tester is what the harness needs from *testing.T and *rapid.T.
type tester interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// ---------------------------------------------------------------------------
// The harness.

// side is one of the two file systems under comparison.
type side struct {
	label string // "OsFs" or "aiofs"
	fs    afero.Fs
	aio   *aiofs.Fs // nil for OsFs
	root  string    // prefix of every path, absolute or relative
	disk  string    // where root is on disk (differs under BasePathFs)

	files  map[string]afero.File // handles by id
	names  map[string]string     // the exact name each handle was opened with
	closed map[string]bool
	acc    map[string][]string // Readdir batches accumulated per handle

	// Reads go into buf, filled first with poison (newH gives each side
	// its own byte), so that bytes a read claims but does not write differ.
	buf      []byte
	poison   byte
	poisoned []byte // poison repeated, at least as long as buf
}

func newSide(label string, fsys afero.Fs, aio *aiofs.Fs, root string) *side {
	return &side{
		label: label, fs: fsys, aio: aio, root: root, disk: root,
		files: map[string]afero.File{}, names: map[string]string{},
		closed: map[string]bool{}, acc: map[string][]string{},
	}
}

// p is the path a scenario's relative name has on this side. It is not
// cleaned: "./a" stays "./a", so that Name() can be checked exactly.
func (s *side) p(name string) string {
	if name == "" {
		return s.root
	}
	if s.root == "" {
		return name
	}
	return s.root + "/" + name
}

// d is the path on disk of a scenario's relative name.
func (s *side) d(name string) string {
	if name == "" {
		return s.disk
	}
	return s.disk + "/" + name
}

// norm replaces this side's root at the start of a path by $ROOT.
func (s *side) norm(path string) string {
	switch {
	case s.disk != s.root && path == s.disk:
		return "$DISK"
	case s.disk != s.root && strings.HasPrefix(path, s.disk+"/"):
		return "$DISK/" + path[len(s.disk)+1:]
	case path == s.root:
		return "$ROOT"
	case strings.HasPrefix(path, s.root+"/"):
		return "$ROOT/" + path[len(s.root)+1:]
	}
	return path
}

func (s *side) normMsg(msg string) string {
	if s.disk != "" {
		msg = strings.ReplaceAll(msg, s.disk, "$DISK")
	}
	if s.root != "" {
		msg = strings.ReplaceAll(msg, s.root, "$ROOT")
	}
	return msg
}

var sentinels = []struct {
	name string
	err  error
}{
	{"ErrNotExist", fs.ErrNotExist},
	{"ErrExist", fs.ErrExist},
	{"ErrPermission", fs.ErrPermission},
	{"ErrClosed", fs.ErrClosed},
	{"ErrInvalid", fs.ErrInvalid},
	{"EOF", io.EOF},
	{"ErrUnexpectedEOF", io.ErrUnexpectedEOF},
	{"ErrShortWrite", io.ErrShortWrite},
	{"ErrNoProgress", io.ErrNoProgress},
	{"ErrShortBuffer", io.ErrShortBuffer},
	{"ErrDeadlineExceeded", os.ErrDeadlineExceeded},
	{"ErrNoDeadline", os.ErrNoDeadline},
	{"ErrProcessDone", os.ErrProcessDone},
}

// errString describes err with everything a caller can test: its
// concrete type and fields (Op, Path relative to the root, the inner
// error's type and errno), which sentinels it is (errors.Is), and which it
// is identically (==).
func (s *side) errString(err error) string {
	if err == nil {
		return "nil"
	}
	var is []string
	for _, x := range sentinels {
		if errors.Is(err, x.err) {
			is = append(is, x.name)
		}
	}
	return fmt.Sprintf("%s is%v", s.describe(err), is)
}

func (s *side) describe(err error) string {
	switch e := err.(type) {
	case nil:
		return "nil"
	case *fs.PathError:
		return fmt.Sprintf("*PathError{Op:%q Path:%q Err:%s}", e.Op, s.norm(e.Path), s.describe(e.Err))
	case *os.LinkError:
		return fmt.Sprintf("*LinkError{Op:%q Old:%q New:%q Err:%s}", e.Op, s.norm(e.Old), s.norm(e.New), s.describe(e.Err))
	case *os.SyscallError:
		return fmt.Sprintf("*SyscallError{Syscall:%q Err:%s}", e.Syscall, s.describe(e.Err))
	case syscall.Errno:
		return fmt.Sprintf("Errno(%d %q)", uintptr(e), e.Error())
	}
	d := fmt.Sprintf("error(%q)", s.normMsg(err.Error()))
	for _, x := range sentinels {
		if err == x.err {
			d += "==" + x.name
		}
	}
	if u := errors.Unwrap(err); u != nil {
		d += " wrapping " + s.describe(u)
	}
	return d
}

func (s *side) fiString(fi os.FileInfo, withTime bool) string {
	if fi == nil {
		return "fi=<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{name=%q mode=%v dir=%v", fi.Name(), fi.Mode(), fi.IsDir())
	if !fi.IsDir() {
		fmt.Fprintf(&b, " size=%d", fi.Size())
	}
	fmt.Fprintf(&b, " sys=%T", fi.Sys())
	if withTime {
		fmt.Fprintf(&b, " mtime=%s", fi.ModTime().UTC().Format(time.RFC3339Nano))
	}
	b.WriteString("}")
	return b.String()
}

// res is the observable outcome of one step on one side.
type res struct {
	s    string
	data []byte // bytes read, for a precise report when they differ; valid until the side's next read
	n    int64  // the count or offset the call returned
	err  error  // the error the call returned, for H.must
}

// errRes is the outcome of a call that returns only an error.
func errRes(s *side, err error) res { return res{s: "err=" + s.errString(err), err: err} }

func dataString(p []byte) string {
	if len(p) <= 48 {
		return fmt.Sprintf("%q", p)
	}
	sum := sha256.Sum256(p)
	return fmt.Sprintf("[%d bytes sha256:%x]", len(p), sum[:8])
}

// traceSteps logs every step's results (AIOFS_TEST_TRACE=1).
var traceSteps = os.Getenv("AIOFS_TEST_TRACE") != ""

// H runs steps on both sides in lockstep and compares their outcomes.
type H struct {
	t     tester
	os    *side
	aio   *side
	step  int
	label string // scenario or seed, for messages

	stopOnFail bool // Fatalf at the first difference (random tests)
	strictTree bool // the aiofs side writes through: disk always matches
	mustPass   bool // inside must: an error on either side is a failure
	aioFirst   bool // run each step on the aiofs side first (see newReadH)
	failures   int
	history    []string // recent steps, for the random test's report
	keepHist   int
	allHist    []string // every step, when keepHist > 0
	// related, if set, picks from all earlier steps those worth
	// reporting with a difference in the step described by desc.
	related func(desc string, all []string) []string
}

func newH(t tester, label string, osSide, aioSide *side) *H {
	osSide.poison, aioSide.poison = 0x5a, 0xa5
	return &H{t: t, os: osSide, aio: aioSide, label: label}
}

func (h *H) sides() [2]*side { return [2]*side{h.os, h.aio} }

// do runs fn on both sides and reports a difference.
func (h *H) do(desc string, fn func(s *side) res) res {
	h.t.Helper()
	h.step++
	var ro, ra res
	if h.aioFirst {
		ra = fn(h.aio)
		ro = fn(h.os)
	} else {
		ro = fn(h.os)
		ra = fn(h.aio)
	}
	if traceSteps {
		h.t.Logf("#%d %s\n\tOsFs:  %s\n\taiofs: %s", h.step, desc, ro.s, ra.s)
	}
	if h.keepHist > 0 {
		h.note(fmt.Sprintf("#%d %s -> %s", h.step, desc, ro.s))
	}
	failed := ro.s != ra.s
	if h.mustPass && (ro.err != nil || ra.err != nil) {
		failed = true
		desc += " (must succeed)"
	}
	if failed {
		h.failures++
		msg := fmt.Sprintf("%s: step %d: %s\n\tOsFs:  %s\n\taiofs: %s", h.label, h.step, desc, ro.s, ra.s)
		if ro.data != nil || ra.data != nil {
			msg += "\n\t" + diff(ro.data, ra.data, "OsFs", "aiofs")
		}
		if h.stopOnFail {
			msg += h.context(desc)
			h.t.Fatalf("%s", msg)
		}
		h.t.Errorf("%s", msg)
	}
	return ro
}

// note adds a line to the history kept (keepHist > 0) for failure reports.
func (h *H) note(line string) {
	h.history = append(h.history, line)
	h.allHist = append(h.allHist, line)
	if len(h.history) > h.keepHist {
		h.history = h.history[1:]
	}
}

// must runs steps that may not fail on either side, not even alike:
// the setup and checks of a scenario, whose errors would hide what it
// means to test.
func (h *H) must(steps func()) {
	h.t.Helper()
	old := h.mustPass
	h.mustPass = true
	defer func() { h.mustPass = old }()
	steps()
}

// context describes the steps that led to a difference in the steps
// (or files) described by descs.
func (h *H) context(descs ...string) string {
	var msg string
	for _, desc := range descs {
		if h.related == nil || desc == "" {
			continue
		}
		if rel := h.related(desc, h.allHist); len(rel) > 0 {
			msg += "\n\tearlier steps related to " + desc + " (OsFs results):\n\t\t" + strings.Join(rel, "\n\t\t")
		}
	}
	if len(h.history) > 0 {
		msg += "\n\trecent steps (OsFs results):\n\t\t" + strings.Join(h.history, "\n\t\t")
	}
	return msg
}

func (s *side) file(id string) (afero.File, res, bool) {
	f, ok := s.files[id]
	if !ok || f == nil {
		return nil, res{s: "no handle " + id, err: errors.New("no handle " + id)}, false
	}
	return f, res{}, true
}

// --- opening

func (h *H) OpenFile(id, name string, flag int, perm os.FileMode) {
	h.t.Helper()
	h.do(fmt.Sprintf("OpenFile(%q, %s, %v) as %s", name, flagString(flag), perm, id), func(s *side) res {
		f, err := s.fs.OpenFile(s.p(name), flag, perm)
		return s.opened(id, name, f, err)
	})
}

func (h *H) Open(id, name string) {
	h.t.Helper()
	h.do(fmt.Sprintf("Open(%q) as %s", name, id), func(s *side) res {
		f, err := s.fs.Open(s.p(name))
		return s.opened(id, name, f, err)
	})
}

func (h *H) Create(id, name string) {
	h.t.Helper()
	h.do(fmt.Sprintf("Create(%q) as %s", name, id), func(s *side) res {
		f, err := s.fs.Create(s.p(name))
		return s.opened(id, name, f, err)
	})
}

func (s *side) opened(id, name string, f afero.File, err error) res {
	r := "file=<nil>"
	if f != nil {
		r = "file=ok name=" + s.norm(f.Name())
		if f.Name() != s.p(name) {
			r += fmt.Sprintf(" NAME-NOT-EXACT(%q, asked %q)", f.Name(), s.p(name))
		}
		if _, direct := s.fs.(*aiofs.Fs); direct {
			if _, ok := f.(*aiofs.File); !ok {
				r += fmt.Sprintf(" not-*aiofs.File(%T)", f)
			}
		}
		if old := s.files[id]; old != nil && !s.closed[id] {
			old.Close()
		}
		s.files[id] = f
		s.names[id] = s.p(name)
		delete(s.closed, id)
		delete(s.acc, id)
	} else {
		delete(s.files, id)
	}
	return res{s: r + " err=" + s.errString(err), err: err}
}

func flagString(flag int) string {
	var parts []string
	switch flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_RDONLY:
		parts = append(parts, "O_RDONLY")
	case os.O_WRONLY:
		parts = append(parts, "O_WRONLY")
	case os.O_RDWR:
		parts = append(parts, "O_RDWR")
	default:
		parts = append(parts, "O_ACCMODE")
	}
	rest := flag &^ (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	for _, x := range []struct {
		f int
		n string
	}{{os.O_CREATE, "O_CREATE"}, {os.O_EXCL, "O_EXCL"}, {os.O_TRUNC, "O_TRUNC"}, {os.O_APPEND, "O_APPEND"}, {os.O_SYNC, "O_SYNC"}} {
		if rest&x.f != 0 {
			parts = append(parts, x.n)
			rest &^= x.f
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", rest))
	}
	return strings.Join(parts, "|")
}

// --- data I/O on handles

// readBuf returns the side's buffer of n poisoned bytes; n < 0 means a
// nil slice.
func (s *side) readBuf(n int) []byte {
	if n < 0 {
		return nil
	}
	if len(s.poisoned) < n {
		s.buf = make([]byte, n)
		s.poisoned = bytes.Repeat([]byte{s.poison}, n)
	}
	p := s.buf[:n]
	copy(p, s.poisoned) // one copy, not a loop the race detector checks byte by byte
	return p
}

func (h *H) Read(id string, n int) res {
	h.t.Helper()
	return h.do(fmt.Sprintf("%s.Read(len %d)", id, n), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		p := s.readBuf(n)
		m, err := f.Read(p)
		return rwRes(s, p, m, err, true)
	})
}

func (h *H) ReadAt(id string, n int, off int64) res {
	h.t.Helper()
	return h.do(fmt.Sprintf("%s.ReadAt(len %d, %d)", id, n, off), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		p := s.readBuf(n)
		m, err := f.ReadAt(p, off)
		return rwRes(s, p, m, err, true)
	})
}

func rwRes(s *side, p []byte, m int, err error, isRead bool) res {
	r := fmt.Sprintf("n=%d err=%s", m, s.errString(err))
	if m < 0 || m > len(p) {
		return res{s: r + " N-OUT-OF-RANGE", err: err}
	}
	if isRead {
		return res{s: r + " data=" + dataString(p[:m]), data: p[:m], n: int64(m), err: err}
	}
	return res{s: r, n: int64(m), err: err}
}

func (h *H) Write(id string, p []byte) {
	h.t.Helper()
	h.do(fmt.Sprintf("%s.Write(%s)", id, dataString(p)), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		q := bytes.Clone(p)
		m, err := f.Write(q)
		return rwRes(s, q, m, err, false)
	})
}

func (h *H) WriteAt(id string, p []byte, off int64) {
	h.t.Helper()
	h.do(fmt.Sprintf("%s.WriteAt(%s, %d)", id, dataString(p), off), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		q := bytes.Clone(p)
		m, err := f.WriteAt(q, off)
		return rwRes(s, q, m, err, false)
	})
}

func (h *H) WriteString(id string, str string) {
	h.t.Helper()
	h.do(fmt.Sprintf("%s.WriteString(%s)", id, dataString([]byte(str))), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		m, err := f.WriteString(str)
		return rwRes(s, []byte(str), m, err, false)
	})
}

// Seek returns the OsFs side's outcome, whose n is the new offset.
func (h *H) Seek(id string, off int64, whence int) res {
	h.t.Helper()
	return h.do(fmt.Sprintf("%s.Seek(%d, %d)", id, off, whence), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		ret, err := f.Seek(off, whence)
		return res{s: fmt.Sprintf("ret=%d err=%s", ret, s.errString(err)), n: ret, err: err}
	})
}

func (h *H) Truncate(id string, size int64) {
	h.t.Helper()
	h.do(fmt.Sprintf("%s.Truncate(%d)", id, size), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		return errRes(s, f.Truncate(size))
	})
}

func (h *H) Sync(id string) {
	h.t.Helper()
	h.do(id+".Sync()", func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		return errRes(s, f.Sync())
	})
}

func (h *H) Close(id string) {
	h.t.Helper()
	h.do(id+".Close()", func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		err := f.Close()
		s.closed[id] = true
		return errRes(s, err)
	})
}

func (h *H) Stat(id string) {
	h.t.Helper()
	h.do(id+".Stat()", func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		fi, err := f.Stat()
		return res{s: s.fiString(fi, false) + " err=" + s.errString(err), err: err}
	})
}

func (h *H) Name(id string) {
	h.t.Helper()
	h.do(id+".Name()", func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		n := f.Name()
		return res{s: fmt.Sprintf("%q exact=%v", s.norm(n), n == s.names[id])}
	})
}

// Readdir with n > 0 compares each batch's length and error, and the
// accumulated set of entries once the listing ends (EOF or a short
// batch), since the order of entries is the directory's, not the Fs's.
// With n <= 0 the (sorted) listing is compared at once.
func (h *H) Readdir(id string, n int) {
	h.t.Helper()
	h.do(fmt.Sprintf("%s.Readdir(%d)", id, n), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		fis, err := f.Readdir(n)
		var names []string
		for _, fi := range fis {
			names = append(names, s.fiString(fi, false))
		}
		return s.dirRes(id, n, len(fis), fis == nil, names, err)
	})
}

func (h *H) Readdirnames(id string, n int) {
	h.t.Helper()
	h.do(fmt.Sprintf("%s.Readdirnames(%d)", id, n), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		names, err := f.Readdirnames(n)
		return s.dirRes(id, n, len(names), names == nil, slicesClone(names), err)
	})
}

func (h *H) ReadDir(id string, n int) {
	h.t.Helper()
	h.do(fmt.Sprintf("%s.ReadDir(%d)", id, n), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		rd, ok := f.(fs.ReadDirFile)
		if !ok {
			return res{s: fmt.Sprintf("%T is not an fs.ReadDirFile", f)}
		}
		des, err := rd.ReadDir(n)
		var names []string
		for _, de := range des {
			fi, ierr := de.Info()
			names = append(names, fmt.Sprintf("%s dir=%v type=%v info=%s/%s", de.Name(), de.IsDir(), de.Type(), s.fiString(fi, false), s.errString(ierr)))
			if err == nil {
				err = ierr
			}
		}
		return s.dirRes(id, n, len(des), des == nil, names, err)
	})
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func (s *side) dirRes(id string, n, got int, isNil bool, entries []string, err error) res {
	r := fmt.Sprintf("len=%d nil=%v err=%s", got, isNil, s.errString(err))
	if n <= 0 {
		sort.Strings(entries)
		return res{s: r + " entries=" + strings.Join(entries, ", "), err: err}
	}
	s.acc[id] = append(s.acc[id], entries...)
	if got < n || err != nil {
		all := slicesClone(s.acc[id])
		sort.Strings(all)
		for i := 1; i < len(all); i++ {
			if all[i] == all[i-1] {
				r += " DUPLICATE " + all[i]
			}
		}
		r += " all=" + strings.Join(all, ", ")
	}
	return res{s: r, err: err}
}

// CopyTo drains the handle with io.Copy into a buffer (WriterTo path).
func (h *H) CopyTo(id string) {
	h.t.Helper()
	h.do(id+" io.Copy(buffer, f)", func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		var b bytes.Buffer
		n, err := io.Copy(&b, f)
		return res{s: fmt.Sprintf("n=%d err=%s data=%s", n, s.errString(err), dataString(b.Bytes())), data: b.Bytes(), err: err}
	})
}

// ReadAll drains the handle with io.ReadAll (plain Reads).
func (h *H) ReadAll(id string) {
	h.t.Helper()
	h.do(id+" io.ReadAll(f)", func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		b, err := io.ReadAll(f)
		return res{s: fmt.Sprintf("n=%d err=%s data=%s", len(b), s.errString(err), dataString(b)), data: b, err: err}
	})
}

// onlyReader hides every method but Read.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// onlyWriter hides every method but Write.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// ReadFrom calls the handle's ReadFrom with a plain reader over p.
func (h *H) ReadFrom(id string, p []byte) {
	h.t.Helper()
	h.do(fmt.Sprintf("%s.ReadFrom(%s)", id, dataString(p)), func(s *side) res {
		f, r, ok := s.file(id)
		if !ok {
			return r
		}
		rf, ok := f.(io.ReaderFrom)
		if !ok {
			return res{s: fmt.Sprintf("%T is not an io.ReaderFrom", f)}
		}
		n, err := rf.ReadFrom(onlyReader{bytes.NewReader(p)})
		return res{s: fmt.Sprintf("n=%d err=%s", n, s.errString(err))}
	})
}

// CopyFile copies handle src into handle dst of the same side with
// dst.ReadFrom(src).
func (h *H) CopyFile(dst, src string) {
	h.t.Helper()
	h.do(fmt.Sprintf("%s.ReadFrom(%s)", dst, src), func(s *side) res {
		d, r, ok := s.file(dst)
		if !ok {
			return r
		}
		sf, r, ok := s.file(src)
		if !ok {
			return r
		}
		rf, ok := d.(io.ReaderFrom)
		if !ok {
			// A wrapper without ReadFrom: copy as io.Copy would.
			n, err := io.Copy(onlyWriter{d}, sf)
			return res{s: fmt.Sprintf("n=%d err=%s", n, s.errString(err))}
		}
		n, err := rf.ReadFrom(sf)
		return res{s: fmt.Sprintf("n=%d err=%s", n, s.errString(err))}
	})
}

// --- file system operations

func (h *H) Mkdir(name string, perm os.FileMode) {
	h.t.Helper()
	h.do(fmt.Sprintf("Mkdir(%q, %v)", name, perm), func(s *side) res {
		return errRes(s, s.fs.Mkdir(s.p(name), perm))
	})
}

func (h *H) MkdirAll(name string, perm os.FileMode) {
	h.t.Helper()
	h.do(fmt.Sprintf("MkdirAll(%q, %v)", name, perm), func(s *side) res {
		return errRes(s, s.fs.MkdirAll(s.p(name), perm))
	})
}

func (h *H) Remove(name string) {
	h.t.Helper()
	h.do(fmt.Sprintf("Remove(%q)", name), func(s *side) res {
		return errRes(s, s.fs.Remove(s.p(name)))
	})
}

func (h *H) RemoveAll(name string) {
	h.t.Helper()
	if name == "" || name == "." {
		panic("RemoveAll of the root")
	}
	h.do(fmt.Sprintf("RemoveAll(%q)", name), func(s *side) res {
		return errRes(s, s.fs.RemoveAll(s.p(name)))
	})
}

func (h *H) Rename(from, to string) {
	h.t.Helper()
	h.do(fmt.Sprintf("Rename(%q, %q)", from, to), func(s *side) res {
		return errRes(s, s.fs.Rename(s.p(from), s.p(to)))
	})
}

func (h *H) FsStat(name string) {
	h.t.Helper()
	h.do(fmt.Sprintf("Stat(%q)", name), func(s *side) res {
		fi, err := s.fs.Stat(s.p(name))
		return res{s: s.fiString(fi, false) + " err=" + s.errString(err), err: err}
	})
}

// FsStatTime is FsStat including the modification time, for files whose
// times the scenario set.
func (h *H) FsStatTime(name string) {
	h.t.Helper()
	h.do(fmt.Sprintf("Stat(%q) with mtime", name), func(s *side) res {
		fi, err := s.fs.Stat(s.p(name))
		return res{s: s.fiString(fi, true) + " err=" + s.errString(err)}
	})
}

func (h *H) Lstat(name string) {
	h.t.Helper()
	h.do(fmt.Sprintf("LstatIfPossible(%q)", name), func(s *side) res {
		l, ok := s.fs.(afero.Lstater)
		if !ok {
			return res{s: "not an afero.Lstater"}
		}
		fi, used, err := l.LstatIfPossible(s.p(name))
		return res{s: fmt.Sprintf("%s lstat=%v err=%s", s.fiString(fi, false), used, s.errString(err)), err: err}
	})
}

func (h *H) Symlink(target, name string) {
	h.t.Helper()
	h.do(fmt.Sprintf("SymlinkIfPossible(%q, %q)", target, name), func(s *side) res {
		l, ok := s.fs.(afero.Symlinker)
		if !ok {
			return res{s: "not an afero.Symlinker"}
		}
		return res{s: "err=" + s.errString(l.SymlinkIfPossible(target, s.p(name)))}
	})
}

func (h *H) Readlink(name string) {
	h.t.Helper()
	h.do(fmt.Sprintf("ReadlinkIfPossible(%q)", name), func(s *side) res {
		l, ok := s.fs.(afero.Symlinker)
		if !ok {
			return res{s: "not an afero.Symlinker"}
		}
		target, err := l.ReadlinkIfPossible(s.p(name))
		return res{s: fmt.Sprintf("%q err=%s", s.norm(target), s.errString(err))}
	})
}

func (h *H) Chmod(name string, mode os.FileMode) {
	h.t.Helper()
	h.do(fmt.Sprintf("Chmod(%q, %v)", name, mode), func(s *side) res {
		return errRes(s, s.fs.Chmod(s.p(name), mode))
	})
}

func (h *H) Chown(name string, uid, gid int) {
	h.t.Helper()
	h.do(fmt.Sprintf("Chown(%q, %d, %d)", name, uid, gid), func(s *side) res {
		return errRes(s, s.fs.Chown(s.p(name), uid, gid))
	})
}

func (h *H) Chtimes(name string, atime, mtime time.Time) {
	h.t.Helper()
	h.do(fmt.Sprintf("Chtimes(%q, %v, %v)", name, atime, mtime), func(s *side) res {
		return errRes(s, s.fs.Chtimes(s.p(name), atime, mtime))
	})
}

// Sleep lets time pass on both sides (background flushes may run).
func (h *H) Sleep(d time.Duration) { time.Sleep(d) }

func (h *H) FsSync() {
	h.t.Helper()
	if err := h.aio.aio.Sync(); err != nil {
		h.failures++
		h.t.Errorf("%s: aiofs Fs.Sync: %v", h.label, err)
	}
}

// --- setup directly on disk, bypassing both file systems

func (h *H) DiskWrite(name string, data []byte, perm os.FileMode) {
	h.t.Helper()
	for _, s := range h.sides() {
		p := s.d(name)
		if err := os.WriteFile(p, data, perm); err != nil {
			h.t.Fatalf("setup: %v", err)
		}
		if err := os.Chmod(p, perm); err != nil {
			h.t.Fatalf("setup: %v", err)
		}
	}
}

func (h *H) DiskMkdir(name string) {
	h.t.Helper()
	for _, s := range h.sides() {
		if err := os.MkdirAll(s.d(name), 0o755); err != nil {
			h.t.Fatalf("setup: %v", err)
		}
	}
}

func (h *H) DiskSymlink(target, name string) {
	h.t.Helper()
	for _, s := range h.sides() {
		if err := os.Symlink(target, s.d(name)); err != nil {
			h.t.Fatalf("setup: %v", err)
		}
	}
}

func (h *H) DiskChtimes(name string, tm time.Time) {
	h.t.Helper()
	for _, s := range h.sides() {
		if err := os.Chtimes(s.d(name), tm, tm); err != nil {
			h.t.Fatalf("setup: %v", err)
		}
	}
}

// --- trees on disk

type treeEntry struct {
	desc string
	data []byte
}

// diskTree reads the tree under root with package os.
func diskTree(root string) (map[string]treeEntry, error) {
	out := map[string]treeEntry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			out[rel] = treeEntry{desc: "symlink -> " + strings.ReplaceAll(target, root, "$DISK")}
		case fi.IsDir():
			out[rel] = treeEntry{desc: fmt.Sprintf("dir %v", fi.Mode())}
		default:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[rel] = treeEntry{desc: fmt.Sprintf("file %v size=%d content=%s", fi.Mode(), fi.Size(), dataString(data)), data: data}
		}
		return nil
	})
	return out, err
}

// compareTrees reports how the trees under two roots differ, or "".
func compareTrees(osRoot, aioRoot string) string {
	d, _ := compareTreesNames(osRoot, aioRoot)
	return d
}

// compareTreesNames is compareTrees, also returning the names that differ.
func compareTreesNames(osRoot, aioRoot string) (string, []string) {
	a, err := diskTree(osRoot)
	if err != nil {
		return "reading OsFs tree: " + err.Error(), nil
	}
	b, err := diskTree(aioRoot)
	if err != nil {
		return "reading aiofs tree: " + err.Error(), nil
	}
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var diffs, differing []string
	for _, k := range names {
		ea, oka := a[k]
		eb, okb := b[k]
		if !oka || !okb || ea.desc != eb.desc {
			differing = append(differing, k)
		}
		switch {
		case !okb:
			diffs = append(diffs, fmt.Sprintf("%s: OsFs %s, aiofs missing", k, ea.desc))
		case !oka:
			diffs = append(diffs, fmt.Sprintf("%s: OsFs missing, aiofs %s", k, eb.desc))
		case ea.desc != eb.desc:
			d := fmt.Sprintf("%s:\n\t\tOsFs:  %s\n\t\taiofs: %s", k, ea.desc, eb.desc)
			if ea.data != nil && eb.data != nil {
				d += "\n\t\t" + diff(ea.data, eb.data, "OsFs", "aiofs")
			}
			diffs = append(diffs, d)
		}
	}
	return strings.Join(diffs, "\n\t"), differing
}

func (s *side) openHandles() bool {
	for id := range s.files {
		if !s.closed[id] {
			return true
		}
	}
	return false
}

// Tree compares the trees on disk when the aiofs side must have written
// everything: it writes through, or no handle is open. With write-behind
// and open handles the comparison waits for TreeNow after a Sync.
func (h *H) Tree() {
	h.t.Helper()
	if !h.strictTree && h.aio.openHandles() {
		return
	}
	h.TreeNow()
}

// TreeNow compares the trees on disk unconditionally.
func (h *H) TreeNow() {
	h.t.Helper()
	if d, names := compareTreesNames(h.os.disk, h.aio.disk); d != "" {
		h.failures++
		msg := fmt.Sprintf("%s: after step %d the trees on disk differ:\n\t%s", h.label, h.step, d)
		if h.stopOnFail {
			var descs []string
			for _, n := range names {
				descs = append(descs, fmt.Sprintf("%q", filepath.ToSlash(n)))
			}
			msg += h.context(descs...)
			h.t.Fatalf("%s", msg)
		}
		h.t.Errorf("%s", msg)
	}
}

// CloseAll closes, in id order, every handle still open, comparing the
// results.
func (h *H) CloseAll() {
	h.t.Helper()
	ids := map[string]bool{}
	for _, s := range h.sides() {
		for id := range s.files {
			if !s.closed[id] {
				ids[id] = true
			}
		}
	}
	var sorted []string
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		h.Close(id)
	}
}

// ---------------------------------------------------------------------------
// Variants and scenarios.

type variant struct {
	name       string
	opts       []aiofs.Option
	strictTree bool
	relative   bool
}

var variants = []variant{
	{name: "default"},
	{name: "writethrough", opts: []aiofs.Option{aiofs.WithWriteBehind(0)}, strictTree: true},
	{name: "nocache", opts: []aiofs.Option{aiofs.WithCacheSize(0), aiofs.WithReadahead(0), aiofs.WithWriteBehind(0)}, strictTree: true},
	{name: "relative", relative: true},
}

type scenario struct {
	name string
	run  func(h *H)
}

// runScenario runs sc on a fresh pair of roots and a fresh Fs.
func runScenario(t *testing.T, engine string, v variant, sc scenario) {
	var osRoot, aioRoot string
	if v.relative {
		t.Chdir(t.TempDir())
		osRoot, aioRoot = "osroot.d", "aioroot.d"
		for _, r := range []string{osRoot, aioRoot} {
			if err := os.Mkdir(r, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		osRoot, aioRoot = t.TempDir(), t.TempDir()
	}
	aio := newAio(t, engine, v.opts...)
	h := newH(t, sc.name+"/"+v.name, newSide("OsFs", afero.NewOsFs(), nil, osRoot), newSide("aiofs", aio, aio, aioRoot))
	h.strictTree = v.strictTree
	sc.run(h)
	h.CloseAll()
	h.TreeNow()
}

var (
	fixedTime  = time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	fixedTime2 = time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC)
)

const (
	rw     = os.O_RDWR
	ro     = os.O_RDONLY
	wo     = os.O_WRONLY
	creat  = os.O_CREATE
	excl   = os.O_EXCL
	trunc  = os.O_TRUNC
	appnd  = os.O_APPEND
	osync  = os.O_SYNC
	digits = "0123456789"
)

var scenarios = []scenario{
	{"create-write-seek-read", func(h *H) {
		h.Create("f", "a")
		h.WriteString("f", "hello, world")
		h.Tree()
		h.Seek("f", 0, io.SeekStart)
		h.Read("f", 5)
		h.Read("f", 100)
		h.Read("f", 10)
		h.Stat("f")
		h.Close("f")
		h.Tree()
		h.Open("g", "a")
		h.Read("g", 100)
		h.Read("g", 100)
	}},
	{"open-missing", func(h *H) {
		h.Open("f", "missing")
		h.OpenFile("f", "missing", rw, 0)
		h.OpenFile("f", "missing", wo|trunc, 0)
		h.OpenFile("f", "nodir/x", rw|creat, 0o644)
		h.Create("f", "nodir/x")
		h.Open("f", "")
		h.Read("f", 10)
	}},
	{"excl-existing", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", rw|creat|excl, 0o644)
		h.OpenFile("f", "a", wo|creat|excl|trunc, 0o644)
		h.DiskMkdir("d")
		h.OpenFile("f", "d", ro|creat|excl, 0o644)
	}},
	{"excl-new", func(h *H) {
		h.OpenFile("f", "new", wo|creat|excl, 0o600)
		h.Write("f", []byte("abc"))
		h.Read("f", 3)
		h.Close("f")
		h.FsStat("new")
		h.OpenFile("f", "new", wo|creat|excl, 0o600)
	}},
	{"excl-without-create", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", rw|excl, 0)
		h.Read("f", 4)
		h.OpenFile("g", "missing", rw|excl, 0)
	}},
	{"trunc-existing", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o640)
		h.OpenFile("f", "a", rw|trunc, 0o600)
		h.Stat("f")
		h.Read("f", 4)
		h.Write("f", []byte("xy"))
		h.Close("f")
		h.Tree()
	}},
	{"trunc-rdonly", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", ro|trunc, 0)
		h.Read("f", 4)
		h.Stat("f")
		h.FsStat("a")
	}},
	{"create-existing-truncates", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o600)
		h.Create("f", "a")
		h.Stat("f")
		h.Read("f", 4)
		h.Write("f", []byte("Q"))
		h.Seek("f", 0, io.SeekStart)
		h.Read("f", 4)
	}},
	{"create-perm-umask", func(h *H) {
		h.OpenFile("f", "p777", wo|creat, 0o777)
		h.OpenFile("g", "p000", wo|creat, 0)
		h.OpenFile("k", "p4755", wo|creat, 0o4755|os.ModeSetuid)
		h.Stat("f")
		h.Stat("g")
		h.Stat("k")
		h.Write("g", []byte("x"))
	}},
	{"append-basic", func(h *H) {
		h.DiskWrite("a", []byte("abc"), 0o644)
		h.OpenFile("f", "a", wo|appnd, 0)
		h.Write("f", []byte("def"))
		h.Seek("f", 0, io.SeekStart)
		h.Write("f", []byte("ghi"))
		h.Seek("f", 0, io.SeekCurrent)
		h.Stat("f")
		h.Close("f")
		h.Tree()
	}},
	{"append-rdwr-read", func(h *H) {
		h.DiskWrite("a", []byte("abcdef"), 0o644)
		h.OpenFile("f", "a", rw|appnd, 0)
		h.Read("f", 2)
		h.Write("f", []byte("XY"))
		h.Seek("f", 0, io.SeekCurrent)
		h.Read("f", 10)
		h.ReadAt("f", 20, 0)
		h.Seek("f", 1, io.SeekStart)
		h.Read("f", 2)
		h.WriteString("f", "Z")
		h.ReadAt("f", 20, 0)
	}},
	{"append-empty-write-offset", func(h *H) {
		h.DiskWrite("a", []byte("abcdef"), 0o644)
		h.OpenFile("f", "a", wo|appnd, 0)
		h.Seek("f", 0, io.SeekCurrent)
		h.Write("f", nil)
		h.Seek("f", 0, io.SeekCurrent)
		h.Write("f", []byte{})
		h.WriteString("f", "")
		h.Seek("f", 0, io.SeekCurrent)
		h.ReadFrom("f", nil)
		h.Seek("f", 0, io.SeekCurrent)
		h.Write("f", []byte("g"))
		h.Seek("f", 0, io.SeekCurrent)
		h.Seek("f", 2, io.SeekStart)
		h.Write("f", nil)
		h.Seek("f", 0, io.SeekCurrent)
	}},
	{"open-trunc-by-other-handle", func(h *H) {
		h.DiskWrite("a", nil, 0o644)
		h.OpenFile("r", "a", ro|creat, 0o640)
		h.OpenFile("f", "a", wo|appnd, 0)
		h.OpenFile("g", "a", rw|trunc, 0)
		h.Write("f", pattern(uint64(1), 0, 2421))
		h.WriteAt("g", pattern(uint64(3), 0, 1615), 0)
		h.ReadAt("g", 6235, 8282)
		h.Read("g", 131074)
		h.WriteAt("g", pattern(uint64(2), 0, 817), 8849)
		h.Close("g")
		h.OpenFile("g", "a", ro|creat, 0o666)
		h.WriteString("f", string(pattern(uint64(4), 0, 1576)))
		h.Close("r")
		h.Stat("f")
		h.OpenFile("t", "a", rw|trunc, 0)
		h.ReadAt("t", 49, 262144)
		h.Seek("f", -384, io.SeekEnd)
		h.Seek("f", 0, io.SeekEnd)
		// Again, once the background flush (after a short delay) has run.
		h.Write("f", pattern(uint64(5), 0, 3000))
		h.Sleep(60 * time.Millisecond)
		h.Stat("f")
		h.OpenFile("t", "a", rw|trunc, 0)
		h.Seek("f", -384, io.SeekEnd)
		h.Seek("f", 0, io.SeekEnd)
		h.Stat("f")
		h.Stat("g")
		h.FsStat("a")
		h.ReadAt("g", 100, 0)
		h.Write("f", []byte("after"))
		h.ReadAt("g", 100, 0)
		h.CloseAll()
		h.Tree()
	}},
	{"append-create-new", func(h *H) {
		h.OpenFile("f", "new", creat|appnd|wo, 0o644)
		h.Write("f", []byte("one "))
		h.Write("f", []byte("two "))
		h.WriteString("f", "three")
		h.Stat("f")
		h.Close("f")
		h.Tree()
	}},
	{"append-two-handles", func(h *H) {
		h.DiskWrite("a", nil, 0o644)
		h.OpenFile("f", "a", wo|appnd, 0)
		h.OpenFile("g", "a", rw|appnd, 0)
		h.OpenFile("k", "a", rw, 0)
		for i := 0; i < 5; i++ {
			h.Write("f", pattern(uint64(byte(i)), 0, 7+i))
			h.Write("g", pattern(uint64(byte(i+50)), 0, 3*i+1))
		}
		h.WriteAt("k", []byte("MIDDLE"), 10)
		h.Write("f", []byte("end"))
		h.Stat("g")
		h.ReadAt("k", 200, 0)
		h.Write("k", []byte("HEAD"))
		h.Write("g", []byte("tail"))
		h.ReadAt("g", 200, 0)
		h.CloseAll()
		h.Tree()
	}},
	{"writeat-on-append", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", rw|appnd, 0)
		h.WriteAt("f", []byte("x"), 0)
		h.WriteAt("f", []byte("x"), 100)
		h.WriteAt("f", nil, 0)
		h.WriteAt("f", []byte("x"), -1)
		h.Close("f")
		h.WriteAt("f", []byte("x"), 0)
		h.Tree()
	}},
	{"read-on-wronly", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", wo, 0)
		h.Read("f", 4)
		h.ReadAt("f", 4, 0)
		h.Read("f", 0)
		h.ReadAt("f", 0, 0)
		h.CopyTo("f")
		h.Write("f", []byte("ok"))
		h.Close("f")
		h.Tree()
	}},
	{"write-on-rdonly", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.Open("f", "a")
		h.Write("f", []byte("no"))
		h.WriteAt("f", []byte("no"), 2)
		h.WriteString("f", "no")
		h.Write("f", nil)
		h.Truncate("f", 1)
		h.ReadFrom("f", []byte("no"))
		h.Read("f", 4)
		h.Tree()
	}},
	{"access-mode-3", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", os.O_WRONLY|os.O_RDWR, 0)
		h.Read("f", 2)
		h.Write("f", []byte("x"))
	}},
	{"seek-past-eof-write-hole", func(h *H) {
		h.Create("f", "a")
		h.Write("f", []byte("ab"))
		h.Seek("f", 10, io.SeekStart)
		h.Write("f", []byte("cd"))
		h.Stat("f")
		h.Seek("f", 0, io.SeekStart)
		h.Read("f", 20)
		h.Seek("f", 1<<20, io.SeekCurrent)
		h.Write("f", []byte("far"))
		h.Stat("f")
		h.ReadAt("f", 10, 1<<20+9)
		h.Close("f")
		h.Tree()
	}},
	{"read-past-eof", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.Open("f", "a")
		h.Seek("f", 100, io.SeekStart)
		h.Read("f", 5)
		h.Read("f", 0)
		h.Seek("f", 0, io.SeekCurrent)
		h.Seek("f", 10, io.SeekStart)
		h.Read("f", 5)
		h.Seek("f", 8, io.SeekStart)
		h.Read("f", 5)
		h.Read("f", 5)
	}},
	{"readat-eof", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.Open("f", "a")
		h.ReadAt("f", 10, 0)
		h.ReadAt("f", 5, 8)
		h.ReadAt("f", 5, 10)
		h.ReadAt("f", 5, 1000)
		h.ReadAt("f", 0, 1000)
		h.ReadAt("f", 0, 10)
		h.ReadAt("f", -1, 5)
		h.ReadAt("f", 11, 0)
		h.DiskWrite("empty", nil, 0o644)
		h.Open("e", "empty")
		h.ReadAt("e", 1, 0)
		h.Read("e", 1)
		h.Read("e", 0)
	}},
	{"negative-offsets", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", rw, 0)
		h.ReadAt("f", 4, -1)
		h.ReadAt("f", 0, -1)
		h.WriteAt("f", []byte("x"), -1)
		h.WriteAt("f", nil, -5)
		h.Seek("f", -1, io.SeekStart)
		h.Seek("f", 3, io.SeekStart)
		h.Seek("f", -100, io.SeekCurrent)
		h.Seek("f", 0, io.SeekCurrent)
		h.Seek("f", -100, io.SeekEnd)
		h.Seek("f", -10, io.SeekEnd)
		h.Read("f", 3)
		h.Truncate("f", -1)
		h.Stat("f")
	}},
	{"writeat-hole", func(h *H) {
		h.Create("f", "a")
		h.WriteAt("f", []byte("z"), 100)
		h.Stat("f")
		h.ReadAt("f", 101, 0)
		h.Read("f", 200)
		h.WriteAt("f", pattern(uint64(1), 0, 5000), 70000)
		h.ReadAt("f", 8000, 66000)
		h.Close("f")
		h.Tree()
	}},
	{"writeat-readat-keep-offset", func(h *H) {
		h.Create("f", "a")
		h.Write("f", []byte("abc"))
		h.WriteAt("f", []byte("ZZ"), 0)
		h.Seek("f", 0, io.SeekCurrent)
		h.Write("f", []byte("d"))
		h.ReadAt("f", 3, 1)
		h.Seek("f", 0, io.SeekCurrent)
		h.Read("f", 5)
		h.Seek("f", 0, io.SeekStart)
		h.Read("f", 5)
		h.Close("f")
		h.Tree()
	}},
	{"seek-whence", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.Open("f", "a")
		h.Seek("f", 3, io.SeekStart)
		h.Seek("f", 2, io.SeekCurrent)
		h.Read("f", 1)
		h.Seek("f", -1, io.SeekEnd)
		h.Read("f", 5)
		h.Seek("f", 0, io.SeekEnd)
		h.Seek("f", 5, io.SeekEnd)
		h.Seek("f", 0, 3) // SEEK_DATA on Linux
		h.Seek("f", 0, 4) // SEEK_HOLE on Linux
		h.Seek("f", 20, 3)
		h.Seek("f", 0, 5)
		h.Seek("f", 0, -1)
		h.Seek("f", 0, 42)
		h.Seek("f", 0, io.SeekCurrent)
		h.Read("f", 2)
	}},
	{"seek-end-counts-written", func(h *H) {
		h.Create("f", "a")
		h.Write("f", pattern(uint64(2), 0, 3000))
		h.Seek("f", 0, io.SeekEnd)
		h.Seek("f", -10, io.SeekEnd)
		h.Write("f", pattern(uint64(3), 0, 100))
		h.Seek("f", 0, io.SeekEnd)
		h.OpenFile("g", "a", ro, 0)
		h.Seek("g", 0, io.SeekEnd)
		h.Seek("g", -5, io.SeekCurrent)
		h.Read("g", 10)
	}},
	{"truncate-grow-shrink", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", rw, 0)
		h.Read("f", 5)
		h.Truncate("f", 100)
		h.Stat("f")
		h.ReadAt("f", 200, 0)
		h.Truncate("f", 3)
		h.Stat("f")
		h.Read("f", 5)
		h.Seek("f", 0, io.SeekCurrent)
		h.Truncate("f", -1)
		h.Truncate("f", 0)
		h.Seek("f", 0, io.SeekCurrent)
		h.Write("f", []byte("X"))
		h.Stat("f")
		h.ReadAt("f", 10, 0)
		h.Close("f")
		h.Tree()
	}},
	{"truncate-pending-writes", func(h *H) {
		h.Create("f", "a")
		h.Write("f", pattern(uint64(4), 0, 100000))
		h.Truncate("f", 10)
		h.Stat("f")
		h.ReadAt("f", 100, 0)
		h.WriteAt("f", pattern(uint64(5), 0, 10), 50)
		h.ReadAt("f", 100, 0)
		h.Truncate("f", 30)
		h.ReadAt("f", 100, 0)
		h.Truncate("f", 70000)
		h.ReadAt("f", 100, 69950)
		h.Close("f")
		h.Tree()
	}},
	{"truncate-rdonly", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.Open("f", "a")
		h.Truncate("f", 1)
		h.Truncate("f", 100)
		h.Stat("f")
	}},
	{"append-then-truncate", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", rw|appnd, 0)
		h.Write("f", []byte("ab"))
		h.Truncate("f", 2)
		h.Write("f", []byte("cd"))
		h.Seek("f", 0, io.SeekCurrent)
		h.ReadAt("f", 10, 0)
		h.Close("f")
		h.Tree()
	}},
	{"readdir-batching", func(h *H) {
		h.DiskMkdir("d")
		for i := 0; i < 7; i++ {
			h.DiskWrite(fmt.Sprintf("d/f%d", i), pattern(uint64(byte(i)), 0, i), 0o644)
		}
		h.DiskMkdir("d/sub")
		h.DiskSymlink("f1", "d/link")
		h.Open("f", "d")
		h.Readdir("f", 3)
		h.Readdir("f", 3)
		h.Readdir("f", 3)
		h.Readdir("f", 3)
		h.Readdir("f", 3)
		h.Readdir("f", -1)
		h.Readdir("f", 0)
	}},
	{"readdir-all", func(h *H) {
		h.DiskMkdir("d/x")
		for i := 0; i < 40; i++ {
			h.DiskWrite(fmt.Sprintf("d/file-%02d", i), pattern(uint64(byte(i)), 0, i*37), 0o600)
		}
		h.Open("f", "d")
		h.Readdir("f", -1)
		h.Readdir("f", -1)
		h.Readdir("f", 0)
		h.Readdir("f", 5)
		h.Open("g", "d")
		h.Readdir("g", 0)
		h.Open("k", "d")
		h.Readdir("k", 39)
		h.Readdir("k", 39)
		h.Readdir("k", 39)
	}},
	{"readdirnames", func(h *H) {
		h.DiskMkdir("d")
		for i := 0; i < 5; i++ {
			h.DiskWrite(fmt.Sprintf("d/n%d", i), nil, 0o644)
		}
		h.Open("f", "d")
		h.Readdirnames("f", 2)
		h.Readdirnames("f", 2)
		h.Readdirnames("f", 2)
		h.Readdirnames("f", 2)
		h.Open("g", "d")
		h.Readdirnames("g", -1)
		h.Readdirnames("g", -1)
		h.Readdirnames("g", 1)
	}},
	{"readdir-fs-readdirfile", func(h *H) {
		h.DiskMkdir("d/sub")
		h.DiskWrite("d/a", []byte("a"), 0o644)
		h.DiskWrite("d/b", []byte("bb"), 0o600)
		h.DiskSymlink("a", "d/l")
		h.Open("f", "d")
		h.ReadDir("f", 1)
		h.ReadDir("f", 1)
		h.ReadDir("f", 5)
		h.ReadDir("f", 5)
		h.Open("g", "d")
		h.ReadDir("g", -1)
		h.ReadDir("g", -1)
		h.ReadDir("g", 1)
	}},
	{"readdir-on-file", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.Open("f", "a")
		h.Readdir("f", 1)
		h.Readdir("f", -1)
		h.Readdirnames("f", -1)
		h.ReadDir("f", -1)
		h.ReadDir("f", 2)
		h.Read("f", 3)
	}},
	{"readdir-empty-dir", func(h *H) {
		h.DiskMkdir("e")
		h.Open("f", "e")
		h.Readdir("f", 1)
		h.Readdir("f", -1)
		h.Open("g", "e")
		h.Readdir("g", -1)
		h.Readdirnames("g", 1)
		h.Open("k", "e")
		h.ReadDir("k", 1)
	}},
	{"readdir-after-seek0", func(h *H) {
		h.DiskMkdir("d")
		for i := 0; i < 4; i++ {
			h.DiskWrite(fmt.Sprintf("d/%c", 'a'+i), nil, 0o644)
		}
		h.Open("f", "d")
		h.Readdir("f", -1)
		h.Seek("f", 0, io.SeekStart)
		h.Readdir("f", -1)
		h.Readdirnames("f", 2)
		h.Seek("f", 0, io.SeekStart)
		h.Readdirnames("f", -1)
	}},
	{"stat-lstat-symlinks", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o640)
		h.DiskMkdir("d")
		h.DiskSymlink("a", "l")
		h.DiskSymlink("missing", "dangling")
		h.DiskSymlink("d", "dl")
		h.FsStat("l")
		h.Lstat("l")
		h.FsStat("dangling")
		h.Lstat("dangling")
		h.FsStat("dl")
		h.Lstat("dl")
		h.Lstat("a")
		h.Lstat("d")
		h.Lstat("missing")
		h.Lstat("a/x")
		h.Readlink("l")
		h.Readlink("dangling")
		h.Readlink("a")
		h.Readlink("missing")
		h.Open("f", "dangling")
		h.Open("g", "l")
		h.Read("g", 20)
		h.Stat("g")
		h.Name("g")
		h.Open("k", "dl")
		h.Readdirnames("k", -1)
		h.FsStat("a/")
		h.FsStat("d/")
	}},
	{"symlink-create", func(h *H) {
		h.DiskWrite("a", []byte("x"), 0o644)
		h.Symlink("a", "l")
		h.Symlink("a", "l")
		h.Symlink("a", "nodir/l")
		h.Symlink("", "empty")
		h.Symlink("../outside/target", "rel")
		h.Readlink("l")
		h.Readlink("rel")
		h.OpenFile("f", "l", wo|appnd, 0)
		h.Write("f", []byte("yz"))
		h.Close("f")
		h.Tree()
	}},
	{"symlink-loop", func(h *H) {
		h.DiskSymlink("loop2", "loop1")
		h.DiskSymlink("loop1", "loop2")
		h.Open("f", "loop1")
		h.OpenFile("f", "loop1", rw|creat, 0o644)
		h.FsStat("loop1")
		h.Lstat("loop1")
		h.Mkdir("loop1/x", 0o755)
	}},
	{"rename", func(h *H) {
		h.DiskWrite("a", []byte("aaa"), 0o644)
		h.DiskWrite("b", []byte("bbbb"), 0o600)
		h.DiskMkdir("d/inner")
		h.DiskMkdir("e")
		h.DiskWrite("d/inner/x", []byte("x"), 0o644)
		h.Rename("a", "a2")
		h.Rename("a", "a3")
		h.Rename("a2", "b")
		h.Rename("e", "d")
		h.Rename("d", "b")
		h.Rename("b", "d")
		h.Rename("b", "e")
		h.Rename("b", "nodir/b")
		h.Rename("d", "d/inner/sub")
		h.Rename("d", "d2")
		h.Rename("e", "d2/inner2")
		h.Tree()
	}},
	{"rename-open-file", func(h *H) {
		h.DiskWrite("a", []byte("abc"), 0o644)
		h.OpenFile("f", "a", rw, 0)
		h.Rename("a", "b")
		h.Name("f")
		h.Write("f", []byte("XY"))
		h.Stat("f")
		h.Open("g", "b")
		h.Read("g", 10)
		h.Open("k", "a")
		h.Close("f")
		h.Tree()
	}},
	{"remove", func(h *H) {
		h.DiskWrite("a", []byte("a"), 0o644)
		h.DiskMkdir("full")
		h.DiskWrite("full/x", nil, 0o644)
		h.DiskMkdir("empty")
		h.DiskSymlink("a", "l")
		h.Remove("a")
		h.Remove("a")
		h.Remove("full")
		h.Remove("empty")
		h.Remove("l")
		h.Remove("nodir/x")
		h.Remove("full/x/y")
		h.Tree()
	}},
	{"remove-open-file", func(h *H) {
		h.Create("f", "a")
		h.Write("f", []byte("first"))
		h.Remove("a")
		h.Write("f", []byte(" second"))
		h.ReadAt("f", 20, 0)
		h.Stat("f")
		h.FsStat("a")
		h.Sync("f")
		h.Close("f")
		h.Create("g", "a")
		h.Read("g", 10)
		h.Tree()
	}},
	{"removeall", func(h *H) {
		h.DiskMkdir("t/a/b/c")
		h.DiskWrite("t/a/f", []byte("f"), 0o644)
		h.DiskWrite("t/a/b/c/g", []byte("g"), 0o644)
		h.DiskSymlink("../../..", "t/a/b/up")
		h.DiskWrite("file", []byte("x"), 0o644)
		h.RemoveAll("t")
		h.RemoveAll("t")
		h.RemoveAll("missing/deeper")
		h.RemoveAll("file")
		h.RemoveAll("file/x")
		h.Tree()
	}},
	{"mkdir", func(h *H) {
		h.DiskWrite("file", nil, 0o644)
		h.Mkdir("d", 0o755)
		h.Mkdir("d", 0o755)
		h.Mkdir("d2", 0o700)
		h.Mkdir("d3", 0o777|os.ModeSticky)
		h.Mkdir("nodir/x", 0o755)
		h.Mkdir("file/x", 0o755)
		h.Mkdir("file", 0o755)
		h.FsStat("d")
		h.FsStat("d3")
		h.Tree()
	}},
	{"mkdirall", func(h *H) {
		h.DiskWrite("file", nil, 0o644)
		h.MkdirAll("a/b/c", 0o755)
		h.MkdirAll("a/b/c", 0o755)
		h.MkdirAll("a/b", 0o700)
		h.MkdirAll("p/q", 0o700)
		h.MkdirAll("file/x/y", 0o755)
		h.MkdirAll("file", 0o755)
		h.MkdirAll("a/./b/../b/d/", 0o755)
		h.Tree()
	}},
	{"chmod", func(h *H) {
		h.DiskWrite("a", []byte("a"), 0o644)
		h.DiskMkdir("d")
		h.Chmod("a", 0o600)
		h.FsStat("a")
		h.Chmod("a", 0o755|os.ModeSetuid|os.ModeSetgid)
		h.FsStat("a")
		h.Chmod("a", 0)
		h.FsStat("a")
		h.Chmod("d", 0o700|os.ModeSticky)
		h.FsStat("d")
		h.Chmod("missing", 0o644)
		h.Chmod("a", 0o640)
		h.Tree()
	}},
	{"chtimes", func(h *H) {
		h.DiskWrite("a", []byte("a"), 0o644)
		h.DiskMkdir("d")
		h.Chtimes("a", fixedTime, fixedTime2)
		h.FsStatTime("a")
		h.Chtimes("a", time.Time{}, time.Time{})
		h.FsStatTime("a")
		h.Chtimes("d", fixedTime2, fixedTime)
		h.FsStatTime("d")
		h.Chtimes("missing", fixedTime, fixedTime)
		h.Open("f", "a")
		h.Chtimes("a", fixedTime, fixedTime)
		h.Stat("f")
		h.FsStatTime("a")
	}},
	{"chown", func(h *H) {
		h.DiskWrite("a", []byte("a"), 0o644)
		h.Chown("a", os.Getuid(), os.Getgid())
		h.Chown("a", -1, -1)
		h.FsStat("a")
		h.Chown("missing", os.Getuid(), os.Getgid())
		h.DiskSymlink("missing", "dangling")
		h.Chown("dangling", os.Getuid(), os.Getgid())
	}},
	{"closed-file-ops", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", rw, 0)
		h.Read("f", 2)
		h.Close("f")
		h.Read("f", 2)
		h.Read("f", 0)
		h.Write("f", []byte("x"))
		h.Write("f", nil)
		h.WriteString("f", "x")
		h.Seek("f", 0, io.SeekStart)
		h.Stat("f")
		h.ReadAt("f", 2, 0)
		h.ReadAt("f", 0, 0)
		h.WriteAt("f", []byte("x"), 0)
		h.Sync("f")
		h.Truncate("f", 0)
		h.Readdir("f", 1)
		h.Readdir("f", -1)
		h.Readdirnames("f", -1)
		h.ReadDir("f", -1)
		h.CopyTo("f")
		h.ReadFrom("f", []byte("x"))
		h.Name("f")
		h.Close("f")
		h.Close("f")
		h.Tree()
	}},
	{"closed-dir-ops", func(h *H) {
		h.DiskMkdir("d/s")
		h.Open("f", "d")
		h.Readdirnames("f", 1)
		h.Close("f")
		h.Readdir("f", 1)
		h.Readdirnames("f", -1)
		h.ReadDir("f", 1)
		h.Seek("f", 0, io.SeekStart)
		h.Stat("f")
		h.Close("f")
	}},
	{"dir-as-file", func(h *H) {
		h.DiskMkdir("d")
		h.DiskWrite("d/x", nil, 0o644)
		h.Open("f", "d")
		h.Read("f", 10)
		h.Read("f", 0)
		h.ReadAt("f", 10, 0)
		h.Write("f", []byte("x"))
		h.WriteAt("f", []byte("x"), 0)
		h.Seek("f", 0, io.SeekStart)
		h.Seek("f", 1, io.SeekStart)
		h.Seek("f", 0, io.SeekEnd)
		h.Seek("f", 0, io.SeekCurrent)
		h.Stat("f")
		h.Sync("f")
		h.Truncate("f", 0)
		h.CopyTo("f")
		h.OpenFile("g", "d", wo, 0)
		h.OpenFile("g", "d", rw, 0)
		h.OpenFile("g", "d", ro|creat, 0o644)
		h.OpenFile("g", "d", ro|trunc, 0)
		h.Create("g", "d")
		h.Tree()
	}},
	{"empty-and-nil-buffers", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.OpenFile("f", "a", rw, 0)
		h.Read("f", -1)
		h.Read("f", 0)
		h.Write("f", nil)
		h.Write("f", []byte{})
		h.WriteString("f", "")
		h.Seek("f", 0, io.SeekCurrent)
		h.WriteAt("f", nil, 100)
		h.WriteAt("f", []byte{}, 50)
		h.ReadAt("f", -1, 100)
		h.ReadAt("f", -1, 3)
		h.ReadAt("f", 0, 10)
		h.Stat("f")
		h.Seek("f", 0, io.SeekEnd)
		h.Read("f", -1)
		h.Read("f", 0)
		h.ReadFrom("f", nil)
		h.Close("f")
		h.Tree()
	}},
	{"writestring", func(h *H) {
		h.Create("f", "s")
		h.WriteString("f", "plain ")
		h.WriteString("f", "ünïcödé ✓ ")
		h.WriteString("f", strings.Repeat("long ", 2000))
		h.Seek("f", 3, io.SeekStart)
		h.WriteString("f", "XYZ")
		h.ReadAt("f", 30, 0)
		h.Close("f")
		h.Tree()
	}},
	{"sync", func(h *H) {
		h.DiskWrite("a", []byte(digits), 0o644)
		h.DiskMkdir("d")
		h.OpenFile("f", "a", rw, 0)
		h.Write("f", pattern(uint64(9), 0, 70000))
		h.Sync("f")
		h.TreeNow()
		h.Open("g", "a")
		h.Sync("g")
		h.Open("k", "d")
		h.Sync("k")
		h.WriteAt("f", []byte("after"), 5)
		h.Sync("f")
		h.TreeNow()
	}},
	{"fs-sync", func(h *H) {
		h.Create("f", "a")
		h.Create("g", "b")
		h.Write("f", pattern(uint64(1), 0, 5000))
		h.Write("g", pattern(uint64(2), 0, 300000))
		h.WriteAt("f", []byte("tail"), 9000)
		h.FsSync()
		h.TreeNow()
	}},
	{"o-sync-writes-through", func(h *H) {
		h.OpenFile("f", "a", rw|creat|osync, 0o644)
		h.Write("f", pattern(uint64(7), 0, 10000))
		h.TreeNow()
		h.WriteAt("f", []byte("patched"), 100)
		h.TreeNow()
		h.ReadAt("f", 200, 0)
		h.OpenFile("g", "b", wo|creat|appnd|aiofs.DsyncFlag, 0o644)
		h.Write("g", []byte("dsync"))
		h.TreeNow()
	}},
	{"name-exact", func(h *H) {
		h.DiskMkdir("d")
		h.DiskWrite("a", []byte("a"), 0o644)
		h.DiskWrite("d/b", []byte("b"), 0o644)
		for i, n := range []string{"a", "./a", "d/../a", "d//b", "d/./b", ".//d/b", "d", "d/", "./d/."} {
			id := fmt.Sprintf("h%d", i)
			h.Open(id, n)
			h.Name(id)
			h.Stat(id)
			h.Close(id)
			h.Name(id)
		}
		h.Create("c", "./d/../new")
		h.Name("c")
		h.Open("x", "a/")
		h.Open("x", "a/.")
	}},
	{"two-handles-read-your-writes", func(h *H) {
		h.DiskWrite("a", pattern(uint64(1), 0, 200000), 0o644)
		h.OpenFile("w", "a", rw, 0)
		h.Open("r", "a")
		h.Read("r", 1000)
		h.WriteAt("w", []byte("NEWDATA"), 1000)
		h.Read("r", 10)
		h.WriteAt("w", pattern(uint64(2), 0, 5000), 150000)
		h.ReadAt("r", 6000, 149000)
		h.Seek("w", 0, io.SeekEnd)
		h.Write("w", []byte("appended by w"))
		h.Stat("r")
		h.FsStat("a")
		h.Seek("r", -13, io.SeekEnd)
		h.Read("r", 100)
		h.Truncate("w", 500)
		h.Stat("r")
		h.ReadAt("r", 1000, 0)
		h.Read("r", 10)
		h.CloseAll()
		h.Tree()
	}},
	{"large-io", func(h *H) {
		big := pattern(uint64(11), 0, 3<<20+12345)
		h.Create("f", "big")
		for off := 0; off < len(big); {
			n := min(len(big)-off, 1+off%300000+(off*7)%70001)
			h.Write("f", big[off:off+n])
			off += n
		}
		h.Stat("f")
		h.Close("f")
		h.Tree()
		h.Open("r", "big")
		for i := 0; i < 60; i++ {
			h.Read("r", 64<<10)
		}
		h.ReadAt("r", 1<<20, 1<<20-17)
		h.ReadAt("r", 5<<20, 0)
		h.ReadAt("r", 100, int64(len(big))-50)
		h.Seek("r", 2<<20, io.SeekStart)
		h.Read("r", 2<<20)
		h.CopyTo("r")
	}},
	{"sequential-read-then-modify", func(h *H) {
		h.DiskWrite("a", pattern(uint64(5), 0, 4<<20), 0o644)
		h.Open("r", "a")
		for i := 0; i < 20; i++ {
			h.Read("r", 32<<10)
		}
		h.OpenFile("w", "a", wo, 0)
		h.WriteAt("w", pattern(uint64(6), 0, 300000), 700000)
		h.WriteAt("w", []byte("JUST AHEAD"), 20*32<<10+5)
		for i := 0; i < 30; i++ {
			h.Read("r", 32<<10)
		}
		h.Truncate("w", 1<<20)
		h.Read("r", 100)
		h.Seek("r", 0, io.SeekCurrent)
		h.ReadAt("r", 64<<10, 1<<20-100)
	}},
	{"reopen-after-external-change", func(h *H) {
		h.DiskWrite("a", pattern(uint64(1), 0, 100000), 0o644)
		h.DiskChtimes("a", fixedTime)
		h.Open("r", "a")
		h.Read("r", 100000)
		h.Close("r")
		// Another process rewrites the file: same size, new content,
		// different mtime; then a different size.
		h.DiskWrite("a", pattern(uint64(2), 0, 100000), 0o644)
		h.DiskChtimes("a", fixedTime2)
		h.Open("r", "a")
		h.Read("r", 100000)
		h.Close("r")
		h.DiskWrite("a", pattern(uint64(3), 0, 50000), 0o644)
		h.Open("r", "a")
		h.ReadAt("r", 100000, 0)
		h.Close("r")
	}},
	{"copy-writeto-readfrom", func(h *H) {
		h.DiskWrite("src", pattern(uint64(8), 0, 150000), 0o644)
		h.Open("s", "src")
		h.Read("s", 1000)
		h.CopyTo("s")
		h.CopyTo("s")
		h.Create("d", "dst")
		h.ReadFrom("d", pattern(uint64(9), 0, 70000))
		h.Seek("s", 500, io.SeekStart)
		h.CopyFile("d", "s")
		h.Seek("d", 0, io.SeekCurrent)
		h.OpenFile("ap", "src", wo|appnd, 0)
		h.ReadFrom("ap", []byte("appended via ReadFrom"))
		h.Open("ro", "src")
		h.ReadFrom("ro", []byte("x"))
		h.CloseAll()
		h.Tree()
	}},
	{"many-small-writes-reads", func(h *H) {
		h.Create("f", "a")
		for i := 0; i < 200; i++ {
			h.Write("f", pattern(uint64(byte(i)), 0, i%37))
		}
		h.Seek("f", 0, io.SeekStart)
		for i := 0; i < 100; i++ {
			h.Read("f", 1+i%50)
		}
		h.Close("f")
		h.Tree()
	}},
}

func TestDifferential(t *testing.T) {
	t.Parallel()
	runDifferential(t, forEngines, func(v variant) bool { return !v.relative })
}

// TestDifferentialRelative is TestDifferential's variant with relative
// paths: each scenario changes the working directory, which a test running
// in parallel with others cannot.
func TestDifferentialRelative(t *testing.T) {
	runDifferential(t, forEnginesSerial, func(v variant) bool { return v.relative })
}

// runDifferential runs every scenario on every engine (run is forEngines
// or forEnginesSerial) in the variants for which pick holds.
func runDifferential(t *testing.T, run func(*testing.T, func(*testing.T, string)), pick func(variant) bool) {
	if len(scenarios) < 40 {
		t.Fatalf("only %d scenarios", len(scenarios))
	}
	seen := map[string]bool{}
	for _, sc := range scenarios {
		if seen[sc.name] {
			t.Fatalf("duplicate scenario %q", sc.name)
		}
		seen[sc.name] = true
	}
	run(t, func(t *testing.T, engine string) {
		for _, v := range variants {
			if !pick(v) {
				continue
			}
			t.Run(v.name, func(t *testing.T) {
				for _, sc := range scenarios {
					t.Run(sc.name, func(t *testing.T) { runScenario(t, engine, v, sc) })
				}
			})
		}
	})
}

// TestHarnessDetectsDifferences makes sure the harness is not blind: a
// side that differs must be reported.
func TestHarnessDetectsDifferences(t *testing.T) {
	t.Parallel()
	rootA, rootB := t.TempDir(), t.TempDir()
	ft := &fakeT{}
	h := newH(ft, "self-check", newSide("OsFs", afero.NewOsFs(), nil, rootA), newSide("aiofs", afero.NewOsFs(), nil, rootB))
	h.DiskWrite("a", []byte("same"), 0o644)
	h.Open("f", "a")
	h.Read("f", 10)
	if ft.errors != 0 {
		t.Fatalf("identical sides reported %d differences: %v", ft.errors, ft.msgs)
	}
	// Make the second side differ: a different file content and a missing file.
	os.WriteFile(filepath.Join(rootB, "a"), []byte("diff"), 0o644)
	os.WriteFile(filepath.Join(rootA, "only-in-os"), nil, 0o644)
	h.Open("g", "a")
	h.Read("g", 10)
	h.Open("k", "only-in-os")
	h.TreeNow()
	if ft.errors != 3 {
		t.Fatalf("differing sides: %d differences reported, want 3: %v", ft.errors, ft.msgs)
	}
	// Errors differing only in the wrapping of the errno must be told apart.
	sa := h.os
	bare := &fs.PathError{Op: "open", Path: rootA + "/x", Err: syscall.ENOENT}
	wrapped := &fs.PathError{Op: "open", Path: rootA + "/x", Err: fmt.Errorf("x: %w", syscall.ENOENT)}
	if sa.errString(bare) == sa.errString(wrapped) {
		t.Fatalf("errString does not tell a bare errno from a wrapped one: %s", sa.errString(bare))
	}
	if sa.errString(io.EOF) == sa.errString(fmt.Errorf("%w", io.EOF)) {
		t.Fatalf("errString does not tell io.EOF from a wrapped io.EOF")
	}

	// Inside must, an error is a failure even when both sides return it.
	ft.errors, ft.msgs = 0, nil
	h.must(func() { h.Open("m", "missing") })
	if ft.errors != 1 {
		t.Fatalf("an error alike on both sides inside must: %d failures reported, want 1: %v", ft.errors, ft.msgs)
	}
	// A read that claims bytes it did not write is told apart, even when
	// both sides do it: the buffers hold different poison.
	ft.errors, ft.msgs = 0, nil
	h.Open("lie", "a")
	for _, s := range h.sides() {
		s.files["lie"] = claimingFile{s.files["lie"]}
	}
	h.ReadAt("lie", 4, 0)
	if ft.errors != 1 {
		t.Fatalf("reads that write nothing into their buffers: %d failures reported, want 1: %v", ft.errors, ft.msgs)
	}
}

// claimingFile's ReadAt says it filled p but writes nothing into it.
type claimingFile struct{ afero.File }

func (claimingFile) ReadAt(p []byte, off int64) (int, error) { return len(p), nil }

type fakeT struct {
	errors int
	msgs   []string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errors++
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...any) { f.Errorf(format, args...) }
func (f *fakeT) Logf(string, ...any)               {}

// ---------------------------------------------------------------------------
// Direct checks of the aiofs side alone.

func TestName(t *testing.T) {
	t.Parallel()
	fsys := newAio(t, "")
	if got := fsys.Name(); got != "aiofs" {
		t.Fatalf("Name() = %q, want %q", got, "aiofs")
	}
}

func TestFileNameIsExactlyTheNameGiven(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.MkdirAll("sub/dir", 0o755); err != nil {
		t.Fatal(err)
	}
	fsys := newAio(t, "")
	for _, name := range []string{
		"rel.txt", "./dot.txt", "sub/dir/../x.txt", "sub//dir///y.txt", "sub/./dir/z.txt",
		dir + "/abs.txt", dir + "//sub/../abs2.txt",
	} {
		f, err := fsys.Create(name)
		if err != nil {
			t.Fatalf("Create(%q): %v", name, err)
		}
		if f.Name() != name {
			t.Errorf("Create(%q).Name() = %q", name, f.Name())
		}
		f.Close()
		if f.Name() != name {
			t.Errorf("after Close, Name() = %q, want %q", f.Name(), name)
		}
		g, err := fsys.OpenFile(name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatalf("OpenFile(%q): %v", name, err)
		}
		if g.Name() != name {
			t.Errorf("OpenFile(%q).Name() = %q", name, g.Name())
		}
		fi, err := g.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Base(filepath.Clean(name)); fi.Name() != want {
			t.Errorf("Stat of %q: Name() = %q, want %q", name, fi.Name(), want)
		}
		g.Close()
	}
	d, err := fsys.Open("sub/dir/")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Name() != "sub/dir/" {
		t.Errorf("Open(%q).Name() = %q", "sub/dir/", d.Name())
	}
}

func TestErrorsAreBareErrno(t *testing.T) { parallelForEngines(t, testErrorsAreBareErrno) }

func testErrorsAreBareErrno(t *testing.T, engine string) {
	dir := t.TempDir()
	fsys := newAio(t, engine)
	p := func(n string) string { return filepath.Join(dir, n) }
	if err := os.WriteFile(p("a"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p("d"), 0o755); err != nil {
		t.Fatal(err)
	}

	check := func(what string, err error, op, path string, want error, is error) {
		t.Helper()
		var pe *os.PathError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v (%T) is not an *os.PathError", what, err, err)
			return
		}
		if _, direct := err.(*os.PathError); !direct {
			t.Errorf("%s: error is %T wrapping the *os.PathError, want the *os.PathError itself", what, err)
		}
		if pe.Op != op {
			t.Errorf("%s: Op = %q, want %q", what, pe.Op, op)
		}
		if pe.Path != path {
			t.Errorf("%s: Path = %q, want %q", what, pe.Path, path)
		}
		if pe.Err != want {
			t.Errorf("%s: Err = %#v (%T), want exactly %#v", what, pe.Err, pe.Err, want)
		}
		if is != nil && !errors.Is(err, is) {
			t.Errorf("%s: errors.Is(err, %v) is false", what, is)
		}
	}

	f, err := fsys.Open(p("missing"))
	if f != nil {
		t.Errorf("Open of a missing file returned a non-nil afero.File %#v", f)
	}
	check("Open missing", err, "open", p("missing"), syscall.ENOENT, fs.ErrNotExist)

	_, err = fsys.OpenFile(p("a"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	check("O_EXCL existing", err, "open", p("a"), syscall.EEXIST, fs.ErrExist)

	_, err = fsys.Stat(p("missing"))
	check("Stat missing", err, "stat", p("missing"), syscall.ENOENT, fs.ErrNotExist)

	err = fsys.Mkdir(p("d"), 0o755)
	check("Mkdir existing", err, "mkdir", p("d"), syscall.EEXIST, fs.ErrExist)

	_, err = fsys.OpenFile(p("d"), os.O_WRONLY, 0)
	check("Open dir O_WRONLY", err, "open", p("d"), syscall.EISDIR, nil)

	wf, err := fsys.OpenFile(p("a"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wf.Read(make([]byte, 4))
	check("Read on O_WRONLY", err, "read", p("a"), syscall.EBADF, nil)
	_, err = wf.ReadAt(make([]byte, 4), 0)
	check("ReadAt on O_WRONLY", err, "read", p("a"), syscall.EBADF, nil)
	wf.Close()

	rf, err := fsys.Open(p("a"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = rf.Write([]byte("x"))
	check("Write on O_RDONLY", err, "write", p("a"), syscall.EBADF, nil)
	_, err = rf.WriteAt([]byte("x"), 0)
	check("WriteAt on O_RDONLY", err, "write", p("a"), syscall.EBADF, nil)

	n, err := rf.ReadAt(make([]byte, 4), 10)
	if n != 0 || err != io.EOF {
		t.Errorf("ReadAt at EOF = %d, %#v; want 0, io.EOF itself", n, err)
	}
	n, err = rf.ReadAt(make([]byte, 4), 8)
	if n != 2 || err != io.EOF {
		t.Errorf("ReadAt across EOF = %d, %#v; want 2, io.EOF itself", n, err)
	}
	if _, err := rf.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	n, err = rf.Read(make([]byte, 4))
	if n != 0 || err != io.EOF {
		t.Errorf("Read at EOF = %d, %#v; want 0, io.EOF itself", n, err)
	}
	_, err = rf.Seek(0, 42)
	check("Seek bad whence", err, "seek", p("a"), syscall.EINVAL, nil)
	rf.Close()

	_, err = rf.Read(make([]byte, 1))
	check("Read after Close", err, "read", p("a"), os.ErrClosed, fs.ErrClosed)
	_, err = rf.ReadAt(make([]byte, 1), 0)
	check("ReadAt after Close", err, "read", p("a"), os.ErrClosed, fs.ErrClosed)
	_, err = rf.Write([]byte("x"))
	check("Write after Close", err, "write", p("a"), os.ErrClosed, fs.ErrClosed)
	err = rf.Close()
	check("second Close", err, "close", p("a"), os.ErrClosed, fs.ErrClosed)

	df, err := fsys.Open(p("d"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = df.Read(make([]byte, 1))
	check("Read dir", err, "read", p("d"), syscall.EISDIR, nil)
	fis, err := df.Readdir(5)
	if len(fis) != 0 || err != io.EOF {
		t.Errorf("Readdir(5) of an empty dir = %d entries, %#v; want 0, io.EOF itself", len(fis), err)
	}
	df.Close()

	ap, err := fsys.OpenFile(p("a"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ap.WriteAt([]byte("x"), 0)
	if err == nil || err.Error() != "os: invalid use of WriteAt on file opened with O_APPEND" {
		t.Errorf("WriteAt on O_APPEND: %v, want os: invalid use of WriteAt on file opened with O_APPEND", err)
	}
	ap.Close()

	err = fsys.Rename(p("missing"), p("b"))
	var le *os.LinkError
	if !errors.As(err, &le) || le.Op != "rename" || le.Err != syscall.ENOENT || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rename missing: %#v, want *os.LinkError{rename, ENOENT}", err)
	}
	_, err = fsys.ReadlinkIfPossible(p("a"))
	check("Readlink regular file", err, "readlink", p("a"), syscall.EINVAL, nil)
	_, _, err = fsys.LstatIfPossible(p("missing"))
	check("Lstat missing", err, "lstat", p("missing"), syscall.ENOENT, fs.ErrNotExist)
	err = fsys.Chmod(p("missing"), 0o644)
	check("Chmod missing", err, "chmod", p("missing"), syscall.ENOENT, fs.ErrNotExist)
}

func TestFsIsComparable(t *testing.T) {
	t.Parallel()
	a, b := newAio(t, ""), newAio(t, "")
	m := map[afero.Fs]string{}
	m[a] = "a"
	m[b] = "b"
	m[afero.NewOsFs()] = "os"
	if len(m) != 3 {
		t.Fatalf("two aiofs values and an OsFs made %d map keys, want 3", len(m))
	}
	var x afero.Fs = a
	if m[x] != "a" || m[b] != "b" {
		t.Fatalf("lookup by the same Fs failed: m[a]=%q m[b]=%q", m[x], m[b])
	}
	if x != afero.Fs(a) || afero.Fs(a) == afero.Fs(b) {
		t.Fatal("== on afero.Fs values holding aiofs does not match identity")
	}
	// Wrappers holding the Fs stay comparable too.
	w := map[afero.Fs]bool{afero.NewReadOnlyFs(a): true}
	if len(w) != 1 {
		t.Fatal("wrapper map")
	}
}

// TestEngineIsTheOneAsked: the default Fs uses the engine AIOFS_ENGINE
// names, WithEngine gives every engine the suite runs on without falling
// back, and in CI on Linux io_uring is among them, so that a run that
// silently tested only the pool fails.
func TestEngineIsTheOneAsked(t *testing.T) {
	want := os.Getenv("AIOFS_ENGINE")
	st := newAio(t, "").Stats()
	t.Logf("AIOFS_ENGINE=%q: default engine %q, fallback %q", want, st.Engine, st.Fallback)
	if st.Engine == "" {
		t.Fatalf("Stats().Engine is empty")
	}
	if want != "" && st.Engine != want {
		t.Fatalf("AIOFS_ENGINE=%s but the default Fs uses engine %q; fallback: %s", want, st.Engine, st.Fallback)
	}
	engines := aiofs.EnginesUnderTest(t)
	t.Logf("engines under test: %v", engines)
	for _, e := range append([]string{"pool"}, engines...) {
		own := newAio(t, e).Stats()
		if own.Engine != e || own.Fallback != "" {
			t.Errorf("WithEngine(%q): engine %q, fallback %q", e, own.Engine, own.Fallback)
		}
	}
	if os.Getenv("CI") == "true" && runtime.GOOS == "linux" {
		if u := newAio(t, "uring").Stats(); u.Engine != "uring" || u.Fallback != "" {
			t.Fatalf("CI on Linux: io_uring is not available (engine %q, fallback %q), so the suite would test only the pool", u.Engine, u.Fallback)
		}
	}
}

// TestStatsCount checks that I/O through the Fs goes through its engine and
// is counted.
func TestStatsCount(t *testing.T) { forEngines(t, testStatsCount) }

func testStatsCount(t *testing.T, engine string) {
	fsys := newAio(t, engine, aiofs.WithWriteBehind(0), aiofs.WithCacheSize(0), aiofs.WithReadahead(0))
	dir := t.TempDir()
	before := fsys.Stats()
	f, err := fsys.Create(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	data := pattern(uint64(3), 0, 100000)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	f.Close()
	after := fsys.Stats()
	if after.BytesWritten-before.BytesWritten < uint64(len(data)) {
		t.Errorf("BytesWritten grew by %d, want >= %d", after.BytesWritten-before.BytesWritten, len(data))
	}
	if after.BytesRead-before.BytesRead < uint64(len(data)) {
		t.Errorf("BytesRead grew by %d, want >= %d", after.BytesRead-before.BytesRead, len(data))
	}
	if after.Submitted <= before.Submitted || after.Completed <= before.Completed {
		t.Errorf("Submitted %d->%d, Completed %d->%d: want growth", before.Submitted, after.Submitted, before.Completed, after.Completed)
	}
	if after.InFlight != 0 {
		t.Errorf("InFlight = %d with nothing running", after.InFlight)
	}
	if after.Submitted != after.Completed {
		t.Errorf("Submitted %d != Completed %d with nothing running", after.Submitted, after.Completed)
	}
}

// TestOpenErrorReturnsUntypedNil: like OsFs, a failed open returns a nil
// afero.File, not a nil *aiofs.File in a non-nil interface.
func TestOpenErrorReturnsUntypedNil(t *testing.T) {
	fsys := newAio(t, "")
	dir := t.TempDir()
	for _, open := range []func() (afero.File, error){
		func() (afero.File, error) { return fsys.Open(filepath.Join(dir, "missing")) },
		func() (afero.File, error) { return fsys.Create(filepath.Join(dir, "nodir", "x")) },
		func() (afero.File, error) {
			return fsys.OpenFile(filepath.Join(dir, "missing"), os.O_RDWR, 0)
		},
	} {
		f, err := open()
		if err == nil {
			t.Fatal("no error")
		}
		if f != nil {
			t.Errorf("failed open returned a non-nil afero.File (%T)", f)
		}
	}
}

// TestUnavailableEngineFallsBackVisibly: asking for an engine this system
// lacks gives the pool, and Stats says why (WithEngine's contract).
func TestUnavailableEngineFallsBackVisibly(t *testing.T) {
	var missing string
	switch runtime.GOOS {
	case "linux":
		missing = "kqueue"
	case "freebsd":
		missing = "uring"
	default:
		t.Skip("no foreign engine name to ask for on " + runtime.GOOS)
	}
	st := newAio(t, missing).Stats()
	if st.Engine != "pool" || st.Fallback == "" {
		t.Errorf("WithEngine(%q) on %s: Engine %q, Fallback %q; want the pool and a reason", missing, runtime.GOOS, st.Engine, st.Fallback)
	}
}

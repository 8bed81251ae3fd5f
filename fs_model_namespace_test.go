package aiofs_test

// The namespace of TestModel: which files exist under which names, how
// the run spells them, the namespace operations and what the OS makes of
// them, and the calls on the Fs as a whole that run beside other steps
// (background and concurrent Fs.Sync, Fs.Close).
//
// Files are kept by identity: a handle stays with its file whatever
// happens to the file's names, hard links share one file, a rename onto
// an existing name replaces the file there, a removed file lives on while
// a handle holds it. The model reads each file through a descriptor of
// its own, so that it can compare a file with no name left, and so that
// no inode number is reused during a run (faults name files by inode).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aiofs/aiofs"
)

// The model's names, relative to its directory: files in the root; in a
// subdirectory the run renames between d and e, removes and makes again;
// and in the fixed directory f, which the fixed symbolic link t to f/g
// reaches as t/.. (so t/../a is f/a to the OS, and a to a lexical Clean).
// l1 and l2 are symbolic links the run makes, to names of files.
var (
	mRootNames = []string{"a", "b", "c"}
	mSubdirs   = []string{"d", "e"}
	mSubNames  = []string{"a", "b"}
	mFixedName = "f/a"
	mLinkNames = []string{"l1", "l2"}
)

// Spellings of a name the Fs is given; the OS resolves each to the same
// file.
const (
	spellAbs        = iota // dir/x
	spellRel               // relative to the working directory
	spellDot               // dir/./x
	spellSlashes           // dir//x
	spellDotDot            // dir/d/../x, through a real directory
	spellLinkDotDot        // dir/t/../../x: through the symbolic link t
	nSpells
)

var spellNames = [nSpells]string{"", "rel", "./", "//", "..", "t/.."}

// An mfile is a file of the model: the bytes it has accepted.
type mfile struct {
	id   int
	data []byte
	ino  uint64   // its inode number (0 where the system has none)
	osf  *os.File // the model's own descriptor, to read it by
}

func (mf *mfile) String() string { return fmt.Sprintf("file #%d", mf.id) }

// is reports whether fault f was injected on the file. Where the system
// has no inode numbers every fault may be the file's.
func (mf *mfile) is(f aiofs.Fault) bool { return f.Ino == mf.ino }

// An mentry is what a name holds: a file, or a symbolic link to the name
// of one (relative to the model's directory).
type mentry struct {
	file *mfile
	link string
}

// mspace is the model's namespace.
type mspace struct {
	dir, cwd string
	names    map[string]*mentry // by path relative to dir
	dirs     map[string]bool    // which of mSubdirs exist
	files    []*mfile           // every file of the run
}

// setup lays out the namespace in dir, which exists and is empty.
func (m *model) setup(dir string) error {
	m.dir, m.names, m.dirs = dir, map[string]*mentry{}, map[string]bool{"d": true}
	var err error
	if m.cwd, err = os.Getwd(); err != nil {
		return err
	}
	for _, d := range []string{"d", "f/g"} {
		if err := os.MkdirAll(m.abs(d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Symlink("f/g", m.abs("t")); err != nil {
		return err
	}
	for _, name := range []string{"a", "d/a", mFixedName} {
		if err := os.WriteFile(m.abs(name), nil, 0o644); err != nil {
			return err
		}
		if _, err := m.created(name); err != nil {
			return err
		}
	}
	return nil
}

// release closes the model's descriptors.
func (m *model) release() {
	for _, mf := range m.files {
		mf.osf.Close()
	}
}

func (m *mspace) abs(name string) string { return filepath.Join(m.dir, name) }

// created records the file just created at name.
func (m *mspace) created(name string) (*mfile, error) {
	osf, err := os.Open(m.abs(name))
	if err != nil {
		return nil, err
	}
	fi, err := osf.Stat()
	if err != nil {
		osf.Close()
		return nil, err
	}
	mf := &mfile{id: len(m.files), ino: aiofs.InoOf(fi), osf: osf}
	m.files = append(m.files, mf)
	m.names[name] = &mentry{file: mf}
	return mf, nil
}

// lookup returns the name a name leads to, following a symbolic link,
// the file there (nil if none), and whether that name's directory exists.
func (m *mspace) lookup(name string) (target string, mf *mfile, dirOK bool) {
	target = name
	if e := m.names[name]; e != nil && e.link != "" {
		target = e.link
	}
	if e := m.names[target]; e != nil && e.link == "" {
		mf = e.file
	}
	return target, mf, m.dirExists(path.Dir(target))
}

func (m *mspace) dirExists(d string) bool {
	return d == "." || d == "f" || m.dirs[d]
}

// emptyDir reports whether subdirectory d holds no name.
func (m *mspace) emptyDir(d string) bool {
	for name := range m.names {
		if strings.HasPrefix(name, d+"/") {
			return false
		}
	}
	return true
}

// candidates returns every name a file or link may have, in a fixed
// order: a file's first name in it is a regular one.
func (m *mspace) candidates() []string {
	out := slices.Clone(mRootNames)
	for _, d := range mSubdirs {
		for _, x := range mSubNames {
			out = append(out, d+"/"+x)
		}
	}
	return append(append(out, mFixedName), mLinkNames...)
}

// fileNames returns the names that lead to a file now.
func (m *mspace) fileNames() []string {
	var out []string
	for _, name := range m.candidates() {
		if _, mf, _ := m.lookup(name); mf != nil {
			out = append(out, name)
		}
	}
	return out
}

// named returns the first name that leads to mf, or "".
func (m *mspace) named(mf *mfile) string {
	for _, name := range m.fileNames() {
		if _, f, _ := m.lookup(name); f == mf {
			return name
		}
	}
	return ""
}

// live returns the files the Fs still serves: those with a name, and
// those with a handle open.
func (m *model) live() []*mfile {
	var out []*mfile
	for _, name := range m.fileNames() {
		_, mf, _ := m.lookup(name)
		if !slices.Contains(out, mf) {
			out = append(out, mf)
		}
	}
	for s := range mSlots {
		if h := m.hs[s]; h != nil && !slices.Contains(out, h.file) {
			out = append(out, h.file)
		}
	}
	return out
}

// spell spells name (relative to the model's directory) as kind says.
func (m *mspace) spell(name string, kind int) string {
	parent, base := path.Split(name)
	parent = strings.TrimSuffix(parent, "/")
	switch kind {
	case spellRel:
		if r, err := filepath.Rel(m.cwd, m.abs(name)); err == nil {
			return r
		}
	case spellDot:
		return m.abs(parent) + "/./" + base
	case spellSlashes:
		return m.dir + "//" + name
	case spellDotDot:
		if parent != "" {
			return m.dir + "/" + parent + "/../" + name
		}
		via := "f"
		for _, d := range mSubdirs {
			if m.dirs[d] {
				via = d
				break
			}
		}
		return m.dir + "/" + via + "/../" + base
	case spellLinkDotDot:
		if parent == "f" {
			return m.dir + "/t/../" + base
		}
		return m.dir + "/t/../../" + name
	}
	return m.abs(name)
}

// pickSpell picks a spelling: the plain one half the time.
func pickSpell(r *rand.Rand) int {
	if excluded("spellings") || r.IntN(2) == 0 {
		return spellAbs
	}
	k := 1 + r.IntN(nSpells-1)
	if k == spellLinkDotDot && excluded("linkdotdot") {
		k = spellDotDot
	}
	return k
}

// pickFile picks a name to open: mostly one that leads to a file.
func (m *mspace) pickFile(r *rand.Rand) string {
	if names := m.fileNames(); len(names) > 0 && r.IntN(10) < 7 {
		return names[r.IntN(len(names))]
	}
	c := m.candidates()
	return c[r.IntN(len(c))]
}

// pickEntry picks an existing name (of a file, a link or a subdirectory)
// most of the time, else any name.
func (m *mspace) pickEntry(r *rand.Rand) string {
	var names []string
	for _, name := range m.candidates() {
		if m.names[name] != nil {
			names = append(names, name)
		}
	}
	for _, d := range mSubdirs {
		if m.dirs[d] && r.IntN(4) == 0 {
			names = append(names, d)
		}
	}
	if len(names) > 0 && r.IntN(10) < 8 {
		return names[r.IntN(len(names))]
	}
	c := append(m.candidates(), mSubdirs...)
	return c[r.IntN(len(c))]
}

// generateNamespace picks an op on the namespace or the Fs as a whole; w
// is below 12.
func (m *model) generateNamespace(r *rand.Rand, w int) mop {
	o := mop{spell: pickSpell(r)}
	switch {
	case w < 3:
		o.kind = mRename
		o.name = m.pickEntry(r)
		e := m.names[o.name]
		switch {
		case slices.Contains(mSubdirs, o.name):
			o.to = mSubdirs[r.IntN(len(mSubdirs))]
		case e != nil && e.link != "":
			o.to = mLinkNames[r.IntN(len(mLinkNames))] // links stay links' names
		default:
			c := m.candidates()
			o.to = c[r.IntN(len(c))]
		}
	case w < 5:
		o.kind = mRemove
		o.name = m.pickEntry(r)
	case w < 6:
		o.kind = mMkdir
		o.name = mSubdirs[r.IntN(len(mSubdirs))]
	case w < 8 && excluded("links"):
		o.kind = mRemove
		o.name = m.pickEntry(r)
	case w < 7:
		o.kind = mLink
		o.name = m.pickFile(r)
		c := m.candidates()
		o.to = c[r.IntN(len(c))]
	case w < 8:
		o.kind = mSymlink
		c := m.candidates()
		o.name = c[r.IntN(len(c)-len(mLinkNames))] // a link leads to a file's name
		o.to = mLinkNames[r.IntN(len(mLinkNames))]
	case w < 11 && !excluded("bgsync"):
		o.kind = mFsSyncBg
	case !excluded("bgsync"):
		o.kind = mFsSyncPair
	default:
		o.kind = mFsSync
	}
	return o
}

// expect compares the error of a namespace call with what the model
// predicts: nil, an error that says the name does not exist (notExist),
// or any error.
func (m *model) expect(o mop, err error, ok, notExist bool) *violation {
	switch {
	case ok && err != nil:
		return m.fail("namespace", "%v: %v; the model expects success", o, err)
	case !ok && err == nil:
		return m.fail("namespace", "%v succeeded; the model expects it to fail", o)
	case !ok && notExist && !errors.Is(err, iofs.ErrNotExist):
		return m.fail("namespace", "%v: %v; the model expects ENOENT", o, err)
	}
	return nil
}

// applyNamespace runs a namespace op through the Fs (a hard link through
// the OS: afero has none) and applies it to the model as the OS does.
func (m *model) applyNamespace(o mop) *violation {
	switch o.kind {
	case mRename:
		return m.rename(o)
	case mRemove:
		err := m.fs.Remove(m.spell(o.name, o.spell))
		if slices.Contains(mSubdirs, o.name) {
			ok := m.dirs[o.name] && m.emptyDir(o.name)
			if v := m.expect(o, err, ok, !m.dirs[o.name]); v != nil || !ok {
				return v
			}
			m.dirs[o.name] = false
			return nil
		}
		ok := m.names[o.name] != nil
		if v := m.expect(o, err, ok, true); v != nil || !ok {
			return v
		}
		delete(m.names, o.name)
	case mMkdir:
		err := m.fs.Mkdir(m.spell(o.name, o.spell), 0o755)
		ok := !m.dirs[o.name]
		if !ok && err != nil && !errors.Is(err, iofs.ErrExist) {
			return m.fail("namespace", "%v: %v; the model expects EEXIST", o, err)
		}
		if v := m.expect(o, err, ok, false); v != nil || !ok {
			return v
		}
		m.dirs[o.name] = true
	case mLink:
		e := m.names[o.name]
		if e == nil || e.link != "" {
			return nil // hard links to files only (symbolic links differ by system)
		}
		err := os.Link(m.abs(o.name), m.abs(o.to))
		ok := m.names[o.to] == nil && m.dirExists(path.Dir(o.to))
		if v := m.expect(o, err, ok, false); v != nil {
			v.rule = "model" // the OS disagrees with the model: a model bug
			return v
		}
		if ok {
			m.names[o.to] = &mentry{file: e.file}
		}
	case mSymlink:
		err := m.fs.SymlinkIfPossible(o.name, m.spell(o.to, o.spell))
		ok := m.names[o.to] == nil
		if v := m.expect(o, err, ok, false); v != nil || !ok {
			return v
		}
		m.names[o.to] = &mentry{link: o.name}
	}
	return nil
}

// rename renames a file, a link or a subdirectory, as os.Rename does: a
// file or link onto whatever the new name holds, as rename(2) does.
func (m *model) rename(o mop) *violation {
	from, to := o.name, o.to
	err := m.fs.Rename(m.spell(from, o.spell), m.spell(to, o.spell))
	if slices.Contains(mSubdirs, from) {
		// os.Rename refuses an existing directory as the new name
		// (EEXIST), itself included, unlike rename(2).
		ok := m.dirs[from] && !m.dirs[to]
		if v := m.expect(o, err, ok, !m.dirs[from]); v != nil || !ok {
			return v
		}
		moved := map[string]*mentry{}
		for name, e := range m.names {
			if rest, found := strings.CutPrefix(name, from+"/"); found {
				moved[to+"/"+rest] = e
				delete(m.names, name)
			}
		}
		for name, e := range moved {
			m.names[name] = e
		}
		m.dirs[from], m.dirs[to] = false, true
		return nil
	}
	e := m.names[from]
	ok := e != nil && m.dirExists(path.Dir(to))
	if v := m.expect(o, err, ok, true); v != nil || !ok || from == to {
		return v
	}
	// Two names of one file: rename(2) does nothing.
	if t := m.names[to]; t != nil && e.link == "" && t.link == "" && t.file == e.file {
		return nil
	}
	m.names[to] = e
	delete(m.names, from)
	return nil
}

// An mbgSync is an Fs.Sync running beside the steps.
type mbgSync struct {
	mark  int    // fault mark when it began
	start uint64 // oracle mark when it began
	at    uint64 // oracle mark when it returned
	err   error
	done  chan struct{}
}

// startSync starts an Fs.Sync in the background.
func (m *model) startSync() *mbgSync {
	b := &mbgSync{mark: m.log.Len(), start: m.oracle.Now(), done: make(chan struct{})}
	go func() {
		b.err = m.fs.Sync()
		b.at = m.oracle.Now()
		close(b.done)
	}()
	return b
}

// fsSyncBg starts an Fs.Sync that runs while the next steps do.
func (m *model) fsSyncBg() { m.bg = append(m.bg, m.startSync()) }

// wait waits for b, reporting a hang.
func (m *model) wait(b *mbgSync, what string) *violation {
	select {
	case <-b.done:
		return nil
	case <-time.After(mHang):
		return m.fail("hang", "%s did not return within %v; goroutines in the Fs:\n%s", what, mHang, fsStacks())
	}
}

// collect checks the background Fs.Sync calls that have returned; with
// wait, it waits for them all.
func (m *model) collect(wait bool) *violation {
	keep := m.bg[:0]
	for _, b := range m.bg {
		if wait {
			if v := m.wait(b, "a background Fs.Sync()"); v != nil {
				return v
			}
		}
		select {
		case <-b.done:
			// Steps ran beside it: only writes that ended before it
			// began surely hold bytes accepted before.
			if v := m.checkSync("a background Fs.Sync()", b, b.start); v != nil {
				return v
			}
		default:
			keep = append(keep, b)
		}
	}
	m.bg = keep
	return nil
}

// checkSync checks what an Fs.Sync that returned promised: an error an
// injected fault explains (or, once the Fs is closed, fs.ErrClosed), or
// nil with every write that ended before mark before committed.
func (m *model) checkSync(what string, b *mbgSync, before uint64) *violation {
	if b.err != nil {
		if m.fsSyncExplained(b.err, b.mark) || m.closed && errors.Is(b.err, iofs.ErrClosed) {
			return nil
		}
		return m.fail("invented", "%s returned %v: no injected fault explains it", what, b.err)
	}
	if err := m.oracle.Durable(before, b.at, nil); err != nil {
		return m.fail("committed", "%s returned nil, but: %v", what, err)
	}
	return nil
}

// fsSyncPair runs two Fs.Sync calls at once: each covers everything
// written before its own start, so neither may return nil while a write
// that ended before it returned is uncommitted (no step runs beside
// them, so every such write holds bytes accepted before both began).
func (m *model) fsSyncPair() *violation {
	pair := [2]*mbgSync{m.startSync(), m.startSync()}
	for _, b := range pair {
		if v := m.wait(b, "one of two Fs.Sync() at once"); v != nil {
			return v
		}
	}
	m.attribute(nil, 0, 0)
	for _, b := range pair {
		if v := m.checkSync("one of two Fs.Sync() at once", b, b.at); v != nil {
			return v
		}
	}
	return nil
}

// fsClose closes the Fs while an Fs.Sync and reads and Stats through
// every handle run beside it. Those may fail with fs.ErrClosed; what they
// return otherwise must be the model's. A nil Close leaves every file as
// the model has it. The run ends with it.
func (m *model) fsClose() *violation {
	mark := m.log.Len()
	sync := m.startSync()
	closed := make(chan error, 1)
	go func() { closed <- m.fs.Close() }()
	for slot, h := range m.hs {
		if h.mode == modeRO || h.mode == modeRW {
			p := scratch(&m.rbuf, 100)
			n, err := h.f.ReadAt(p, 0)
			want := h.file.data[:min(len(h.file.data), n)]
			if n > 0 && !bytes.Equal(p[:n], want) {
				return m.fail("read", "ReadAt(100, 0) through h%d beside Fs.Close returned other bytes than the model", slot)
			}
			if err != nil && err != io.EOF && !errors.Is(err, iofs.ErrClosed) && !m.explained(h, err, 0, true) {
				return m.fail("invented", "ReadAt(100, 0) through h%d beside Fs.Close returned %d, %v", slot, n, err)
			}
		}
		if fi, err := h.f.Stat(); err == nil && fi.Size() != int64(len(h.file.data)) {
			return m.fail("size", "Stat of h%d beside Fs.Close: size %d; the model's size is %d", slot, fi.Size(), len(h.file.data))
		}
	}
	err := <-closed
	m.closed = true
	m.attribute(nil, 0, 0)
	if v := m.wait(sync, "Fs.Sync() beside Fs.Close()"); v != nil {
		return v
	}
	if v := m.checkSync("Fs.Sync() beside Fs.Close()", sync, sync.start); v != nil {
		return v
	}
	return m.checkFsWide("Fs.Close()", err, mark, "lost")
}

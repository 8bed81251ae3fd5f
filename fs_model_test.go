package aiofs_test

// TestModel is a model-based randomized test of the write path under
// injected faults. Random operations on several handles of a few files
// (plain, O_APPEND, O_SYNC, read-only, O_TRUNC; closed and reopened) run
// one at a time against an Fs whose engine injects faults
// (aiofs.WithFaults), and a model holds the bytes each file has accepted:
// the file as every handle of the Fs must see it. The files live in a
// namespace the run changes (fs_model_namespace_test.go): renames of files
// and directories onto existing names, removals, hard links, symbolic
// links, files created again under old names, and opens by many
// spellings of one name; the model follows what the OS does (a handle
// stays with its file, hard links share one, a rename replaces). Fs.Sync
// also runs in the background while steps go on, two at once, and beside
// a final Fs.Close. After every step the model checks these rules (the
// DESIGN.md sentence each rests on is quoted):
//
//  1. Sizes. "Sizes follow accepted bytes only": Fs.Stat, File.Stat and
//     Seek(0, io.SeekEnd) equal the model's size after every step.
//  2. Reads. "Read-your-writes: every handle of the same Fs sees written
//     bytes at once": Read and ReadAt return the model's bytes, and fewer
//     than asked only at the model's end (io.EOF) or with an error.
//     "Data whose write failed stays dirty", so a failed background
//     write changes nothing in the model.
//  3. Accepted bytes. "Write counts only bytes it accepted": a Write or
//     WriteAt that returns n applies exactly its first n bytes to the
//     model, and returns an error whenever n < len(p). O_APPEND writes
//     land at the model's size ("at the file's current size including
//     buffered data"). "A Truncate that fails changes nothing."
//  4. Sticky errors are delivered. "Every handle of that file that was open
//     when it happened returns it from its next Write, WriteAt, Sync and
//     Close, and keeps returning it until one of its Sync calls
//     succeeds": a pwritev fault on a file, other than the call's own
//     direct write (a write-through or large Write of exactly the
//     caller's range, whose "error is then that Write's"), makes every
//     handle of the file open when it was reported owe an error; while a
//     handle owes, its Write, WriteAt and Close must fail, from the second
//     step after the fault on (the flush that got the error records it a
//     moment after the engine returns it, and the next call may come
//     first). Its Sync may succeed (the data "is retried by the next
//     Sync"), and that clears what it owes; rule 6 then checks that
//     nothing was lost. A writer's Close flushes, so a fault during it
//     counts too.
//  5. No invented errors. "Errors are never dropped, and never invent
//     data", and "a handle opened after the failure does not inherit it":
//     every error must be a syscall.Errno that an injected fault on the
//     same file explains: for reads a pread fault while the handle was
//     open; for writes, Sync and Close a pwritev fault injected since the
//     handle's Open began or its last successful Sync began, or an fsync
//     fault during the call. EBADF from a write to a read-only handle
//     and the OS's error for a Truncate past the largest size are the
//     OS's own answers and expected.
//  6. Durability. "A Sync returns nil only when every byte written to the
//     file through this Fs before it is durable": after a nil File.Sync
//     the file read with os.ReadFile equals the model; after a nil
//     Fs.Sync ("every byte written through the Fs before the call is
//     durable") every file does. After a nil Write on an O_SYNC handle or
//     with WithWriteBehind(0) the written bytes are in the file ("each
//     write reaches the OS before it returns"). And durable means
//     committed: a recording layer under the Fs (aiofs.Oracle: an engine
//     wrapper for New, a base over afero.OsFs for Wrap) logs every write
//     and fsync per inode, and after a nil Sync every write of the file
//     (of every file, for Fs.Sync) must have been followed by an fsync of
//     it, or a commit of every file system, that ended before the Sync
//     returned; files with no link left need none. A background Fs.Sync,
//     which steps ran beside, answers for the writes that ended before it
//     began; two Fs.Sync calls at once each answer for all before they
//     returned ("each wait for everything written before their own
//     start"). A nil Fs.Close leaves every file as the model has it.
//  7. Dropped data. "If that data is dropped (its last writer closed), the
//     handles that were open at the failure keep failing their Sync":
//     when the last writable handle of a file closes, the file must equal
//     the model. If it does not, that is allowed only when a handle of
//     the file owes an error or that Close failed; the model then takes
//     the file's bytes as the new truth (the Fs must show what the file
//     holds), and every handle that owed an error must fail every later
//     Sync.
//  8. Progress. "The call waits until flushing frees room": no call blocks
//     for seconds when the test runs nothing else (a watchdog reports the
//     call with the Fs's goroutines).
//  9. Namespace. Opens, renames, removes, Mkdir and Symlink through the
//     Fs succeed or fail as the OS's calls do (as os.Rename: never onto
//     an existing directory), ENOENT where the model has no such name.
// 10. The Fs's own state (Fs.CheckInvariants, after every step): the
//     cache counts what its blocks are, each block is in a legal state,
//     quiet only while reads may bypass the node, writers are handles.
// 11. At the end, with faults off, a fresh handle of each file syncs with
//     no error (it inherits nothing) and the file equals the model; then
//     every handle closes, failing when it owes an error.
//
// What the model cannot know: which of several faults a call reports (any
// explaining fault will do), when a background flush runs (faults are
// attributed by their place in the fault log, which records them as the
// engine returns them, relative to the steps), and how much of a failed
// background write reached the file (it does not matter: the data stays
// dirty). Files live on tmpfs when there is one (thousands of fsyncs);
// tmpfs accepts a Truncate to 2^62, so the failed-Truncate rule is only
// exercised with AIOFS_MODEL_DIR on a file system that refuses it (ext4).
//
// Reproduce a failure with the seed it prints (AIOFS_SEED); the
// failing sequence is shrunk to a short one, printed with the faults of
// its replay. AIOFS_MODEL_OPS sets the operations per engine (default
// 50,000).
//
// TestModelNoFaults runs the same model with no fault injected: there,
// every violation is a library bug or a model bug. AIOFS_EXCLUDE lets a
// developer look past known violations (see excluded).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aiofs/aiofs"
	"github.com/spf13/afero"
)

const (
	mBlock     = 64 << 10  // the Fs's block size
	mLarge     = 256 << 10 // the direct-write threshold
	mMaxSize   = 3 << 18   // files are kept below about this size
	mHuge      = 1 << 62   // a size past every file system's largest
	mSlots     = 8         // handles open at once
	mRunOps    = 2000
	mCheckEach = 50 // steps between full reads through a handle
	mHang      = 5 * time.Second
)

type mkind uint8

const (
	mOpen mkind = iota
	mClose
	mWrite
	mWriteAt
	mRead
	mReadAt
	mSeek
	mTruncate
	mSync
	mStat
	mFsSync
	// The namespace and the Fs as a whole (fs_model_namespace_test.go).
	mRename
	mRemove
	mMkdir
	mLink
	mSymlink
	mFsSyncBg   // Fs.Sync in the background, while the next steps run
	mFsSyncPair // two Fs.Sync calls at once
	mFsClose    // Fs.Close beside other calls; the run's last op
)

var mkindNames = [...]string{"Open", "Close", "Write", "WriteAt", "Read", "ReadAt", "Seek", "Truncate", "Sync", "Stat", "Fs.Sync",
	"Rename", "Remove", "Mkdir", "Link", "Symlink", "Fs.Sync (background)", "Fs.Sync x2", "Fs.Close"}

// Open modes.
const (
	modeRW = iota
	modeAppend
	modeSync
	modeRO
	modeTrunc
	nModes
)

var modeFlags = [nModes]int{
	os.O_RDWR | os.O_CREATE,
	os.O_RDWR | os.O_APPEND,
	os.O_RDWR | os.O_SYNC,
	os.O_RDONLY,
	os.O_RDWR | os.O_TRUNC,
}

var modeNames = [nModes]string{"rw", "append", "sync", "ro", "trunc"}

// An mop is one step. Ops name handles by slot and files by name, so
// that a shrunk sequence still means something: an op on a slot that is
// not open (or an Open of one that is) is skipped, and a name means what
// the namespace holds when the op runs.
type mop struct {
	kind   mkind
	slot   int
	name   string // Open, Rename, Remove, Mkdir, Link; Symlink's target
	to     string // Rename's and Link's new name, Symlink's link
	spell  int    // how the names the Fs is given are spelled (mSpell)
	mode   int    // Open
	off    int64  // WriteAt, ReadAt, Seek offset, Truncate size
	n      int    // bytes of Write, WriteAt, Read, ReadAt
	whence int    // Seek
	fill   byte   // the data pattern of a write
}

func (o mop) String() string {
	h := fmt.Sprintf("h%d", o.slot)
	switch o.kind {
	case mOpen:
		return fmt.Sprintf("%s = Open(%s %s, %s)", h, spellNames[o.spell], o.name, modeNames[o.mode])
	case mRename, mLink, mSymlink:
		return fmt.Sprintf("%s(%s, %s %s)", mkindNames[o.kind], o.name, spellNames[o.spell], o.to)
	case mRemove, mMkdir:
		return fmt.Sprintf("%s(%s %s)", mkindNames[o.kind], spellNames[o.spell], o.name)
	case mFsSyncBg, mFsSyncPair, mFsClose:
		return mkindNames[o.kind] + "()"
	case mWrite:
		return fmt.Sprintf("%s.Write(%d bytes of %#x)", h, o.n, o.fill)
	case mWriteAt:
		return fmt.Sprintf("%s.WriteAt(%d bytes of %#x, %d)", h, o.n, o.fill, o.off)
	case mRead:
		return fmt.Sprintf("%s.Read(%d)", h, o.n)
	case mReadAt:
		return fmt.Sprintf("%s.ReadAt(%d, %d)", h, o.n, o.off)
	case mSeek:
		return fmt.Sprintf("%s.Seek(%d, %d)", h, o.off, o.whence)
	case mTruncate:
		return fmt.Sprintf("%s.Truncate(%d)", h, o.off)
	case mFsSync:
		return "Fs.Sync()"
	}
	return fmt.Sprintf("%s.%s()", h, mkindNames[o.kind])
}

// mPattern returns n bytes of a write, different for each fill value, so
// that misplaced bytes show. They are cut from one table, never written:
// under -race, filling or allocating each write's bytes would cost most
// of the test's time.
func mPattern(fill byte, n int) []byte {
	return mPatterns[int(fill)<<10:][:n:n]
}

var mPatterns = pattern(1, 0, 256<<10+2*mLarge)

type mhandle struct {
	f           afero.File
	file        *mfile
	mode        int
	name        string // the name it was opened by, for messages
	off         int64
	openStart   int  // fault mark when Open began
	openedAt    int  // fault mark when Open returned: faults from here on were injected while open
	explainFrom int  // faults from here on may explain its write errors
	owed        bool // a background write failed while it was open, no nil Sync since
	owedBy      aiofs.Fault
	owedStep    int  // the step after which owed was set
	lost        bool // data failed while it was open and was dropped: Sync must fail
}

func (h *mhandle) writable() bool { return h.mode != modeRO }

// A violation is a broken rule, at a step.
type violation struct {
	rule string // a short name, kept by the shrinker
	msg  string
	step int
}

func (v *violation) String() string { return fmt.Sprintf("step %d: [%s] %s", v.step, v.rule, v.msg) }

// A modelConfig is one kind of run: options of the Fs and fault rates.
type modelConfig struct {
	name   string
	opts   []aiofs.Option
	faults aiofs.FaultConfig // Seed is set per run
	wb0    bool              // WithWriteBehind(0): every write reaches the file
}

func modelConfigs(faults bool) []modelConfig {
	fc := aiofs.FaultConfig{Fail: 0.03, Delay: 0.05, Hold: 0.02, MaxDelay: 200 * time.Microsecond}
	if !faults {
		fc.Fail = 0
	}
	return []modelConfig{
		{name: "default", faults: fc},
		{name: "smallwb", opts: []aiofs.Option{aiofs.WithWriteBehind(2 * mBlock), aiofs.WithCacheSize(4 * mBlock)}, faults: fc},
		{name: "tinywb", opts: []aiofs.Option{aiofs.WithWriteBehind(1), aiofs.WithCacheSize(2 * mBlock), aiofs.WithReadahead(0)}, faults: fc},
		{name: "writethrough", opts: []aiofs.Option{aiofs.WithWriteBehind(0)}, faults: fc, wb0: true},
	}
}

// model is the state of one run.
type model struct {
	cfg modelConfig
	fs  *aiofs.Fs
	log *aiofs.FaultLog
	// oracle records the writes and commits that reach each file, to
	// check what a nil Sync promised (rule 6).
	oracle   *aiofs.Oracle
	mspace   // the files and their names
	hs       map[int]*mhandle
	bg       []*mbgSync // Fs.Sync calls running in the background
	closed   bool       // Fs.Close ran: the run is over
	mark     int        // faults attributed so far
	bgFaults int        // of them, failed writes of background flushes
	step     int
	// hugeFails says the file system refuses a Truncate to mHuge, as
	// ext4 and xfs do; tmpfs accepts it, and then the model makes none.
	hugeFails bool
	rbuf      []byte // scratch for reads through the Fs
	dbuf      []byte // scratch for reads of the file on disk
}

// scratch returns buf resized to n bytes, reusing its memory.
func scratch(buf *[]byte, n int) []byte {
	if cap(*buf) < n {
		*buf = make([]byte, n+n/4)
	}
	return (*buf)[:n]
}

// runModel runs the ops of replay, or n generated ones from seed, on a
// new Fs over dir (emptied first). It returns the ops it ran and the first
// violation.
func runModel(dir, engine string, cfg modelConfig, seed uint64, n int, replay []mop) ([]mop, *violation, []aiofs.Fault) {
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &violation{rule: "setup", msg: err.Error()}, nil
	}
	fc := cfg.faults
	fc.Seed = int64(seed)
	opt, log := aiofs.WithFaults(fc)
	m := &model{cfg: cfg, log: log, hs: make(map[int]*mhandle), oracle: aiofs.NewOracle()}
	defer m.oracle.Close()
	defer m.release()
	if engine == "wrap" {
		// The same files through Wrap over afero.OsFs (recording for the
		// oracle): the wrap pool calls os.File's ReadAt, WriteAt and Sync.
		m.fs = aiofs.Wrap(aiofs.NewRecFs(m.oracle), append(slices.Clip(cfg.opts), opt)...)
	} else {
		m.fs = aiofs.New(append(append([]aiofs.Option{aiofs.WithEngine(engine), aiofs.WithOracle(m.oracle)}, cfg.opts...), opt)...)
	}
	hung := false
	defer func() {
		if !hung {
			m.fs.Close()
		}
	}()
	if err := m.setup(dir); err != nil {
		return nil, &violation{rule: "setup", msg: err.Error()}, nil
	}
	probe := filepath.Join(dir, "huge")
	m.hugeFails = os.WriteFile(probe, nil, 0o644) == nil && os.Truncate(probe, mHuge) != nil
	os.Remove(probe)
	rng := rand.New(rand.NewPCG(seed, 0x6d6f64656c))
	// A quarter of the runs end with Fs.Close beside other calls.
	closing := rng.IntN(4) == 0 && !excluded("fsclose")
	var ops []mop
	for i := 0; replay == nil && i < n || replay != nil && i < len(replay); i++ {
		var o mop
		switch {
		case replay != nil:
			o = replay[i]
		case closing && i == n-1:
			o = mop{kind: mFsClose}
		default:
			o = m.generate(rng)
		}
		ops = append(ops, o)
		m.step = i
		if v := m.collect(false); v != nil {
			v.step = i
			hung = m.collect(true) != nil // the others must end before Fs.Close
			return ops, v, log.Since(0)
		}
		if v, ok := m.applyWithin(o, mHang); !ok {
			hung = true
			v.step = i
			return ops, v, log.Since(0)
		} else if v != nil {
			v.step = i
			return ops, v, log.Since(0)
		}
		if v := m.invariants(i); v != nil {
			v.step = i
			return ops, v, log.Since(0)
		}
		if err := m.fs.CheckInvariants(); err != nil {
			return ops, &violation{rule: "invariant", msg: err.Error(), step: i}, log.Since(0)
		}
	}
	m.step = len(ops)
	if v := m.collect(true); v != nil {
		hung = v.rule == "hang"
		v.step = len(ops)
		return ops, v, log.Since(0)
	}
	if v := m.finish(); v != nil {
		v.step = len(ops)
		return ops, v, log.Since(0)
	}
	return ops, nil, log.Since(0)
}

// generate picks the next op from the current state.
func (m *model) generate(r *rand.Rand) mop {
	var open, closed []int
	for s := range mSlots {
		if m.hs[s] != nil {
			open = append(open, s)
		} else {
			closed = append(closed, s)
		}
	}
	if w := r.IntN(100); w < 12 && !excluded("namespace") {
		return m.generateNamespace(r, w)
	}
	if len(open) == 0 || len(closed) > 0 && r.IntN(100) < 8 {
		mode := r.IntN(nModes)
		if mode == modeTrunc && r.IntN(3) > 0 {
			mode = modeRW // truncating opens are rarer
		}
		return mop{kind: mOpen, slot: closed[r.IntN(len(closed))], mode: mode, name: m.pickFile(r), spell: pickSpell(r)}
	}
	slot := open[r.IntN(len(open))]
	h := m.hs[slot]
	size := int64(len(h.file.data))
	o := mop{slot: slot, fill: byte(r.Uint32())}
	w := r.IntN(100)
	switch {
	case w < 5:
		o.kind = mClose
	case w < 27:
		o.kind = mWrite
	case w < 45:
		o.kind = mWriteAt
	case w < 57:
		o.kind = mRead
	case w < 72:
		o.kind = mReadAt
	case w < 80:
		o.kind = mSeek
	case w < 86:
		o.kind = mTruncate
	case w < 94:
		o.kind = mSync
	case w < 99:
		o.kind = mStat
	default:
		o.kind = mFsSync
	}
	if o.kind == mWriteAt && h.mode == modeAppend {
		o.kind = mWrite
	}
	if (o.kind == mWrite || o.kind == mWriteAt) && h.writable() && size > mMaxSize {
		o.kind = mTruncate // keep files small
	}
	switch o.kind {
	case mWrite, mWriteAt, mRead, mReadAt:
		o.n = genLen(r)
		o.off = genOff(r, size)
	case mSeek:
		o.whence = r.IntN(3)
		switch o.whence {
		case io.SeekStart:
			o.off = genOff(r, size)
		case io.SeekCurrent:
			o.off = int64(r.IntN(2*mBlock+1) - mBlock)
		case io.SeekEnd:
			o.off = int64(r.IntN(mBlock+1)) - int64(r.IntN(int(size)+1))
		}
		if r.IntN(40) == 0 {
			o.off = -int64(r.IntN(1000)) - 2*mMaxSize // before the start
		}
	case mTruncate:
		o.off = genOff(r, size)
		if size > mMaxSize {
			o.off = int64(r.IntN(int(size/2) + 1))
		}
		if r.IntN(25) == 0 && m.hugeFails && !excluded("hugetrunc") {
			o.off = mHuge
		}
	}
	return o
}

// genLen returns an op size, clustered around the block size and the
// direct-write threshold.
func genLen(r *rand.Rand) int {
	switch r.IntN(16) {
	case 0, 1, 2, 8, 9, 10, 11:
		return 1 + r.IntN(200)
	case 3:
		return 4096
	case 4:
		return mBlock - 1 + r.IntN(3)
	case 5:
		return 1 + r.IntN(2*mBlock)
	case 6:
		return mLarge - 1 + r.IntN(3)
	case 7:
		return 1 + r.IntN(mLarge+mBlock)
	}
	return 1 + r.IntN(8192)
}

// genOff returns an offset in a file of the given size.
func genOff(r *rand.Rand, size int64) int64 {
	var off int64
	switch r.IntN(6) {
	case 0:
		off = 0
	case 1:
		off = size
	case 2:
		off = max(0, size-int64(r.IntN(100)))
	case 3:
		off = r.Int64N(size + 1)
	case 4:
		off = int64(r.IntN(16)) * mBlock
	case 5:
		off = r.Int64N(size + mBlock + 1)
	}
	return off % (1 << 19)
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

func errnoOf(err error) (syscall.Errno, bool) {
	var no syscall.Errno
	ok := errors.As(err, &no)
	return no, ok
}

// attribute makes the handles open at each pwritev fault injected since
// the last call owe an error, except for the fault of the caller's own
// direct write (own: file, offset, length; nil for none). Faults name
// their file by its inode.
func (m *model) attribute(own *mfile, ownOff int64, ownLen int) {
	background := 0
	for _, f := range m.log.Since(m.mark) {
		m.mark = f.Seq + 1
		if f.Op != "pwritev" {
			continue
		}
		if own != nil && own.is(f) && f.Off == ownOff && f.Len == ownLen {
			continue
		}
		background++
		for _, h := range m.hs {
			if h.file.is(f) && h.openedAt <= f.Seq && !h.owed {
				h.owed, h.owedBy, h.owedStep = true, f, m.step
			}
		}
	}
	if background > 0 {
		m.bgFaults += background
		m.awaitRecorded()
	}
}

// awaitRecorded waits a while for the Fs to record the failed flushes
// attributed so far. A fault is logged as the engine returns it; the
// flush that got it records it under the Fs's lock when its goroutine
// runs again, which on a loaded machine may be after several steps.
// Stats.BackgroundErrors counts the recorded ones. If they are not all
// recorded within a second (the model took for a flush a write the Fs
// made straight to the file), the steps go on.
func (m *model) awaitRecorded() {
	deadline := time.Now().Add(time.Second)
	for m.fs.Stats().BackgroundErrors < uint64(m.bgFaults) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Microsecond)
	}
}

// describe tells what the model knows of h and of the other handles of
// its file, for a violation's message.
func (m *model) describe(h *mhandle) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the handle: %s, opened as %s at fault mark %d, %v (inode %d), owed since step %d; its file's other handles:",
		modeNames[h.mode], h.name, h.openedAt, h.file, h.file.ino, h.owedStep)
	for s := range mSlots {
		if g := m.hs[s]; g != nil && g != h && g.file == h.file {
			fmt.Fprintf(&b, " h%d (%s, opened as %s, owed %v)", s, modeNames[g.mode], g.name, g.owed)
		}
	}
	return b.String()
}

// due reports whether h must report the error it owes now: a fault
// attributed after step k, from step k+2 on (attribute waits for the Fs
// to record it; the step between is slack for a fault the Fs is late to
// record).
func (m *model) due(h *mhandle) bool { return h.owed && h.owedStep < m.step-1 }

// explained reports whether err from a call of h that began at fault mark
// start is explained by an injected fault (rule 5).
func (m *model) explained(h *mhandle, err error, start int, read bool) bool {
	no, ok := errnoOf(err)
	if !ok {
		return false
	}
	for _, f := range m.log.Since(0) {
		if !h.file.is(f) || f.Err != no {
			continue
		}
		switch {
		case read && f.Op == "pread" && f.Seq >= h.openStart:
			return true
		case !read && f.Op == "pwritev" && f.Seq >= h.explainFrom:
			return true
		case !read && f.Op == "fsync" && f.Seq >= start:
			return true
		}
	}
	return false
}

func (m *model) fail(rule, format string, args ...any) *violation {
	return &violation{rule: rule, msg: fmt.Sprintf(format, args...)}
}

// onDisk compares the file with the model, or the range [off, off+len(p))
// of it with p when p is given.
func (m *model) onDisk(mf *mfile, off int64, p []byte) (string, bool) {
	disk, err := m.readDisk(mf)
	if err != nil {
		return err.Error(), false
	}
	if p == nil {
		p = mf.data
	} else if end := off + int64(len(p)); int64(len(disk)) < end {
		return fmt.Sprintf("file has %d bytes, the write ended at %d", len(disk), end), false
	} else {
		disk = disk[off:end]
	}
	if bytes.Equal(disk, p) {
		return "", true
	}
	return diff(disk, p, "got", "want"), false
}

// readDisk reads the file with package os, into m.dbuf, through the
// model's own descriptor of it (it may have no name left).
func (m *model) readDisk(mf *mfile) ([]byte, error) {
	// A background flush may grow the file between the Stat and the
	// read: read again with the new size until the read meets the end.
	for {
		st, err := mf.osf.Stat()
		if err != nil {
			return nil, err
		}
		p := scratch(&m.dbuf, int(st.Size())+1)
		n, err := mf.osf.ReadAt(p, 0)
		if err == io.EOF {
			return p[:n], nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %v with package os: %d, %v", mf, n, err)
		}
	}
}

// put applies p at off to the model of the file.
func (mf *mfile) put(off int64, p []byte) {
	if len(p) == 0 {
		return // an empty write does not extend the file
	}
	d := mf.data
	if end := off + int64(len(p)); end > int64(len(d)) {
		d = append(d, make([]byte, end-int64(len(d)))...)
	}
	copy(d[off:], p)
	mf.data = d
}

func (mf *mfile) resize(size int64) {
	d := mf.data
	if size <= int64(len(d)) {
		mf.data = d[:size]
		return
	}
	mf.data = append(d, make([]byte, size-int64(len(d)))...)
}

// applyWithin is apply, giving up after d: a call that blocks that long
// with nothing else running will not return. The goroutine is left
// behind, and the Fs is not closed (Close would wait for it).
func (m *model) applyWithin(o mop, d time.Duration) (*violation, bool) {
	done := make(chan *violation, 1)
	go func() { done <- m.apply(o) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case v := <-done:
		return v, true
	case <-t.C:
		return m.fail("hang", "%v did not return within %v; goroutines in the Fs:\n%s", o, d, fsStacks()), false
	}
}

// fsStacks returns the stacks of the goroutines inside package aiofs,
// but for idle engine workers.
func fsStacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "aiofs.(*") && !strings.Contains(g, "poolEngine).work") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// apply runs one op and checks its result.
func (m *model) apply(o mop) *violation {
	if m.closed {
		return nil // after Fs.Close, the run is over
	}
	h := m.hs[o.slot]
	switch o.kind {
	case mFsSync:
		return m.fsSync()
	case mOpen:
		if h != nil {
			return nil
		}
		return m.open(o)
	case mRename, mRemove, mMkdir, mLink, mSymlink:
		return m.applyNamespace(o)
	case mFsSyncBg:
		m.fsSyncBg()
		return nil
	case mFsSyncPair:
		return m.fsSyncPair()
	case mFsClose:
		return m.fsClose()
	}
	if h == nil {
		return nil
	}
	owed := m.due(h)
	start := m.log.Len()
	size := int64(len(h.file.data))
	switch o.kind {
	case mClose:
		return m.close(o.slot, h)

	case mWrite, mWriteAt:
		p := mPattern(o.fill, o.n)
		var n int
		var err error
		off := o.off
		if o.kind == mWrite {
			off = h.off
			if h.mode == modeAppend {
				off = size
			}
			n, err = h.f.Write(p)
		} else {
			n, err = h.f.WriteAt(p, off)
		}
		// Only a write that goes straight to the file has a pwritev of
		// its own; a flush of a buffered write can have the same range.
		if h.mode == modeSync || m.cfg.wb0 || len(p) >= mLarge {
			m.attribute(h.file, off, len(p))
		} else {
			m.attribute(nil, 0, 0)
		}
		if !h.writable() {
			if n != 0 || !errors.Is(err, syscall.EBADF) {
				return m.fail("readonly", "%v to a read-only handle returned %d, %v; want 0, EBADF", o, n, err)
			}
			return nil
		}
		if n < 0 || n > len(p) || err == nil && n != len(p) {
			return m.fail("accepted", "%v returned %d, %v", o, n, err)
		}
		h.file.put(off, p[:n])
		if o.kind == mWrite && n > 0 {
			// As with write(2), a write that accepts nothing leaves the
			// offset where it was, an appender's included.
			h.off = off + int64(n)
		}
		if err != nil && !m.explained(h, err, start, false) {
			return m.fail("invented", "%v at %d returned %d, %v: no injected fault explains it", o, off, n, err)
		}
		if err == nil && owed {
			return m.fail("sticky-missed", "%v returned nil, but a background write failed while the handle was open: %+v (%s)", o, h.owedBy, m.describe(h))
		}
		if err != nil && excluded("failedwrite") {
			return m.repair(h)
		}
		if err == nil && (h.mode == modeSync || m.cfg.wb0) {
			if d, ok := m.onDisk(h.file, off, p); !ok {
				return m.fail("writethrough", "%v returned nil, but the file does not hold the bytes: %s", o, d)
			}
		}

	case mRead, mReadAt:
		p := scratch(&m.rbuf, o.n)
		var n int
		var err error
		off := o.off
		if o.kind == mRead {
			off = h.off
			n, err = h.f.Read(p)
		} else {
			n, err = h.f.ReadAt(p, off)
		}
		m.attribute(nil, 0, 0)
		want := int(max(0, min(int64(o.n), size-off)))
		if n < 0 || n > want {
			return m.fail("read", "%v at %d returned %d, %v; the model has %d bytes there (size %d)", o, off, n, err, want, size)
		}
		if n > 0 && !bytes.Equal(p[:n], h.file.data[off:off+int64(n)]) {
			return m.fail("read", "%v at %d returned other bytes than the model: %s", o, off, diff(p[:n], h.file.data[off:off+int64(n)], "got", "want"))
		}
		switch {
		case err == nil && o.kind == mRead && (n == 0 || want == 0):
			return m.fail("read", "%v at %d returned %d, nil; the model has %d bytes there", o, off, n, want)
		case err == nil && o.kind == mReadAt && n != want:
			return m.fail("read", "%v returned %d, nil; the model has %d bytes there", o, n, want)
		case err == io.EOF && (n != want || o.kind == mReadAt && want == o.n || o.kind == mRead && want > 0):
			return m.fail("read", "%v at %d returned %d, EOF; the model has %d bytes there (size %d)", o, off, n, want, size)
		case err != nil && err != io.EOF && !m.explained(h, err, start, true):
			return m.fail("invented", "%v returned %d, %v: no injected fault explains it", o, n, err)
		}
		if o.kind == mRead {
			h.off = off + int64(n)
		}

	case mSeek:
		base := [3]int64{0, h.off, size}[o.whence]
		want := base + o.off
		pos, err := h.f.Seek(o.off, o.whence)
		m.attribute(nil, 0, 0)
		if want < 0 {
			if err == nil {
				return m.fail("seek", "%v returned %d, nil; want an error", o, pos)
			}
			return nil
		}
		if err != nil || pos != want {
			return m.fail("seek", "%v returned %d, %v; want %d (size %d)", o, pos, err, want, size)
		}
		h.off = pos

	case mTruncate:
		if o.off == mHuge && !m.hugeFails {
			return nil // a replay on another file system
		}
		err := h.f.Truncate(o.off)
		m.attribute(nil, 0, 0)
		switch {
		case err == nil && (!h.writable() || o.off == mHuge):
			return m.fail("truncate", "%v returned nil", o)
		case err == nil:
			h.file.resize(o.off)
		case !h.writable() || o.off == mHuge:
			// The OS's own answer; the model is unchanged.
		case !m.explained(h, err, start, false):
			return m.fail("invented", "%v returned %v: no injected fault explains it", o, err)
		}

	case mSync:
		err := h.f.Sync()
		at := m.oracle.Now()
		m.attribute(nil, 0, 0)
		if err != nil {
			if !m.explained(h, err, start, false) {
				return m.fail("invented", "%v returned %v: no injected fault explains it", o, err)
			}
			return nil
		}
		if h.lost && !excluded("dropsync") {
			return m.fail("sync-after-drop", "%v returned nil, but data that failed while it was open was dropped (%+v)", o, h.owedBy)
		}
		if d, ok := m.onDisk(h.file, 0, nil); !ok {
			return m.fail("durable", "%v returned nil, but the file differs from the model: %s", o, d)
		}
		// Steps run one at a time: every write of the file so far
		// carries bytes accepted before the Sync.
		if err := m.oracle.Durable(at, at, h.f); err != nil {
			return m.fail("committed", "%v returned nil, but: %v", o, err)
		}
		h.owed, h.explainFrom = false, start

	case mStat:
		fi, err := h.f.Stat()
		if err != nil || fi.Size() != size {
			return m.fail("size", "%v: size %d, %v; the model's size is %d", o, sizeOf(fi), err, size)
		}
		pos, err := h.f.Seek(0, io.SeekEnd)
		if err != nil || pos != size {
			return m.fail("size", "Seek(0, SeekEnd) on h%d returned %d, %v; the model's size is %d", o.slot, pos, err, size)
		}
		h.off = pos
	}
	return nil
}

// repair, after a failed Write or WriteAt, puts the Fs back where the
// model says it is, with faults off: it cuts the file to the model's size
// (which a failed write must not pass) and puts h's offset back.
func (m *model) repair(h *mhandle) *violation {
	m.log.SetEnabled(false)
	defer m.log.SetEnabled(true)
	if err := h.f.Truncate(int64(len(h.file.data))); err != nil {
		return m.fail("repair", "Truncate with faults off: %v", err)
	}
	if _, err := h.f.Seek(h.off, io.SeekStart); err != nil {
		return m.fail("repair", "Seek with faults off: %v", err)
	}
	return nil
}

// open opens o.name as the namespace stands, checking that the Open fails
// when and as the OS's would (ENOENT for a missing file or directory).
func (m *model) open(o mop) *violation {
	start := m.log.Len()
	target, mf, dirOK := m.lookup(o.name)
	flag := modeFlags[o.mode]
	creates := mf == nil && flag&os.O_CREATE != 0 && dirOK
	f, err := m.fs.OpenFile(m.spell(o.name, o.spell), flag, 0o644)
	m.attribute(nil, 0, 0)
	if mf == nil && !creates {
		if err == nil {
			f.Close()
			return m.fail("namespace", "%v succeeded; the model has no file there", o)
		}
		if !errors.Is(err, iofs.ErrNotExist) {
			return m.fail("namespace", "%v: %v; the OS says the file does not exist", o, err)
		}
		return nil
	}
	if err != nil {
		return m.fail("open", "%v: %v", o, err)
	}
	if creates {
		if mf, err = m.created(target); err != nil {
			return m.fail("setup", "%v", err)
		}
	}
	m.hs[o.slot] = &mhandle{f: f, file: mf, mode: o.mode, name: o.name, openStart: start, openedAt: m.log.Len(), explainFrom: start}
	if flag&os.O_TRUNC != 0 {
		mf.data = nil
	}
	return nil
}

func (m *model) close(slot int, h *mhandle) *violation {
	owed := m.due(h)
	start := m.log.Len()
	err := h.f.Close()
	m.attribute(nil, 0, 0)
	delete(m.hs, slot)
	o := mop{kind: mClose, slot: slot}
	if err != nil && !m.explained(h, err, start, false) {
		return m.fail("invented", "%v returned %v: no injected fault explains it", o, err)
	}
	// A read-only handle's Close does not wait for flushes, so only what
	// it owed before counts; a writer's Close flushes, so a failure while
	// it runs counts too.
	if err == nil && (owed || h.writable() && h.owed) {
		return m.fail("sticky-missed", "%v returned nil, but a background write failed while the handle was open: %+v (%s)", o, h.owedBy, m.describe(h))
	}
	if !h.writable() {
		return nil
	}
	for _, g := range m.hs {
		if g.file == h.file && g.writable() {
			return nil
		}
	}
	// The last writer is gone: what the Fs held is in the file or dropped.
	d, ok := m.onDisk(h.file, 0, nil)
	if ok {
		return nil
	}
	owing := err != nil
	for _, g := range m.hs {
		owing = owing || g.file == h.file && g.owed
	}
	if !owing {
		return m.fail("lost", "%v of the last writer returned nil and no handle owes an error, but the file differs from the model: %s", o, d)
	}
	disk, rerr := m.readDisk(h.file)
	if rerr != nil {
		return m.fail("setup", "%v", rerr)
	}
	h.file.data = append([]byte(nil), disk...)
	for _, g := range m.hs {
		if g.file == h.file && g.owed {
			g.lost = true
		}
	}
	return nil
}

func (m *model) fsSync() *violation {
	start := m.log.Len()
	err := m.fs.Sync()
	at := m.oracle.Now()
	m.attribute(nil, 0, 0)
	if v := m.checkFsWide("Fs.Sync()", err, start, "durable"); v != nil || err != nil {
		return v
	}
	if err := m.oracle.Durable(at, at, nil); err != nil {
		return m.fail("committed", "Fs.Sync() returned nil, but: %v", err)
	}
	return nil
}

// checkFsWide checks what, an Fs-wide call (Fs.Sync, Fs.Close) that
// began at fault mark start, by its result err: a failure must be
// explained by an injected fault; after nil, every live file must be on
// disk as the model has it, else a violation of rule.
func (m *model) checkFsWide(what string, err error, start int, rule string) *violation {
	if err != nil {
		if m.fsSyncExplained(err, start) {
			return nil
		}
		return m.fail("invented", "%s returned %v: no injected fault explains it", what, err)
	}
	for _, mf := range m.live() {
		if d, ok := m.onDisk(mf, 0, nil); !ok {
			return m.fail(rule, "%s returned nil, but %v differs from the model: %s", what, mf, d)
		}
	}
	return nil
}

// fsSyncExplained reports whether err, from an Fs.Sync that began at
// fault mark start, is explained by an injected fault: any failed write
// (its data stays owed), or an fsync that failed since.
func (m *model) fsSyncExplained(err error, start int) bool {
	no, ok := errnoOf(err)
	for _, f := range m.log.Since(0) {
		if ok && f.Err == no && (f.Op == "pwritev" || f.Seq >= start) {
			return true
		}
	}
	return false
}

// invariants checks the size of every file by every name after a step,
// and every few steps the whole content through one open handle.
func (m *model) invariants(step int) *violation {
	if m.closed {
		return nil
	}
	for _, name := range m.fileNames() {
		_, mf, _ := m.lookup(name)
		if mf == nil {
			continue
		}
		st, err := m.fs.Stat(m.abs(name))
		if err != nil || st.Size() != int64(len(mf.data)) {
			return m.fail("size", "Fs.Stat(%s): size %d, %v; the model's size of %v is %d", name, sizeOf(st), err, mf, len(mf.data))
		}
	}
	if step%mCheckEach != 0 {
		return nil
	}
	for slot, h := range m.hs {
		if h.mode == modeRO || slot == step/mCheckEach%mSlots {
			want := h.file.data
			p := scratch(&m.rbuf, len(want)+1)
			n, err := h.f.ReadAt(p, 0)
			m.attribute(nil, 0, 0)
			bad := n > len(want) || !bytes.Equal(p[:n], want[:n])
			switch {
			case err == nil, err == io.EOF && n != len(want):
				bad = true
			case err != io.EOF && !m.explained(h, err, 0, true):
				return m.fail("invented", "ReadAt of all of %v through h%d returned %d, %v: no injected fault explains it", h.file, slot, n, err)
			}
			if bad {
				return m.fail("read", "ReadAt of all of %v through h%d returned %d, %v: %s", h.file, slot, n, err, diff(p[:n], want, "got", "want"))
			}
			return nil
		}
	}
	return nil
}

// finish turns faults off, syncs each file that has a name through a
// fresh handle and closes every handle (rule 11).
func (m *model) finish() *violation {
	m.log.SetEnabled(false)
	if m.closed {
		for slot, h := range m.hs {
			h.f.Close() // the Fs is closed: only that it returns counts
			delete(m.hs, slot)
		}
		return nil
	}
	for _, name := range m.fileNames() {
		if _, mf, _ := m.lookup(name); mf == nil || m.named(mf) != name {
			continue // each file once, by its first name
		}
		f, err := m.fs.OpenFile(m.abs(name), os.O_RDWR, 0)
		if err != nil {
			return m.fail("open", "with faults off, Open(%s): %v", name, err)
		}
		_, mf, _ := m.lookup(name)
		if err := f.Sync(); err != nil {
			f.Close()
			return m.fail("inherited", "with faults off, Sync of a handle of %s opened at the end returned %v", name, err)
		}
		at := m.oracle.Now()
		if d, ok := m.onDisk(mf, 0, nil); !ok {
			f.Close()
			return m.fail("durable", "with faults off, Sync of a fresh handle of %s returned nil, but the file differs from the model: %s", name, d)
		}
		if err := m.oracle.Durable(at, at, f); err != nil {
			f.Close()
			return m.fail("committed", "with faults off, Sync of a fresh handle of %s returned nil, but: %v", name, err)
		}
		if err := f.Close(); err != nil {
			return m.fail("inherited", "with faults off, Close of a handle of %s opened at the end returned %v", name, err)
		}
	}
	for s := range mSlots {
		if h := m.hs[s]; h != nil {
			if v := m.close(s, h); v != nil {
				return v
			}
		}
	}
	return nil
}

// modelDir returns a directory for the model's files: on tmpfs where there
// is one, since the test makes thousands of fsyncs and what it checks does
// not depend on the file system; AIOFS_MODEL_DIR names another.
func modelDir(t *testing.T) string {
	base := os.Getenv("AIOFS_MODEL_DIR")
	if base == "" {
		if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
			return t.TempDir()
		}
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "aiofs-model-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// modelOps is the budget of operations per engine.
func modelOps(t *testing.T, def int) int {
	if s := os.Getenv("AIOFS_MODEL_OPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("AIOFS_MODEL_OPS=%q: %v", s, err)
		}
		return n
	}
	if testing.Short() {
		return def / 10
	}
	return def
}

func TestModel(t *testing.T) {
	t.Parallel()
	testModel(t, true, 50000)
}

// TestModelNoFaults runs the model with no fault injected (delays and
// reordering stay): any violation is a bug of the library or the model.
func TestModelNoFaults(t *testing.T) {
	t.Parallel()
	testModel(t, false, 10000)
}

func testModel(t *testing.T, faults bool, def int) {
	seed := testSeed(t)
	total := modelOps(t, def)
	cfgs := modelConfigs(faults)
	// Every engine, and Wrap over afero.OsFs as one more.
	forEngines(t, func(t *testing.T, engine string) { modelEngine(t, engine, faults, seed, total, cfgs) })
	t.Run("wrap", func(t *testing.T) {
		t.Parallel()
		modelEngine(t, "wrap", faults, seed, total, cfgs)
	})
}

// modelEngine runs testModel's share of ops for each configuration on
// one engine.
func modelEngine(t *testing.T, engine string, faults bool, seed uint64, total int, cfgs []modelConfig) {
	for ci, cfg := range cfgs {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(modelDir(t), "m")
			ops := total / len(cfgs)
			for run := 0; ops > 0; run++ {
				n := min(ops, mRunOps)
				ops -= n
				rs := seed + uint64(ci)<<32 + uint64(run)
				ran, v, _ := runModel(dir, engine, cfg, rs, n, nil)
				if v == nil {
					continue
				}
				t.Errorf("run %d (seed %d): %v\nreproduce: AIOFS_SEED=%d go test -run 'TestModel%s/%s/%s$'",
					run, rs, v, seed, map[bool]string{true: "", false: "NoFaults"}[faults], engine, cfg.name)
				shrunk, sv, faultsSeen := shrink(dir, engine, cfg, rs, ran[:min(v.step+1, len(ran))], v)
				total := len(shrunk)
				if total > 60 {
					shrunk = shrunk[total-60:] // the tail of a sequence that did not shrink
				}
				t.Errorf("shrunk to %d ops (the last %d listed): %v\n%s\nfaults injected in that replay:\n%s", total, len(shrunk), sv, opList(shrunk), faultList(faultsSeen))
				return
			}
		})
	}
}

// shrink looks for a shorter sequence that breaks the same rule, removing
// chunks of ops while that still fails, within a time budget.
func shrink(dir, engine string, cfg modelConfig, seed uint64, ops []mop, v *violation) ([]mop, *violation, []aiofs.Fault) {
	deadline := time.Now().Add(20 * time.Second)
	var faults []aiofs.Fault
	fails := func(cand []mop) bool {
		_, cv, cf := runModel(dir, engine, cfg, seed, 0, cand)
		if cv != nil && cv.rule == v.rule {
			v, faults = cv, cf
			return true
		}
		return false
	}
	if !fails(ops) {
		return ops, &violation{rule: v.rule, msg: "(not reproduced on replay) " + v.msg, step: v.step}, nil
	}
	ops = ops[:min(v.step+1, len(ops))]
	for chunk := len(ops) / 2; chunk >= 1 && time.Now().Before(deadline); {
		removed := false
		for at := 0; at < len(ops) && time.Now().Before(deadline); {
			cand := append(append([]mop(nil), ops[:at]...), ops[min(at+chunk, len(ops)):]...)
			if len(cand) > 0 && fails(cand) {
				ops, removed = cand[:min(len(cand), v.step+1)], true
				continue
			}
			at += chunk
		}
		if !removed {
			chunk /= 2
		}
	}
	return ops, v, faults
}

func opList(ops []mop) string {
	var b strings.Builder
	for i, o := range ops {
		fmt.Fprintf(&b, "\t%d: %v\n", i, o)
	}
	return b.String()
}

func faultList(fs []aiofs.Fault) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\t#%d %s %s off %d len %d done %d: %v\n", f.Seq, f.Op, filepath.Base(f.File), f.Off, f.Len, f.Done, f.Err)
	}
	return b.String()
}

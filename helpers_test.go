package aiofs_test

// The harness of the package's tests: the child processes, the engines,
// the Fs under test, seeds, test data and byte comparisons.
//
// Test files are named for the part they test (cache_, prefetch_, hot_,
// writebehind_, sync_, engine_, wrap_, rawconn_, fs_ for the Fs as a
// whole), whatever the technique. Tests run in parallel (t.Parallel, and
// forEngines' per-engine subtests), except a serial group: tests that
// count goroutines, threads or heap, change process-wide state (working
// directory, umask, flags, package globals), read the counters of a
// shared engine, bound times, or start servers or child processes (a
// child holds copies of the test process's descriptors until it execs,
// which keeps the space of a file another test removed in use). Serial tests never
// overlap a parallel one: go test starts the parallel ones after them.
//
// Knobs: AIOFS_ENGINE (the one engine to test, and the default Fs's),
// AIOFS_SEED (replay a randomized test), AIOFS_EXCLUDE (leave known
// differences out, see excluded), CI=true (what cannot run fails instead
// of skipping), and those of fs_test.go, fs_model_test.go and
// bench_test.go. AIOFS_CHILD is the harness's own.
//
// Where each rule of the product design (DESIGN.md) is checked:
//
// The user's view
//   - afero interfaces, io/fs, net/http and afero's wrappers work unchanged:
//     compile-time checks in fs_test.go; TestFSTest, TestHTTPFileServer,
//     TestBasePathFsDifferential, TestBasePathFsName, TestReadOnlyFsDifferential,
//     TestCacheOnReadFsDifferential, TestCopyOnWriteFs, TestWalk, TestIoutilHelpers.
//   - paths, results and errors as afero.OsFs: TestDifferential (with the
//     scenarios of fs_test.go), TestDifferentialRelative, TestRandomDifferential,
//     TestRandomDifferentialWriteBehind, TestRapidDifferential,
//     TestFileNameIsExactlyTheNameGiven, TestErrorsAreBareErrno,
//     TestOpenErrorReturnsUntypedNil, TestOpenErrorsAsOsFs, TestName.
//   - io.Copy without a slow path: scenario copy-writeto-readfrom.
//   - syscall.Conn only with dirty data flushed and the offset matching:
//     TestSendfileServesBufferedData, TestSyscallConnOffsets.
//   - Stats and the engine asked for (WithEngine, AIOFS_ENGINE, one
//     process-wide engine): TestStatsCount, TestEngineIsTheOneAsked,
//     TestUnavailableEngineFallsBackVisibly, TestFsIsComparable.
//
// Engines
//   - the contract (short transfers continued, errors, closed engine, Close
//     drains, buffers kept until completion, bounded queue):
//     TestEngineContract, TestUringContractModes, TestKqueueOpenEngine,
//     and the tests of internal/uring and internal/kqaio.
//   - falling back visibly: TestUnavailableEngineFallsBackVisibly, TestUringSetup.
//   - synchronous fast paths: TestUringFastPathEOF, TestUringPartialFastPath,
//     TestEngineContract's -queued variant (kqueue).
//   - descriptors closed after their operations: TestCloseFileWhileInUse,
//     TestCloseFsWhileInFlight, TestGoroutinesReturnAfterClose, TestUringThreads,
//     TestUringFsyncPipe.
//
// Read path
//   - one bounded cache shared by a file's handles: TestCacheReadsMatchOsFs,
//     TestCacheConcurrentReaders, TestCacheBoundUnderLoad,
//     TestCacheWriteSeenByOtherHandle, TestCheckInvariants.
//   - readahead windows, interleaved streams, random reads, large reads:
//     TestPrefetchSequential, TestPrefetchColdFileFirstWindow,
//     TestPrefetchInterleavedStreams, TestPrefetchRandomReadsDoNotPrefetch,
//     TestPrefetchLargeReadsBypassCache, TestPrefetchServeContent,
//     TestPrefetchFailureReachesReader, TestPrefetchFileTruncatedByOther;
//     the policy's windows, table by table: TestReadaheadPolicy,
//     TestReadaheadPolicyStreamsReplaced.
//   - a read that a write, flush or truncate of the Fs overlaps returns the
//     file's bytes before or after it, never the zeros FreeBSD's tmpfs
//     shows meanwhile: TestReadRacingGrowth, TestReadRacingCut,
//     TestHotBlocksChurn.
//   - close-to-open consistency: TestCacheSeesOtherProcessChangeAfterReopen,
//     TestCacheSeesRewriteWithRestoredMtime, scenario reopen-after-external-change.
//   - readahead skips what the page cache holds; hot blocks: TestHotBlocksServedFromCache,
//     TestHotBlocksSurviveScan, TestHotBlocksBounded, TestHotBlocksCoherent,
//     TestHotBlocksChurn, TestHotSlotFreedOnce, TestHotSmallFileReopened.
//   - pseudo-files and non-regular files go to the OS: TestReliabilityPseudoFilesFresh,
//     TestPseudoFSFreeBSD, TestOpenFIFOAsOsFs, TestOpenErrorsAsOsFs.
//
// Write path
//   - the dirty bound and backpressure: TestWBDirtyBytesBound,
//     TestWBTinyBoundDoesNotHang, TestRandomDifferentialWriteBehind, TestModel;
//     a sequential writer holds at most the stream window, and has the
//     kernel start writeback as it goes: TestWBStreamWindow,
//     TestWritebackStarted.
//   - read-your-writes, Stat and Readdir sizes: TestWBReadYourWrites,
//     TestWBRandomDifferential, TestWBStatDuringFlush, TestWBChtimesSticks,
//     TestWBConcurrentReadersWriters, TestCacheWriteSeenByOtherHandle,
//     TestReaddirSizeBuffered.
//   - Sync makes durable, Close reports: TestDurabilityAfterSIGKILL, TestModel,
//     TestModelNoFaults.
//   - sticky background errors: TestFaultDevFull, TestFaultENOSPCSticky,
//     TestFaultEFBIGSticky, TestReliabilityStickyReadOnlyAfterDrop,
//     TestReliabilityStickyNotInheritedByOSync, TestWrapFaultWriteSticky,
//     TestFsSyncReportsDroppedData, TestModel.
//   - sizes follow accepted bytes; offsets past the largest fail as the OS
//     fails them: TestReliabilityENOSPCPhantomSize, TestReliabilityEFBIGPhantomSize,
//     TestReliabilityFailedTruncateKeepsSize, TestReliabilityOffsetOverflow,
//     TestReliabilityOffsetOverflowTmpfs, TestReliabilityTerminalWrite,
//     TestWrapDroppedDataLeavesSize, TestFileLimitRlimit.
//   - each write atomic among the Fs's handles: TestRaceOverlappingWriters,
//     TestReliabilityOverlappingWritesTear, TestConcurrentReadWriteAt.
//   - O_APPEND atomic, Truncate ordered: TestWBAppendConcurrent, TestConcurrentAppend,
//     TestWBTruncateOrdering, TestReliabilityTruncateWhileWriterWaits.
//   - O_SYNC/O_DSYNC and WithWriteBehind(0) write through: TestWBWriteThrough,
//     TestWBWriteThroughODSYNC, scenario o-sync-writes-through.
//   - never flushed through O_DIRECT: TestReliabilityODirectHandleFlush,
//     TestDirectReadAtPastEnd.
//   - the cache never disagrees with the file: TestRaceWriteThroughFlushTruncateReadahead,
//     TestReliabilityWriteThroughVsFlush, TestReliabilityTruncateVsWriteThrough,
//     TestReadUnwrittenWaitsForBypass, TestWBCreateTruncWhileFlushing.
//   - Fs.Sync nil only when all is durable: TestFsSyncConcurrentBothWait,
//     TestFsSyncDuringLastClose, TestFsSyncFlushErrorDuringClose,
//     TestFsSyncRemovedHardLink, TestFsSyncDuringReopen, TestFsSyncPastKeepBudget,
//     TestRemoveReleasesKept, TestReliabilityFsSyncUnwrittenFiles,
//     TestReliabilityFsCloseDuringFileClose, TestWrapSyncRenamedThenRecreated,
//     TestWrapSyncRenamedWhileOpen, TestWrapSyncBaseOpenError, TestModel (its
//     durability oracle, tested by TestOracle).
//   - O_TRUNC truncates whatever the access mode: TestOpenTruncReadOnlyDuringFlush.
//   - failed data counted apart from the bound: TestReliabilityDirtyBoundAfterFailedFlush,
//     TestFaultStuckFileDoesNotStallOthers.
//   - when full blocks are flushed (16 dirty blocks): a policy, measured in
//     benchmarks, not asserted.
//   - SyscallConn lends for reading only, offsets never moved behind the File:
//     TestSyscallConnWriteRefused, TestSyscallConnOffsetKeptDuringWriteAt,
//     TestSyscallConnOffsets.
//
// File identity
//   - New: by (device, inode): TestFsSyncRemovedHardLink, TestWBRenameRemoveOpenFile,
//     TestModel (its namespace: links, renames, spellings); where the OS
//     gives no identity (Windows), by absolute path, moved by renames:
//     TestPathKeysFollowNames.
//   - Wrap: by the base's identity or the cleaned path: TestWrapSymlinkDotDotIdentity,
//     TestWrapDotSpelling.
//   - namespace changes atomic with opens: TestWrapRenameOpenRace, TestModel.
//
// Beyond the OS filesystem (Wrap)
//   - a bounded pool over the base's ReadAt, WriteAt and Sync, or one handle
//     under a lock: TestWrapConcurrent, TestWrapUnsupportedReadWriteAt,
//     TestWrapNoGoroutineLeak, TestWrapS3NoLeak.
//   - close-to-open through the base's Stat: TestWrapOpenOldStat, TestWrapS3ChangedBehind.
//   - what a wrapped handle cannot serve goes to the base: TestEmptyReadWriteAtAfterClose,
//     TestWrapEmptyWriteAtReadOnly, TestWrapSeekFarPastEnd, TestWrapBasePathCreateOp.
//   - the base's own paths, names and errors: TestWrapDifferential, TestWrapFSTest,
//     TestWrapName, TestWrapRenameOntoItself, TestWrapMemHole,
//     TestWrapSFTPDifferential, TestWrapS3Differential, TestWrapSFTPReaddirBatches.
//   - the base's errors follow the write-behind rules: TestWrapFaultReadAt,
//     TestWrapFaultShortWrite, TestWrapFaultBlockedFlush, TestWrapFaultSyncError,
//     TestWrapFaultBackgroundFlush, TestWrapWriteToRemovedNeedsRoom,
//     TestWrapSyncFlushesRemoved, TestWrapSFTPCut, TestWrapSFTPFullDisk,
//     TestWrapS3CutClose, TestWrapS3CutReadahead, TestWrapS3CutUpload,
//     TestWrapS3Concurrent, TestWrapCallTimeoutRead, TestWrapCallTimeoutWrite,
//     TestWrapCallTimeoutClose.
//
// The harness's own tests, so that it cannot pass blind:
// TestHarnessDetectsDifferences, TestCacheDropPageCacheWorks, TestFaultEngine,
// TestOracle.

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs"
)

// childEnv names the role of a child process, "role:arg". A test needs
// one when what it does is process-wide (RLIMIT_FSIZE) or ends the
// process (SIGKILL).
const childEnv = "AIOFS_CHILD"

// children are the roles a child process can take, registered by the
// files that use them. A role gets the arg of childEnv and the engine of
// AIOFS_ENGINE.
var children = map[string]func(t *testing.T, arg, engine string){}

// TestMain makes a child process (childCmd) run its role, in TestChild,
// and nothing else, whatever -test.run says.
func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(childEnv) != "" {
		flag.Set("test.run", "^TestChild$")
	}
	os.Exit(m.Run())
}

// TestChild runs the role of a child process; it skips in a normal run.
func TestChild(t *testing.T) {
	role, arg, _ := strings.Cut(os.Getenv(childEnv), ":")
	if role == "" {
		t.Skip("runs only in a child process (childCmd)")
	}
	run := children[role]
	if run == nil {
		t.Fatalf("unknown child role %q", role)
	}
	run(t, arg, os.Getenv("AIOFS_ENGINE"))
}

// childCmd returns the command that runs this test binary again as a
// child process in role, with arg, and engine as its default engine
// (unless "").
func childCmd(ctx context.Context, role, arg, engine string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+role+":"+arg)
	if engine != "" {
		cmd.Env = append(cmd.Env, "AIOFS_ENGINE="+engine)
	}
	return cmd
}

// runChild runs role in a child process and fails t if the child fails.
func runChild(t *testing.T, role, arg, engine string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := childCmd(ctx, role, arg, engine).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestChild")) {
		t.Fatalf("child %s: %v\n%s", role, err, out)
	}
	t.Logf("child:\n%s", out)
}

// forEngines, parallelForEngines and forEnginesSerial run a test once per
// engine under test (engine_test.go).
var forEngines, parallelForEngines, forEnginesSerial = aiofs.ForEngines, aiofs.ParallelForEngines, aiofs.ForEnginesSerial

// newAio makes an aiofs.Fs with an engine of its own of the named kind
// (from forEngines), or, for "", the process-wide engine; it is closed
// (and its Close checked) when the test ends. opts come after the
// engine's, and may override it.
func newAio(t testing.TB, engine string, opts ...aiofs.Option) *aiofs.Fs {
	t.Helper()
	if engine != "" {
		opts = append([]aiofs.Option{aiofs.WithEngine(engine)}, opts...)
	}
	fsys := aiofs.New(opts...)
	t.Cleanup(func() {
		if err := fsys.Close(); err != nil {
			t.Errorf("aiofs Fs.Close: %v", err)
		}
	})
	return fsys
}

// excluded reports whether AIOFS_EXCLUDE (a comma-separated list) names
// class. It lets a developer look for further differences while a known
// one is being fixed; by default nothing is excluded. Classes of the
// random differential tests: emptywrite (Write, WriteString and ReadFrom
// of nothing, which leave an O_APPEND handle's offset alone in package
// os). Of TestModel: hugetrunc (Truncate past the largest size),
// failedwrite (after a failed Write or WriteAt the file is cut back to the
// model's size and the handle's offset put back), dropsync (a Sync may
// succeed after the data that failed while its handle was open was
// dropped); and in its namespace (fs_model_namespace_test.go): namespace
// (no namespace op), links (no hard or symbolic link), spellings (every
// name spelled plainly), linkdotdot (no spelling through the link t),
// bgsync (no background or paired Fs.Sync), fsclose (no final Fs.Close).
func excluded(class string) bool {
	for _, x := range strings.Split(os.Getenv("AIOFS_EXCLUDE"), ",") {
		if strings.TrimSpace(x) == class {
			return true
		}
	}
	return false
}

// testSeed returns the seed of a randomized test: AIOFS_SEED when set, a
// new one otherwise, logged so that a failure can be replayed.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	if s := os.Getenv("AIOFS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("AIOFS_SEED=%q: %v", s, err)
		}
		return v
	}
	v := uint64(time.Now().UnixNano())
	t.Logf("seed %d (replay with AIOFS_SEED=%d)", v, v)
	return v
}

// newRand returns the random stream of a seed; tests that need several
// independent ones tell them apart by stream.
func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream^0x9e3779b97f4a7c15))
}

// pattern returns n bytes (none if n < 0) of the pattern of seed from
// offset off: each byte depends on seed and its offset only, so a checker
// can tell what any range of a file should hold, and bytes written to the
// wrong place or by the wrong writer show.
func pattern(seed uint64, off int64, n int) []byte {
	p := make([]byte, max(n, 0))
	fillPattern(p, seed, off)
	return p
}

// patterns returns n patterns of size bytes, the ith of stream i of seed:
// the contents of n files that a checker can tell apart.
func patterns(seed uint64, n, size int) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		ps[i] = pattern(newRand(seed, uint64(i)).Uint64(), 0, size)
	}
	return ps
}

// fillPattern fills p with the pattern of seed from offset off.
func fillPattern(p []byte, seed uint64, off int64) {
	var word uint64
	for i := range p {
		at := uint64(off) + uint64(i)
		if i == 0 || at%8 == 0 {
			// splitmix64 of the seed and the 8-byte word's index.
			word = seed*0x9e3779b97f4a7c15 + at/8*0xbf58476d1ce4e5b9 + 0x94d049bb133111eb
			word ^= word >> 30
			word *= 0xbf58476d1ce4e5b9
			word ^= word >> 27
			word *= 0x94d049bb133111eb
			word ^= word >> 31
		}
		p[i] = byte(word >> (at % 8 * 8))
	}
}

// sampleMax calls sample as often as it can, yielding between calls,
// until the stop it returns is called, and once more then; stop returns
// the largest value seen and how many samples were taken.
func sampleMax(sample func() int64) (stop func() (largest, samples int64)) {
	done, finished := make(chan struct{}), make(chan struct{})
	var largest, samples int64
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			default:
			}
			largest = max(largest, sample())
			samples++
			runtime.Gosched()
		}
	}()
	return func() (int64, int64) {
		close(done)
		<-finished
		// Once more at the end: a sampler that got no core while the
		// work ran (one P, or a loaded machine) saw only its start.
		return max(largest, sample()), samples + 1
	}
}

// mustOpen opens name through fsys (perm 0o644 where it creates) or
// fails the test.
func mustOpen(t testing.TB, fsys afero.Fs, name string, flag int) afero.File {
	t.Helper()
	f, err := fsys.OpenFile(name, flag, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// atOnce runs each call in a goroutine of its own and returns their
// errors, in the order of calls, once all have returned.
func atOnce(calls ...func() error) []error {
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = call()
		}()
	}
	wg.Wait()
	return errs
}

// diff describes how a and b differ, naming them la and lb: their
// lengths and the first byte that differs.
func diff(a, b []byte, la, lb string) string {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return fmt.Sprintf("lengths %d/%d, first difference at byte %d: %s %#02x, %s %#02x", len(a), len(b), i, la, a[i], lb, b[i])
		}
	}
	if len(a) == len(b) {
		return "equal"
	}
	return fmt.Sprintf("lengths %d/%d, equal up to the shorter", len(a), len(b))
}

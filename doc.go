// Package aiofs is an afero.Fs over the operating system's files whose
// reads and writes run on one shared asynchronous I/O engine, with
// readahead prefetch and write-behind.
//
// Code written against afero switches by changing one line:
//
//	fs := aiofs.New() // instead of afero.NewOsFs()
//	defer fs.Close()
//
// and Wrap gives any other afero.Fs (SFTP, buckets, memory) the same cache,
// readahead and write-behind:
//
//	fs := aiofs.Wrap(remote)
//
// # The model
//
// Path operations (open, stat, mkdir, rename, remove, readdir) call the
// operating system directly, as afero.OsFs does. The data of regular files
// (Read, ReadAt, Write, WriteAt, Sync) goes through an engine: io_uring on
// Linux, POSIX AIO with kqueue completions on FreeBSD, and a bounded pool
// of goroutines doing pread and pwrite everywhere else and whenever the
// platform engine is refused (old kernels, seccomp). With io_uring, a
// goroutine whose read waits for the disk blocks only itself, not an OS
// thread, so thousands of concurrent cold reads need a handful of threads.
// Where the ring would only add hand-offs, the engine calls the kernel
// directly: for data the page cache holds, and for writes the kernel
// would hand to a worker thread anyway (see engine_linux.go and
// engine_freebsd.go).
// The environment variable
// AIOFS_ENGINE (uring, kqueue or pool) picks the engine of every Fs made
// without WithEngine; Stats reports the engine in use and why a fallback
// happened.
//
// Every handle of a file in one Fs shares that file's state: a block cache
// bounded by WithCacheSize, filled by readahead when a handle reads
// sequentially (the window grows up to WithReadahead) and with blocks that
// readers keep coming back to (hot blocks, read from memory without a
// system call; a single pass over a large file does not evict them), and
// dirty blocks
// that Write fills and the engine writes behind, bounded by
// WithWriteBehind. The blocks live outside the Go heap (on Unix), so that
// the collector's headroom does not double them; Close drops the cache
// and gives its memory back. Handles of the same Fs see each other's writes at once;
// other processes see them once flushed (Sync, Close, or a short delay),
// and this Fs sees other processes' changes when it next opens the file.
//
// An Fs made by Wrap works the same way over its base: path operations
// are the base's, and the data of regular files moves through a pool of
// goroutines calling the base files' ReadAt, WriteAt and Sync, several at a
// time per file (see Wrap).
//
// # Errors
//
// Errors are those package os returns: *os.PathError with the same Op and
// the bare errno; in a wrapped Fs, the base's own. A write that fails in the background is never dropped:
// every handle of the file that was open when it failed returns it from
// its next Write, WriteAt, Sync and Close, until one of its Syncs
// succeeds. The data stays dirty and Sync retries it.
//
// Under faults: a Write returns only what it accepted, and the Fs's
// sizes count only accepted bytes; a Truncate that fails changes nothing;
// a write the file system would refuse (past its largest file size, or
// RLIMIT_FSIZE) goes to the OS and fails as it fails there; concurrent
// writes of one file never interleave; and Fs.Sync returns nil only when
// everything written through the Fs before it is durable, closed files
// included.
//
// # Differences from afero.OsFs
//
// A Write of 256 KiB or more with nothing buffered goes straight to the
// file, as a read larger than the readahead window does. Files that are
// not regular, and the files of pseudo-filesystems (procfs, sysfs,
// cgroupfs and the like, whose contents change without their size or
// times changing), are served by package os exactly as afero.OsFs serves
// them: never cached, prefetched or written behind. O_APPEND writes
// land at the end of the file as this Fs knows it,
// atomically with respect to other handles of the Fs but not to other
// processes. Written data reaches other processes only after it is
// flushed. File.SyscallConn writes the file's buffered data before it
// lends its descriptor to sendfile, and refuses raw writes. On Linux the
// largest file size is learned once per device, up to 2 GiB: should an
// unmount free a device number for a file system that takes less, a
// buffered write past its size there fails at the flush, and the next
// Write, Sync or Close reports it.
//
// # Where things are
//
// In the order data flows:
//
//   - fs.go: Fs, New, path operations and Close; options.go, stats.go;
//     store.go, what differs between New's files and Wrap's (one small
//     type); wrap.go, Wrap, the names of path-keyed files and the base
//     files its engine calls; wrap_timeout.go, the bound WithCallTimeout
//     puts on each call to the base.
//   - file.go: File, its offset and the afero.File methods; admit.go, a
//     File's kind and the one admission check of its operations;
//     opguard.go, the count that keeps a File's descriptor open while it
//     is used; dir.go, copy.go and rawconn.go, directories, io.Copy, and
//     the descriptor lent to sendfile.
//   - node.go: the state all handles of one file share, attach and
//     detach; stat.go, sizes that include buffered data.
//   - cache.go: the locking rules, the states of a block and every change
//     of them, the LRU cache and eviction; block.go, the block itself;
//     blockmem.go, the blocks' memory, outside the Go heap (mapmem_*.go);
//     hot.go, blocks kept because readers come back to them, read without
//     a lock.
//   - read.go: reads from blocks and the file; readahead.go, the
//     readahead policy (state in, windows out); prefetch.go, the windows'
//     loads.
//   - writebehind.go: writes into dirty blocks, the dirty bound, writes
//     straight to the file; flush.go, flushing and File.Sync; truncate.go;
//     limits.go, how far writes may reach; writeback.go, starting the
//     kernel's writeback of a long write; commit.go, Fs.Sync and the
//     closed files it still has to commit.
//   - engine.go: the engine interface and the closing gate every engine
//     uses; errors.go, the bare errno the File wraps; engine_pool.go, the
//     portable pool; engine_linux.go, io_uring's fast paths over the ring
//     of internal/uring (kernel ABI, mapping, submission, completion);
//     engine_freebsd.go, its direct small reads over internal/kqaio
//     (POSIX AIO with kqueue completions, and the kernel's layouts).
//   - Per system: sys_* (file identity), flags_* (O_DSYNC, O_DIRECT),
//     open_* (opening as package os does), keep_* (descriptors kept for
//     Fs.Sync), ctime_*, pagecache_* (cachestat), hugepage_*, pseudofs_*,
//     limits_* and seeklimit_* (how far writes and lseek go), maxoffset_*
//     (transfers that would pass the largest offset), syncall_*.
package aiofs

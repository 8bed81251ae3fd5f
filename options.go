package aiofs

import "time"

// An Option configures an Fs made by New or Wrap.
type Option func(*config)

type config struct {
	engine      string // "" uses the process-wide engine
	queueDepth  int
	cacheSize   int64
	readahead   int64
	writeBehind int64
	callTimeout time.Duration // Wrap: bound on each call to the base; 0 for none

	// engineHook, set only by tests, wraps the engine the Fs would use: the
	// fault-injecting engine of the reliability tests.
	engineHook func(engine) engine
}

// Defaults for an Fs made without options.
const (
	DefaultCacheSize   = 32 << 20 // bytes of clean cached blocks
	DefaultReadahead   = 2 << 20  // largest prefetch window
	DefaultWriteBehind = 16 << 20 // dirty bytes before writers wait
)

func defaultConfig() config {
	return config{
		cacheSize:   DefaultCacheSize,
		readahead:   DefaultReadahead,
		writeBehind: DefaultWriteBehind,
	}
}

// WithEngine gives the Fs an engine of its own of the named kind: "uring"
// (Linux io_uring), "kqueue" (FreeBSD POSIX AIO) or "pool" (a goroutine
// pool over pread and pwrite, available everywhere). An engine the system
// lacks is replaced by the pool, and Stats says why.
func WithEngine(name string) Option {
	return func(c *config) { c.engine = name }
}

// WithQueueDepth gives the Fs an engine of its own that keeps at most n
// operations in flight; further callers wait for a free slot. For the pool
// engine n is the number of worker goroutines.
func WithQueueDepth(n int) Option {
	return func(c *config) { c.queueDepth = n }
}

// WithCacheSize bounds the bytes held by the Fs's block cache, including
// prefetch in flight. A size below one block turns the cache and prefetch
// off.
func WithCacheSize(bytes int64) Option {
	return func(c *config) { c.cacheSize = bytes }
}

// WithReadahead sets the largest prefetch window of a sequential reader.
// Zero turns prefetch off.
func WithReadahead(bytes int64) Option {
	return func(c *config) { c.readahead = bytes }
}

// WithWriteBehind bounds the bytes that writes may leave unflushed across
// the Fs; at the bound, writers wait for flushes to make room. Zero makes
// every write complete on disk before it returns (write-through).
func WithWriteBehind(maxDirty int64) Option {
	return func(c *config) { c.writeBehind = maxDirty }
}

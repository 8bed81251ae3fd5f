// Command compare runs the same workloads on several afero backends and
// prints a table: throughput, operations per second, median and 99th
// percentile latency per operation, bytes allocated, and speed relative to
// afero.OsFs and, for a backend over another one, to that one alone.
//
//	go run ./examples/compare                 # which backend for my workload: a few minutes
//	go run ./examples/compare -size 1GiB -dir /mnt/nvme
//	go run ./examples/compare -backends os,mem,mem-wrapped -cold=false
//	go run ./examples/compare -json > out.json
//
// Backends: os (afero.OsFs), aiofs-<engine> for each engine this system
// offers (uring on Linux, kqueue on FreeBSD, and pool everywhere), sftp
// (an SFTP client Fs) and sftp-wrapped (aiofs.Wrap over it), s3 (an S3
// client Fs, internal/s3fs) and s3-wrapped (aiofs.Wrap over it), mem
// (afero.MemMapFs), mem-wrapped (aiofs.Wrap over that MemMapFs) and
// aiofs-ra0-wb0 (aiofs without prefetch and write-behind:
// WithReadahead(0), WithWriteBehind(0)).
//
// By default compare answers the question a user brings, which backend
// for my workload, with the cases where the backends differ: os and
// aiofs on the platform's own engine, read cold (see -cold), and the
// remote stores bare and wrapped, where every request costs a round
// trip and Wrap's readahead, cache and write-behind pay. mem and
// mem-wrapped (a cache over memory cannot win), the pool engine where it
// is not the platform's, and aiofs-ra0-wb0 run when -backends names them.
// Every aiofs run gets a new Fs, so its block cache starts empty. The mem
// runs share the one MemMapFs that holds their inputs, as the runs on a
// remote store share one connection.
//
// The sftp backends talk to a server on 127.0.0.1 that compare starts,
// serving a directory under the work directory: OpenSSH's sshd
// (/usr/sbin/sshd, run as root, from Debian's openssh-server) when it
// starts, else pkg/sftp's server in process, which needs neither root nor
// sshd, with a note on stderr; -sftp-server picks one. The s3 backends
// talk to SeaweedFS's S3 gateway, which compare starts on 127.0.0.1 with
// its data in a temporary directory (internal/s3test); it must have been
// built once (go run ./internal/s3test/buildweed, some minutes), and
// without it the s3 backends are skipped with a note. Both connections go
// through a proxy that delays each direction by -delay (1ms, a 2 ms round
// trip, as to a server nearby). Since every small request costs that
// round trip, the remote stores are filled and measured at smaller sizes,
// the smaller of -size and -remote-size (8 MiB), -ops and -remote-ops
// (512), -files and -remote-files (200), which the table's header states;
// MB/s and ops/s stay comparable with the local rows. pkg/sftp's server
// has no fsync@openssh.com, so File.Sync fails there with an error
// matching errors.ErrUnsupported: compare tries a Sync on each store first
// and skips the Sync workloads where it fails so, with a warning.
//
// Workloads: seqread (128 KiB Reads of a -size file), randread-1g and
// randread-32g (-ops 4 KiB ReadAts at random offsets by 1 and 32
// goroutines), write4k-sync and write1m-sync (-size bytes in 4 KiB or
// 1 MiB Writes, then Sync), smallfiles (-files files created, written with
// 4 KiB and closed) and walk (afero.Walk over a tree of -files entries).
//
// Single runs on a shared machine are noisy, and a fixed order favours
// whoever runs first. So each workload runs -count times (3 by default) on
// every backend, in rounds: round i visits the backends in their order
// rotated by i. A cell (backend, workload) shows the run of median time,
// and beside its ops/s the spread "±": the largest distance of one run's
// ops/s from the median, as a percentage of the median, so every run lies
// within median ± spread. -count 1 is allowed, with a warning: it shows no
// spread.
//
// The "vs os" column is the backend's median operations per second divided
// by afero.OsFs's for the same workload: above 1 is faster. Its "±" is the
// same kind of spread, of the ratios of the runs paired by round, around
// that ratio. A cell is marked "~" (within noise), with a footnote and a
// warning on stderr, when its difference from os is smaller than its
// spread: when 1 lies within vs os·(1 ± s), s the larger of the cell's ±
// and its ratio's ±. Another set of runs could then report the opposite.
// The "vs base" column, shown when a wrapped backend runs with its base,
// is the same ratio against the base (mem-wrapped against mem,
// sftp-wrapped against sftp, s3-wrapped against s3): what Wrap gains over
// the backend it wraps.
// p50, p99 and the allocation column (the growth of
// runtime.MemStats.TotalAlloc) are those of the median run. -json prints
// every run's seconds and ops/s, the spreads and the paired ratios too.
//
// Progress goes to stderr, one line per run; -q silences it, but not the
// warnings.
//
// -cold (the default) syncs and drops the page cache (echo 3 >
// /proc/sys/vm/drop_caches) before each run on the local disk, so that
// reads come from the device, as they do for data bigger than memory;
// that needs root on Linux, and where it is refused compare says so on
// stderr and in the table, and the runs are warm. -cold=false runs warm. Work files go to a temporary directory under -dir (the
// system's temporary directory by default), removed at the end, on error
// and on Ctrl-C.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs/internal/bytesize"
)

type config struct {
	size      int64
	ops       int
	files     int
	count     int
	json      bool
	cold      bool
	dir       string
	backends  string
	workloads string
	quiet     bool

	// The remote store: its sizes are the smaller of these and the ones
	// above.
	remoteSize  int64
	remoteOps   int
	remoteFiles int
	delay       time.Duration // each way, between the client and the SFTP server
	sftpServer  string        // "sshd", "inprocess" or "" for sshd, else in process
}

// byteSize is a flag value in bytes that accepts suffixes: 64MiB, 1GiB,
// 512KiB, 4K, 1G.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	v, err := bytesize.Parse(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

func main() {
	cfg := &config{}
	size := byteSize(128 << 20)
	flag.Var(&size, "size", "bytes of the data file and of each write workload (accepts KiB, MiB, GiB)")
	flag.IntVar(&cfg.ops, "ops", 65536, "4 KiB random reads per randread workload")
	flag.IntVar(&cfg.files, "files", 2000, "files of the smallfiles workload and of the walked tree")
	flag.IntVar(&cfg.count, "count", 3, "runs of each workload on each backend, in rotated order; the table shows the median and the spread (1 is allowed but has no spread)")
	flag.BoolVar(&cfg.json, "json", false, "print one JSON document instead of the table")
	flag.BoolVar(&cfg.cold, "cold", true, "drop the page cache before each run on the local disk (Linux, root; where that is refused the runs are warm, with a note); -cold=false for warm runs")
	flag.StringVar(&cfg.dir, "dir", "", "directory for the work files (default: the system's temporary directory)")
	flag.StringVar(&cfg.backends, "backends", "", "comma-separated backends to run (default: all)")
	flag.StringVar(&cfg.workloads, "workloads", "", "comma-separated workloads to run (default: all)")
	flag.BoolVar(&cfg.quiet, "q", false, "no progress lines on stderr")
	remoteSize := byteSize(8 << 20)
	flag.Var(&remoteSize, "remote-size", "at most this -size on the sftp store")
	flag.IntVar(&cfg.remoteOps, "remote-ops", 512, "at most this -ops on the sftp store")
	flag.IntVar(&cfg.remoteFiles, "remote-files", 200, "at most this -files on the sftp store")
	flag.DurationVar(&cfg.delay, "delay", time.Millisecond, "delay each way between the SFTP client and server (1ms is a 2ms round trip; 0 for none)")
	flag.StringVar(&cfg.sftpServer, "sftp-server", "", `SFTP server: "sshd" (OpenSSH), "inprocess" (pkg/sftp's) or "" for sshd if it starts, else inprocess`)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: compare [flags]\n\nWorkloads:\n")
		for _, w := range workloads {
			fmt.Fprintf(flag.CommandLine.Output(), "  %-13s %s\n", w.name, w.desc)
		}
		fmt.Fprintf(flag.CommandLine.Output(), "\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	cfg.size, cfg.remoteSize = int64(size), int64(remoteSize)
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "compare: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	if cfg.size < randChunk || cfg.remoteSize < randChunk || cfg.ops < 1 || cfg.remoteOps < 1 ||
		cfg.files < 1 || cfg.remoteFiles < 1 || cfg.count < 1 || cfg.delay < 0 {
		fmt.Fprintln(os.Stderr, "compare: -size and -remote-size must be at least 4KiB, -ops, -remote-ops, -files, -remote-files and -count at least 1, -delay not negative")
		os.Exit(2)
	}
	if !slices.Contains([]string{"", "sshd", "inprocess"}, cfg.sftpServer) {
		fmt.Fprintf(os.Stderr, "compare: -sftp-server %q: want sshd or inprocess\n", cfg.sftpServer)
		os.Exit(2)
	}

	parent := cfg.dir
	if parent == "" {
		parent = os.TempDir()
	}
	work, err := os.MkdirTemp(parent, "aiofs-compare-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
	cleanup := func() {
		if err := os.RemoveAll(work); err != nil {
			fmt.Fprintln(os.Stderr, "compare: removing work files:", err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, work, os.Stdout) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		stop()
		fmt.Fprintln(os.Stderr, "compare: interrupted, stopping and removing work files")
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			fmt.Fprintln(os.Stderr, "compare: a run does not stop; removing work files anyway")
		}
		cleanup()
		os.Exit(130)
	}
	stop()
	cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func selected(list, name string) bool {
	if list == "" {
		return true
	}
	return slices.Contains(strings.Split(list, ","), name)
}

// unknown returns the first name in the comma-separated list that names
// none of have.
func unknown(list string, have []string) string {
	if list == "" {
		return ""
	}
	for name := range strings.SplitSeq(list, ",") {
		if !slices.Contains(have, name) {
			return name
		}
	}
	return ""
}

// sizes returns the configuration of the runs on store s: cfg's, capped
// by the -remote-* flags for a remote store.
func sizes(cfg *config, s store) *config {
	if !s.remote {
		return cfg
	}
	c := *cfg
	c.size, c.ops, c.files = min(c.size, c.remoteSize), min(c.ops, c.remoteOps), min(c.files, c.remoteFiles)
	return &c
}

// syncFailure tries a Sync of a new file in dir of fs, and returns its
// error when it fails as unsupported (errors.ErrUnsupported): SFTP
// servers without fsync@openssh.com.
func syncFailure(fs afero.Fs, dir string) (string, error) {
	name := filepath.Join(dir, "sync-probe")
	f, err := fs.Create(name)
	if err != nil {
		return "", err
	}
	serr := f.Sync()
	err = errors.Join(f.Close(), fs.Remove(name))
	if errors.Is(serr, errors.ErrUnsupported) {
		return serr.Error(), err
	}
	return "", errors.Join(serr, err)
}

func run(ctx context.Context, cfg *config, work string, stdout io.Writer) (err error) {
	var stopped atomic.Bool
	go func() {
		<-ctx.Done()
		stopped.Store(true)
	}()
	progress := func(format string, args ...any) {
		if !cfg.quiet {
			fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
		}
	}
	warn := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "compare: warning: "+format+"\n", args...)
	}

	var bs []backend
	var names []string
	baseOf := map[string]string{}
	for _, b := range backendTable() {
		names = append(names, b.name)
		if b.optional && cfg.backends == "" || !selected(cfg.backends, b.name) {
			continue
		}
		bs = append(bs, b)
		baseOf[b.name] = b.base
	}
	if name := unknown(cfg.backends, names); name != "" {
		return fmt.Errorf("no backend %q; there are %s", name, strings.Join(names, ", "))
	}
	var ws []workload
	names = nil
	for _, w := range workloads {
		names = append(names, w.name)
		if selected(cfg.workloads, w.name) {
			ws = append(ws, w)
		}
	}
	if name := unknown(cfg.workloads, names); name != "" {
		return fmt.Errorf("no workload %q; there are %s", name, strings.Join(names, ", "))
	}
	if len(bs) == 0 || len(ws) == 0 {
		return errors.New("no backend or no workload selected")
	}
	if cfg.count == 1 {
		warn(countNote)
	}

	rep := &Report{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(),
		Dir: work, Size: cfg.size, Ops: cfg.ops, Files: cfg.files, Count: cfg.count, Cold: cfg.cold,
	}
	for _, w := range ws {
		rep.Workloads = append(rep.Workloads, w.name)
	}

	// Open each store the selected backends use, once.
	bases := map[string]*opened{}
	unavailable := map[string]string{} // store: why it cannot be had
	defer func() {
		for _, b := range bases {
			if cerr := b.close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("closing the %s store: %w", b.name, cerr))
			}
		}
	}()
	for _, b := range bs {
		if bases[b.store] != nil || unavailable[b.store] != "" {
			continue
		}
		s, err := findStore(b.store)
		if err != nil {
			return err
		}
		o, err := s.open(work, cfg)
		if errors.Is(err, errUnavailable) && cfg.backends == "" {
			unavailable[s.name] = err.Error()
			warn("the %s store is skipped: %v", s.name, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("opening the %s store: %w", s.name, err)
		}
		o.store, o.cfg = s, sizes(cfg, s)
		bases[s.name] = o
		if o.noSync, err = syncFailure(o.fs, o.dir); err != nil {
			return fmt.Errorf("trying Sync on the %s store: %w", s.name, err)
		}
		if o.noSync != "" {
			warn("Sync fails on the %s store, its Sync workloads are skipped: %s", s.name, o.noSync)
		}
	}
	for _, s := range stores {
		if o := bases[s.name]; o != nil {
			rep.Stores = append(rep.Stores, StoreInfo{Name: s.name, About: o.about,
				Size: o.cfg.size, Ops: o.cfg.ops, Files: o.cfg.files, NoSync: o.noSync})
		}
	}

	var running []backend
	for _, b := range bs {
		if why := unavailable[b.store]; why != "" {
			rep.Backends = append(rep.Backends, BackendInfo{Name: b.name, Skipped: why})
			continue
		}
		info := probe(b, bases[b.store].fs)
		rep.Backends = append(rep.Backends, info)
		if info.Skipped != "" {
			progress("skipping %s: %s", b.name, info.Skipped)
			continue
		}
		running = append(running, b)
	}

	cold := cfg.cold
	if cold {
		if err := dropCaches(); err != nil {
			cold = false
			rep.ColdNote = "cannot drop the page cache, runs are warm: " + err.Error()
			fmt.Fprintln(os.Stderr, "compare: -cold:", rep.ColdNote)
		}
	}

	inputs := func(o *opened) (in, out string) { return filepath.Join(o.dir, "in"), filepath.Join(o.dir, "out") }
	prepared := map[string]bool{}
	for _, b := range running {
		if prepared[b.store] {
			continue
		}
		prepared[b.store] = true
		o := bases[b.store]
		in, _ := inputs(o)
		progress("preparing %s of data and %d files in the %s store at %s", formatBytes(float64(o.cfg.size)), o.cfg.files, b.store, in)
		if err := prepare(o.fs, in, o.cfg); err != nil {
			return fmt.Errorf("preparing inputs in the %s store: %w", b.store, err)
		}
	}

	// A cell of a Sync workload on a store where Sync fails is skipped.
	skip := func(b backend, w workload) bool { return w.syncs && bases[b.store].noSync != "" }
	total := 0
	for _, w := range ws {
		for _, b := range running {
			if !skip(b, w) {
				total += cfg.count
			}
		}
	}
	// Workload by workload, run i of every cell, visiting the backends in
	// the i-th rotation of their order.
	width := len(strconv.Itoa(total))
	done := 0
	for _, w := range ws {
		runs := make([][]Row, len(running))
		for i := range cfg.count {
			for _, k := range rotation(len(running), i) {
				b := running[k]
				if skip(b, w) {
					continue
				}
				done++
				if n := len(runs[k]); n > 0 && runs[k][n-1].Error != "" {
					continue // the cell stopped at its failure
				}
				if stopped.Load() {
					return ctx.Err()
				}
				bb := bases[b.store]
				in, out := inputs(bb)
				row, err := measure(b, w, bb.fs, cold && bb.pageCache, in, out, bb.cfg, &stopped)
				if errors.Is(err, errStopped) {
					return ctx.Err()
				}
				if err != nil {
					return err
				}
				runs[k] = append(runs[k], row)
				status := "ok"
				if row.Error != "" {
					status = "ERROR: " + row.Error
				}
				progress("[%*d/%d] %-12s run %d/%d  %-13s %7.3fs  %s",
					width, done, total, w.name, i+1, cfg.count, b.name, row.Seconds, status)
			}
		}
		for k, b := range running {
			if skip(b, w) {
				rep.Rows = append(rep.Rows, Row{Workload: w.name, Backend: b.name, Skipped: "Sync fails on the " + b.store + " store"})
				continue
			}
			rep.Rows = append(rep.Rows, summarize(runs[k]))
		}
	}

	compareToOs(rep.Rows)
	compareToBase(rep.Rows, baseOf)
	for _, r := range rep.Rows {
		if r.WithinNoise {
			warn("%s on %s: %.2fx os is within noise (±%.0f%% over %d runs)",
				r.Workload, r.Backend, r.VsOs, 100*max(r.Spread, r.VsOsSpread), r.Runs)
		}
		if r.BaseWithinNoise {
			warn("%s on %s: %.2fx %s is within noise (±%.0f%% over %d runs)",
				r.Workload, r.Backend, r.VsBase, r.Base, 100*max(r.Spread, r.VsBaseSpread), r.Runs)
		}
	}

	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printTable(stdout, rep)
	for _, r := range rep.Rows {
		if r.Error != "" {
			return fmt.Errorf("%s on %s failed: %s", r.Workload, r.Backend, r.Error)
		}
	}
	return nil
}

// measure runs workload w once on a new Fs of backend b over the store's
// Fs base, dropping the page cache first if cold. The error is for the
// harness failing, not the workload.
func measure(b backend, w workload, base afero.Fs, cold bool, in, out string, cfg *config, stopped *atomic.Bool) (Row, error) {
	fs, closeFs := b.open(base)
	if err := fs.MkdirAll(out, 0o755); err != nil {
		closeFs()
		return Row{}, err
	}
	row := Row{Workload: w.name, Backend: b.name}
	if cold {
		if err := dropCaches(); err != nil {
			fmt.Fprintln(os.Stderr, "compare: dropping the page cache:", err)
		} else {
			row.Cold = true
		}
	}
	e := &env{fs: fs, in: in, out: out, cfg: cfg, stopped: stopped}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	o := w.run(e)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err := closeFs(); err != nil && o.err == nil {
		o.err = fmt.Errorf("closing the Fs: %w", err)
	}
	// Through the store, as the run's Fs is closed.
	if err := base.RemoveAll(out); err != nil && o.err == nil {
		o.err = fmt.Errorf("removing outputs: %w", err)
	}
	if errors.Is(o.err, errStopped) {
		return Row{}, errStopped
	}
	row.Bytes, row.Ops, row.Seconds = o.bytes, o.ops, elapsed.Seconds()
	row.AllocBytes = after.TotalAlloc - before.TotalAlloc
	if s := elapsed.Seconds(); s > 0 {
		row.MBPerSec = float64(o.bytes) / 1e6 / s
		row.OpsPerSec = float64(o.ops) / s
	}
	row.P50Micros, row.P99Micros = percentile(o.lat, 0.50), percentile(o.lat, 0.99)
	if o.err != nil {
		row.Error = o.err.Error()
	}
	return row, nil
}

// percentile returns the p-quantile of lat in microseconds (nearest rank).
func percentile(lat []time.Duration, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i]) / float64(time.Microsecond)
}

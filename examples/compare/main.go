// Command compare runs the same workloads on several afero backends and
// prints a table: throughput, operations per second, median and 99th
// percentile latency per operation, bytes allocated, and speed relative to
// afero.OsFs.
//
//	go run ./examples/compare                 # default sizes, about 30 s
//	go run ./examples/compare -size 1GiB -cold -dir /mnt/nvme
//	go run ./examples/compare -json > out.json
//
// Backends: os (afero.OsFs), mem (afero.MemMapFs), aiofs-<engine> for each
// engine this system offers (uring on Linux, kqueue on FreeBSD, and pool
// everywhere), and aiofs-ra0-wb0 (aiofs without prefetch and write-behind:
// WithReadahead(0), WithWriteBehind(0)). Every aiofs run gets a new Fs, so
// its block cache starts empty; the OS page cache is warm unless -cold.
//
// Workloads: seqread (128 KiB Reads of a -size file), randread-1g and
// randread-32g (-ops 4 KiB ReadAts at random offsets by 1 and 32
// goroutines), write4k-sync and write1m-sync (-size bytes in 4 KiB or
// 1 MiB Writes, then Sync), smallfiles (-files files created, written with
// 4 KiB and closed) and walk (afero.Walk over a tree of -files entries).
//
// Single runs on a shared machine are noisy: -count N runs every workload N
// times on each backend and reports the run of median duration.
//
// The "vs os" column is the backend's operations per second divided by
// afero.OsFs's for the same workload: above 1 is faster. The allocation
// column is the growth of runtime.MemStats.TotalAlloc during the run.
//
// -cold syncs and drops the page cache (echo 3 > /proc/sys/vm/drop_caches)
// before each run; that needs root on Linux, and compare says on stderr
// when it cannot. Work files go to a temporary directory under -dir (the
// system's temporary directory by default), removed at the end, on error
// and on Ctrl-C.
package main

import (
	"cmp"
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
	"text/tabwriter"
	"time"

	"github.com/spf13/afero"

	"github.com/aiofs/aiofs"
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
}

// byteSize is a flag value in bytes that accepts suffixes: 64MiB, 1GiB,
// 512KiB, 4K, 1G.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	v, err := parseSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
	} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q: want bytes, or a number with KiB, MiB or GiB", s)
	}
	return v * mult, nil
}

func formatBytes(n float64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", n/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}

func main() {
	cfg := &config{}
	size := byteSize(128 << 20)
	flag.Var(&size, "size", "bytes of the data file and of each write workload (accepts KiB, MiB, GiB)")
	flag.IntVar(&cfg.ops, "ops", 65536, "4 KiB random reads per randread workload")
	flag.IntVar(&cfg.files, "files", 2000, "files of the smallfiles workload and of the walked tree")
	flag.IntVar(&cfg.count, "count", 1, "runs of each workload on each backend; the table shows the run of median time")
	flag.BoolVar(&cfg.json, "json", false, "print one JSON document instead of the table")
	flag.BoolVar(&cfg.cold, "cold", false, "drop the page cache before each run (Linux, root)")
	flag.StringVar(&cfg.dir, "dir", "", "directory for the work files (default: the system's temporary directory)")
	flag.StringVar(&cfg.backends, "backends", "", "comma-separated backends to run (default: all)")
	flag.StringVar(&cfg.workloads, "workloads", "", "comma-separated workloads to run (default: all)")
	flag.BoolVar(&cfg.quiet, "q", false, "no progress lines on stderr")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: compare [flags]\n\nWorkloads:\n")
		for _, w := range workloads {
			fmt.Fprintf(flag.CommandLine.Output(), "  %-13s %s\n", w.name, w.desc)
		}
		fmt.Fprintf(flag.CommandLine.Output(), "\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	cfg.size = int64(size)
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "compare: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	if cfg.size < randChunk || cfg.ops < 1 || cfg.files < 1 || cfg.count < 1 {
		fmt.Fprintln(os.Stderr, "compare: -size must be at least 4KiB, -ops, -files and -count at least 1")
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

// A backend makes the Fs of one run.
type backend struct {
	name    string
	disk    bool   // on the OS file system (uses the prepared inputs on disk)
	engine  string // aiofs: the engine in use
	note    string // aiofs: why the engine fell back, if it did
	skipped string // why it does not run
	open    func() (afero.Fs, func() error)
}

func aiofsBackend(name string, opts ...aiofs.Option) backend {
	return backend{name: name, disk: true, open: func() (afero.Fs, func() error) {
		fs := aiofs.New(opts...)
		return fs, fs.Close
	}}
}

// backends lists the candidates: the platform's engine is kept only if it
// actually starts here.
func backends() []backend {
	nop := func() error { return nil }
	bs := []backend{
		{name: "os", disk: true, open: func() (afero.Fs, func() error) { return afero.NewOsFs(), nop }},
		{name: "mem", open: func() (afero.Fs, func() error) { return afero.NewMemMapFs(), nop }},
	}
	var engines []string
	switch runtime.GOOS {
	case "linux":
		engines = append(engines, "uring")
	case "freebsd":
		engines = append(engines, "kqueue")
	}
	engines = append(engines, "pool")
	for _, e := range engines {
		bs = append(bs, aiofsBackend("aiofs-"+e, aiofs.WithEngine(e)))
	}
	bs = append(bs, aiofsBackend("aiofs-ra0-wb0", aiofs.WithReadahead(0), aiofs.WithWriteBehind(0)))

	for i := range bs {
		b := &bs[i]
		if !strings.HasPrefix(b.name, "aiofs") {
			continue
		}
		fs, closeFs := b.open()
		st := fs.(*aiofs.Fs).Stats()
		closeFs()
		b.engine, b.note = st.Engine, st.Fallback
		if want, ok := strings.CutPrefix(b.name, "aiofs-"); ok && slices.Contains(engines, want) && st.Engine != want {
			b.skipped = fmt.Sprintf("engine %s not available (aiofs fell back to %s: %s)", want, st.Engine, st.Fallback)
		}
	}
	return bs
}

// Row is one (backend, workload) measurement.
type Row struct {
	Workload   string  `json:"workload"`
	Backend    string  `json:"backend"`
	Bytes      int64   `json:"bytes"`
	Ops        int64   `json:"ops"`
	Seconds    float64 `json:"seconds"`
	MBPerSec   float64 `json:"mb_per_s"` // 10^6 bytes per second
	OpsPerSec  float64 `json:"ops_per_s"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	AllocBytes uint64  `json:"alloc_bytes"`
	VsOs       float64 `json:"vs_os,omitempty"` // ops/s relative to the os backend
	Cold       bool    `json:"cold"`            // the page cache was dropped before the run
	Runs       int     `json:"runs"`            // runs made; the row is the one of median time
	Error      string  `json:"error,omitempty"`
}

// BackendInfo describes a backend in the JSON output.
type BackendInfo struct {
	Name     string `json:"name"`
	Engine   string `json:"engine,omitempty"`
	Fallback string `json:"fallback,omitempty"`
	Skipped  string `json:"skipped,omitempty"`
}

// Report is the JSON document.
type Report struct {
	GoVersion string        `json:"go_version"`
	GOOS      string        `json:"goos"`
	GOARCH    string        `json:"goarch"`
	CPUs      int           `json:"cpus"`
	Dir       string        `json:"dir"`
	Size      int64         `json:"size"`
	Ops       int           `json:"ops"`
	Files     int           `json:"files"`
	Count     int           `json:"count"`
	Cold      bool          `json:"cold"`
	ColdNote  string        `json:"cold_note,omitempty"`
	Backends  []BackendInfo `json:"backends"`
	Workloads []string      `json:"workloads"`
	Rows      []Row         `json:"rows"`
}

func selected(list, name string) bool {
	if list == "" {
		return true
	}
	return slices.Contains(strings.Split(list, ","), name)
}

func run(ctx context.Context, cfg *config, work string, stdout io.Writer) error {
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

	var bs []backend
	for _, b := range backends() {
		if selected(cfg.backends, b.name) {
			bs = append(bs, b)
		}
	}
	var ws []workload
	for _, w := range workloads {
		if selected(cfg.workloads, w.name) {
			ws = append(ws, w)
		}
	}
	if len(bs) == 0 || len(ws) == 0 {
		return errors.New("no backend or no workload selected")
	}

	rep := &Report{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(),
		Dir: work, Size: cfg.size, Ops: cfg.ops, Files: cfg.files, Count: cfg.count, Cold: cfg.cold,
	}
	for _, w := range ws {
		rep.Workloads = append(rep.Workloads, w.name)
	}
	for _, b := range bs {
		rep.Backends = append(rep.Backends, BackendInfo{b.name, b.engine, b.note, b.skipped})
		if b.skipped != "" {
			progress("skipping %s: %s", b.name, b.skipped)
		}
	}

	cold := cfg.cold
	if cold {
		if err := dropCaches(); err != nil {
			cold = false
			rep.ColdNote = "cannot drop the page cache, runs are warm: " + err.Error()
			fmt.Fprintln(os.Stderr, "compare: -cold:", rep.ColdNote)
		}
	}

	in := filepath.Join(work, "in")
	progress("preparing %s of data and %d files in %s", formatBytes(float64(cfg.size)), cfg.files, work)
	if err := prepare(afero.NewOsFs(), in, cfg); err != nil {
		return fmt.Errorf("preparing inputs: %w", err)
	}

	total := 0
	for _, b := range bs {
		if b.skipped == "" {
			total += len(ws)
		}
	}
	done := 0
	for _, b := range bs {
		if b.skipped != "" {
			continue
		}
		var memFs afero.Fs // the mem backend keeps one Fs with its own copy of the inputs
		if !b.disk {
			memFs, _ = b.open()
			if err := prepare(memFs, in, cfg); err != nil {
				return fmt.Errorf("preparing inputs in %s: %w", b.name, err)
			}
		}
		for _, w := range ws {
			done++
			var runs []Row
			for i := 0; i < cfg.count; i++ {
				if stopped.Load() {
					return ctx.Err()
				}
				row, err := measure(b, w, memFs, in, filepath.Join(work, "out"), cfg, cold, &stopped)
				if err != nil {
					if errors.Is(err, errStopped) {
						return ctx.Err()
					}
					return err
				}
				runs = append(runs, row)
				if row.Error != "" {
					break
				}
			}
			row := medianRun(runs)
			rep.Rows = append(rep.Rows, row)
			status := "ok"
			if row.Error != "" {
				status = "ERROR: " + row.Error
			}
			progress("[%2d/%d] %-13s %-13s %7.3fs  %s", done, total, b.name, w.name, row.Seconds, status)
		}
	}

	// Group the rows by workload, in the order of the lists.
	order := func(names []string, name string) int { return slices.Index(names, name) }
	var bnames []string
	for _, b := range bs {
		bnames = append(bnames, b.name)
	}
	slices.SortStableFunc(rep.Rows, func(a, b Row) int {
		if d := order(rep.Workloads, a.Workload) - order(rep.Workloads, b.Workload); d != 0 {
			return d
		}
		return order(bnames, a.Backend) - order(bnames, b.Backend)
	})

	// Speed relative to OsFs.
	osOps := map[string]float64{}
	for _, r := range rep.Rows {
		if r.Backend == "os" && r.Error == "" {
			osOps[r.Workload] = r.OpsPerSec
		}
	}
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if base := osOps[r.Workload]; base > 0 && r.Error == "" {
			r.VsOs = r.OpsPerSec / base
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

// measure runs workload w once on a new Fs of backend b (memFs for the
// mem backend). The error is for the harness failing, not the workload.
func measure(b backend, w workload, memFs afero.Fs, in, out string, cfg *config, cold bool, stopped *atomic.Bool) (Row, error) {
	fs, closeFs := memFs, func() error { return nil }
	if b.disk {
		fs, closeFs = b.open()
	}
	if err := fs.MkdirAll(out, 0o755); err != nil {
		closeFs()
		return Row{}, err
	}
	row := Row{Workload: w.name, Backend: b.name}
	if cold && b.disk {
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
	if err := fs.RemoveAll(out); err != nil && o.err == nil {
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

// medianRun returns the run of median duration, or the failed one.
func medianRun(runs []Row) Row {
	for _, r := range runs {
		if r.Error != "" {
			r.Runs = len(runs)
			return r
		}
	}
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b Row) int { return cmp.Compare(a.Seconds, b.Seconds) })
	r := s[len(s)/2]
	r.Runs = len(runs)
	return r
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

func formatMicros(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	}
	return fmt.Sprintf("%.1fµs", us)
}

func printTable(w io.Writer, rep *Report) {
	cold := "warm page cache"
	if rep.Cold && rep.ColdNote == "" {
		cold = "page cache dropped before each run"
	}
	fmt.Fprintf(w, "%s %s/%s, %d CPUs, -size %s, -ops %d, -files %d, -count %d, %s\n",
		rep.GoVersion, rep.GOOS, rep.GOARCH, rep.CPUs, formatBytes(float64(rep.Size)), rep.Ops, rep.Files, rep.Count, cold)
	for _, b := range rep.Backends {
		switch {
		case b.Skipped != "":
			fmt.Fprintf(w, "  %s: skipped, %s\n", b.Name, b.Skipped)
		case b.Fallback != "":
			fmt.Fprintf(w, "  %s: engine %s (fallback: %s)\n", b.Name, b.Engine, b.Fallback)
		case b.Engine != "":
			fmt.Fprintf(w, "  %s: engine %s\n", b.Name, b.Engine)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "workload\tbackend\tMB/s\tops/s\tp50\tp99\talloc\tvs os\t\n")
	last := ""
	for _, r := range rep.Rows {
		name := r.Workload
		if name == last {
			name = ""
		}
		last = r.Workload
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\terror: %s\t\t\t\t\t\t\n", name, r.Backend, r.Error)
			continue
		}
		mbs := "-"
		if r.Bytes > 0 {
			mbs = fmt.Sprintf("%.1f", r.MBPerSec)
		}
		vs := "-"
		if r.VsOs > 0 {
			vs = fmt.Sprintf("%.2fx", r.VsOs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t\n", name, r.Backend, mbs, r.OpsPerSec,
			formatMicros(r.P50Micros), formatMicros(r.P99Micros), formatBytes(float64(r.AllocBytes)), vs)
	}
	tw.Flush()
}

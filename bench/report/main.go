// Command report turns the outputs of bench/run.sh into bench/RESULTS.md:
// medians of `go test -bench` results per backend, the ratios aiofs/OsFs
// and aiofs/fio, benchstat's table, and the machine's description.
//
// It is run by bench/run.sh; by hand:
//
//	go run ./bench/report -go go.txt [-benchstat benchstat.txt] [-fio dir] \
//		[-machine machine.txt] [-cmd "bench/run.sh"] [-o bench/RESULTS.md]
//
// All ratios are of speeds (throughput, or 1/time per op when a benchmark
// has no MB/s): above 1 means aiofs is faster. For BenchmarkThreads the
// ratio is of peak OS threads: below 1 means aiofs needs fewer. The peak
// RSS of each backend's runs is tabled beside the memory bound. With -wrap
// the backends are base and wrap (bench/run.sh -wrap) and the table sets
// each ratio beside its target.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	goOut := flag.String("go", "", "output of go test -bench")
	wrkOut := flag.String("wrk", "", "output of the wrk runs, each after a line \"# file=F round=N backend=B\"")
	benchstat := flag.String("benchstat", "", "output of benchstat -col /backend")
	fioDir := flag.String("fio", "", "directory of fio JSON outputs, one per job, named <job>.json")
	machine := flag.String("machine", "", "file describing the machine (Markdown list)")
	cmd := flag.String("cmd", "bench/run.sh", "command that regenerates the results")
	title := flag.String("title", "aiofs benchmark results", "title of the document, or of the section")
	note := flag.String("note", "", "paragraph under the title")
	section := flag.String("section", "", "replace only this named section of -o (disk, slow, wrk, wrap), keeping the others")
	wrap := flag.Bool("wrap", false, "the -go output is of the Wrap benchmarks: backends base and wrap, against their targets")
	out := flag.String("o", "", "output file (default stdout)")
	flag.Parse()
	if (*goOut == "") == (*wrkOut == "") {
		fmt.Fprintln(os.Stderr, "report: want one of -go and -wrk")
		os.Exit(2)
	}
	if err := run(*goOut, *wrkOut, *benchstat, *fioDir, *machine, *cmd, *title, *note, *section, *out, *wrap); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(goOut, wrkOut, benchstat, fioDir, machine, cmd, title, note, section, out string, wrap bool) error {
	// A section sits one heading level below the document's title.
	h := "##"
	if section != "" {
		h = "###"
	}
	var w strings.Builder
	fmt.Fprintf(&w, "%s %s\n\n", h[1:], title)
	if note != "" {
		fmt.Fprintf(&w, "%s\n\n", note)
	}
	fmt.Fprintf(&w, "Generated %s by:\n\n```sh\n%s\n```\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), cmd)
	if machine != "" {
		data, err := os.ReadFile(machine)
		if err != nil {
			return err
		}
		fmt.Fprintf(&w, "%s Machine\n\n%s\n\n", h, strings.TrimSpace(string(data)))
	}
	if wrkOut != "" {
		runs, err := parseWrk(wrkOut)
		if err != nil {
			return err
		}
		writeWrk(&w, h, runs)
	} else {
		results, order, err := parseGo(goOut)
		if err != nil {
			return err
		}
		var fio map[string]fioJob
		if fioDir != "" {
			if fio, err = parseFio(fioDir); err != nil {
				return err
			}
		}
		first := "os"
		if wrap {
			first = "base"
			writeWrap(&w, h, results, order)
		} else {
			writeRatios(&w, h, results, order, fio)
		}
		writeRSS(&w, h, results, order, wrap)
		if len(fio) > 0 {
			writeFio(&w, h, fio)
		}
		if benchstat != "" {
			data, err := os.ReadFile(benchstat)
			if err == nil && len(strings.TrimSpace(string(data))) > 0 {
				fmt.Fprintf(&w, "%s benchstat -col /backend\n\nEach column against the first (%s); ± is the 95%% confidence interval, p the Mann-Whitney U test's.\n\n```\n%s\n```\n", h, first, strings.TrimSpace(string(data)))
			}
		}
	}

	doc := w.String()
	if section != "" {
		old, err := os.ReadFile(out)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		doc = splice(string(old), section, doc)
	}
	if out == "" {
		fmt.Print(doc)
		return nil
	}
	return os.WriteFile(out, []byte(doc), 0o644)
}

// splice returns doc with the named section replaced by body, or with
// body appended as that section if doc has none. Sections are delimited
// by HTML comments, which Markdown renderers don't show.
func splice(doc, name, body string) string {
	begin := "<!-- bench/run.sh section " + name + " -->\n"
	end := "<!-- end of section " + name + " -->\n"
	if i := strings.Index(doc, begin); i >= 0 {
		if j := strings.Index(doc[i:], end); j >= 0 {
			return doc[:i] + begin + body + end + doc[i+j+len(end):]
		}
	}
	if doc == "" {
		doc = "# aiofs benchmark results\n\nWritten by bench/run.sh, one section per tier: the local disk (`bench/run.sh`), " +
			"slow storage (`bench/run.sh -slow`), examples/fileserver under wrk (`bench/run.sh -wrk`, also the end of a disk run) " +
			"and aiofs.Wrap over SFTP (`bench/run.sh -wrap`). " +
			"Each run replaces its own section.\n\n"
	} else if !strings.HasSuffix(doc, "\n\n") {
		doc = strings.TrimRight(doc, "\n") + "\n\n"
	}
	return doc + begin + body + end
}

// A result holds the samples of one benchmark (its name without the
// backend) on one backend, by unit.
type result map[string][]float64

// parseGo reads go test -bench output. It returns results by benchmark key
// (the name without "backend=..." and the GOMAXPROCS suffix) and backend,
// and the keys in order of appearance.
func parseGo(path string) (map[string]map[string]result, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	res := map[string]map[string]result{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := fields[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		var parts []string
		backend := ""
		for _, p := range strings.Split(name, "/") {
			if b, ok := strings.CutPrefix(p, "backend="); ok {
				backend = b
				continue
			}
			parts = append(parts, p)
		}
		if backend == "" {
			continue // not an os-vs-aiofs benchmark
		}
		key := strings.TrimPrefix(strings.Join(parts, "/"), "Benchmark")
		if res[key] == nil {
			res[key] = map[string]result{}
			order = append(order, key)
		}
		if res[key][backend] == nil {
			res[key][backend] = result{}
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			unit := fields[i+1]
			res[key][backend][unit] = append(res[key][backend][unit], v)
		}
	}
	return res, order, sc.Err()
}

func median(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// speed returns the median speed of r: MB/s when reported, else ops/s.
func speed(r result) (v float64, unit string, ok bool) {
	if r == nil {
		return 0, "", false
	}
	if m, ok := median(r["MB/s"]); ok && m > 0 {
		return m, "MB/s", true
	}
	if m, ok := median(r["ns/op"]); ok && m > 0 {
		return 1e9 / m, "op/s", true
	}
	return 0, "", false
}

// fioJob is a fio job's throughput.
type fioJob struct {
	MBps  float64 // 10^6 bytes per second
	IOPS  float64
	Lat   float64 // mean completion latency, µs
	Error string
}

type fioOutput struct {
	Jobs []struct {
		Error      int     `json:"error"`
		JobRuntime float64 `json:"job_runtime"` // ms, end_fsync included
		Read       fioDir  `json:"read"`
		Write      fioDir  `json:"write"`
	} `json:"jobs"`
}

type fioDir struct {
	IOBytes float64 `json:"io_bytes"`
	BW      float64 `json:"bw_bytes"`
	IOPS    float64 `json:"iops"`
	ClatNs  struct {
		Mean float64 `json:"mean"`
	} `json:"clat_ns"`
}

func parseFio(dir string) (map[string]fioJob, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	jobs := map[string]fioJob{}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		// fio may print warnings before the JSON document.
		if i := strings.IndexByte(string(data), '{'); i > 0 {
			data = data[i:]
		}
		var o fioOutput
		if err := json.Unmarshal(data, &o); err != nil || len(o.Jobs) == 0 {
			jobs[name] = fioJob{Error: "no fio result (failed or unsupported here)"}
			continue
		}
		j := o.Jobs[0]
		if j.Error != 0 {
			jobs[name] = fioJob{Error: fmt.Sprintf("fio error %d", j.Error)}
			continue
		}
		d := j.Read
		if j.Write.IOBytes > 0 {
			d = j.Write
		}
		fj := fioJob{MBps: d.BW / 1e6, IOPS: d.IOPS, Lat: d.ClatNs.Mean / 1e3}
		if j.Write.IOBytes > 0 && j.JobRuntime > 0 {
			// Writes: bytes over the job's whole runtime, the final fsync
			// included, as the Go benchmarks time Write then Sync.
			fj.MBps = d.IOBytes / 1e6 / (j.JobRuntime / 1e3)
		}
		jobs[name] = fj
	}
	return jobs, nil
}

// fioFor maps a benchmark key to the fio jobs doing the same I/O: the
// io_uring job and the psync one.
func fioFor(key string) (uring, psync string) {
	switch key {
	case "RandRead4K/cache=warm/g=1":
		return "randread-4k-qd1-io_uring", "randread-4k-qd1-psync"
	case "RandRead4K/cache=warm/g=32":
		return "randread-4k-qd32-io_uring", "randread-4k-qd32-psync"
	case "SeqRead128K/cache=warm":
		return "seqread-128k-io_uring", "seqread-128k-psync"
	case "Write/chunk=4KiB":
		return "seqwrite-4k-io_uring", "seqwrite-4k-psync"
	}
	return "", ""
}

func format(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return ""
	}
	return fmt.Sprintf("**%.2f**", a/b)
}

// speeds returns r's samples as speeds, in the unit speed picks.
func speeds(r result, unit string) []float64 {
	if unit == "MB/s" {
		return r["MB/s"]
	}
	var v []float64
	for _, ns := range r["ns/op"] {
		if ns > 0 {
			v = append(v, 1e9/ns)
		}
	}
	return v
}

// pairedRange returns the smallest and largest of the ratios a[i]/b[i],
// pairing the i-th runs of the two backends: in bench/run.sh -slow the
// i-th runs share a round, so their ratio is the round's.
func pairedRange(a, b []float64) string {
	lo, hi := 0.0, 0.0
	n := min(len(a), len(b))
	if n < 2 {
		return ""
	}
	for i := range n {
		if a[i] <= 0 || b[i] <= 0 {
			return ""
		}
		r := a[i] / b[i]
		if i == 0 || r < lo {
			lo = r
		}
		if i == 0 || r > hi {
			hi = r
		}
	}
	return fmt.Sprintf("%.2f–%.2f", lo, hi)
}

func writeRatios(w io.Writer, h string, res map[string]map[string]result, order []string, fio map[string]fioJob) {
	withFio := len(fio) > 0
	if withFio {
		fmt.Fprintf(w, "%s aiofs against OsFs and fio\n\n", h)
	} else {
		fmt.Fprintf(w, "%s aiofs against OsFs\n\n", h)
	}
	fmt.Fprintf(w, "Medians over the runs. Speeds in MB/s (10^6 bytes/s), or op/s for benchmarks without bytes. ")
	fmt.Fprintf(w, "Ratios are speed ratios: **above 1 means aiofs is faster**; the range is of the ratios of the i-th runs of each backend. ")
	fmt.Fprintf(w, "osbufio is OsFs through a 1 MiB bufio.Writer.")
	if withFio {
		fmt.Fprintf(w, " fio runs the same I/O on the same file, warm page cache, one run per job; ")
		fmt.Fprintf(w, "fio psync does the 32-way random reads with 32 jobs, io_uring with iodepth 32.")
	}
	fmt.Fprintf(w, "\n\n| benchmark | unit | OsFs | osbufio | aiofs | aiofs/OsFs | range |")
	if withFio {
		fmt.Fprintf(w, " fio io_uring | fio psync | aiofs/fio io_uring | aiofs/fio psync |")
	}
	fmt.Fprintf(w, "\n|---|---|--:|--:|--:|--:|--:|")
	if withFio {
		fmt.Fprintf(w, "--:|--:|--:|--:|")
	}
	fmt.Fprintln(w)
	for _, key := range order {
		byBackend := res[key]
		if strings.HasPrefix(key, "Threads") {
			continue
		}
		osv, unit, okOs := speed(byBackend["os"])
		ai, unitAi, okAi := speed(byBackend["aiofs"])
		if unit == "" {
			unit = unitAi
		}
		buf, _, _ := speed(byBackend["osbufio"])
		cell := func(v float64, ok bool) string {
			if !ok || v <= 0 {
				return ""
			}
			return format(v)
		}
		row := []string{key, unit, cell(osv, okOs), cell(buf, buf > 0), cell(ai, okAi), ratio(ai, osv),
			pairedRange(speeds(byBackend["aiofs"], unit), speeds(byBackend["os"], unit))}
		if withFio {
			ju, jp := fioFor(key)
			for _, j := range []string{ju, jp} {
				if fj, ok := fio[j]; ok && fj.Error == "" {
					row = append(row, format(fj.MBps))
				} else {
					row = append(row, "")
				}
			}
			for _, j := range []string{ju, jp} {
				if fj, ok := fio[j]; ok && fj.Error == "" && unit == "MB/s" {
					row = append(row, ratio(ai, fj.MBps))
				} else {
					row = append(row, "")
				}
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintln(w)

	// Threads: peak OS threads while 256 goroutines read.
	var threadRows []string
	for _, key := range order {
		if !strings.HasPrefix(key, "Threads") {
			continue
		}
		byBackend := res[key]
		get := func(b, unit string) float64 {
			m, _ := median(byBackend[b][unit])
			return m
		}
		spread := func(b, unit string) string {
			xs := byBackend[b][unit]
			if len(xs) < 2 {
				return ""
			}
			return fmt.Sprintf(" (%.0f–%.0f)", slices.Min(xs), slices.Max(xs))
		}
		for _, b := range []string{"os", "aiofs"} {
			if byBackend[b] == nil {
				continue
			}
			threadRows = append(threadRows, fmt.Sprintf("| %s | %.0f%s | %.0f | %.1f | %s |", b,
				get(b, "threads"), spread(b, "threads"), get(b, "threads-created"), get(b, "ns/op")/1e6,
				map[bool]string{true: "yes", false: "no (not root)"}[get(b, "cold") > 0]))
		}
		if byBackend["os"] != nil && byBackend["aiofs"] != nil {
			threadRows = append(threadRows, fmt.Sprintf("| speed aiofs/OsFs | | | %s %s | |",
				ratio(get("os", "ns/op"), get("aiofs", "ns/op")), pairedRange(speeds(byBackend["aiofs"], "op/s"), speeds(byBackend["os"], "op/s"))))
		}
	}
	if len(threadRows) > 0 {
		fmt.Fprintf(w, "%s# OS threads while 256 goroutines do random 4 KiB reads\n\n", h)
		fmt.Fprintf(w, "Measured in a fresh child process per run: peak of Threads in /proc/self/status (median, and range over the runs), and threads created (pprof threadcreate) during the reads. Medians.\n\n")
		fmt.Fprintln(w, "| backend | peak threads | threads created | ms for 8192 reads | page cache dropped |")
		fmt.Fprintln(w, "|---|--:|--:|--:|---|")
		for _, r := range threadRows {
			fmt.Fprintln(w, r)
		}
		fmt.Fprintln(w)
	}
}

func writeFio(w io.Writer, h string, fio map[string]fioJob) {
	fmt.Fprintf(w, "%s fio\n\n| job | MB/s | IOPS | mean latency µs |\n|---|--:|--:|--:|\n", h)
	names := make([]string, 0, len(fio))
	for n := range fio {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		j := fio[n]
		if j.Error != "" {
			fmt.Fprintf(w, "| %s | %s | | |\n", n, j.Error)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %.1f |\n", n, format(j.MBps), j.IOPS, j.Lat)
	}
	fmt.Fprintln(w)
}

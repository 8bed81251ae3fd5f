package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Row is one (backend, workload) cell. Its measurements are those of the
// run of median time; the Run fields hold every run in the order they ran.
type Row struct {
	Workload     string    `json:"workload"`
	Backend      string    `json:"backend"`
	Bytes        int64     `json:"bytes"`
	Ops          int64     `json:"ops"`
	Seconds      float64   `json:"seconds"`
	MBPerSec     float64   `json:"mb_per_s"` // 10^6 bytes per second
	OpsPerSec    float64   `json:"ops_per_s"`
	P50Micros    float64   `json:"p50_us"`
	P99Micros    float64   `json:"p99_us"`
	AllocBytes   uint64    `json:"alloc_bytes"`
	Cold         bool      `json:"cold"` // the page cache was dropped before the run
	Runs         int       `json:"runs"` // runs made
	RunSeconds   []float64 `json:"run_seconds"`
	RunOpsPerSec []float64 `json:"run_ops_per_s"`
	Spread       float64   `json:"spread"`                 // largest distance of a run's ops/s from the median, as a fraction of it
	VsOs         float64   `json:"vs_os,omitempty"`        // median ops/s over os's median ops/s
	VsOsRuns     []float64 `json:"vs_os_runs,omitempty"`   // ops/s over os's, runs paired by number
	VsOsSpread   float64   `json:"vs_os_spread,omitempty"` // largest distance of a paired ratio from VsOs, as a fraction of it
	WithinNoise  bool      `json:"within_noise,omitempty"` // |VsOs-1| < max(Spread, VsOsSpread)·VsOs
	// For a backend over another one (aiofs.Wrap over mem, say), the
	// same comparison with the row of that base.
	Base            string    `json:"base,omitempty"`
	VsBase          float64   `json:"vs_base,omitempty"`
	VsBaseRuns      []float64 `json:"vs_base_runs,omitempty"`
	VsBaseSpread    float64   `json:"vs_base_spread,omitempty"`
	BaseWithinNoise bool      `json:"base_within_noise,omitempty"`
	Skipped         string    `json:"skipped,omitempty"` // why the cell did not run
	Error           string    `json:"error,omitempty"`
}

// BackendInfo describes a backend in the JSON output.
type BackendInfo struct {
	Name     string `json:"name"`
	Engine   string `json:"engine,omitempty"`
	Fallback string `json:"fallback,omitempty"`
	Skipped  string `json:"skipped,omitempty"`
}

// StoreInfo describes a store in the JSON output: where the inputs of its
// backends are, and the sizes their runs used, which are smaller than the
// flags' for a remote store.
type StoreInfo struct {
	Name   string `json:"name"`
	About  string `json:"about,omitempty"` // the server of a remote store
	Size   int64  `json:"size"`
	Ops    int    `json:"ops"`
	Files  int    `json:"files"`
	NoSync string `json:"no_sync,omitempty"` // why Sync fails there and the Sync workloads are skipped
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
	Stores    []StoreInfo   `json:"stores"`
	Backends  []BackendInfo `json:"backends"`
	Workloads []string      `json:"workloads"`
	Rows      []Row         `json:"rows"`
}

const (
	noiseMark = "~"
	noiseNote = "~ within noise: 1.00x lies within the ratio ± the larger of the row's spread and the ratio's; rerun with a higher -count"
	countNote = "-count 1: one run per cell, so no spread and no noise check; single runs on a busy machine can be off by 2x or more"
)

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

func formatMicros(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	}
	return fmt.Sprintf("%.1fµs", us)
}

// formatSpread shows a spread as ± percent, or "-" when one run cannot
// show one.
func formatSpread(s float64, runs int) string {
	if runs < 2 {
		return "-"
	}
	return fmt.Sprintf("±%.0f%%", 100*s)
}

// formatRatio shows a speed relative to another row, marked when it is
// within noise, and the spread of the paired ratios, but not for a row
// compared with itself.
func formatRatio(v, s float64, runs int, noisy, self bool) (string, string) {
	if v <= 0 {
		return "- ", ""
	}
	mark := " "
	if noisy {
		mark = noiseMark
	}
	// Remote backends run at a small fraction of os: keep two digits.
	text := fmt.Sprintf("%.2fx%s", v, mark)
	if v < 0.1 {
		text = fmt.Sprintf("%.2gx%s", v, mark)
	}
	if self {
		return text, ""
	}
	return text, formatSpread(s, runs)
}

func printTable(w io.Writer, rep *Report) {
	cold := "warm page cache"
	if rep.Cold && rep.ColdNote == "" {
		cold = "page cache dropped before each run"
	}
	fmt.Fprintf(w, "%s %s/%s, %d CPUs, -size %s, -ops %d, -files %d, -count %d, %s\n",
		rep.GoVersion, rep.GOOS, rep.GOARCH, rep.CPUs, formatBytes(float64(rep.Size)), rep.Ops, rep.Files, rep.Count, cold)
	if rep.Count == 1 {
		fmt.Fprintln(w, countNote)
	} else {
		fmt.Fprintf(w, "median of %d runs, backends in rotated order; ± is the largest distance of a run from the median\n", rep.Count)
		fmt.Fprintln(w, "(of ops/s, and of the runs' paired ratios from the vs columns); p50, p99 and alloc are the median run's")
	}
	for _, s := range rep.Stores {
		if s.About == "" {
			continue
		}
		fmt.Fprintf(w, "  %s store: %s; size %s, ops %d, files %d\n", s.Name, s.About, formatBytes(float64(s.Size)), s.Ops, s.Files)
		if s.NoSync != "" {
			fmt.Fprintf(w, "    Sync workloads skipped: %s\n", s.NoSync)
		}
	}
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
	withBase := slices.ContainsFunc(rep.Rows, func(r Row) bool { return r.Base != "" })
	if withBase {
		var pairs []string
		for _, r := range rep.Rows {
			if p := r.Backend + " over " + r.Base; r.Base != "" && !slices.Contains(pairs, p) {
				pairs = append(pairs, p)
			}
		}
		fmt.Fprintf(w, "vs base: a backend over another one against that one alone (%s)\n", strings.Join(pairs, ", "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "workload\tbackend\tMB/s\tops/s\t±\tp50\tp99\talloc\tvs os \t±\t"
	if withBase {
		header += "vs base \t±\t"
	}
	fmt.Fprint(tw, header+"\n")
	cells := strings.Count(header, "\t")
	last, noisy := "", false
	// Failed and skipped cells say why under the table, where a long
	// reason does not widen a column.
	var notes []string
	for _, r := range rep.Rows {
		name := r.Workload
		if name == last {
			name = ""
		}
		last = r.Workload
		if r.Error != "" || r.Skipped != "" {
			what, why := "failed", r.Error
			if r.Error == "" {
				what, why = "skipped", r.Skipped
			}
			fmt.Fprintf(tw, "%s\t%s\t%s%s\n", name, r.Backend, what, strings.Repeat("\t", cells-2))
			notes = append(notes, fmt.Sprintf("%s on %s: %s, %s", r.Workload, r.Backend, what, why))
			continue
		}
		mbs := "-"
		if r.Bytes > 0 {
			mbs = fmt.Sprintf("%.1f", r.MBPerSec)
		}
		vs, vsSpread := formatRatio(r.VsOs, r.VsOsSpread, len(r.VsOsRuns), r.WithinNoise, r.Backend == "os")
		noisy = noisy || r.WithinNoise || r.BaseWithinNoise
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t", name, r.Backend, mbs, r.OpsPerSec,
			formatSpread(r.Spread, r.Runs), formatMicros(r.P50Micros), formatMicros(r.P99Micros),
			formatBytes(float64(r.AllocBytes)), vs, vsSpread)
		if withBase {
			if r.Base != "" {
				vs, vsSpread = formatRatio(r.VsBase, r.VsBaseSpread, len(r.VsBaseRuns), r.BaseWithinNoise, false)
			} else {
				vs, vsSpread = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t", vs, vsSpread)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
	if noisy {
		fmt.Fprintln(w)
		fmt.Fprintln(w, noiseNote)
	}
}

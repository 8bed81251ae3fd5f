package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aiofs/aiofs"
)

// rssBoundMiB is the memory bound for a process using an Fs with
// the default options: its peak RSS stays within the clean cache's bound
// plus the dirty data's bound plus 20 MiB for everything else.
const rssBoundMiB = (aiofs.DefaultCacheSize+aiofs.DefaultWriteBehind)>>20 + 20

// writeRSS writes the table of the peakRSS-MiB metric, one row per
// benchmark that reports it, with the bound beside the figures of the
// measured backend (aiofs, or wrap for the Wrap benchmarks) and the others
// (OsFs and osbufio, or the bare base) for comparison.
func writeRSS(w io.Writer, h string, res map[string]map[string]result, order []string, wrap bool) {
	const unit = "peakRSS-MiB"
	others, measured := []string{"os", "osbufio"}, "aiofs"
	heads := "| benchmark | OsFs | osbufio | aiofs | aiofs largest | bound | within bound |"
	about := "The OsFs column is what the same workload costs without aiofs, the test binary and its buffers included."
	if wrap {
		others, measured = []string{"base"}, "wrap"
		heads = "| benchmark | base | wrap | wrap largest | bound | within bound |"
		about = "The base column is what the same workload costs through the bare base in the same process, the test binary, " +
			"the base's client and the delay proxy included."
	}
	var rows []string
	for _, key := range order {
		byBackend := res[key]
		cell := func(b string) string {
			m, ok := median(byBackend[b][unit])
			if !ok {
				return ""
			}
			return fmt.Sprintf("%.1f", m)
		}
		ai := byBackend[measured][unit]
		if len(ai) == 0 {
			continue
		}
		worst := slices.Max(ai)
		within := "yes"
		if worst > rssBoundMiB {
			within = fmt.Sprintf("**no** (+%.1f)", worst-rssBoundMiB)
		}
		row := "| " + key
		for _, b := range append(others, measured) {
			row += " | " + cell(b)
		}
		rows = append(rows, fmt.Sprintf("%s | %.1f | %d | %s |", row, worst, rssBoundMiB, within))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "%s# Peak RSS\n\n", h)
	fmt.Fprintf(w, "Peak resident set of the benchmark process during each backend's run, in MiB (2^20 bytes): VmHWM of /proc/self/status, reset before the run "+
		"after the free heap went back to the system; for Threads, the whole life of its fresh child process. Median over the runs, and %s's largest. "+
		"The bound for aiofs with the default options: cache bound (DefaultCacheSize, %d MiB) + dirty bound (DefaultWriteBehind, %d MiB) + 20 MiB = %d MiB. "+
		"%s\n\n",
		measured, aiofs.DefaultCacheSize>>20, aiofs.DefaultWriteBehind>>20, rssBoundMiB, about)
	fmt.Fprintln(w, heads)
	fmt.Fprintln(w, "|---|"+strings.Repeat("--:|", len(others)+3)+"---|")
	for _, r := range rows {
		fmt.Fprintln(w, r)
	}
	fmt.Fprintln(w)
}

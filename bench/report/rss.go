package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/aiofs/aiofs"
)

// rssBoundMiB is the memory bound for a process using an Fs with
// the default options: its peak RSS stays within the clean cache's bound
// plus the dirty data's bound plus 20 MiB for everything else.
const rssBoundMiB = (aiofs.DefaultCacheSize+aiofs.DefaultWriteBehind)>>20 + 20

// writeRSS writes the table of the peakRSS-MiB metric, one row per
// benchmark that reports it, with the bound beside aiofs's figures.
func writeRSS(w io.Writer, h string, res map[string]map[string]result, order []string) {
	const unit = "peakRSS-MiB"
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
		ai := byBackend["aiofs"][unit]
		if len(ai) == 0 {
			continue
		}
		worst := slices.Max(ai)
		within := "yes"
		if worst > rssBoundMiB {
			within = fmt.Sprintf("**no** (+%.1f)", worst-rssBoundMiB)
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %.1f | %d | %s |",
			key, cell("os"), cell("osbufio"), cell("aiofs"), worst, rssBoundMiB, within))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "%s# Peak RSS\n\n", h)
	fmt.Fprintf(w, "Peak resident set of the benchmark process during each backend's run, in MiB (2^20 bytes): VmHWM of /proc/self/status, reset before the run "+
		"after the free heap went back to the system; for Threads, the whole life of its fresh child process. Median over the runs, and aiofs's largest. "+
		"The bound for aiofs with the default options: cache bound (DefaultCacheSize, %d MiB) + dirty bound (DefaultWriteBehind, %d MiB) + 20 MiB = %d MiB. "+
		"The OsFs column is what the same workload costs without aiofs, the test binary and its buffers included.\n\n",
		aiofs.DefaultCacheSize>>20, aiofs.DefaultWriteBehind>>20, rssBoundMiB)
	fmt.Fprintln(w, "| benchmark | OsFs | osbufio | aiofs | aiofs largest | bound | within bound |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|---|")
	for _, r := range rows {
		fmt.Fprintln(w, r)
	}
	fmt.Fprintln(w)
}

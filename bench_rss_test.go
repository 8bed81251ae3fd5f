package aiofs_test

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// Peak memory of a benchmark run. The README bounds the peak resident set of
// a process using aiofs by the cache bound plus the dirty bound plus
// 20 MiB. Each backend's run reports the peak RSS of the benchmark
// process during that run as peakRSS-MiB, measured in the process itself
// rather than in a fresh one per run, which would cost a process start and
// an input set-up per sub-benchmark: Linux keeps the high-water mark of
// the resident set (VmHWM in /proc/self/status) and lets a process reset
// it to the present RSS by writing 5 to /proc/self/clear_refs. Before the
// reset the free heap goes back to the system, so what earlier runs
// allocated does not count, and the mark starts at about what a fresh test
// process holds. BenchmarkThreads, which runs in fresh child processes,
// reports the child's whole-life peak instead.

// benchStatusKiB returns the value in KiB of the named line of
// /proc/self/status (VmHWM, VmRSS), or false.
func benchStatusKiB(name string) (int64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		v, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		v, ok = strings.CutSuffix(strings.TrimSpace(v), " kB")
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// benchResetPeakRSS returns the free heap to the system and resets the
// process's peak RSS to its present RSS. It reports whether the peak can
// be measured: only on Linux (4.0 or later).
func benchResetPeakRSS() bool {
	if runtime.GOOS != "linux" {
		return false
	}
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5\n"), 0); err != nil {
		return false
	}
	_, ok := benchStatusKiB("VmHWM")
	return ok
}

// benchReportPeakRSS reports the process's peak RSS since the last
// benchResetPeakRSS as the metric peakRSS-MiB.
func benchReportPeakRSS(b *testing.B) {
	b.Helper()
	kib, ok := benchStatusKiB("VmHWM")
	if !ok {
		b.Fatal("VmHWM of /proc/self/status is gone")
	}
	b.ReportMetric(float64(kib)/1024, "peakRSS-MiB")
}

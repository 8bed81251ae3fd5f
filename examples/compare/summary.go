package main

import (
	"cmp"
	"math"
	"slices"
)

// rotation returns the order in which run i visits n backends: the table
// order rotated left by i, so that over n runs each backend goes first
// once, and slow drift of the machine (page cache, write-back, heat, other
// load) does not favour the one that always runs first.
func rotation(n, i int) []int {
	order := make([]int, n)
	for j := range order {
		order[j] = (i + j) % n
	}
	return order
}

// summarize makes the row of one cell from its runs, given in the order
// they ran: the run of median time (the slower middle one for an even
// count), with every run's time and ops/s and the spread beside. A cell
// stops at a failed run, and that run makes the row.
func summarize(runs []Row) Row {
	var r Row
	if i := slices.IndexFunc(runs, func(r Row) bool { return r.Error != "" }); i >= 0 {
		r = runs[i]
	} else {
		s := slices.Clone(runs)
		slices.SortStableFunc(s, func(a, b Row) int { return cmp.Compare(a.Seconds, b.Seconds) })
		r = s[len(s)/2]
	}
	r.Runs = len(runs)
	r.RunSeconds, r.RunOpsPerSec = nil, nil
	for _, run := range runs {
		r.RunSeconds = append(r.RunSeconds, run.Seconds)
		r.RunOpsPerSec = append(r.RunOpsPerSec, run.OpsPerSec)
	}
	if r.Error == "" {
		r.Spread = spread(r.RunOpsPerSec, r.OpsPerSec)
	}
	return r
}

// spread returns the largest distance of a value in xs from m, as a
// fraction of m: every value lies within m·(1 ± spread).
func spread(xs []float64, m float64) float64 {
	if m <= 0 {
		return 0
	}
	d := 0.0
	for _, x := range xs {
		d = max(d, math.Abs(x-m))
	}
	return d / m
}

// compareToOs sets each row's speed relative to the os row of its
// workload. VsOs is the ratio of the median ops/s; VsOsRuns are the ratios
// of the runs paired by number (run i of both cells ran in the same round)
// and VsOsSpread their spread around VsOs. A row is within noise when 1
// lies inside VsOs·(1 ± s), s the larger of its own spread and that of the
// paired ratios: the difference from os, |VsOs − 1|, is smaller than the
// spread, and another set of runs could well report the opposite.
func compareToOs(rows []Row) {
	ref := references(rows)
	for i := range rows {
		r := &rows[i]
		if o, ok := ref[[2]string{"os", r.Workload}]; ok && usable(*r) {
			r.VsOs, r.VsOsRuns, r.VsOsSpread, r.WithinNoise = relative(*r, o)
		}
	}
}

// compareToBase sets, the same way, the speed of each row of a backend
// over another (aiofs.Wrap over mem, say) relative to the row of that
// base, which baseOf maps the backend to, for the same workload.
func compareToBase(rows []Row, baseOf map[string]string) {
	ref := references(rows)
	for i := range rows {
		r := &rows[i]
		b := baseOf[r.Backend]
		if o, ok := ref[[2]string{b, r.Workload}]; ok && usable(*r) {
			r.Base = b
			r.VsBase, r.VsBaseRuns, r.VsBaseSpread, r.BaseWithinNoise = relative(*r, o)
		}
	}
}

// usable reports whether a row has measurements to compare.
func usable(r Row) bool { return r.Error == "" && r.Skipped == "" && r.OpsPerSec > 0 }

// references maps (backend, workload) to the rows that can be compared with.
func references(rows []Row) map[[2]string]Row {
	ref := map[[2]string]Row{}
	for _, r := range rows {
		if usable(r) {
			ref[[2]string{r.Backend, r.Workload}] = r
		}
	}
	return ref
}

// relative returns r's speed relative to ref: the ratio of their median
// ops/s, the ratios of their runs paired by number, the spread of those
// around the first, and whether the difference is within noise.
func relative(r, ref Row) (ratio float64, runs []float64, spreadV float64, noisy bool) {
	ratio = r.OpsPerSec / ref.OpsPerSec
	for j := range min(len(r.RunOpsPerSec), len(ref.RunOpsPerSec)) {
		if ref.RunOpsPerSec[j] > 0 {
			runs = append(runs, r.RunOpsPerSec[j]/ref.RunOpsPerSec[j])
		}
	}
	spreadV = spread(runs, ratio)
	noisy = r.Backend != ref.Backend && len(runs) > 1 &&
		math.Abs(ratio-1) < max(r.Spread, spreadV)*ratio
	return ratio, runs, spreadV, noisy
}

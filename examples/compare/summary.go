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
	base := map[string]Row{}
	for _, r := range rows {
		if r.Backend == "os" && r.Error == "" && r.OpsPerSec > 0 {
			base[r.Workload] = r
		}
	}
	for i := range rows {
		r := &rows[i]
		o, ok := base[r.Workload]
		if !ok || r.Error != "" {
			continue
		}
		r.VsOs = r.OpsPerSec / o.OpsPerSec
		r.VsOsRuns = nil
		for j := range min(len(r.RunOpsPerSec), len(o.RunOpsPerSec)) {
			if o.RunOpsPerSec[j] > 0 {
				r.VsOsRuns = append(r.VsOsRuns, r.RunOpsPerSec[j]/o.RunOpsPerSec[j])
			}
		}
		r.VsOsSpread = spread(r.VsOsRuns, r.VsOs)
		r.WithinNoise = r.Backend != "os" && len(r.VsOsRuns) > 1 &&
			math.Abs(r.VsOs-1) < max(r.Spread, r.VsOsSpread)*r.VsOs
	}
}

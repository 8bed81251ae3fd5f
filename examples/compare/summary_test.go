package main

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestRotation(t *testing.T) {
	for n := 1; n <= 5; n++ {
		// Over n rounds every backend takes every place once.
		seen := make([][]int, n) // seen[place][backend]
		for p := range seen {
			seen[p] = make([]int, n)
		}
		for i := range n {
			order := rotation(n, i)
			if len(order) != n || order[0] != i {
				t.Fatalf("rotation(%d, %d) = %v: want %d first", n, i, order, i)
			}
			for p, k := range order {
				seen[p][k]++
			}
		}
		for p := range seen {
			for k, c := range seen[p] {
				if c != 1 {
					t.Errorf("n=%d: backend %d in place %d %d times over %d rounds", n, k, p, c, n)
				}
			}
		}
		if !slices.Equal(rotation(n, n), rotation(n, 0)) {
			t.Errorf("n=%d: round n does not start over", n)
		}
	}
}

// cell makes the runs of one cell of 1000 operations at the given ops/s,
// in the order they ran; P50Micros tells them apart.
func cell(backend, workload string, opsPerSec ...float64) []Row {
	var runs []Row
	for i, v := range opsPerSec {
		runs = append(runs, Row{Workload: workload, Backend: backend, Ops: 1000,
			Seconds: 1000 / v, OpsPerSec: v, P50Micros: float64(i)})
	}
	return runs
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ops     []float64
		median  float64 // ops/s of the row
		run     float64 // its P50Micros: which run it is
		spreadV float64
	}{
		{"odd", []float64{250, 1000, 500}, 500, 2, 1},
		{"even takes the slower middle", []float64{100, 400, 200, 300}, 200, 2, 1},
		{"one", []float64{300}, 300, 0, 0},
		{"equal", []float64{80, 80, 80}, 80, 1, 0},
	} {
		r := summarize(cell("b", "w", tc.ops...))
		if r.OpsPerSec != tc.median || r.P50Micros != tc.run {
			t.Errorf("%s: row is the run at %v ops/s (run %v), want %v (run %v)", tc.name, r.OpsPerSec, r.P50Micros, tc.median, tc.run)
		}
		if !near(r.Spread, tc.spreadV) {
			t.Errorf("%s: spread %v, want %v", tc.name, r.Spread, tc.spreadV)
		}
		if r.Runs != len(tc.ops) || !slices.Equal(r.RunOpsPerSec, tc.ops) || len(r.RunSeconds) != len(tc.ops) {
			t.Errorf("%s: runs %d %v %v, want %v in the order run", tc.name, r.Runs, r.RunOpsPerSec, r.RunSeconds, tc.ops)
		}
	}

	runs := cell("b", "w", 100, 200)
	runs[1].Error = "disk full"
	if r := summarize(runs); r.Error != "disk full" || r.Runs != 2 || r.Spread != 0 {
		t.Errorf("a failed run does not make the row: %+v", r)
	}
}

func TestCompareToOs(t *testing.T) {
	rows := []Row{
		summarize(cell("os", "w", 100, 110, 90)),
		summarize(cell("fast", "w", 200, 220, 190)),   // 2x, ±10%; ratios 2, 2, 2.11
		summarize(cell("even", "w", 105, 80, 125)),    // 1.05x; ratios 1.05, 0.73, 1.39
		summarize(cell("steady", "w", 130, 140, 120)), // 1.3x, ±8%; ratios 1.3, 1.27, 1.33
		summarize(cell("os", "drift", 100, 130, 70)),
		summarize(cell("b", "drift", 110, 143, 77)), // 1.1x in every round, but its runs ±30%
		summarize(cell("os", "once", 100)),
		summarize(cell("b", "once", 103)),
		summarize(cell("b", "no-os", 100, 200, 300)),
		summarize(cell("flat", "w", 105, 105, 105)), // 1.05x, ±0%, but os's noise makes ratios 0.95 to 1.17
		summarize(cell("os", "scale", 100, 100, 100)),
		summarize(cell("wide", "scale", 300, 60, 540)), // 3x ±80%: one round was 0.6x
		summarize(cell("half", "scale", 50, 80, 20)),   // 0.5x ±60%: 0.2x to 0.8x, slower in every round
	}
	compareToOs(rows)
	for _, tc := range []struct {
		row         int
		vs          float64
		vsSpread    float64
		withinNoise bool
	}{
		{0, 1, 0, false},
		{1, 2, (19.0/9 - 2) / 2, false},
		{2, 1.05, (125.0/90 - 1.05) / 1.05, true},
		{3, 1.3, (120.0/90 - 1.3) / 1.3, false},
		{4, 1, 0, false},
		{5, 1.1, 0, true},
		{6, 1, 0, false},
		{7, 1.03, 0, false}, // one run: no spread to judge by
		{8, 0, 0, false},    // no os row
		{9, 1.05, (105.0/90 - 1.05) / 1.05, true},
		{10, 1, 0, false},
		{11, 3, 0.8, true},
		{12, 0.5, 0.6, false},
	} {
		r := rows[tc.row]
		if !near(r.VsOs, tc.vs) || !near(r.VsOsSpread, tc.vsSpread) || r.WithinNoise != tc.withinNoise {
			t.Errorf("%s on %s: vs os %v ±%v, within noise %v; want %v ±%v, %v (runs %v, spread %v)",
				r.Workload, r.Backend, r.VsOs, r.VsOsSpread, r.WithinNoise, tc.vs, tc.vsSpread, tc.withinNoise,
				r.VsOsRuns, r.Spread)
		}
	}
	if want := []float64{2, 2, 19.0 / 9}; len(rows[1].VsOsRuns) != 3 || !near(rows[1].VsOsRuns[2], want[2]) {
		t.Errorf("paired ratios %v, want %v", rows[1].VsOsRuns, want)
	}
}

func TestTableMarksNoise(t *testing.T) {
	rep := &Report{Count: 3, Rows: []Row{
		summarize(cell("os", "w", 100, 110, 90)),
		summarize(cell("fast", "w", 200, 220, 190)),
		summarize(cell("even", "w", 105, 80, 125)),
	}}
	compareToOs(rep.Rows)
	var buf bytes.Buffer
	printTable(&buf, rep)
	text := buf.String()
	line := func(backend string) string {
		for _, l := range strings.Split(text, "\n") {
			if f := strings.Fields(l); len(f) > 1 && slices.Contains(f[:2], backend) {
				return l
			}
		}
		t.Fatalf("no line for %s:\n%s", backend, text)
		return ""
	}
	if l := line("fast"); !strings.Contains(l, "±10%") || !strings.Contains(l, "2.00x ") || strings.Contains(l, noiseMark) {
		t.Errorf("fast line %q: want ±10%%, 2.00x and no noise mark", l)
	}
	if l := line("even"); !strings.Contains(l, "1.05x"+noiseMark) {
		t.Errorf("even line %q: want 1.05x%s", l, noiseMark)
	}
	if !strings.Contains(text, noiseNote) || !strings.Contains(text, "median of 3 runs") {
		t.Errorf("table lacks the footnote or the header:\n%s", text)
	}

	rep.Rows = rep.Rows[:2]
	buf.Reset()
	printTable(&buf, rep)
	if strings.Contains(buf.String(), noiseNote) || strings.Contains(buf.String(), noiseMark) {
		t.Errorf("no row is within noise, yet the table says so:\n%s", &buf)
	}
}

func TestCompareToBase(t *testing.T) {
	rows := []Row{
		summarize(cell("os", "w", 100, 100, 100)),
		summarize(cell("remote", "w", 10, 12, 8)),
		summarize(cell("wrapped", "w", 40, 36, 40)), // 4x remote; ratios 4, 3, 5
		summarize(cell("same", "w", 10, 12, 8)),     // 1x remote in every round
		summarize(cell("remote", "failed", 10)),
		summarize(cell("wrapped", "failed", 40)),
		{Workload: "skipped", Backend: "remote", Skipped: "no Sync"},
		{Workload: "skipped", Backend: "wrapped", Skipped: "no Sync"},
		summarize(cell("wrapped", "alone", 40)),
	}
	rows[4].Error = "lost"
	baseOf := map[string]string{"wrapped": "remote", "same": "remote"}
	compareToOs(rows)
	compareToBase(rows, baseOf)
	for _, tc := range []struct {
		row      int
		base     string
		vs       float64
		vsSpread float64
		noisy    bool
	}{
		{0, "", 0, 0, false},
		{1, "", 0, 0, false},
		{2, "remote", 4, 0.25, false},
		{3, "remote", 1, 0, true}, // the same speed, with its runs ±20%
		{5, "", 0, 0, false},      // the base failed
		{7, "", 0, 0, false},      // skipped
		{8, "", 0, 0, false},      // the base did not run
	} {
		r := rows[tc.row]
		if r.Base != tc.base || !near(r.VsBase, tc.vs) || !near(r.VsBaseSpread, tc.vsSpread) || r.BaseWithinNoise != tc.noisy {
			t.Errorf("%s on %s: base %q, vs base %v ±%v, noisy %v; want %q, %v ±%v, %v",
				r.Workload, r.Backend, r.Base, r.VsBase, r.VsBaseSpread, r.BaseWithinNoise, tc.base, tc.vs, tc.vsSpread, tc.noisy)
		}
	}
	if r := rows[2]; !near(r.VsOs, 0.4) {
		t.Errorf("wrapped: vs os %v, want 0.4 beside vs base", r.VsOs)
	}

	rep := &Report{Count: 3, Rows: rows}
	var buf bytes.Buffer
	printTable(&buf, rep)
	text := buf.String()
	var wrappedLine string
	for _, l := range strings.Split(text, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "wrapped" && wrappedLine == "" {
			wrappedLine = l // workload w's
		}
	}
	if !strings.Contains(text, "vs base") || !strings.Contains(wrappedLine, "4.00x") || !strings.Contains(wrappedLine, "±25%") {
		t.Errorf("the table lacks the vs base column or its value 4.00x ±25%%:\n%s", text)
	}
	if !strings.Contains(text, "skipped on remote: skipped, no Sync") || !strings.Contains(text, "failed on remote: failed, lost") {
		t.Errorf("the table lacks the skipped or the failed cell:\n%s", text)
	}

	rep.Rows = rows[:2]
	buf.Reset()
	printTable(&buf, rep)
	if strings.Contains(buf.String(), "vs base") {
		t.Errorf("no backend has a base, yet the table shows vs base:\n%s", &buf)
	}
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// A wrkRun is one wrk run against one backend.
type wrkRun struct {
	file, backend string
	round         int
	rps           float64
	latency       map[string]float64 // µs by percentile ("50%", "99%")
	errors        string             // wrk's error lines, if any
}

// parseWrk reads the runs of bench/run.sh -wrk: wrk --latency outputs,
// each after a line "# file=F round=N backend=B".
func parseWrk(path string) ([]wrkRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []wrkRun
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if h, ok := strings.CutPrefix(line, "# "); ok {
			r := wrkRun{latency: map[string]float64{}}
			for _, kv := range strings.Fields(h) {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "file":
					r.file = v
				case "backend":
					r.backend = v
				case "round":
					r.round, _ = strconv.Atoi(v)
				}
			}
			runs = append(runs, r)
			continue
		}
		if len(runs) == 0 {
			continue
		}
		r := &runs[len(runs)-1]
		fields := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Requests/sec:") && len(fields) == 2:
			r.rps, _ = strconv.ParseFloat(fields[1], 64)
		case len(fields) == 2 && strings.HasSuffix(fields[0], "%"):
			if us, ok := wrkMicros(fields[1]); ok {
				r.latency[fields[0]] = us
			}
		case strings.HasPrefix(line, "Non-2xx"), strings.HasPrefix(line, "Socket errors:"):
			r.errors = strings.TrimSpace(r.errors + "; " + line)
		}
	}
	return runs, sc.Err()
}

// wrkMicros parses a wrk latency such as 412.00us, 1.20ms or 1.01s.
func wrkMicros(s string) (float64, bool) {
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"us", 1}, {"ms", 1e3}, {"s", 1e6}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f * u.mult, err == nil
		}
	}
	return 0, false
}

// spread formats the median of xs and, with two or more, their range.
func spread(xs []float64, format func(float64) string) string {
	m, ok := median(xs)
	if !ok {
		return ""
	}
	if len(xs) < 2 {
		return format(m)
	}
	return fmt.Sprintf("%s (%s–%s)", format(m), format(slices.Min(xs)), format(slices.Max(xs)))
}

func writeWrk(w io.Writer, h string, runs []wrkRun) {
	var files []string
	for _, r := range runs {
		if !slices.Contains(files, r.file) {
			files = append(files, r.file)
		}
	}
	rps := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	two := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	us := func(v float64) string { return format(v) }

	fmt.Fprintf(w, "%s Requests per second\n\n", h)
	fmt.Fprintf(w, "Median over the rounds, range in parentheses. The ratio is of requests/s, each round's aiofs run against its OsFs run: **above 1 means aiofs serves more**.\n\n")
	fmt.Fprintln(w, "| file | OsFs req/s | aiofs req/s | aiofs/OsFs |")
	fmt.Fprintln(w, "|---|--:|--:|--:|")
	for _, file := range files {
		by := map[string][]float64{}
		perRound := map[int]map[string]float64{}
		for _, r := range runs {
			if r.file != file || r.rps <= 0 {
				continue
			}
			by[r.backend] = append(by[r.backend], r.rps)
			if perRound[r.round] == nil {
				perRound[r.round] = map[string]float64{}
			}
			perRound[r.round][r.backend] = r.rps
		}
		var ratios []float64
		for _, m := range perRound {
			if m["os"] > 0 && m["aiofs"] > 0 {
				ratios = append(ratios, m["aiofs"]/m["os"])
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | **%s** |\n", file, spread(by["os"], rps), spread(by["aiofs"], rps), spread(ratios, two))
	}
	fmt.Fprintln(w)

	fmt.Fprintf(w, "%s Latency percentiles\n\n", h)
	fmt.Fprintf(w, "wrk's latency distribution in µs, medians over the rounds.\n\n")
	pcts := []string{"50%", "75%", "90%", "99%"}
	fmt.Fprintf(w, "| file | backend | %s |\n|---|---|%s\n", strings.Join(pcts, " | "), strings.Repeat("--:|", len(pcts)))
	for _, file := range files {
		for _, be := range []string{"os", "aiofs"} {
			row := []string{file, be}
			for _, p := range pcts {
				var xs []float64
				for _, r := range runs {
					if r.file == file && r.backend == be {
						if v, ok := r.latency[p]; ok {
							xs = append(xs, v)
						}
					}
				}
				m, ok := median(xs)
				if !ok {
					row = append(row, "")
					continue
				}
				row = append(row, us(m))
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
		}
	}
	fmt.Fprintln(w)

	var errs []string
	for _, r := range runs {
		if r.errors != "" {
			errs = append(errs, fmt.Sprintf("- %s round %d %s: %s", r.file, r.round, r.backend, strings.TrimPrefix(r.errors, "; ")))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "Errors reported by wrk (these runs' numbers are suspect):\n\n%s\n\n", strings.Join(errs, "\n"))
	}
}

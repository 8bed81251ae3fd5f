#!/usr/bin/env bash
# bench/ab.sh: paired A/B runs of aiofs against afero.OsFs, for a machine
# too noisy for bench/run.sh's medians of separate runs. The test binary
# is built once; each round is a fresh process that runs every matching
# benchmark for both backends back to back, in an order that alternates
# between rounds (AIOFS_BENCH_ORDER). For each benchmark it prints the
# median speed of each backend and the median and range of the rounds'
# paired ratios aiofs/OsFs (above 1: aiofs is faster).
#
# usage: bench/ab.sh [-rounds N] [-benchtime T] [-size SIZE] [-o RAW] REGEX
#
#   -rounds     rounds (default 7)
#   -benchtime  go test -benchtime per backend and round (default 1s)
#   -size       AIOFS_BENCH_SIZE (default 1GiB)
#   -o          keep the raw go test output in RAW
#
# Environment as for the benchmarks (AIOFS_BENCH_COLD, AIOFS_ENGINE, ...).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."
rounds=7 benchtime=1s size=1GiB raw=""
while [ $# -gt 1 ]; do
	case "$1" in
	-rounds) rounds=$2; shift ;;
	-benchtime) benchtime=$2; shift ;;
	-size) size=$2; shift ;;
	-o) raw=$2; shift ;;
	*) echo "ab.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ $# -eq 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/aiofs.test" .
for r in $(seq "$rounds"); do
	order=forward
	[ $((r % 2)) = 0 ] && order=reverse
	AIOFS_BENCH_SIZE=$size AIOFS_BENCH_ORDER=$order "$work/aiofs.test" -test.run '^$' \
		-test.bench "$1" -test.benchtime "$benchtime" -test.count 1 |
		sed -n "s/^Benchmark/$r Benchmark/p" >>"$work/out.txt"
done
[ -z "$raw" ] || cp "$work/out.txt" "$raw"
# Lines: round name-N iterations ns/op [MB/s] ...; speed is MB/s, or
# 1e9/ns for benchmarks without bytes.
awk '
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{
	name = $2; sub(/-[0-9]+$/, "", name)
	be = name; sub(/.*\/backend=/, "", be); sub(/\/backend=[^\/]*$/, "", name)
	if (be == "base") be = "os"; if (be == "wrap") be = "aiofs"
	speed = 1e9 / $4
	for (i = 5; i <= NF; i++) if ($(i+1) == "MB/s") speed = $i
	v[name, be, $1] = speed
	if (!(name in seen)) { seen[name] = 1; order[++nn] = name }
	if ($1 > maxr) maxr = $1
}
END {
	printf "| benchmark | OsFs | aiofs | aiofs/OsFs (median of paired rounds) | range | rounds |\n|---|--:|--:|--:|--:|--:|\n"
	for (k = 1; k <= nn; k++) {
		name = order[k]; n = 0; no = 0; na = 0
		for (r = 1; r <= maxr; r++) {
			if ((name, "os", r) in v) os_[++no] = v[name, "os", r]
			if ((name, "aiofs", r) in v) a_[++na] = v[name, "aiofs", r]
			if ((name, "os", r) in v && (name, "aiofs", r) in v) rat[++n] = v[name, "aiofs", r] / v[name, "os", r]
		}
		if (n == 0) continue
		lo = hi = rat[1]; for (i = 2; i <= n; i++) { if (rat[i] < lo) lo = rat[i]; if (rat[i] > hi) hi = rat[i] }
		printf "| %s | %.0f | %.0f | **%.2f** | %.2f–%.2f | %d |\n", name, median(os_, no), median(a_, na), median(rat, n), lo, hi, n
	}
}' "$work/out.txt"

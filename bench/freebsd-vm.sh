#!/usr/bin/env bash
# bench/freebsd-vm.sh: the engine benchmarks in the FreeBSD VM
# (../shared/freebsd-vm, QEMU's TCG emulator): BenchmarkEngineRead4K, the
# kqueue engine beside the pool and plain pread(2) on an os.File, 4 KiB
# random reads, warm and cold, 1 and 32 goroutines. It writes the raw
# output to bench/RESULTS.freebsd.txt and its section of bench/RESULTS.md:
# medians over the runs, as speeds relative to plain pread in the same
# run. TCG times say nothing about real hardware; only the ratios between
# engines in one run mean something.
#
# usage: bench/freebsd-vm.sh [-count N]     (default 5)
#
# Needs what ../shared/freebsd-vm/README.md says (Debian: qemu-system-x86
# xorriso grub-pc-bin mtools). Two VM boots: warm cells at 2000 reads per
# run, cold ones at 80 (the cold reads use pages of the test binary, on
# the VM's memory-disk root, that the process has not read before, and
# there are only so many: -count above 5 runs out). VM_NICE=0 gives the
# VM a fair share of a busy machine (run-tests.sh's default is 19).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
vm=$root/../shared/freebsd-vm/run-tests.sh
count=5
while [ $# -gt 0 ]; do
	case $1 in
	-count) count=$2; shift 2 ;;
	*) sed -n 2,19p "$0"; exit 2 ;;
	esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 go test -c -o "$work/aiofs.test" .)
raw=$here/RESULTS.freebsd.txt
: >"$raw"
for cell in "warm 2000x" "cold 80x"; do
	set -- $cell
	VM_SMP=2 "$vm" "$work/aiofs.test" -- -test.run '^$' -test.bench "EngineRead4K/$1/" \
		-test.benchtime "$2" -test.count "$count" | tr -d '\r' | tee -a "$raw" | grep '^Benchmark' || true
done
grep -q '^BenchmarkEngineRead4K' "$raw" || { echo "no benchmark output; see $raw" >&2; exit 1; }

# Medians of ns/op per cell and column, then speeds relative to "os".
table=$(awk '
$1 ~ /^BenchmarkEngineRead4K\// {
	split($1, p, "/"); col = p[4]; sub(/-[0-9]+$/, "", col)
	row = p[2] "/" p[3]; v[row, col] = v[row, col] " " $3
	if (!(row in seen)) { seen[row] = 1; rows[++nr] = row }
	if (!(col in cseen)) { cseen[col] = 1; cols[++nc] = col }
}
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
	printf "| cells | os µs/read |"; for (c = 2; c <= nc; c++) printf " %s |", cols[c]; print ""
	printf "|---|--:|"; for (c = 2; c <= nc; c++) printf "--:|"; print ""
	for (r = 1; r <= nr; r++) {
		os = median(v[rows[r], "os"])
		printf "| %s | %.0f |", rows[r], os / 1000
		for (c = 2; c <= nc; c++) printf " %.2f |", os / median(v[rows[r], cols[c]])
		print ""
	}
}' "$raw")

section=$(cat <<EOF
<!-- bench/freebsd-vm.sh section -->
## FreeBSD engines in the VM (TCG figures)

The engines on FreeBSD 13.2 under QEMU's TCG emulator (../shared/freebsd-vm, 2 virtual CPUs): 4 KiB
reads at random offsets, warm (a tmpfs file) and cold (pages of the test binary on the VM's
memory-disk root not read before, dropped with FADV_DONTNEED), by 1 and 32 goroutines. **TCG
figures**: the emulator runs code 20-70x slower than hardware and its timer and AIO daemon wake-ups
dominate; only the ratios between columns of one row mean anything. Each column is the speed
relative to plain \`pread(2)\` on an os.File in the same run (above 1 is faster), medians over
$count runs. \`kqueue\` is the engine as shipped (reads up to 128 KiB try \`pread\` in the caller's
thread, at most kqueueDirectReaders at once, before the AIO queue); \`kqueue-direct=0\` queues every
read, \`kqueue-direct=32\` lets every one of the 32 goroutines read directly.

Generated $(date -u '+%Y-%m-%d %H:%M UTC') by \`bench/freebsd-vm.sh -count $count\` (git $(git -C "$root" rev-parse --short HEAD)); raw output in
RESULTS.freebsd.txt. The host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end.

$table
<!-- end of section freebsd-vm -->
EOF
)
out=$here/RESULTS.md
if grep -q '^<!-- bench/freebsd-vm.sh section -->' "$out"; then
	awk -v s="$section" '
	/^<!-- bench\/freebsd-vm.sh section -->/ { print s; skip = 1; next }
	skip && /^<!-- end of section freebsd-vm -->/ { skip = 0; next }
	!skip' "$out" >"$work/out" && cat "$work/out" >"$out"
else
	printf '\n%s\n' "$section" >>"$out"
fi
printf '%s\n' "$table"

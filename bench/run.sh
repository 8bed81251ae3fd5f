#!/usr/bin/env bash
# bench/run.sh: benchmark aiofs against afero.OsFs and fio, and write
# bench/RESULTS.md (ratio tables, benchstat output, machine description).
#
# usage: bench/run.sh [-quick] [-size SIZE] [-write-size SIZE] [-files N]
#                     [-count N] [-benchtime T] [-bench REGEX] [-engine E]
#                     [-cold] [-dir DIR] [-fio-runtime SEC] [-no-fio] [-o FILE]
#
#   -quick        small sizes and -count 3, to try the script out (writes
#                 bench/RESULTS-quick.md unless -o is given)
#   -size         file read by the read benchmarks and fio (default 1GiB)
#   -write-size   bytes written per op by BenchmarkWrite (default 256MiB)
#   -files        files per op of BenchmarkSmallFiles (default 10000)
#   -count        runs of each benchmark, for benchstat (default 10)
#   -benchtime    go test -benchtime (default 1s)
#   -bench        go test -bench regexp (default: the os-vs-aiofs benchmarks)
#   -engine       AIOFS_ENGINE for the aiofs backend: uring, kqueue or pool
#                 (default: the platform's own)
#   -cold         also run the cache=cold variants (drop the page cache;
#                 needs root)
#   -dir          where the benchmark files go (default $TMPDIR or /tmp); a
#                 temporary directory is made there and removed at the end
#   -fio-runtime  seconds per fio read job (default 10)
#   -no-fio       skip fio
#   -o            output file (default bench/RESULTS.md)
#
# Sizes take KiB, MiB or GiB suffixes. The raw `go test` output is kept
# beside the Markdown file (RESULTS.txt) for later benchstat comparisons.
# fio is installed with apt-get when missing and running as root; benchstat
# with `go install` into a temporary GOBIN (nothing is added to go.mod).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"

quick=0 size=1GiB write_size=256MiB files=10000 count=10 benchtime=1s
bench='^Benchmark(RandRead4K|SeqRead128K|SeqReadCRC|CopyDiscard|HTTPFileServer|Write|SmallFiles|LogAppend|Threads)$'
engine=${AIOFS_ENGINE:-} cold=0 dir=${TMPDIR:-/tmp} fio_runtime=10 use_fio=1 out=""
set_size=0 set_write=0 set_files=0 set_count=0 set_benchtime=0 set_fio_runtime=0
args=("$@")

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
need() { [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; usage; }; }
while [ $# -gt 0 ]; do
	case "$1" in
	-quick | --quick) quick=1 ;;
	-size) need "$@"; size=$2; set_size=1; shift ;;
	-write-size) need "$@"; write_size=$2; set_write=1; shift ;;
	-files) need "$@"; files=$2; set_files=1; shift ;;
	-count) need "$@"; count=$2; set_count=1; shift ;;
	-benchtime) need "$@"; benchtime=$2; set_benchtime=1; shift ;;
	-bench) need "$@"; bench=$2; shift ;;
	-engine) need "$@"; engine=$2; shift ;;
	-cold) cold=1 ;;
	-dir) need "$@"; dir=$2; shift ;;
	-fio-runtime) need "$@"; fio_runtime=$2; set_fio_runtime=1; shift ;;
	-no-fio) use_fio=0 ;;
	-o) need "$@"; out=$2; shift ;;
	-h | -help | --help) usage 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; usage ;;
	esac
	shift
done
if [ "$quick" = 1 ]; then
	[ "$set_size" = 1 ] || size=64MiB
	[ "$set_write" = 1 ] || write_size=32MiB
	[ "$set_files" = 1 ] || files=1000
	[ "$set_count" = 1 ] || count=3
	[ "$set_benchtime" = 1 ] || benchtime=200ms
	[ "$set_fio_runtime" = 1 ] || fio_runtime=2
	[ -n "$out" ] || out=bench/RESULTS-quick.md
fi
[ -n "$out" ] || out=bench/RESULTS.md
raw=${out%.md}.txt

# bytes SIZE: a size with an optional KiB/MiB/GiB suffix, in bytes.
bytes() {
	local m=1
	if ! [[ "$1" =~ ^([0-9]+)(GiB|GB|G|MiB|MB|M|KiB|KB|K|B)?$ ]]; then
		echo "run.sh: bad size $1: want bytes, or a number with KiB, MiB or GiB" >&2
		exit 2
	fi
	case "${BASH_REMATCH[2]}" in
	G*) m=$((1 << 30)) ;;
	M*) m=$((1 << 20)) ;;
	K*) m=$((1 << 10)) ;;
	esac
	echo $((BASH_REMATCH[1] * m))
}
# human BYTES: the size as the Go benchmarks name their input files.
human() {
	local n=$1
	if [ $((n % (1 << 30))) -eq 0 ]; then
		echo "$((n >> 30))GiB"
	elif [ $((n % (1 << 20))) -eq 0 ]; then
		echo "$((n >> 20))MiB"
	elif [ $((n % (1 << 10))) -eq 0 ]; then
		echo "$((n >> 10))KiB"
	else
		echo "${n}B"
	fi
}
size_bytes=$(bytes "$size")
write_bytes=$(bytes "$write_size")
[[ "$count" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad -count $count" >&2; exit 2; }
[[ "$files" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad -files $files" >&2; exit 2; }
[[ "$fio_runtime" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad -fio-runtime $fio_runtime" >&2; exit 2; }

log() { printf '== %s\n' "$*" >&2; }

mkdir -p "$dir"
work=$(mktemp -d "$dir/aiofs-run.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

# Tools.
if [ "$use_fio" = 1 ] && ! command -v fio >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing fio"
		if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio; } >"$work/apt.log" 2>&1; then
			tail -5 "$work/apt.log" >&2
			echo "run.sh: could not install fio; continuing without it" >&2
		fi
	else
		echo "run.sh: fio is missing (install it, or run as root with apt-get); continuing without it" >&2
	fi
fi
if [ "$use_fio" = 1 ] && ! command -v fio >/dev/null 2>&1; then
	use_fio=0
fi
benchstat=$(command -v benchstat || true)
if [ -z "$benchstat" ]; then
	log "installing benchstat into a temporary GOBIN"
	if (cd "$work" && GOBIN="$work/bin" GOFLAGS= go install golang.org/x/perf/cmd/benchstat@latest) >"$work/benchstat-install.log" 2>&1; then
		benchstat="$work/bin/benchstat"
	else
		tail -5 "$work/benchstat-install.log" >&2
		echo "run.sh: could not install benchstat; RESULTS.md will lack its table" >&2
	fi
fi

# The command that regenerates these results.
regen="bench/run.sh"
[ ${#args[@]} -eq 0 ] || regen="bench/run.sh ${args[*]}"

# Machine description.
fs_type=$(findmnt -n -o FSTYPE --target "$work" 2>/dev/null || stat -f -c %T "$work" 2>/dev/null || echo unknown)
fs_dev=$(df -P "$work" 2>/dev/null | awk 'NR==2 {print $1}' || true)
model=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || true)
{
	echo "- CPUs (nproc): $(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
	echo "- CPU: ${model:-unknown}"
	echo "- memory: ${mem:-unknown}"
	echo "- kernel: $(uname -srm)"
	echo "- file system of the benchmark directory: $fs_type on ${fs_dev:-unknown} ($dir)"
	echo "- $(go version)"
	[ "$use_fio" = 1 ] && echo "- $(fio --version)"
	echo "- sizes: read file $size, writes $write_size per op, $files small files per op; -count $count, -benchtime $benchtime"
	echo "- aiofs engine: ${engine:-platform default} (AIOFS_ENGINE)"
	if [ "$cold" = 1 ]; then echo "- cache=cold variants: on (AIOFS_BENCH_COLD=1)"; fi
	echo "- git: $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
} >"$work/machine.txt"
cat "$work/machine.txt" >&2

# Go benchmarks.
log "go test -bench (count $count, read file $size): this takes a while"
env_vars=(AIOFS_BENCH_SIZE="$size_bytes" AIOFS_BENCH_WRITE_SIZE="$write_bytes" AIOFS_BENCH_FILES="$files" AIOFS_BENCH_DIR="$work")
[ "$cold" = 1 ] && env_vars+=(AIOFS_BENCH_COLD=1)
[ -n "$engine" ] && env_vars+=(AIOFS_ENGINE="$engine")
env "${env_vars[@]}" go test -run '^$' -bench "$bench" -count "$count" -benchtime "$benchtime" -timeout 0 . | tee "$work/go.txt"
cp "$work/go.txt" "$raw"

if [ -n "$benchstat" ]; then
	log "benchstat -col /backend"
	"$benchstat" -col /backend "$work/go.txt" >"$work/benchstat.txt" 2>&1 || {
		echo "run.sh: benchstat failed:" >&2
		cat "$work/benchstat.txt" >&2
	}
fi

# fio on the same file the Go benchmarks read.
mkdir -p "$work/fio"
if [ "$use_fio" = 1 ]; then
	input="$work/aiofs-bench/input-$(human "$size_bytes").bin"
	if [ ! -f "$input" ]; then
		# The selected benchmarks did not make it: make it the same way.
		head -c "$size_bytes" /dev/urandom >"$input"
	fi
	cat "$input" >/dev/null # warm, as the Go benchmarks' cache=warm
	fio_common=(--direct=0 --invalidate=0 --output-format=json)
	fio_read() { # name engine rw bs depth jobs
		local name=$1 eng=$2 rw=$3 bs=$4 depth=$5 jobs=$6
		log "fio $name"
		fio "${fio_common[@]}" --name="$name" --filename="$input" --readonly --size="$size_bytes" \
			--ioengine="$eng" --rw="$rw" --bs="$bs" --iodepth="$depth" --numjobs="$jobs" --group_reporting \
			--time_based --runtime="$fio_runtime" --ramp_time=1 >"$work/fio/$name.json" 2>"$work/fio/$name.err" ||
			{ echo "run.sh: fio $name failed: $(tail -1 "$work/fio/$name.err")" >&2; }
	}
	fio_write() { # name engine
		local name=$1 eng=$2
		log "fio $name"
		fio "${fio_common[@]}" --name="$name" --filename="$work/fio-write.bin" --size="$write_bytes" \
			--ioengine="$eng" --rw=write --bs=4k --iodepth=1 --end_fsync=1 \
			>"$work/fio/$name.json" 2>"$work/fio/$name.err" ||
			{ echo "run.sh: fio $name failed: $(tail -1 "$work/fio/$name.err")" >&2; }
		rm -f "$work/fio-write.bin"
	}
	for eng in io_uring psync; do
		fio_read "randread-4k-qd1-$eng" "$eng" randread 4k 1 1
		if [ "$eng" = io_uring ]; then
			fio_read "randread-4k-qd32-$eng" "$eng" randread 4k 32 1
		else
			fio_read "randread-4k-qd32-$eng" "$eng" randread 4k 1 32
		fi
		fio_read "seqread-128k-$eng" "$eng" read 128k 1 1
		fio_write "seqwrite-4k-$eng" "$eng"
	done
fi

note="aiofs (io_uring/pool engine, readahead, write-behind) beside afero.OsFs in the same \`go test -bench\` run, and fio doing the same I/O."
[ "$quick" = 1 ] && note="**Quick mode** (small sizes, -count $count): for trying the script out, not for conclusions. $note"
log "writing $out"
bs_out=""
[ -s "$work/benchstat.txt" ] && bs_out="$work/benchstat.txt"
go run ./bench/report -go "$work/go.txt" -benchstat "$bs_out" \
	-fio "$work/fio" -machine "$work/machine.txt" -cmd "$regen" -note "$note" -o "$out"
log "done: $out (raw benchmark output: $raw)"

#!/usr/bin/env bash
# bench/run.sh: benchmark aiofs against afero.OsFs and fio, and write
# bench/RESULTS.md (ratio tables, peak RSS against the memory bound,
# benchstat output, machine description).
#
# usage: bench/run.sh [-quick] [-slow | -wrk | -wrap | -no-wrk] [-delay D]
#                     [-size SIZE] [-write-size SIZE] [-files N]
#                     [-count N] [-benchtime T] [-bench REGEX] [-engine E]
#                     [-cold] [-dir DIR] [-fio-runtime SEC] [-no-fio]
#                     [-wrk-rounds N] [-wrk-duration T] [-o FILE]
#
#   -quick        small sizes and -count 3, to try the script out (writes
#                 bench/RESULTS-quick.md unless -o is given)
#   -slow         the slow-storage tier instead of the local disk: sshfs to
#                 OpenSSH's sshd on 127.0.0.1 through bench/delayproxy,
#                 cold reads, 4 KiB writes; 256MiB file, 3 rounds, each a
#                 fresh test process running both backends (installs
#                 openssh-server and sshfs with apt-get; needs root)
#   -wrap         only aiofs.Wrap beside its unwrapped base (BenchmarkWrap*):
#                 over SFTP to OpenSSH's sshd and over S3 to SeaweedFS's
#                 gateway (built once by internal/s3test/buildweed) on
#                 127.0.0.1 through a delay line, and over MemMapFs;
#                 64MiB read file, 16MiB written,
#                 1000 small files, 3 rounds, each a fresh test process
#                 running both backends (installs openssh-server with
#                 apt-get; needs root)
#   -delay        delay of each direction of the slow link (default 1ms)
#   -wrk          only the examples/fileserver comparison under wrk
#   -no-wrk       skip the wrk comparison, which a disk run does last
#   -wrk-rounds   rounds of the wrk comparison (default 3)
#   -wrk-duration seconds of each wrk run (default 5)
#   -size         file read by the read benchmarks and fio (default 1GiB)
#   -write-size   bytes written per op by BenchmarkWrite (default 256MiB)
#                 and BenchmarkWrapWrite4K
#   -files        files per op of BenchmarkSmallFiles (default 10000) and
#                 BenchmarkWrapReadFile
#   -count        runs of each benchmark, for benchstat (default 10)
#   -benchtime    go test -benchtime (default 1s)
#   -bench        go test -bench regexps, separated by spaces, run one after
#                 the other (default: the os-vs-aiofs benchmarks)
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
# Sizes take KiB, MiB or GiB suffixes. Each tier (disk, slow, wrk, wrap)
# replaces its own section of the output file and leaves the others, so the
# file gathers the latest run of each. The raw outputs are kept beside it
# (RESULTS.txt, RESULTS.slow.txt, RESULTS.wrk.txt, RESULTS.wrap.txt) for
# later comparisons.
# fio, wrk, sshd and sshfs are installed with apt-get when missing and
# running as root; benchstat with `go install` into a temporary GOBIN
# (nothing is added to go.mod). Everything started is stopped on exit,
# Ctrl-C included.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"

quick=0 size=1GiB write_size=256MiB files=10000 count=10 benchtime=1s
bench='^Benchmark(RandRead4K|HotRead4K|SeqRead128K|SeqReadCRC|SeqReadSHA256|CopyDiscard|HTTPFileServer|Write|SmallFiles|LogAppend|Threads)$'
engine=${AIOFS_ENGINE:-} cold=0 dir=${TMPDIR:-/tmp} fio_runtime=10 use_fio=1 out=""
tier=disk use_wrk=1 delay=1ms wrk_rounds=3 wrk_duration=5
set_size=0 set_write=0 set_files=0 set_count=0 set_benchtime=0 set_fio_runtime=0 set_bench=0
set_wrk_rounds=0 set_wrk_duration=0
args=("$@")

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
need() { [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; usage; }; }
while [ $# -gt 0 ]; do
	case "$1" in
	-quick | --quick) quick=1 ;;
	-slow) tier=slow ;;
	-wrk) tier=wrk ;;
	-wrap) tier=wrap ;;
	-no-wrk) use_wrk=0 ;;
	-delay) need "$@"; delay=$2; shift ;;
	-wrk-rounds) need "$@"; wrk_rounds=$2; set_wrk_rounds=1; shift ;;
	-wrk-duration) need "$@"; wrk_duration=$2; set_wrk_duration=1; shift ;;
	-size) need "$@"; size=$2; set_size=1; shift ;;
	-write-size) need "$@"; write_size=$2; set_write=1; shift ;;
	-files) need "$@"; files=$2; set_files=1; shift ;;
	-count) need "$@"; count=$2; set_count=1; shift ;;
	-benchtime) need "$@"; benchtime=$2; set_benchtime=1; shift ;;
	-bench) need "$@"; bench=$2; set_bench=1; shift ;;
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
if [ "$tier" = slow ]; then
	# The slow workloads: cold sequential reads (plain and with SHA-256),
	# cold random 4 KiB reads by 32 goroutines and, in BenchmarkThreads,
	# by 256 with the thread count, and 4 KiB writes + Sync (with the
	# bufio.Writer row beside). Sub-benchmark levels pick cache=cold,
	# chunk=4KiB and g=32 out of the disk tier's variants.
	# BenchmarkThreads has its own pattern: a leaf sub-benchmark that a
	# longer pattern matches only in part is not run.
	[ "$set_bench" = 1 ] || bench='^Benchmark(SeqRead128K|SeqReadSHA256|RandRead4K|Write)$/^(cache=cold|chunk=4KiB)$/^(g=32|backend=.*)$ ^BenchmarkThreads$'
	[ "$set_size" = 1 ] || size=256MiB
	[ "$set_count" = 1 ] || count=3
	cold=1 use_fio=0
fi
if [ "$quick" = 1 ]; then
	[ "$set_size" = 1 ] || size=64MiB
	[ "$set_write" = 1 ] || write_size=32MiB
	[ "$set_files" = 1 ] || files=1000
	[ "$set_count" = 1 ] || count=3
	[ "$set_benchtime" = 1 ] || benchtime=200ms
	[ "$set_fio_runtime" = 1 ] || fio_runtime=2
	[ "$set_wrk_rounds" = 1 ] || wrk_rounds=1
	[ "$set_wrk_duration" = 1 ] || wrk_duration=1
	[ -n "$out" ] || out=bench/RESULTS-quick.md
fi
if [ "$tier" = wrap ]; then
	# The Wrap workloads at their full sizes, or a quarter of them in quick
	# mode (the base over SFTP pays a round trip per call).
	if [ "$quick" = 1 ]; then
		[ "$set_size" = 1 ] || size=16MiB
		[ "$set_write" = 1 ] || write_size=4MiB
		[ "$set_files" = 1 ] || files=250
	else
		[ "$set_size" = 1 ] || size=64MiB
		[ "$set_write" = 1 ] || write_size=16MiB
		[ "$set_files" = 1 ] || files=1000
	fi
	[ "$set_bench" = 1 ] || bench='^BenchmarkWrap'
	[ "$set_count" = 1 ] || count=3
	use_fio=0
fi
[ -n "$out" ] || out=bench/RESULTS.md
case "$tier" in
disk) raw=${out%.md}.txt ;;
*) raw=${out%.md}.$tier.txt ;;
esac

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
[[ "$wrk_rounds" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad -wrk-rounds $wrk_rounds" >&2; exit 2; }
[[ "$wrk_duration" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad -wrk-duration $wrk_duration" >&2; exit 2; }
[[ "$delay" =~ ^[0-9]+(\.[0-9]+)?(us|µs|ms|s)$ ]] || { echo "run.sh: bad -delay $delay: want a Go duration such as 1ms" >&2; exit 2; }

log() { printf '== %s\n' "$*" >&2; }

# Teardown. Whatever was started is recorded here and stopped on exit, in
# reverse order of dependence: the mount before the proxy and sshd it goes
# through, and the temporary directory last, only once nothing is mounted
# in it (rm -rf must not walk into a live mount).
mkdir -p "$dir"
work=$(mktemp -d "$dir/aiofs-run.XXXXXX")
mnt="" pids=()
cleanup() {
	set +e
	if [ -n "$mnt" ] && mountpoint -q "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	if [ -n "$mnt" ] && mountpoint -q "$mnt"; then
		echo "run.sh: $mnt is still mounted; leaving $work" >&2
		return
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

# apt_install PACKAGE...: installs what is missing, once per run.
apt_updated=0
apt_install() {
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "run.sh: $* missing (install it, or run as root with apt-get)" >&2
		return 1
	fi
	log "installing $*"
	if [ "$apt_updated" = 0 ]; then
		apt-get update -qq >>"$work/apt.log" 2>&1 || { tail -5 "$work/apt.log" >&2; return 1; }
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$work/apt.log" 2>&1 ||
		{ tail -5 "$work/apt.log" >&2; return 1; }
}

# Tools.
[ "$tier" = disk ] || use_fio=0
if [ "$use_fio" = 1 ] && ! command -v fio >/dev/null 2>&1; then
	apt_install fio || echo "run.sh: continuing without fio" >&2
	command -v fio >/dev/null 2>&1 || use_fio=0
fi
if [ "$tier" = wrk ] || { [ "$tier" = disk ] && [ "$use_wrk" = 1 ]; }; then
	if ! command -v wrk >/dev/null 2>&1; then
		apt_install wrk || echo "run.sh: continuing without the wrk comparison" >&2
	fi
	command -v wrk >/dev/null 2>&1 || use_wrk=0
	[ "$use_wrk" = 1 ] || [ "$tier" != wrk ] || exit 1
else
	use_wrk=0
fi
if [ "$tier" = wrap ]; then
	[ "$(id -u)" = 0 ] || { echo "run.sh: -wrap needs root (sshd logs the benchmark's user in)" >&2; exit 1; }
	[ -x /usr/sbin/sshd ] || apt_install openssh-server || exit 1
fi
if [ "$tier" = slow ]; then
	[ "$(id -u)" = 0 ] || { echo "run.sh: -slow needs root (sshd, FUSE mounts, dropping the page cache)" >&2; exit 1; }
	missing=()
	[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
	command -v sshfs >/dev/null 2>&1 || missing+=(sshfs)
	[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}" || exit 1
fi
benchstat=""
if [ "$tier" != wrk ]; then
	benchstat=$(command -v benchstat || true)
	if [ -z "$benchstat" ]; then
		log "installing benchstat into a temporary GOBIN"
		if (cd "$work" && GOBIN="$work/bin" GOFLAGS= go install golang.org/x/perf/cmd/benchstat@latest) >"$work/benchstat-install.log" 2>&1; then
			benchstat="$work/bin/benchstat"
		else
			tail -5 "$work/benchstat-install.log" >&2
			echo "run.sh: could not install benchstat; the results will lack its table" >&2
		fi
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
	echo "- $(go version)"
	echo "- aiofs engine: ${engine:-platform default} (AIOFS_ENGINE)"
	echo "- git: $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
} >"$work/machine-base.txt"

# run_report ARGS...: writes this tier's section of $out.
run_report() {
	go run ./bench/report -section "$tier" -machine "$work/machine.txt" -cmd "$regen" -o "$out" "$@"
}

# run_go_bench DIR: runs the selected benchmarks with their files in DIR,
# output in $work/go.txt. The disk tier runs them in one process with
# -count; the slow tier in one fresh process per round, so that both
# backends of a round see the same state of the link and the machine, and
# the report can pair them.
run_go_bench() {
	local bdir=$1
	local env_vars=(AIOFS_BENCH_SIZE="$size_bytes" AIOFS_BENCH_WRITE_SIZE="$write_bytes" AIOFS_BENCH_FILES="$files" AIOFS_BENCH_DIR="$bdir")
	[ "$cold" = 1 ] && env_vars+=(AIOFS_BENCH_COLD=1)
	[ -n "$engine" ] && env_vars+=(AIOFS_ENGINE="$engine")
	[ "$tier" = wrap ] && env_vars+=(AIOFS_BENCH_WRAP_SIZE="$size_bytes" AIOFS_BENCH_WRAP_WRITE_SIZE="$write_bytes"
		AIOFS_BENCH_WRAP_FILES="$files" AIOFS_BENCH_DELAY="$delay")
	local round pattern
	: >"$work/go.txt"
	if [ "$tier" = disk ]; then
		for pattern in $bench; do
			env "${env_vars[@]}" go test -run '^$' -bench "$pattern" -count "$count" -benchtime "$benchtime" -timeout 0 . | tee -a "$work/go.txt"
		done
		return
	fi
	for round in $(seq "$count"); do
		log "round $round of $count"
		for pattern in $bench; do
			env "${env_vars[@]}" "$work/aiofs.test" -test.run '^$' -test.bench "$pattern" -test.count 1 \
				-test.benchtime "$benchtime" -test.timeout 0 | tee -a "$work/go.txt"
		done
	done
}

# go_report NOTE: benchstat and the report of $work/go.txt.
go_report() {
	cp "$work/go.txt" "$raw"
	local bs_out=""
	if [ -n "$benchstat" ]; then
		log "benchstat -col /backend"
		if "$benchstat" -col /backend "$work/go.txt" >"$work/benchstat.txt" 2>&1; then
			bs_out="$work/benchstat.txt"
		else
			echo "run.sh: benchstat failed:" >&2
			cat "$work/benchstat.txt" >&2
		fi
	fi
	local fio_args=()
	[ -d "$work/fio" ] && fio_args=(-fio "$work/fio")
	log "writing $out"
	run_report -go "$work/go.txt" -benchstat "$bs_out" "${fio_args[@]}" "$@"
}

# The disk tier: Go benchmarks and fio on the local file system.
disk_tier() {
	cp "$work/machine-base.txt" "$work/machine.txt"
	{
		echo "- file system of the benchmark directory: $fs_type on ${fs_dev:-unknown} ($dir)"
		[ "$use_fio" = 1 ] && echo "- $(fio --version)"
		echo "- sizes: read file $size, writes $write_size per op, $files small files per op; -count $count, -benchtime $benchtime"
		if [ "$cold" = 1 ]; then echo "- cache=cold variants: on (AIOFS_BENCH_COLD=1)"; fi
	} >>"$work/machine.txt"
	cat "$work/machine.txt" >&2

	log "go test -bench (count $count, read file $size): this takes a while"
	run_go_bench "$work"

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

	local note="aiofs (io_uring/pool engine, readahead, write-behind) beside afero.OsFs in the same \`go test -bench\` run, and fio doing the same I/O."
	[ "$quick" = 1 ] && note="**Quick mode** (small sizes, -count $count): for trying the script out, not for conclusions. $note"
	go_report -title "Local disk" -note "$note"
}

# free_port: a TCP port of 127.0.0.1 that nothing listens on now.
free_port() {
	local port
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	echo "run.sh: no free port found" >&2
	return 1
}

# listening_on FILE PID: prints the address that the server PID writes to
# FILE on a line "listening on ADDR" (http:// taken off), once it has;
# nothing if it exits or 5 s pass first.
listening_on() {
	local addr=""
	for _ in $(seq 50); do
		addr=$(sed -n 's|^listening on \(http://\)\{0,1\}||p' "$1")
		[ -n "$addr" ] && break
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	printf '%s' "$addr"
}

# wait_listen PORT PID: waits until something accepts on 127.0.0.1:PORT,
# failing if PID exits first.
wait_listen() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# The slow tier: the same benchmarks on sshfs through a delay line.
slow_tier() {
	local keys=$work/keys remote=$work/remote
	mnt=$work/mnt
	mkdir -p "$keys" "$remote" "$mnt" /run/sshd
	chmod 700 "$keys"

	# Keys for this run only: sshd's host key and the client's, which is
	# root's only authorized key on this sshd.
	ssh-keygen -q -t ed25519 -N '' -f "$keys/host" -C aiofs-bench-host
	ssh-keygen -q -t ed25519 -N '' -f "$keys/client" -C aiofs-bench-client
	cp "$keys/client.pub" "$keys/authorized_keys"

	local sshd_port
	sshd_port=$(free_port)
	# Only 127.0.0.1, only this key, no PAM or passwords; sftp in process.
	cat >"$keys/sshd_config" <<-CONF
		ListenAddress 127.0.0.1
		Port $sshd_port
		HostKey $keys/host
		PidFile $work/sshd.pid
		AuthorizedKeysFile $keys/authorized_keys
		PermitRootLogin prohibit-password
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		AllowTcpForwarding no
		X11Forwarding no
		Subsystem sftp internal-sftp
	CONF
	log "sshd on 127.0.0.1:$sshd_port"
	/usr/sbin/sshd -D -e -f "$keys/sshd_config" 2>"$work/sshd.log" &
	pids+=($!)
	wait_listen "$sshd_port" "${pids[-1]}" || { cat "$work/sshd.log" >&2; echo "run.sh: sshd did not start" >&2; exit 1; }

	log "delay proxy: $delay each way"
	go build -o "$work/delayproxy" ./bench/delayproxy
	"$work/delayproxy" -listen 127.0.0.1:0 -target "127.0.0.1:$sshd_port" -delay "$delay" >"$work/proxy.out" &
	pids+=($!)
	local proxy_addr
	proxy_addr=$(listening_on "$work/proxy.out" "${pids[-1]}")
	[ -n "$proxy_addr" ] || { echo "run.sh: the delay proxy did not start" >&2; exit 1; }

	# The input file is made on the server's side of the link, which is
	# the same machine: the benchmarks find it through the mount and
	# don't push 256 MiB through the slow link first.
	log "test binary, and the $(human "$size_bytes") input file"
	go test -c -o "$work/aiofs.test" .
	AIOFS_BENCH_SIZE="$size_bytes" AIOFS_BENCH_DIR="$remote" "$work/aiofs.test" -test.run '^$' \
		-test.bench '^BenchmarkSeqRead128K$/^cache=warm$/^backend=os$' -test.benchtime 1x >/dev/null

	# sshfs keeps no data cache of its own (3.x); without kernel_cache
	# FUSE drops a file's pages on each open, and the benchmarks' cold
	# variants drop the page cache on both sides of the link, so a cold
	# read goes over it. dir_cache=no keeps sizes and attributes honest
	# for the write benchmarks' checks.
	local ssh_opts=IdentityFile=$keys/client,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes,LogLevel=ERROR
	log "sshfs through ${proxy_addr}"
	sshfs -p "${proxy_addr##*:}" -o "$ssh_opts,dir_cache=no" "root@127.0.0.1:$remote" "$mnt"
	mountpoint -q "$mnt" || { echo "run.sh: sshfs did not mount $mnt" >&2; exit 1; }

	local sshd_version sshfs_version
	sshd_version=$(ssh -V 2>&1)
	sshfs_version=$(sshfs --version 2>&1 | tr '\n' ' ' | sed 's/ *$//')
	cp "$work/machine-base.txt" "$work/machine.txt"
	{
		echo "- slow link: sshfs to OpenSSH sshd on 127.0.0.1 through bench/delayproxy, $delay each way; sshfs mount options dir_cache=no (no kernel_cache); page cache dropped on both ends before each cold run"
		echo "- $sshfs_version; $sshd_version"
		echo "- server's files: $fs_type on ${fs_dev:-unknown} ($dir)"
		echo "- sizes: read file $size, writes $write_size per op; $count rounds (one fresh test process each), -benchtime $benchtime"
	} >>"$work/machine.txt"
	cat "$work/machine.txt" >&2

	log "go test -bench on the sshfs mount ($count rounds)"
	run_go_bench "$mnt"

	local note="aiofs beside afero.OsFs on an sshfs mount whose link delays each chunk $delay each way: the case where asynchronous I/O and readahead pay the most. Each round is one test process running both backends; the ratio range is over the rounds' paired ratios."
	[ "$quick" = 1 ] && note="**Quick mode** (small sizes): for trying the script out, not for conclusions. $note"
	go_report -title "Slow storage: sshfs over a $delay delay line" -note "$note"
}

# The wrap tier: aiofs.Wrap beside its base, over SFTP through a delay
# line (the benchmarks start sshd and the proxy themselves, through
# internal/sftptest) and over MemMapFs.
wrap_tier() {
	log "test binary"
	go test -c -o "$work/aiofs.test" .
	log "SeaweedFS's weed for BenchmarkWrapS3 (built once into a cache: minutes the first time)"
	local weed
	weed=$(go run ./internal/s3test/buildweed)
	cp "$work/machine-base.txt" "$work/machine.txt"
	{
		echo "- link: pkg/sftp client (internal/sftpfs) to OpenSSH sshd (internal-sftp) on 127.0.0.1 through internal/delayproxy, $delay each way; a fresh connection per backend run"
		echo "- $(ssh -V 2>&1)"
		echo "- S3 (BenchmarkWrapS3): minio-go client (internal/s3fs) to SeaweedFS's S3 gateway ($("$weed" version 2>/dev/null | head -1); master, volume server, filer and gateway in one weed server process on 127.0.0.1, data on $fs_type) through internal/delayproxy, $delay each way"
		echo "- server's files: $fs_type on ${fs_dev:-unknown} ($dir), written locally before the timed part, so in the server's page cache: the link is measured, not the disk"
		echo "- sizes: read file $size, $write_size written per op in 4 KiB Writes, $files files of 8 KiB; $count rounds (one fresh test process each), -benchtime $benchtime"
		echo "- the machine is shared and noisy (other work runs beside the benchmarks); spreads are shown for that reason"
	} >>"$work/machine.txt"
	cat "$work/machine.txt" >&2

	log "go test -bench '$bench' ($count rounds)"
	run_go_bench "$work"

	local note="aiofs.Wrap(base) beside the unwrapped base in the same test process: the SFTP Fs and the S3 Fs at a 2 ms round trip (cold for aiofs: a fresh Wrap per op, or per run for the random reads), and MemMapFs with every block already in aiofs's cache. Each round is one test process running both backends; the ratio range is over the rounds' paired ratios. The S3 store is SeaweedFS on the same 2 cores as the benchmark (a ranged GET takes about 16 ms there, 2 of them the link), and its bare Fs already spools writes locally and uploads at Sync, so WrapS3/op=Write4K times two uploads of the same object."
	local title="Wrap over SFTP and S3 (2 ms RTT)"
	if [ "$delay" != 1ms ]; then
		note=${note/2 ms round trip/$delay delay each way}
		title="Wrap over SFTP and S3 ($delay each way)"
	fi
	[ "$quick" = 1 ] && note="**Quick mode** (small sizes): for trying the script out, not for conclusions. $note"
	go_report -wrap -title "$title" -note "$note"
}

# The wrk tier: examples/fileserver with each backend under wrk.
wrk_tier() {
	local www=$work/www
	mkdir -p "$www"
	head -c 8192 /dev/urandom >"$www/8KiB.bin"
	head -c $((1 << 20)) /dev/urandom >"$www/1MiB.bin"
	go build -o "$work/fileserver" ./examples/fileserver
	cp "$work/machine-base.txt" "$work/machine.txt"
	{
		echo "- $(wrk --version 2>&1 | head -1 | sed 's/ \[.*//')"
		echo "- wrk -t2 -c16 -d${wrk_duration}s --latency, after a 1 s warm-up of the same; a fresh fileserver process per run; $wrk_rounds rounds, the backends' order alternating between rounds; files in $fs_type on ${fs_dev:-unknown}, warm"
	} >>"$work/machine.txt"
	cat "$work/machine.txt" >&2

	: >"$work/wrk.tsv"
	local file round be order pid addr
	for file in 8KiB.bin 1MiB.bin; do
		for round in $(seq "$wrk_rounds"); do
			order="os aiofs"
			[ $((round % 2)) = 0 ] && order="aiofs os"
			for be in $order; do
				"$work/fileserver" -root "$www" -addr 127.0.0.1:0 -backend "$be" >"$work/fileserver.out" 2>/dev/null &
				pid=$!
				pids+=("$pid")
				addr=$(listening_on "$work/fileserver.out" "$pid")
				[ -n "$addr" ] || { echo "run.sh: fileserver -backend $be did not start" >&2; exit 1; }
				wrk -t2 -c16 -d1s "http://$addr/$file" >/dev/null
				log "wrk $file round $round backend $be"
				wrk -t2 -c16 -d"${wrk_duration}s" --latency "http://$addr/$file" >"$work/wrk.out"
				cat "$work/wrk.out" >&2
				{
					echo "# file=$file round=$round backend=$be"
					cat "$work/wrk.out"
				} >>"$work/wrk.txt"
				kill "$pid"
				wait "$pid" || true
				unset 'pids[-1]'
			done
		done
	done
	cp "$work/wrk.txt" "$raw"
	log "writing $out"
	local note="examples/fileserver (http.FileServer over afero.NewHttpFs) with -backend os against -backend aiofs, driven by wrk on loopback, warm page cache."
	[ "$quick" = 1 ] && note="**Quick mode** (1 s runs): for trying the script out, not for conclusions. $note"
	run_report -wrk "$work/wrk.txt" -title "examples/fileserver under wrk" -note "$note"
}

case "$tier" in
disk)
	disk_tier
	if [ "$use_wrk" = 1 ]; then
		tier=wrk raw=${out%.md}.wrk.txt
		wrk_tier
	fi
	;;
slow) slow_tier ;;
wrk) wrk_tier ;;
wrap) wrap_tier ;;
esac
log "done: $out (raw output: $raw)"

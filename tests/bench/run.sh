#!/bin/sh
# Builds the benchmark in release mode and runs it. The JSON document goes to
# stdout and to tests/bench/results/ (git-ignored).
#
#   tests/bench/run.sh [--sqlite | --all] [--postgres [--durable] [--peers]]
#                      [kbp-bench options…] [STORAGE_URI]
#   e.g. tests/bench/run.sh --orders 40000
#        tests/bench/run.sh --sqlite
#        tests/bench/run.sh --postgres
#        tests/bench/run.sh --postgres --durable --peers
#        tests/bench/run.sh --all --durable
#
# --sqlite runs the benchmark on a SQLite file in a temporary directory
# (removed when the script exits), each pipeline scenario in a file of its own.
#
# --all runs it three times in one run, on memory, on a SQLite file and on the
# throwaway PostgreSQL (see --postgres, --durable), and writes one document
# with the three side by side: {"memory": …, "sqlite": …, "postgres": …}.
#
# --postgres starts a throwaway PostgreSQL with tests/pg/pg-harness.sh in a
# temporary directory, runs the benchmark against its URI (pgbench baseline
# included, see kbp-bench --help) and stops the server when the script exits.
# Its configuration is the test suites' fast one (fsync, synchronous_commit
# and full_page_writes off).
#
# --durable runs that server as a production one would: fsync,
# synchronous_commit and full_page_writes on. The figures to compare and to
# publish are taken this way.
#
# --peers then runs graphile-worker and pg-boss (tests/bench/peers/, pinned by
# its package-lock.json and installed with `npm ci` into the build directory)
# on the same server with kbp-bench's queue N and latency samples, and prints
# the table of ratios (ours / theirs) to stderr; the JSON document on stdout
# then holds both runs and the table's rows, and the table is also written
# beside it in tests/bench/results/.
#
# --durable and --peers imply --postgres. BUILD_DIR overrides the build
# directory (default build-bench in the repository root).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-"$root/build-bench"}
results="$root/tests/bench/results"
peers_src="$root/tests/bench/peers"

postgres=0
durable=0
peers=0
sqlite=0
all=0
# Our options out of the arguments, the rest passed on to kbp-bench.
n=$#
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	case $a in
	--postgres) postgres=1 ;;
	--durable) postgres=1 durable=1 ;;
	--peers) postgres=1 peers=1 ;;
	--sqlite) sqlite=1 ;;
	--all) all=1 postgres=1 ;;
	*) set -- "$@" "$a" ;;
	esac
	n=$((n - 1))
done
if [ "$peers" -eq 1 ] && [ "$all" -eq 1 ]; then
	echo "run.sh: --peers compares PostgreSQL alone; run it without --all" >&2
	exit 64
fi
if [ "$peers" -eq 1 ]; then
	command -v node >/dev/null 2>&1 || { echo "run.sh: --peers needs Node.js (node and npm)" >&2; exit 1; }
fi

cd "$root"
if [ ! -f "$build/build.ninja" ]; then
	if [ "$postgres" -eq 1 ]; then
		meson setup "$build" --buildtype=release -Dtests=true -Dpostgres=enabled >&2
	else
		meson setup "$build" --buildtype=release -Dtests=true >&2
	fi
fi
ninja -C "$build" tests/bench/kbp-bench >&2
if [ "$peers" -eq 1 ]; then
	"$peers_src/install.sh" "$build/tests/bench/peers"
fi

pgdir=
sqdir=
cleanup() {
	if [ -n "$pgdir" ]; then
		bash "$root/tests/pg/pg-harness.sh" stop "$pgdir" >&2 || true
		rm -rf "$pgdir"
	fi
	if [ -n "$sqdir" ]; then
		rm -rf "$sqdir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ "$sqlite" -eq 1 ] || [ "$all" -eq 1 ]; then
	sqdir=$(mktemp -d /tmp/kbp-bench-sqlite.XXXXXX)
	[ "$all" -eq 1 ] || set -- "$@" "sqlite:$sqdir/bench.db"
fi
if [ "$postgres" -eq 1 ]; then
	# Short: the server's unix socket lives in it.
	pgdir=$(mktemp -d /tmp/kbp-bench-pg.XXXXXX)
	if [ "$durable" -eq 1 ]; then
		# Appended after the harness's own lines, so these win.
		PG_HARNESS_EXTRA_CONF=$(printf '%s\n' "# run.sh --durable: commits reach the disk" \
			"fsync = on" "synchronous_commit = on" "full_page_writes = on" "${PG_HARNESS_EXTRA_CONF:-}")
		export PG_HARNESS_EXTRA_CONF
	fi
	uri=$(bash "$root/tests/pg/pg-harness.sh" start "$pgdir")
	[ "$all" -eq 1 ] || set -- "$@" "$uri"
	echo "kbp-bench: throwaway PostgreSQL in $pgdir" >&2
fi

mkdir -p "$results"
kind=pipeline
[ "$sqlite" -eq 1 ] && kind=pipeline-sqlite
[ "$postgres" -eq 1 ] && kind=pipeline-postgres
[ "$all" -eq 1 ] && kind=pipeline-all
[ "$durable" -eq 1 ] && kind=$kind-durable
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$results/$kind-$stamp.json"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
status=0
if [ "$all" -eq 1 ]; then
	# One after the other on the same machine, so the three can be compared.
	for store in memory sqlite postgres; do
		case $store in
		memory) target=memory: ;;
		sqlite) target="sqlite:$sqdir/bench.db" ;;
		postgres) target=$uri ;;
		esac
		echo "kbp-bench: $store" >&2
		"$build/tests/bench/kbp-bench" "$@" "$target" >"$results/$kind-$store-$stamp.json" ||
			status=$?
	done
	python3 - "$results/$kind" "$stamp" >"$out" <<'PY' || status=$?
import json, sys
prefix, stamp = sys.argv[1], sys.argv[2]
both = {s: json.load(open("%s-%s-%s.json" % (prefix, s, stamp))) for s in ("memory", "sqlite", "postgres")}
print(json.dumps(both, indent=1))
PY
else
	"$build/tests/bench/kbp-bench" "$@" >"$out" || status=$?
fi
if [ "$peers" -eq 1 ] && [ "$status" -eq 0 ]; then
	# The same N and samples as kbp-bench's queue scenarios, from its own document.
	field='console.log(require(process.argv[1]).postgres[process.argv[2]])'
	jobs=$(node -e "$field" "$out" jobs_per_queue_variant)
	samples=$(node -e "$field" "$out" latency_samples)
	peers_out="$results/peers-$stamp.json"
	KBP_PEERS_MODULES="$build/tests/bench/peers" node "$peers_src/peers.js" --jobs "$jobs" \
		--latency-samples "$samples" "$uri" >"$peers_out" || status=$?
	if [ "$status" -eq 0 ]; then
		both="$results/$kind-peers-$stamp"
		node "$peers_src/compare.js" --json --load-at-start "$load_at_start" "$out" "$peers_out" \
			>"$both.json" || status=$?
		node "$peers_src/compare.js" --load-at-start "$load_at_start" "$out" "$peers_out" \
			>"$both.txt" || status=$?
		out=$both.json
	fi
fi
cat "$out"
echo "kbp-bench: results written to $out" >&2
if [ "$peers" -eq 1 ] && [ "$status" -eq 0 ]; then
	echo >&2
	cat "$both.txt" >&2
fi
exit "$status"

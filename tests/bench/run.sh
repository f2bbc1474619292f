#!/bin/sh
# Builds the benchmark in release mode and runs it. The JSON document goes to
# stdout and to tests/bench/results/ (git-ignored).
#
#   tests/bench/run.sh [--postgres] [kbp-bench options…] [STORAGE_URI]
#   e.g. tests/bench/run.sh --orders 40000
#        tests/bench/run.sh --postgres
#
# --postgres starts a throwaway PostgreSQL with tests/pg/pg-harness.sh in a
# temporary directory, runs the benchmark against its URI (pgbench baseline
# included, see kbp-bench --help) and stops the server when the script exits.
#
# BUILD_DIR overrides the build directory (default build-bench in the repository root).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-"$root/build-bench"}
results="$root/tests/bench/results"

postgres=0
for a in "$@"; do
	[ "$a" = --postgres ] && postgres=1
done
if [ "$postgres" -eq 1 ]; then
	# Drop --postgres from the arguments passed on.
	n=$#
	while [ "$n" -gt 0 ]; do
		a=$1
		shift
		[ "$a" = --postgres ] || set -- "$@" "$a"
		n=$((n - 1))
	done
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

pgdir=
cleanup() {
	if [ -n "$pgdir" ]; then
		bash "$root/tests/pg/pg-harness.sh" stop "$pgdir" >&2 || true
		rm -rf "$pgdir"
	fi
}
if [ "$postgres" -eq 1 ]; then
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# Short: the server's unix socket lives in it.
	pgdir=$(mktemp -d /tmp/kbp-bench-pg.XXXXXX)
	uri=$(bash "$root/tests/pg/pg-harness.sh" start "$pgdir")
	set -- "$@" "$uri"
	echo "kbp-bench: throwaway PostgreSQL in $pgdir" >&2
fi

mkdir -p "$results"
kind=pipeline
[ "$postgres" -eq 1 ] && kind=pipeline-postgres
out="$results/$kind-$(date -u +%Y%m%dT%H%M%SZ).json"
status=0
"$build/tests/bench/kbp-bench" "$@" >"$out" || status=$?
cat "$out"
echo "kbp-bench: results written to $out" >&2
exit "$status"

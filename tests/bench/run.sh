#!/bin/sh
# Builds the benchmark in release mode and runs it. The JSON document goes to
# stdout and to tests/bench/results/ (git-ignored).
#
#   tests/bench/run.sh [kbp-bench options…] [STORAGE_URI]
#   e.g. tests/bench/run.sh --orders 40000
#
# BUILD_DIR overrides the build directory (default build-bench in the repository root).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-"$root/build-bench"}
results="$root/tests/bench/results"

cd "$root"
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=release -Dtests=true >&2
fi
ninja -C "$build" tests/bench/kbp-bench >&2

mkdir -p "$results"
out="$results/pipeline-$(date -u +%Y%m%dT%H%M%SZ).json"
status=0
"$build/tests/bench/kbp-bench" "$@" >"$out" || status=$?
cat "$out"
echo "kbp-bench: results written to $out" >&2
exit "$status"

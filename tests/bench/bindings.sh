#!/bin/sh
# The bindings' overhead (issue: orders/s through Python and Node against C):
# builds a release tree with both bindings, then in one run measures
# bindings.c (one shopper's orders through the C API), bindings.py and
# bindings.js (its Sync and its Promise forms), the same calls per order in
# each, on memory and, given a PostgreSQL URI, on PostgreSQL too; and prints
# each with its ratio to C on the same storage, its µs per order and, for
# Node, the event loop's lag while it ran.
#
#   tests/bench/bindings.sh [ORDERS [PG_URI]]   (default 20000 per binding and round on
#                                                memory, a tenth as many on PostgreSQL)
#   ROUNDS=5 tests/bench/bindings.sh            (default 3)
#   PG_ORDERS=500 tests/bench/bindings.sh 20000 "$KBP_TEST_PG_URI"
#
# BUILD_DIR overrides the build directory (default build-bench-bindings).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-"$root/build-bench-bindings"}
orders=${1:-20000}
pg_uri=${2:-}
pg_orders=${PG_ORDERS:-$((orders / 10))}

cd "$root"
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=release -Dtests=true -Dpython=enabled -Dnode=enabled >&2
fi
ninja -C "$build" >&2

# One round of the three on one storage, each a JSON line.
measure() {
	"$build/tests/bench/kbp-bench-bindings" "$1" "$2"
	PYTHONPATH="$build/bindings/python:$root/bindings/python" python3 tests/bench/bindings.py "$1" "$2"
	NODE_PATH="$build/bindings/node/stage" node tests/bench/bindings.js "$1" "$2"
}

# Rounds interleave the bindings so that a change in the machine's load
# touches them alike; each figure is the median of its rounds.
rounds=${ROUNDS:-3}
results=$(mktemp)
trap 'rm -f "$results"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
	measure "$orders" memory: >>"$results"
	if [ -n "$pg_uri" ]; then
		measure "$pg_orders" "$pg_uri" >>"$results"
	fi
	i=$((i + 1))
done
python3 - "$results" <<'PY'
import json, statistics, sys
runs, extra = {}, {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    key = (d["storage"], d["binding"])
    runs.setdefault(key, []).append(d["orders_per_s"])
    # Node's lines also carry the event loop's lag while they ran.
    for k in ("lag_p50_ms", "lag_p99_ms", "lag_max_ms"):
        if k in d:
            extra.setdefault(key, {}).setdefault(k, []).append(d[k])
report = {}
for (storage, binding), r in runs.items():
    rate = statistics.median(r)
    c = statistics.median(runs[(storage, "c")])
    report.setdefault(storage, {})[binding] = {
        "orders_per_s": round(rate), "rounds": r, "ratio_to_c": round(rate / c, 3),
        "us_per_order": round(1e6 / rate, 1),
        "us_per_order_over_c": round(1e6 / rate - 1e6 / c, 1),
        **{k: statistics.median(v) for k, v in extra.get((storage, binding), {}).items()}}
print(json.dumps(report, indent=2))
PY

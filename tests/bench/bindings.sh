#!/bin/sh
# The bindings' overhead (issue: orders/s through Python and Node against C):
# builds a release tree with both bindings, then in one run measures the C
# bench (its "inline, 1 shopper" scenario is the same per-order work),
# bindings.py and bindings.js (its Sync and its Promise forms), and prints
# each with its ratio to C, its µs per order and, for Node, the event loop's lag.
#
#   tests/bench/bindings.sh [ORDERS]     (default 20000 per binding and round)
#   ROUNDS=5 tests/bench/bindings.sh     (default 3)
#
# BUILD_DIR overrides the build directory (default build-bench-bindings).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-"$root/build-bench-bindings"}
orders=${1:-20000}

cd "$root"
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=release -Dtests=true -Dpython=enabled -Dnode=enabled >&2
fi
ninja -C "$build" >&2

# Rounds interleave the three so that a change in the machine's load touches
# them alike; each figure is the median of its rounds.
rounds=${ROUNDS:-3}
results=$(mktemp)
trap 'rm -f "$results"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
	# The C bench splits --orders over its four scenarios; the inline 1-shopper one gets a quarter.
	"$build/tests/bench/kbp-bench" --orders $((orders * 4)) --jobs 1000 --latency-samples 100 |
		python3 -c 'import json, sys
d = json.load(sys.stdin)
s = next(s for s in d["pipeline"] if s["mode"] == "inline" and s["shoppers"] == 1)
print(json.dumps({"binding": "c", "orders": s["orders"], "orders_per_s": s["orders_per_s"]}))' >>"$results"
	PYTHONPATH="$build/bindings/python:$root/bindings/python" \
		python3 tests/bench/bindings.py "$orders" >>"$results"
	NODE_PATH="$build/bindings/node/stage" node tests/bench/bindings.js "$orders" >>"$results"
	i=$((i + 1))
done
python3 - "$results" <<'PY'
import json, statistics, sys
runs, extra = {}, {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    runs.setdefault(d["binding"], []).append(d["orders_per_s"])
    # Node's lines also carry the event loop's lag while they ran.
    for key in ("lag_p99_ms", "lag_max_ms"):
        if key in d:
            extra.setdefault(d["binding"], {}).setdefault(key, []).append(d[key])
c = statistics.median(runs["c"])
report = {}
for name, r in runs.items():
    rate = statistics.median(r)
    report[name] = {"orders_per_s": round(rate), "rounds": r, "ratio_to_c": round(rate / c, 3),
                    "us_per_order": round(1e6 / rate, 1),
                    **{k: statistics.median(v) for k, v in extra.get(name, {}).items()}}
print(json.dumps(report, indent=2))
PY

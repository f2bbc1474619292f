#!/bin/sh
# The bindings' overhead (issue: orders/s through Python and Node against C):
# builds a release tree with both bindings, then in one run measures the C
# bench (its "inline, 1 shopper" scenario is the same per-order work),
# bindings.py and bindings.js, and prints each with its ratio to C.
#
#   tests/bench/bindings.sh [ORDERS]     (default 20000 per binding)
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

# The C bench splits --orders over its four scenarios; the inline 1-shopper one gets a quarter.
c_json=$("$build/tests/bench/kbp-bench" --orders $((orders * 4)) --jobs 1000 --latency-samples 100)
c_rate=$(printf '%s' "$c_json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next(s["orders_per_s"] for s in d["pipeline"] if s["mode"] == "inline" and s["shoppers"] == 1))')
py_json=$(PYTHONPATH="$build/bindings/python:$root/bindings/python" python3 tests/bench/bindings.py "$orders")
node_json=$(NODE_PATH="$build/bindings/node/stage" node tests/bench/bindings.js "$orders")
python3 - "$c_rate" "$py_json" "$node_json" <<'PY'
import json, sys
c = float(sys.argv[1])
out = {"c_inline_1_shopper_orders_per_s": round(c), "bindings": []}
for text in sys.argv[2:]:
    d = json.loads(text)
    d["ratio_to_c"] = round(d["orders_per_s"] / c, 3)
    out["bindings"].append(d)
print(json.dumps(out, indent=2))
PY

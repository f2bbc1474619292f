#!/usr/bin/env bash
# bench-worker.sh KBPIPE HELPER URI [N]: kbpipe worker draining a backlog of N
# (default 10,000) finalize_order jobs on PostgreSQL, with 1 and 2 threads, in
# fresh schemas. Not part of the test suites; run by hand, e.g.
#   tests/cli/bench-worker.sh build/tools/kbpipe/kbpipe build/tests/cli/kbp-cli-helper "$KBP_TEST_PG_URI"
# The time runs from the worker's start to the last job completed (polled
# every 0.2 s), so it includes the process start and one maintenance pass.
set -eu
K=$1
H=$2
URI=$3
N=${4:-10000}
for th in 1 2; do
	S=cli_bench_${th}_$$
	"$K" --storage "$URI" --schema "$S" migrate >/dev/null
	"$H" seed "$URI" "$S" "$N" "/tmp/kbpipe-bench.$$" 16
	"$K" --storage "$URI" --schema "$S" worker --threads "$th" --log-level warn &
	pid=$!
	t0=$(date +%s.%N)
	until [ "$("$K" --storage "$URI" --schema "$S" stats --json | "$H" json jobs.completed)" -ge "$N" ]; do
		sleep 0.2
	done
	t1=$(date +%s.%N)
	kill -TERM "$pid"
	wait "$pid"
	"$H" check "$URI" "$S" "/tmp/kbpipe-bench.$$" >/dev/null
	awk -v n="$N" -v t="$th" -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%d thread(s): %d orders in %.1f s = %.0f orders/s\n", t, n, b - a, n / (b - a) }'
	psql -X -q -d "$URI" -c "SET client_min_messages = warning; DROP SCHEMA $S CASCADE" >/dev/null
	rm -f "/tmp/kbpipe-bench.$$"
done

#!/usr/bin/env bash
# postgres.sh KBPIPE HELPER: kbpipe on PostgreSQL, run by pg/with-pg.sh with
# KBP_TEST_STORAGE set. Each scenario migrates a fresh schema of its own
# (cli_NAME_PID) with kbpipe migrate and seeds it with kbp-cli-helper.
#   admin   jobs list/show/retry/cancel/requeue-stale, stats, health, doctor,
#           order-status on failed, stuck and paid data; bad input changes nothing
#   kill    a worker SIGKILLed inside finalize_order (the orders table is
#           locked, so it is blocked mid-transaction): its jobs are rescued after
#           their lease and every intent has exactly one order
#   term    SIGTERM: the worker exits within the grace with no job left running;
#           past the grace it exits 75 and its job is rescued
#   two     two worker processes on one backlog: every job runs once
set -u
KBPIPE=$1
HELPER=$2
. "$(dirname "$0")/lib.sh"
URI=${KBP_TEST_STORAGE:?"postgres.sh runs under tests/pg/with-pg.sh"}
unset KBP_SCHEMA KBP_CONFIG
export KBP_STORAGE=$URI
K=$KBPIPE

PSQL=${PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql
[ -x "$PSQL" ] || PSQL=$(command -v psql) || {
	echo "postgres.sh: psql is needed (postgresql-client)" >&2
	exit 1
}
psql_q() {
	"$PSQL" -X -q -t -A -v ON_ERROR_STOP=1 -d "$URI" -c "$1"
}
schemas=""
extra_cleanup() {
	for s in $schemas; do
		psql_q "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1
	done
}
fresh_schema() { # fresh_schema NAME: sets S and migrates it
	S=cli_$1_$$
	schemas="$schemas $S"
	t "migrate $S" 0 "$K" --schema "$S" migrate
	out_has "^schema $S is at version [1-9]"
}
metric() { # metric PATH: a value of kbpipe stats --json
	"$K" --schema "$S" stats --json 2>/dev/null | "$HELPER" json "$1"
}
metric_is() { [ "$(metric "$1")" = "$2" ]; }
metric_ge() { local v; v=$(metric "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ]; }
rows() { grep -c '^job_' "$tmp/out"; }
orders_lock_held() {
	[ "$(psql_q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = '$S' AND c.relname = 'orders' AND l.mode = 'ExclusiveLock' AND l.granted")" -ge 1 ]
}
finalize_blocked() { # a worker's transaction waits for the orders lock: inside finalize_order
	[ "$(psql_q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = '$S' AND c.relname = 'orders' AND NOT l.granted")" -ge 1 ]
}
lock_orders() { # lock_orders SECONDS: holds the orders table in the background; sets lock_pid
	psql_q "BEGIN; LOCK TABLE $S.orders IN EXCLUSIVE MODE; SELECT pg_sleep($1); COMMIT;" \
		>/dev/null 2>&1 &
	lock_pid=$!
	bg_pids="$bg_pids $lock_pid"
	wait_for 10 orders_lock_held || bad "$S: could not lock the orders table"
}
start_worker() { # start_worker LOG ARGS…: sets wpid
	local log=$1
	shift
	"$K" --schema "$S" worker "$@" >"$log.out" 2>"$log.err" &
	wpid=$!
	bg_pids="$bg_pids $wpid"
}
stop_worker() { # stop_worker PID NAME GRACE: SIGTERM, expects exit 0 within GRACE
	kill -TERM "$1"
	wait_exit "$1" "$3"
	cur="$2: SIGTERM"
	if [ "$wrc" = 0 ]; then ok "$cur: exit 0"; else bad "$cur: exit $wrc, expected 0"; fi
}

# ---- admin ---------------------------------------------------------------------------
fresh_schema admin
t "migrate again (no-op)" 0 "$K" --schema "$S" migrate
check "seed 3 failed jobs" "$HELPER" fail "$URI" "$S" 3
t "jobs list --state failed" 0 "$K" --schema "$S" jobs list --state failed
out_has '^ID  *KIND  *STATE'; out_has 'cli_fail  *failed  *1/1  *20[0-9-]*T[0-9:.]*Z  *cli test job job_[0-9a-z]* fails on purpose$'
check "jobs list: 3 rows" [ "$(rows)" = 3 ]
t "jobs list --json" 0 "$K" --schema "$S" jobs list --json
json_is 'jobs.#' 3; json_is jobs.0.state failed; json_is jobs.0.kind cli_fail; json_is next_after null
id=$(json jobs.0.id)
t "jobs list --limit 2" 0 "$K" --schema "$S" jobs list --limit 2
check "first page: 2 rows" [ "$(rows)" = 2 ]
out_has '^more: --after job_'
cursor=$(sed -n 's/^more: --after //p' "$tmp/out")
t "jobs list --after" 0 "$K" --schema "$S" jobs list --limit 2 --after "$cursor"
check "second page: 1 row" [ "$(rows)" = 1 ]
out_lacks '^more:'
t "jobs list --after unknown cursor" 64 "$K" --schema "$S" jobs list --after job_nosuchjob; err_one_line
t "jobs list --since 1h" 0 "$K" --schema "$S" jobs list --since 1h
check "--since 1h: 3 rows" [ "$(rows)" = 3 ]
t "jobs list --since the future" 0 "$K" --schema "$S" jobs list --since 2999-01-01T00:00:00Z
out_has '^no jobs$'
t "jobs list --kind finalize_order" 0 "$K" --schema "$S" jobs list --kind finalize_order
out_has '^no jobs$'
t "jobs show" 0 "$K" --schema "$S" jobs show "$id"
out_has "^id  *$id$"; out_has '^state  *failed$'; out_has '^attempts  *1 of 1$'
out_has '^payload  *{"test": *true}$'; out_has '^  attempt 1 at .*fails on purpose'
t "jobs show --json" 0 "$K" --schema "$S" jobs show "$id" --json
json_is id "$id"; json_is state failed; json_is 'errors.#' 1; json_is payload.test true
t "stats --json (failed)" 0 "$K" --schema "$S" stats --json
json_is jobs.failed 3; json_is jobs_failed_last_hour 3
t "health (3 failed: ok)" 0 "$K" --schema "$S" health; out_has '^health: ok$'
t "health --failed-hour-warning 2" 1 "$K" --schema "$S" health --failed-hour-warning 2
out_has '^health: warning$'; out_has '^warning '
t "health --json --failed-hour-warning 2" 1 "$K" --schema "$S" health --json --failed-hour-warning 2
json_is level warning; json_is exit_status 1; json_is findings.0.level warning

"$K" --schema "$S" jobs list --json >"$tmp/before" 2>&1
t "bad input: malformed id" 64 "$K" --schema "$S" jobs retry 'job_1 OR 1=1'; err_one_line
t "bad input: unknown job" 1 "$K" --schema "$S" jobs cancel job_nosuchjob; err_one_line
t "bad input: unknown flag" 64 "$K" --schema "$S" jobs retry --all-failed --force; err_one_line
t "bad input: config missing" 78 "$K" --schema "$S" --config "$tmp/none.json" jobs retry --all-failed
err_one_line
t "bad input: cancel a failed job twice? (first is fine)" 0 true
"$K" --schema "$S" jobs list --json >"$tmp/after" 2>&1
check "bad input changed nothing" cmp -s "$tmp/before" "$tmp/after"

t "jobs retry ID" 0 "$K" --schema "$S" jobs retry "$id"; out_has "^job $id is available again$"
t "jobs show after retry" 0 "$K" --schema "$S" jobs show "$id"; out_has '^state  *available$'
t "jobs retry an available job" 1 "$K" --schema "$S" jobs retry "$id"; err_one_line; err_has KBP_ESTATE
t "jobs cancel ID" 0 "$K" --schema "$S" jobs cancel "$id"; out_has "^job $id is canceled$"
t "jobs cancel again" 1 "$K" --schema "$S" jobs cancel "$id"; err_one_line; err_has KBP_ESTATE
err_has "job '$id' is canceled;"
t "jobs show canceled" 0 "$K" --schema "$S" jobs show "$id"; out_has '^state  *canceled$'
for st in canceled cancelled; do
	t "jobs list --state $st" 0 "$K" --schema "$S" jobs list --state "$st" --json
	json_is 'jobs.#' 1; json_is jobs.0.id "$id"; json_is jobs.0.state canceled
done
t "jobs retry --all-failed --kind other" 0 "$K" --schema "$S" jobs retry --all-failed --kind other
out_has '^retried 0 failed jobs of kind other$'
t "jobs retry --all-failed --kind cli_fail" 0 "$K" --schema "$S" jobs retry --all-failed --kind cli_fail
out_has '^retried 2 failed jobs of kind cli_fail$'
t "stats after retries" 0 "$K" --schema "$S" stats --json
json_is jobs.failed 0; json_is jobs.available 2; json_is jobs.canceled 1
t "stats text" 0 "$K" --schema "$S" stats; out_has '^jobs_available  *2$'; out_has '^jobs_canceled  *1$'
t "stats --prometheus" 0 "$K" --schema "$S" stats --prometheus; out_has '^# TYPE '
out_has '^kbp_jobs{state="canceled"} 1$'

fresh_schema stuck
check "seed 6 jobs held by a dead worker (lease 300 ms)" "$HELPER" stuck "$URI" "$S" 6 300
sleep 0.5
t "stats: 6 stuck" 0 "$K" --schema "$S" stats --json; json_is jobs.running 6; json_is jobs_stuck 6
t "health: critical" 2 "$K" --schema "$S" health; out_has '^health: critical$'; out_has '^critical '
t "health --json: critical" 2 "$K" --schema "$S" health --json; json_is level critical
json_is exit_status 2
t "health --stuck-critical 6" 0 "$K" --schema "$S" health --stuck-critical 6
t "jobs list --state running" 0 "$K" --schema "$S" jobs list --state running
check "6 running rows" [ "$(rows)" = 6 ]
rid=$(sed -n 's/^\(job_[^ ]*\) .*/\1/p' "$tmp/out" | head -1)
t "jobs show a running job" 0 "$K" --schema "$S" jobs show "$rid"
out_has '^state  *running$'; out_has '^locked_by  *cli-helper'; out_has '^lease_until  *20'
t "jobs cancel a running job" 1 "$K" --schema "$S" jobs cancel "$rid"; err_one_line; err_has KBP_ESTATE
t "jobs requeue-stale" 0 "$K" --schema "$S" jobs requeue-stale; out_has '^requeued 6 stale jobs$'
t "jobs requeue-stale again" 0 "$K" --schema "$S" jobs requeue-stale; out_has '^requeued 0 stale jobs$'
t "stats: none stuck" 0 "$K" --schema "$S" stats --json; json_is jobs.running 0; json_is jobs_stuck 0
json_is jobs_rescued_last_hour 6
t "health after the rescue: not critical" 0 "$K" --schema "$S" health; out_has '^health: \(ok\|info\)$'

fresh_schema flow
check "seed 5 paid intents" "$HELPER" seed "$URI" "$S" 5 "$tmp/flow.ids"
pi=$(head -1 "$tmp/flow.ids")
t "order-status: processing" 0 "$K" --schema "$S" order-status "$pi"
out_has "^intent  *$pi$"; out_has '^stage  *processing$'; out_has '^intent_status  *succeeded$'
out_has '^order_number  *-$'
t "order-status --json" 0 "$K" --schema "$S" order-status "$pi" --json
json_is stage processing; json_is order_number null; json_is intent_id "$pi"
t "order-status --wait 1 (no worker)" 75 "$K" --schema "$S" order-status "$pi" --wait 1
out_has '^stage  *processing$'; err_has 'still processing after waiting 1 s'
t "jobs list: 5 finalize_order jobs" 0 "$K" --schema "$S" jobs list --kind finalize_order --state available
check "5 rows" [ "$(rows)" = 5 ]
t "doctor (paid a moment ago: no problem)" 0 "$K" --schema "$S" doctor; out_has '^problems: 0$'
refund=$("$HELPER" refund "$URI" "$S")
check "an intent that needs a refund" [ -n "$refund" ]
t "doctor finds it" 2 "$K" --schema "$S" doctor
out_has '^intents_needing_refund  *1 '; out_has "^    $refund$"; out_has '^problems: [1-9]'
t "doctor --json" 2 "$K" --schema "$S" doctor --json; out_has "\"$refund\""
t "order-status of the refund" 0 "$K" --schema "$S" order-status "$refund"
out_has '^needs_refund  *yes$'
secret_uri="$URI&password=hunter2"
KBP_STORAGE=$secret_uri start_worker "$tmp/flow" --threads 2 --expire-every 1 --log json
t "order-status --wait: confirmed" 0 "$K" --schema "$S" order-status "$pi" --wait 30
out_has '^stage  *confirmed$'; out_has '^order_number  *ORD-[0-9A-Z]*$'; out_has '^order_id  *ord_'
t "order-status --json: confirmed" 0 "$K" --schema "$S" order-status "$pi" --json --wait 30
json_is stage confirmed; json_is timed_out false
check "all 5 jobs completed" wait_for 30 metric_is jobs.completed 5
check "every intent has exactly one order" "$HELPER" check "$URI" "$S" "$tmp/flow.ids"
stop_worker "$wpid" "flow worker" 10
cp "$tmp/flow.err" "$tmp/err"
cur="flow worker log"
err_has '"message":"order ORD-'; err_lacks hunter2; err_has '"level":"info"'

# ---- kill: SIGKILL inside finalize_order -------------------------------------------------------
fresh_schema kill
check "seed 40 paid intents" "$HELPER" seed "$URI" "$S" 40 "$tmp/kill.ids" 4
lock_orders 6
start_worker "$tmp/kill1" --threads 1 --batch 4 --lease-ms 2000 --log json
check "kill: the worker is blocked inside finalize_order" wait_for 15 finalize_blocked
kill -9 "$wpid"
wait "$wpid" 2>/dev/null
check "kill: the dead worker left leased jobs running" metric_ge jobs.running 1
wait "$lock_pid" 2>/dev/null
start_worker "$tmp/kill2" --threads 2 --lease-ms 2000 --rescue-every 1
check "kill: all 40 jobs completed after the rescue" wait_for 60 metric_is jobs.completed 40
check "kill: every intent has exactly one order" "$HELPER" check "$URI" "$S" "$tmp/kill.ids"
check "kill: a rescue happened" metric_ge jobs_rescued_last_hour 1
t "kill: jobs list --json" 0 "$K" --schema "$S" jobs list --kind finalize_order --limit 1000 --json
check "kill: a rescued job ran a second attempt" grep -q '"attempts":[[:space:]]*2,' "$tmp/out"
t "kill: doctor" 0 "$K" --schema "$S" doctor
stop_worker "$wpid" "kill: second worker" 10

# ---- term: SIGTERM -----------------------------------------------------------------------------
fresh_schema term
check "seed 300 paid intents" "$HELPER" seed "$URI" "$S" 300 "$tmp/term.ids" 8
start_worker "$tmp/term1" --threads 2 --batch 8 --grace 10
check "term: the worker is making orders" wait_for 30 metric_ge orders 10
start_s=$(date +%s)
stop_worker "$wpid" "term: worker" 12
check "term: it exited within the grace" [ $(($(date +%s) - start_s)) -le 10 ]
check "term: no job left running" metric_is jobs.running 0
t "term: jobs list --state running" 0 "$K" --schema "$S" jobs list --state running; out_has '^no jobs$'
cp "$tmp/term1.err" "$tmp/err"
cur="term: worker log"
err_has ' info SIGTERM: stopping'; err_has ' info worker .* stopped'
if metric_is jobs.available 0; then
	echo "# (term: the backlog drained before the grace test; seeding more)"
	"$HELPER" seed "$URI" "$S" 20 "$tmp/term2.ids" 4 && cat "$tmp/term2.ids" >>"$tmp/term.ids"
fi
lock_orders 8
start_worker "$tmp/term2" --threads 1 --batch 2 --grace 1 --lease-ms 2000
check "term: the worker is blocked inside finalize_order" wait_for 15 finalize_blocked
kill -TERM "$wpid"
start_s=$(date +%s)
wait_exit "$wpid" 6
cur="term: past the grace"
if [ "$wrc" = 75 ]; then ok "$cur: exit 75"; else bad "$cur: exit $wrc, expected 75"; fi
check "$cur: exited soon after the grace" [ $(($(date +%s) - start_s)) -le 4 ]
cp "$tmp/term2.err" "$tmp/err"
err_has 'grace of 1 s passed with jobs unfinished'
check "$cur: its job is left running for the rescue" metric_ge jobs.running 1
wait "$lock_pid" 2>/dev/null
start_worker "$tmp/term3" --threads 2 --rescue-every 1 --lease-ms 2000
n=$(wc -l <"$tmp/term.ids")
check "term: the backlog drains after the rescue" wait_for 90 metric_is jobs.completed "$n"
check "term: every intent has exactly one order" "$HELPER" check "$URI" "$S" "$tmp/term.ids"
stop_worker "$wpid" "term: last worker" 10

# ---- two workers ---------------------------------------------------------------------------------
fresh_schema two
check "seed 400 paid intents" "$HELPER" seed "$URI" "$S" 400 "$tmp/two.ids" 8
start_worker "$tmp/two1" --name w-one --threads 2 --batch 4
p1=$wpid
start_worker "$tmp/two2" --name w-two --threads 2 --batch 4
p2=$wpid
check "two: all 400 jobs completed" wait_for 90 metric_is jobs.completed 400
stop_worker "$p1" "two: first worker" 10
stop_worker "$p2" "two: second worker" 10
check "two: every intent has exactly one order" "$HELPER" check "$URI" "$S" "$tmp/two.ids"
t "two: jobs list --json" 0 "$K" --schema "$S" jobs list --kind finalize_order --limit 1000 --json
json_is 'jobs.#' 400
check "two: every job ran exactly once" [ "$(grep -c '"attempts":[[:space:]]*1,' "$tmp/out")" = 400 ]
o1=$(grep -c 'order ORD-' "$tmp/two1.err")
o2=$(grep -c 'order ORD-' "$tmp/two2.err")
echo "# two: w-one made $o1 orders, w-two $o2"
check "two: the workers' logs account for every order once" [ $((o1 + o2)) = 400 ]

finish

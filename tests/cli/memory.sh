#!/usr/bin/env bash
# memory.sh KBPIPE HELPER: kbpipe's commands on memory:, where each process
# starts from an empty store: help, usage errors, empty listings, health ok,
# config files, storage that cannot be reached, and the worker's signals.
set -u
KBPIPE=$1
HELPER=$2
. "$(dirname "$0")/lib.sh"
unset KBP_STORAGE KBP_SCHEMA KBP_CONFIG
export KBP_STORAGE=memory:
K=$KBPIPE

# ---- help ---------------------------------------------------------------------
t "--help" 0 "$K" --help
out_has '^usage: kbpipe'
for c in demo migrate worker jobs stats health doctor order-status help; do
	out_has "^  $c "
done
t "--version" 0 "$K" --version
out_has '^kbpipe [0-9]'
for c in demo migrate worker jobs stats health doctor order-status help; do
	t "help $c" 0 "$K" help "$c"
	out_has "usage: kbpipe.* $c"
	[ "$c" = help ] && continue
	t "$c --help" 0 "$K" "$c" --help
	out_has "usage: kbpipe.* $c"
done
for s in list show retry cancel requeue-stale; do
	t "jobs $s --help" 0 "$K" jobs "$s" --help
	out_has "jobs $s"
	t "help jobs $s" 0 "$K" help jobs "$s"
	out_has "jobs $s"
done
t "help with a broken config still works" 0 env KBP_CONFIG=/nonexistent/kbpipe.json "$K" health --help
out_has 'usage:'

# ---- usage errors: 64, one line, nothing on stdout ---------------------------------
t "no command" 64 "$K"; err_one_line
t "unknown command" 64 "$K" frobnicate; err_one_line; err_has "unknown command 'frobnicate'"
t "unknown global option" 64 "$K" --frob stats; err_one_line; err_has "'--frob'"
t "help of an unknown command" 64 "$K" help frobnicate; err_one_line
t "--storage without a value" 64 "$K" --storage; err_one_line
t "--storage empty" 64 "$K" --storage= stats; err_one_line
t "--schema empty" 64 "$K" --schema= stats; err_one_line
for c in "stats --frob" "health --frob" "doctor --frob" "worker --frob" "order-status --frob" \
	"jobs list --frob" "jobs show --frob" "jobs retry --frob" "jobs cancel --frob" \
	"jobs requeue-stale --frob" "migrate --frob"; do
	# shellcheck disable=SC2086
	t "$c" 64 "$K" $c; err_one_line; err_has "unknown option '--frob'"
done
t "stats extra argument" 64 "$K" stats extra; err_one_line; err_has "unexpected argument 'extra'"
t "stats --json --prometheus" 64 "$K" stats --json --prometheus; err_one_line
t "jobs without a subcommand" 64 "$K" jobs; err_one_line
t "jobs frob" 64 "$K" jobs frob; err_one_line; err_has "unknown subcommand 'frob'"
t "jobs show without an id" 64 "$K" jobs show; err_one_line
t "jobs show malformed id" 64 "$K" jobs show 'job_x;DROP'; err_one_line; err_has 'is not a job id'
t "jobs show wrong prefix" 64 "$K" jobs show pi_abc; err_one_line
t "jobs show two ids" 64 "$K" jobs show job_a job_b; err_one_line
t "jobs cancel malformed id" 64 "$K" jobs cancel "job_$(printf 'x%.0s' $(seq 200))"; err_one_line
t "jobs retry malformed id" 64 "$K" jobs retry 'hello world'; err_one_line
t "jobs retry nothing" 64 "$K" jobs retry; err_one_line
t "jobs retry id and --all-failed" 64 "$K" jobs retry job_abc --all-failed; err_one_line
t "jobs retry --kind alone" 64 "$K" jobs retry job_abc --kind finalize_order; err_one_line
t "jobs list --state bogus" 64 "$K" jobs list --state bogus; err_one_line
t "jobs list --limit 0" 64 "$K" jobs list --limit 0; err_one_line
t "jobs list --limit 1001" 64 "$K" jobs list --limit 1001; err_one_line
t "jobs list --limit x" 64 "$K" jobs list --limit x; err_one_line
t "jobs list --limit missing" 64 "$K" jobs list --limit; err_one_line
t "jobs list --since yesterday" 64 "$K" jobs list --since yesterday; err_one_line; err_has "--since"
t "jobs list --since 2024-02-31" 64 "$K" jobs list --since 2024-02-31; err_one_line
t "jobs list --since 2024-05-01T25:00Z" 64 "$K" jobs list --since 2024-05-01T25:00Z; err_one_line
t "jobs list --after bad cursor" 64 "$K" jobs list --after 'a b'; err_one_line
t "health --stuck-critical -1" 64 "$K" health --stuck-critical -1; err_one_line
t "health --failed-hour-warning x" 64 "$K" health --failed-hour-warning x; err_one_line
t "order-status without an id" 64 "$K" order-status; err_one_line
t "order-status malformed id" 64 "$K" order-status "ord_1"; err_one_line; err_has 'is not an intent id'
t "order-status --wait -1" 64 "$K" order-status pi_abc --wait -1; err_one_line
t "order-status --wait x" 64 "$K" order-status pi_abc --wait x; err_one_line
t "worker --threads 0" 64 "$K" worker --threads 0; err_one_line
t "worker --threads 257" 64 "$K" worker --threads 257; err_one_line
t "worker --batch x" 64 "$K" worker --batch x; err_one_line
t "worker --log xml" 64 "$K" worker --log xml; err_one_line
t "worker --log-level loud" 64 "$K" worker --log-level loud; err_one_line
t "worker --grace -1" 64 "$K" worker --grace -1; err_one_line
t "worker --lease-ms 5" 64 "$K" worker --lease-ms 5; err_one_line
t "worker --name with a space" 64 "$K" worker --name 'a b'; err_one_line
t "worker extra argument" 64 "$K" worker now; err_one_line
t "demo --shoppers 1" 64 "$K" demo --shoppers 1; err_one_line

# ---- an empty store ---------------------------------------------------------------
t "jobs list (empty)" 0 "$K" jobs list; out_has '^no jobs$'; err_empty
t "jobs list --json (empty)" 0 "$K" jobs list --json; json_is 'jobs.#' 0; json_is next_after null
for since in 0 1714557600000 2024-05-01 2024-05-01T10:00Z 2024-05-01T10:00:00.250Z \
	2024-05-01T15:45:00+05:45 90s 15m 2h 7d; do
	t "jobs list --since $since" 0 "$K" jobs list --since "$since" --state failed --kind finalize_order --limit 5
	out_has '^no jobs$'
done
t "jobs list --state=canceled --limit=1" 0 "$K" jobs list --state=canceled --limit=1; out_has '^no jobs$'
t "jobs list --state=cancelled (the old spelling)" 0 "$K" jobs list --state=cancelled --limit=1
out_has '^no jobs$'
t "jobs list --state=canceling" 64 "$K" jobs list --state=canceling
err_has 'completed, failed or canceled$'
t "jobs show unknown" 1 "$K" jobs show job_doesnotexist; err_one_line; err_has KBP_ENOTFOUND
t "jobs retry unknown" 1 "$K" jobs retry job_doesnotexist; err_one_line; err_has KBP_ENOTFOUND
t "jobs cancel unknown" 1 "$K" jobs cancel job_doesnotexist; err_one_line; err_has KBP_ENOTFOUND
t "jobs retry --all-failed (none)" 0 "$K" jobs retry --all-failed; out_has '^retried 0 failed jobs$'
t "jobs retry --all-failed --kind" 0 "$K" jobs retry --all-failed --kind finalize_order
out_has '^retried 0 failed jobs of kind finalize_order$'
t "jobs requeue-stale (none)" 0 "$K" jobs requeue-stale; out_has '^requeued 0 stale jobs$'
t "stats" 0 "$K" stats
for m in jobs_available jobs_running jobs_failed jobs_stuck orders paid_intents_without_order \
	needs_refund finalize_p95_ms; do
	out_has "^$m  *0$"
done
t "stats --json" 0 "$K" stats --json; json_is jobs.running 0; json_is orders 0; json_is finalize_ms.p95 0
t "stats --prometheus" 0 "$K" stats --prometheus; out_has '^# TYPE '; out_has '^kbp_'
t "health" 0 "$K" health; out_has '^health: ok$'
t "health with thresholds" 0 "$K" health --stuck-critical 0 --failed-hour-warning 0 --finalize-p95-warning-ms 1
out_has '^health: ok$'
t "health --json" 0 "$K" health --json; json_is level ok; json_is exit_status 0; json_is 'findings.#' 0
json_is thresholds.stuck_critical 5
t "doctor" 0 "$K" doctor; out_has '^problems: 0$'; out_has '^orders_without_items  *0 '
out_has '^intents_needing_refund  *0 '
t "doctor --json" 0 "$K" doctor --json; json_is problems 0; json_is 'checks.#' 5
t "order-status unknown" 1 "$K" order-status pi_doesnotexist; err_one_line; err_has KBP_ENOTFOUND
t "order-status --wait unknown" 1 "$K" order-status pi_doesnotexist --wait 1; err_one_line
t "migrate (memory)" 0 "$K" migrate; out_has 'version 0'

# ---- config file and environment -----------------------------------------------------
cfg=$tmp/kbpipe.json
t "config missing" 78 "$K" --config "$tmp/missing.json" stats; err_one_line; err_has 'missing.json'
err_has 'No such file'
t "KBP_CONFIG missing" 78 env KBP_CONFIG="$tmp/missing.json" "$K" stats; err_one_line
t "config is a directory" 78 "$K" --config "$tmp" stats; err_one_line
printf '{"storage": "memory:",\n  "schema": }' >"$cfg"
t "config invalid JSON" 78 "$K" --config "$cfg" stats; err_one_line; err_has 'invalid JSON at line 2'
printf '' >"$cfg"
t "config empty" 78 "$K" --config "$cfg" stats; err_one_line
printf '[1, 2]' >"$cfg"
t "config not an object" 78 "$K" --config "$cfg" stats; err_one_line
printf '{"storage": "memory:", "strage": 1}' >"$cfg"
t "config unknown key" 78 "$K" --config "$cfg" stats; err_one_line; err_has "unknown key 'strage'"
printf '{"worker": {"threads": "four"}}' >"$cfg"
t "config wrong type" 78 "$K" --config "$cfg" stats; err_one_line; err_has "worker.threads"
printf '{"worker": {"threads": 0}}' >"$cfg"
t "config worker.threads out of range" 78 "$K" --config "$cfg" worker; err_one_line
printf '{"worker": {"log": "xml"}}' >"$cfg"
t "config worker.log invalid" 78 "$K" --config "$cfg" worker; err_one_line
printf '{"worker": {"frob": 1}}' >"$cfg"
t "config unknown worker key" 78 "$K" --config "$cfg" stats; err_one_line
printf '{"storage": ""}' >"$cfg"
t "config empty storage" 78 "$K" --config "$cfg" stats; err_one_line
printf '{"gateways": {"sandbox": {"secret": "hunter2"}}}' >"$cfg"
t "config gateways with a secret" 78 "$K" --config "$cfg" worker; err_one_line; err_has gateways
err_lacks hunter2
if [ "$(id -u)" != 0 ]; then
	printf '{}' >"$cfg"
	chmod 000 "$cfg"
	t "config unreadable" 78 "$K" --config "$cfg" stats; err_one_line; err_has 'Permission denied'
	chmod 600 "$cfg"
else
	echo "# (running as root: an unreadable config file cannot be made)"
fi

bad_uri='postgresql://kbp:hunter2@127.0.0.1:1/kbp?connect_timeout=2'
printf '{"storage": "%s", "schema": "cli_cfg", "worker": {"threads": 2, "log": "json"}}\n' \
	"$bad_uri" >"$cfg"
t "config storage unreachable" 1 env -u KBP_STORAGE "$K" --config "$cfg" stats; err_one_line
err_lacks hunter2
t "health with storage unreachable" 3 env -u KBP_STORAGE "$K" --config "$cfg" health; err_one_line
err_lacks hunter2
t "--storage beats the config file" 0 env -u KBP_STORAGE "$K" --config "$cfg" --storage memory: stats
t "KBP_STORAGE beats the config file" 0 env KBP_STORAGE=memory: "$K" --config "$cfg" stats
t "KBP_CONFIG is read" 1 env -u KBP_STORAGE KBP_CONFIG="$cfg" "$K" stats; err_one_line
printf '{"storage": "memory:"}' >"$cfg"
t "--config beats KBP_CONFIG (valid)" 0 env -u KBP_STORAGE KBP_CONFIG="$tmp/missing.json" "$K" --config "$cfg" stats
for c in "stats" "jobs list" "jobs show job_abc" "jobs retry --all-failed" "jobs requeue-stale" \
	"doctor" "order-status pi_abc" "migrate" "worker"; do
	# shellcheck disable=SC2086
	t "unreachable storage: $c" 1 "$K" --storage "$bad_uri" $c; err_one_line; err_lacks hunter2
done
t "unknown storage scheme" 1 "$K" --storage 'mysql://u:hunter2@h/db' stats; err_one_line
err_lacks hunter2

# ---- the worker --------------------------------------------------------------------
for sig in TERM INT; do
	"$K" worker --threads 3 --expire-every 1 --log json --log-level debug >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	bg_pids="$bg_pids $pid"
	sleep 1.5
	kill -"$sig" "$pid"
	wait_exit "$pid" 5
	cur="worker SIG$sig"
	if [ "$wrc" = 0 ]; then ok "$cur: exit 0"; else bad "$cur: exit $wrc, expected 0"; fi
	err_has "SIG$sig: stopping"
	err_has '"message":"worker kbpipe-[^ ]* stopped"'
	err_has 'maintenance: 0 intents expired'
	out_empty
	check "$cur: every log line is a JSON object" \
		sh -c "while IFS= read -r l; do printf '%s' \"\$l\" | '$HELPER' json level >/dev/null || exit 1; done <'$tmp/err'"
done
printf '{"worker": {"log": "text", "name": "from-config", "expire_every": 1}}' >"$cfg"
"$K" --config "$cfg" worker --name from-flag >"$tmp/out" 2>"$tmp/err" &
pid=$!
bg_pids="$bg_pids $pid"
sleep 1
kill -TERM "$pid"
wait_exit "$pid" 5
cur="worker settings: flag over config"
if [ "$wrc" = 0 ]; then ok "$cur: exit 0"; else bad "$cur: exit $wrc"; fi
err_has ' info worker from-flag started: storage memory'
err_has 'maintenance every 1/300/60/3600 s'

finish

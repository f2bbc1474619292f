#!/usr/bin/env bash
# sqlite.sh KBPIPE HELPER: kbpipe on a SQLite file, which outlives the
# process: migrate twice, the demo twice on one file (the second run sees the
# first's orders), and URIs or files that cannot be a store.
set -u
KBPIPE=$1
HELPER=$2
. "$(dirname "$0")/lib.sh"
unset KBP_STORAGE KBP_SCHEMA KBP_CONFIG
K=$KBPIPE
db="sqlite:$tmp/shop.db"

# ---- migrate: creates the file, then changes nothing -------------------------------
t "migrate creates the file" 0 "$K" --storage "$db" migrate
out_has 'is at version [1-9]'
check "migrate: the file exists" test -s "$tmp/shop.db"
version=$(sed -n 's/.*is at version \([0-9]*\).*/\1/p' "$tmp/out")
t "migrate again" 0 "$K" --storage "$db" migrate
out_has "is at version $version\$"

# ---- the demo twice on one file ------------------------------------------------------
t "demo, first run" 0 "$K" --storage "$db" demo
out_has 'sqlite storage'
out_has 'all 11 invariants held'
first_intent=$(grep -o 'pi_[0-9a-z]*' "$tmp/out" | head -1)
first_order=$(grep -o 'ORD-[0-9A-Z]*' "$tmp/out" | head -1)
check "demo: the first run made an order" test -n "$first_order"
t "stats after the first run" 0 "$K" --storage "$db" stats --json
json_is orders 4
t "demo, second run" 0 "$K" --storage "$db" demo
out_has 'all 11 invariants held'
out_has 'intents: pending 0 succeeded 8 '
t "stats after the second run" 0 "$K" --storage "$db" stats --json
json_is orders 8
json_is jobs.completed 8
t "the first run's order, from a third process" 0 "$K" --storage "$db" order-status "$first_intent"
out_has 'confirmed'
out_has "$first_order"
t "doctor on the file" 0 "$K" --storage "$db" doctor
out_lacks '[1-9][0-9]* problem'

# ---- what cannot be a store: one line, exit 1 ----------------------------------------
t "a URI without a path" 1 "$K" --storage sqlite: stats; err_one_line; err_has 'names no file'
t "a directory" 1 "$K" --storage "sqlite:$tmp" stats; err_one_line; err_has 'is a directory'
t "a path that cannot be created" 1 "$K" --storage sqlite:/nonexistent-kbp-dir/x.db stats
err_one_line; err_has 'cannot open the SQLite database'
printf 'not a database\n%.0s' $(seq 1 100) >"$tmp/text.db"
t "a file that is not a database" 1 "$K" --storage "sqlite:$tmp/text.db" migrate
err_one_line; err_has 'not a SQLite database'
check "the text file is untouched" grep -q '^not a database$' "$tmp/text.db"

finish

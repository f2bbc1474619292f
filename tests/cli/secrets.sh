#!/usr/bin/env bash
# secrets.sh KBPIPE [postgres]: a password in the storage URI, given by
# --storage, $KBP_STORAGE or the config file, is in nothing kbpipe prints.
#   (alone)    on URIs that libpq cannot parse (it quotes them back) or cannot
#              reach, stats, doctor, migrate, health and worker fail with one
#              line that says why, without the password
#   postgres   under pg/with-pg.sh: the same commands work on the test server
#              through a URI and a key=value string that carry a password (it
#              trusts local connections, so the password is never checked),
#              and fail without it where libpq cannot parse the password
set -u
KBPIPE=$1
MODE=${2:-}
HELPER=
. "$(dirname "$0")/lib.sh"
unset KBP_STORAGE KBP_SCHEMA KBP_CONFIG
K=$KBPIPE
PW=S3cr3t-Pw-xyzzy

# Every form below holds both pieces, in the password only.
no_password() {
	if grep -q -e S3cr3t -e xyzzy "$tmp/out" "$tmp/err"; then
		bad "$cur: the password is printed"
	else
		ok "$cur: no password printed"
	fi
}
# config_file URI: a config file naming URI as its storage; prints its path.
config_file() {
	local f=$tmp/config.json
	printf '{ "storage": "%s" }\n' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')" >"$f"
	echo "$f"
}

uris=(
	"postgresql://shop:$PW@[::1/db"
	"postgresql://shop:$PW@[]/db"
	"postgresql://shop:$PW%zz@127.0.0.1:1/db"
	"postgresql://shop:$PW@127.0.0.1:1/db?x=%zz"
	"postgresql://shop:$PW@127.0.0.1:1/db"
	"postgresql://shop@127.0.0.1:1/db?password=$PW&bogus=1"
	"postgresql://shop:S3cr3t/Pw@xyzzy@127.0.0.1:1/db"
	"postgresql://shop:S3cr3t%2FPw%40xyzzy@[::1/db"
	"host=127.0.0.1 port=1 password=$PW"
	"host=127.0.0.1 port=1 password=S3cr3t Pw-xyzzy"
	"host=127.0.0.1 port=1 password='S3cr3t \\'Pw\\' \"xyzzy\"' bogus"
)

# ---- storage that cannot be parsed or reached ------------------------------------
unreachable() {
	local i uri c want cmds=(stats doctor migrate health worker)
	for i in "${!uris[@]}"; do
		uri=${uris[$i]}
		for c in "${cmds[@]}"; do
			want=1
			[ "$c" = health ] && want=3
			t "$c --storage #$i" "$want" "$K" --storage "$uri" "$c"
			err_one_line; err_has 'cannot connect to PostgreSQL: '; no_password
		done
		# The other ways to name the storage, each command in turn.
		c=${cmds[$((i % ${#cmds[@]}))]}
		want=1
		[ "$c" = health ] && want=3
		t "$c KBP_STORAGE #$i" "$want" env KBP_STORAGE="$uri" "$K" "$c"
		err_one_line; err_has 'cannot connect to PostgreSQL: '; no_password
		t "$c --config #$i" "$want" "$K" --config "$(config_file "$uri")" "$c"
		err_one_line; err_has 'cannot connect to PostgreSQL: '; no_password
	done
	# What libpq says is kept, where it names no secret.
	t "an empty IPv6 host" 1 "$K" --storage "postgresql://shop:$PW@[]/db" stats
	err_has 'IPv6 host address may not be empty in URI: "postgresql://shop:\*\*\*@\[\]/db"'
	t "an unknown option" 1 "$K" --storage "postgresql://shop@127.0.0.1:1/db?bogus=1&password=$PW" stats
	err_has 'invalid URI query parameter: "bogus"'
	# The search can fail.
	cur="a planted password"
	printf 'x %s\n' "$PW" >"$tmp/err"
	check "$cur: is found" grep -q -e xyzzy "$tmp/err"
}

# ---- a working PostgreSQL --------------------------------------------------------
# param NAME: a query parameter of the test server's URI, percent-decoded.
param() {
	local v
	v=$(printf '%s' "${KBP_TEST_STORAGE#*\?}" | tr '&' '\n' | sed -n "s/^$1=//p")
	printf '%b' "${v//%/\\x}"
}

# works STORAGE FORM: every command works on the test server through STORAGE.
works() {
	local storage=$1 form=$2 c wpid
	t "migrate with a password ($form)" 0 "$K" --storage "$storage" --schema "$S" migrate
	out_has "^schema $S is at version"; no_password
	for c in stats doctor health; do
		t "$c with a password ($form)" 0 "$K" --storage "$storage" --schema "$S" "$c"
		no_password
		t "$c with a password in the config file ($form)" 0 \
			"$K" --config "$(config_file "$storage")" --schema "$S" "$c"
		no_password
	done
	cur="worker with a password ($form)"
	"$K" --storage "$storage" --schema "$S" worker --log-level debug >"$tmp/out" 2>"$tmp/err" &
	wpid=$!
	bg_pids="$bg_pids $wpid"
	check "$cur: starts" wait_for 30 grep -q ' started: storage postgres' "$tmp/err"
	kill -TERM "$wpid"
	wait_exit "$wpid" 30
	check "$cur: stops with exit 0" [ "$wrc" = 0 ]
	no_password
}

working_postgres() {
	local db kv c want
	: "${KBP_TEST_STORAGE:?"secrets.sh postgres runs under tests/pg/with-pg.sh"}"
	PSQL=${PG_BINDIR:-/usr/lib/postgresql/15/bin}/psql
	[ -x "$PSQL" ] || PSQL=$(command -v psql) || {
		echo "secrets.sh: psql is needed (postgresql-client)" >&2
		exit 1
	}
	S=cli_secrets_$$
	extra_cleanup() {
		"$PSQL" -X -q -d "$KBP_TEST_STORAGE" -c "DROP SCHEMA IF EXISTS $S CASCADE" >/dev/null 2>&1
	}
	db=${KBP_TEST_STORAGE#*:///}
	kv="host='$(param host)' port='$(param port)' user='$(param user)' dbname='${db%%\?*}'"
	works "$KBP_TEST_STORAGE&password=$PW" URI
	works "$kv password='$PW'" key=value
	for c in stats doctor migrate health; do
		want=1
		[ "$c" = health ] && want=3
		t "$c with a password libpq cannot parse" "$want" \
			"$K" --storage "$kv password=S3cr3t Pw-xyzzy" --schema "$S" "$c"
		err_one_line; err_has 'missing "=" after "\*\*\*"'; no_password
	done
}

if [ "$MODE" = postgres ]; then
	working_postgres
else
	unreachable
fi
finish

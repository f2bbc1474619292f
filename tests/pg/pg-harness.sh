#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the test suites (DESIGN.md §10).
#
#   pg-harness.sh start DIR     initdb into DIR/data, start a server whose only
#                               listener is a unix socket in DIR, create the
#                               database kbp_test; prints its libpq URI and
#                               writes it to DIR/uri
#   pg-harness.sh stop DIR      pg_ctl stop -m fast (nothing to do if not running);
#                               also stops servers that tests started in DIR/*/
#   pg-harness.sh restart DIR [MODE]
#                               pg_ctl restart -m MODE (fast unless given: smart,
#                               fast or immediate; same port and socket)
#   pg-harness.sh halt DIR      pg_ctl stop -m immediate: the server dies as in a crash
#                               (after a CHECKPOINT, as restart immediate does: with
#                               synchronous_commit off, a crash loses recent commits)
#   pg-harness.sh resume DIR    starts a halted server again (same port and socket)
#   pg-harness.sh env DIR       prints `export KBP_TEST_PG_…=…` lines for eval
#
# Run as root (CI), the server runs as the `postgres` user (runuser) and DIR is
# chowned to it; run as a normal user, it runs as that user. The server's
# superuser is called postgres either way, trusted over the socket only.
# Binaries: /usr/lib/postgresql/15/bin, or $PG_BINDIR. $PG_HARNESS_EXTRA_CONF, if
# set, is appended to postgresql.conf.
# Every failure prints the reason (and the server log when there is one) and
# exits non-zero; nothing is ever skipped silently.
set -euo pipefail

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
DBNAME=kbp_test
SUPERUSER=postgres

die() {
	echo "pg-harness: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start|stop|restart|halt|resume|env DIR (restart DIR MODE)" >&2
	exit 2
}

show_log() {
	local log=$1/log
	if [ -s "$log" ]; then
		echo "pg-harness: ---- server log $log ----" >&2
		tail -n 100 "$log" >&2
		echo "pg-harness: ---- end of server log ----" >&2
	else
		echo "pg-harness: (no server log at $log)" >&2
	fi
}

# fail DIR MESSAGE: the server log, then the message, then exit 1.
fail() {
	local dir=$1
	shift
	show_log "$dir"
	die "$*"
}

# as_pg CMD…: runs a server-side command as the server's owner.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# urlencode STR: percent-encodes everything but unreserved characters and '/'.
urlencode() {
	local s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9/._~-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

# port_free N: no TCP listener on N (v4 or v6) and no unix socket of port N in
# the default socket directories (a port number also keys the server's shared
# memory and lock files, so a clash with another local server is avoided).
port_free() {
	local port=$1 d
	for d in /tmp /var/run/postgresql "$2"; do
		[ -e "$d/.s.PGSQL.$port" ] && return 1
		[ -e "$d/.s.PGSQL.$port.lock" ] && return 1
	done
	if command -v ss >/dev/null 2>&1; then
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 1
	fi
	# A connect that succeeds means something listens there.
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		return 1
	fi
	return 0
}

pick_port() {
	local dir=$1 port tries
	for ((tries = 0; tries < 200; tries++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if port_free "$port" "$dir"; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# Reads DIR/port of a server started by this script.
dir_port() {
	local dir=$1
	[ -f "$dir/port" ] || die "$dir/port is missing: was the server started with '$0 start $dir'?"
	cat "$dir/port"
}

wait_ready() {
	local dir=$1 port=$2 i
	for ((i = 0; i < 300; i++)); do
		if "$PG_BINDIR/pg_isready" -q -h "$dir" -p "$port" -U "$SUPERUSER" -d postgres; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

cmd_start() {
	local dir=$1 port uri encdir parent
	[ -x "$PG_BINDIR/initdb" ] || die "no PostgreSQL at $PG_BINDIR (install postgresql-15, or set PG_BINDIR)"
	[ -x "$PG_BINDIR/pg_isready" ] || die "no pg_isready at $PG_BINDIR (install postgresql-client-15)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	[ -e "$dir/data" ] && die "$dir/data exists already: use a fresh directory"
	# The socket path must fit in sun_path (107 bytes): DIR/.s.PGSQL.NNNNN(.lock)
	[ $((${#dir} + 20)) -le 107 ] || die "$dir is too long for a unix socket path; use a shorter one (e.g. mktemp -d /tmp/kbp-pg.XXXXXX)"

	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to run the server as"
		chown postgres: "$dir"
		chmod 0700 "$dir"
		# The server needs to reach DIR through every parent directory.
		parent=$dir
		while [ "$parent" != / ]; do
			parent=$(dirname "$parent")
			runuser -u postgres -- test -x "$parent" ||
				die "user postgres cannot enter $parent; put DIR elsewhere (e.g. mktemp -d /tmp/kbp-pg.XXXXXX)"
		done
	fi
	: >"$dir/log" || die "cannot write $dir/log"
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/log"; fi

	if ! as_pg "$PG_BINDIR/initdb" -D "$dir/data" -U "$SUPERUSER" -A trust -E UTF8 --locale=C \
		--no-instructions >>"$dir/log" 2>&1; then
		fail "$dir" "initdb into $dir/data failed"
	fi

	port=$(pick_port "$dir") || fail "$dir" "found no free port number"
	cat >>"$dir/data/postgresql.conf" <<EOF

# pg-harness.sh: a throwaway test server, unix socket only
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
unix_socket_permissions = 0777
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
log_min_messages = warning
log_min_error_statement = error
log_connections = off
log_line_prefix = '%m [%p] %q%u@%d '
${PG_HARNESS_EXTRA_CONF:-}
EOF
	echo "$port" >"$dir/port"

	if ! as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null 2>&1; then
		fail "$dir" "the server did not start (pg_ctl start, port $port)"
	fi
	wait_ready "$dir" "$port" || fail "$dir" "the server did not answer pg_isready within 30 s (socket $dir, port $port)"
	if ! as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U "$SUPERUSER" -d postgres \
		-c "CREATE DATABASE $DBNAME" >>"$dir/log" 2>&1; then
		fail "$dir" "could not create the database $DBNAME"
	fi

	encdir=$(urlencode "$dir")
	uri="postgresql:///$DBNAME?host=$encdir&port=$port&user=$SUPERUSER"
	echo "$uri" >"$dir/uri"
	echo "$uri"
}

cmd_stop() {
	local dir=$1 sub
	# Servers that tests started under DIR (reliability-restart) go first.
	for sub in "$dir"/*/; do
		[ -f "$sub/data/postmaster.pid" ] || continue
		as_pg "$PG_BINDIR/pg_ctl" -D "$sub/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			echo "pg-harness: could not stop the server in ${sub%/}" >&2
	done
	[ -d "$dir/data" ] || return 0
	[ -f "$dir/data/postmaster.pid" ] || return 0
	if ! as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1; then
		fail "$dir" "pg_ctl stop failed"
	fi
}

# checkpoint DIR PORT: the server runs with synchronous_commit off, so a crash
# would lose the last commits; a checkpoint first keeps what was committed.
checkpoint() {
	as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$1" -p "$2" -U "$SUPERUSER" -d postgres \
		-c CHECKPOINT >>"$1/log" 2>&1 || fail "$1" "CHECKPOINT failed"
}

cmd_restart() {
	local dir=$1 mode=${2:-fast} port
	case $mode in
	smart | fast | immediate) ;;
	*) die "unknown restart mode '$mode' (smart, fast or immediate)" ;;
	esac
	port=$(dir_port "$dir")
	[ -d "$dir/data" ] || die "no cluster in $dir/data"
	if [ "$mode" = immediate ]; then checkpoint "$dir" "$port"; fi
	if ! as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/log" -m "$mode" -w -t 60 restart >/dev/null 2>&1; then
		fail "$dir" "pg_ctl restart -m $mode failed"
	fi
	wait_ready "$dir" "$port" || fail "$dir" "the server did not answer pg_isready after the restart"
}

cmd_halt() {
	local dir=$1
	[ -f "$dir/data/postmaster.pid" ] || die "no server runs in $dir/data"
	checkpoint "$dir" "$(dir_port "$dir")"
	if ! as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1; then
		fail "$dir" "pg_ctl stop -m immediate failed"
	fi
}

cmd_resume() {
	local dir=$1 port
	port=$(dir_port "$dir")
	[ -d "$dir/data" ] || die "no cluster in $dir/data"
	if ! as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null 2>&1; then
		fail "$dir" "pg_ctl start failed"
	fi
	wait_ready "$dir" "$port" || fail "$dir" "the server did not answer pg_isready after its start"
}

cmd_env() {
	local dir=$1 self
	[ -f "$dir/uri" ] || die "$dir/uri is missing: was the server started with '$0 start $dir'?"
	self=$(cd "$(dirname "$0")" && pwd -P)/$(basename "$0")
	printf 'export KBP_TEST_PG_URI=%q\n' "$(cat "$dir/uri")"
	printf 'export KBP_TEST_PG_DIR=%q\n' "$dir"
	printf 'export KBP_TEST_PG_HARNESS=%q\n' "$self"
}

[ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$1" = restart ]; } || usage
case $1 in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
restart) cmd_restart "$2" "${3:-}" ;;
halt) cmd_halt "$2" ;;
resume) cmd_resume "$2" ;;
env) cmd_env "$(cd "$2" 2>/dev/null && pwd -P || echo "$2")" ;;
*) usage ;;
esac

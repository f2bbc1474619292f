# Shared by the kbpipe CLI tests: sourced with KBPIPE and HELPER set.
# t NAME WANT CMD…  runs CMD with stdout and stderr captured and checks its
# exit status; out_has, err_has, err_one_line… then check what it printed.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kbpipe-cli.XXXXXX")
passed=0
failed=0
bg_pids=""

cleanup() {
	for p in $bg_pids; do
		kill -9 "$p" 2>/dev/null
	done
	if type extra_cleanup >/dev/null 2>&1; then
		extra_cleanup
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() {
	passed=$((passed + 1))
	echo "ok - $*"
}

bad() {
	failed=$((failed + 1))
	echo "not ok - $*"
	echo "  --- stdout:"; sed 's/^/  | /' "$tmp/out" 2>/dev/null | head -20
	echo "  --- stderr:"; sed 's/^/  | /' "$tmp/err" 2>/dev/null | head -20
}

# t NAME WANT CMD…: runs CMD, expects exit status WANT.
t() {
	local name=$1 want=$2
	shift 2
	cur=$name
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		bad "$name: exit status $rc, expected $want"
		return 1
	fi
	ok "$name (exit $rc)"
}

out_has() {
	if grep -q -e "$1" "$tmp/out"; then ok "$cur: stdout has '$1'"; else bad "$cur: stdout lacks '$1'"; fi
}
out_lacks() {
	if grep -q -e "$1" "$tmp/out"; then bad "$cur: stdout has '$1'"; else ok "$cur: stdout lacks '$1'"; fi
}
err_has() {
	if grep -q -e "$1" "$tmp/err"; then ok "$cur: stderr has '$1'"; else bad "$cur: stderr lacks '$1'"; fi
}
err_lacks() {
	if grep -q -e "$1" "$tmp/err"; then bad "$cur: stderr has '$1'"; else ok "$cur: stderr lacks '$1'"; fi
}
out_empty() {
	if [ -s "$tmp/out" ]; then bad "$cur: stdout is not empty"; else ok "$cur: stdout empty"; fi
}
err_empty() {
	if [ -s "$tmp/err" ]; then bad "$cur: stderr is not empty"; else ok "$cur: stderr empty"; fi
}
# The error contract: exactly one line on stderr, "kbpipe: …", and nothing on stdout.
err_one_line() {
	local n
	n=$(wc -l <"$tmp/err")
	if [ "$n" = 1 ] && grep -q '^kbpipe: ' "$tmp/err" && [ ! -s "$tmp/out" ]; then
		ok "$cur: one line on stderr"
	else
		bad "$cur: expected one 'kbpipe: …' line on stderr and nothing on stdout, got $n lines"
	fi
}
# json PATH: the value at PATH of the JSON on stdout ("" when invalid or absent).
json() {
	"$HELPER" json "$1" <"$tmp/out" 2>/dev/null
}
json_is() {
	local v
	v=$(json "$1")
	if [ "$v" = "$2" ]; then ok "$cur: $1 = $2"; else bad "$cur: $1 = '$v', expected '$2'"; fi
}
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}

# wait_for SECONDS CMD…: polls CMD every 0.2 s until it succeeds; 1 on timeout.
wait_for() {
	local n=$(($1 * 5))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

# wait_exit PID SECONDS: waits for a background process; sets wrc to its exit
# status, or to "timeout" after SIGKILLing it when it outlived SECONDS.
wait_exit() {
	local pid=$1 n=$(($2 * 10))
	while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		wrc=timeout
	else
		wait "$pid"
		wrc=$?
	fi
}

finish() {
	echo "# $passed passed, $failed failed"
	[ "$failed" = 0 ]
}

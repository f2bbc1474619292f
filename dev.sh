#!/usr/bin/env bash
# The project's two entry points, on a fresh Debian 12 machine:
#   ./dev.sh demo   build and run the demo on the embedded memory backend
#   ./dev.sh test   build and pass every test suite (also under ASan + UBSan)
#   ./dev.sh shop   build the Node binding and start the example web shop
#                   (examples/node-shop) on http://127.0.0.1:8080/
# Each installs the Debian packages it needs first.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev libcjson-dev libsodium-dev check scdoc
	postgresql-15 postgresql-client-15 libpq-dev libsqlite3-dev sqlite3 libcurl4-openssl-dev swig python3-dev)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}

# install_packages [PACKAGE…]: PACKAGES and the ones named, those not installed yet.
install_packages() {
	local missing=() p sudo=""
	for p in "${PACKAGES[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	echo "== installing ${missing[*]}"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
}

# The Node addon's needs: node and npm (the machine's own, or Debian's) and
# Node's headers, which node-gyp is pointed at (--nodedir=/usr).
node_packages() {
	command -v node >/dev/null || echo nodejs
	command -v npm >/dev/null || echo npm
	[ -f /usr/include/node/node.h ] || echo libnode-dev
}

# configure DIR [meson options…]: set up a build directory once, reconfigure after that.
configure() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@"
	fi
}

passed=0
failed=0

# run_suites DIR: runs every registered test. The tally counts each case of a
# Check, unittest or node:test suite on its own (skipped ones not as passed)
# and every other test (example, demo, corpus replay) as one.
run_suites() {
	local dir=$1 log status=0 ok bad suites cases cases_bad
	log=$(mktemp)
	meson test -C "$dir" --print-errorlogs --num-processes 2 2>&1 | tee "$log" || status=$?
	ok=$(awk '/^Ok:/ {print $2}' "$log")
	bad=$(awk '/^(Fail|Unexpected Pass|Timeout):/ {s += $2} END {print s + 0}' "$log")
	read -r suites cases cases_bad < <(awk '
		function counts(text, key,   s) {
			if (!match(text, key "=[0-9]+")) return 0
			s = substr(text, RSTART, RLENGTH); sub(/.*=/, "", s); return s
		}
		match($0, /Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/) {
			split(substr($0, RSTART, RLENGTH), f, /[^0-9]+/); n++; c += f[2]; b += f[3] + f[4] }
		/^Ran [0-9]+ tests? in / { n++; c += $2 }
		/^(OK|FAILED) \(/ { b += counts($0, "failures") + counts($0, "errors"); c -= counts($0, "skipped") }
		/^# tests [0-9]+$/ { n++; c += $3 }
		/^# fail [0-9]+$/ { b += $3 }
		/^# (skipped|todo) [0-9]+$/ { c -= $3 }
		END { print n + 0, c + 0, b + 0 }' "$dir/meson-logs/testlog.txt")
	passed=$((passed + ok - suites + cases - cases_bad))
	failed=$((failed + bad + cases_bad))
	rm -f "$log"
	return $status
}

# Each libFuzzer target runs FUZZ_SECONDS from the committed seeds; a finding fails it.
run_fuzzers() {
	local target name work status=0
	echo "== libFuzzer, ${FUZZ_SECONDS} s per target"
	CC=clang configure build/fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dman=disabled -Dpython=disabled
	for target in tests/fuzz/fuzz_*.c; do
		name=$(basename "$target" .c)
		name=${name#fuzz_}
		ninja -C build/fuzz "tests/fuzz/fuzz-${name//_/-}"
		work=$(mktemp -d)
		if build/fuzz/tests/fuzz/fuzz-"${name//_/-}" -max_total_time="$FUZZ_SECONDS" \
			-print_final_stats=1 "$work" "tests/fuzz/corpus/$name" >"$work.log" 2>&1; then
			passed=$((passed + 1))
			tail -n 3 "$work.log"
		else
			failed=$((failed + 1))
			status=1
			cat "$work.log"
		fi
		rm -rf "$work" "$work.log"
	done
	return $status
}

# A throwaway PostgreSQL for the PostgreSQL suites (tests/pg/pg-harness.sh):
# started once, shared by the developer and the sanitizer stages, stopped when
# this script exits for any reason (a failed test, a failed build, ^C).
PG_HARNESS=tests/pg/pg-harness.sh
pg_dir=""

pg_stop() {
	[ -n "$pg_dir" ] || return 0
	"$PG_HARNESS" stop "$pg_dir" || echo "== could not stop the PostgreSQL in $pg_dir" >&2
	rm -rf "$pg_dir"
	pg_dir=""
}

pg_start() {
	pg_dir=$(mktemp -d /tmp/kbp-pg.XXXXXX)
	trap pg_stop EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	echo "== PostgreSQL 15, throwaway, in $pg_dir"
	if ! KBP_TEST_PG_URI=$("$PG_HARNESS" start "$pg_dir"); then
		echo "== PostgreSQL did not start, so the PostgreSQL suites cannot run: failing" >&2
		return 1
	fi
	KBP_TEST_PG_DIR=$pg_dir
	export KBP_TEST_PG_URI KBP_TEST_PG_DIR
	echo "   KBP_TEST_PG_URI=$KBP_TEST_PG_URI"
}

# Chained, not left to set -e: the test command calls these in a condition,
# where set -e does not apply, and a failed build must stop there.
build_demo() {
	install_packages &&
		configure build/release --buildtype=release -Dtests=false -Dpython=disabled &&
		meson compile -C build/release
}

cmd_demo() {
	build_demo && ./build/release/tools/kbpipe/kbpipe demo "$@"
}

# The example web shop over the Node binding; its settings are environment
# variables (examples/node-shop/README.md), e.g. KBP_SHOP_ADMIN_TOKEN for /admin.
cmd_shop() {
	# shellcheck disable=SC2046 # one package name per word
	install_packages $(node_packages)
	# -Dsqlite=enabled: the shop keeps its data in a SQLite file unless told otherwise.
	configure build/shop --buildtype=release -Dtests=false -Dnode=enabled -Dpython=disabled \
		-Dman=disabled -Dsqlite=enabled
	meson compile -C build/shop
	NODE_PATH="$PWD/build/shop/bindings/node/stage" exec node examples/node-shop/server.js "$@"
}

cmd_test() {
	local status=0
	# chromium: the web shop's browser tests drive Debian's, headless.
	# shellcheck disable=SC2046 # one package name per word
	install_packages $(node_packages) chromium
	pg_start || exit 1
	# The Python suite's PostgreSQL tests fail, rather than skip, without the server.
	export KBP_REQUIRE_PG=1
	echo "== developer build (-Werror)"
	# Features enabled: a missing dependency fails the build rather than dropping its suites.
	# The Node addon is built (by node-gyp, with node-gyp from npm) and tested here only:
	# an instrumented addon would need an instrumented node.
	configure build/dev -Dpostgres=enabled -Dsqlite=enabled -Dcurl=enabled -Dpython=enabled \
		-Dnode=enabled
	meson compile -C build/dev
	run_suites build/dev || status=1
	echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
	configure build/asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all -Dman=disabled -Dpostgres=enabled -Dsqlite=enabled \
		-Dcurl=enabled -Dpython=enabled
	meson compile -C build/asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_suites build/asan || status=1
	run_fuzzers || status=1
	# The README's other command, exactly as a user runs it.
	# The build's output is shown, so that a failure says why; the demo's own report is not.
	echo "== ./dev.sh demo"
	if build_demo && ./build/release/tools/kbpipe/kbpipe demo >/dev/null; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		status=1
	fi
	echo
	echo "tests: $passed passed, $failed failed"
	return $status
}

case "${1:-}" in
demo) shift; cmd_demo "$@" ;;
test) shift; cmd_test "$@" ;;
shop) shift; cmd_shop "$@" ;;
*)
	echo "usage: ./dev.sh demo | test | shop" >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# The project's two entry points, on a fresh Debian 12 machine:
#   ./dev.sh demo   build and run the demo on the embedded memory backend
#   ./dev.sh test   build and pass every test suite (also under ASan + UBSan)
# Each installs the Debian packages it needs first.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev libcjson-dev libsodium-dev check scdoc)
FUZZ_SECONDS=${FUZZ_SECONDS:-30}

install_packages() {
	local missing=() p sudo=""
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	echo "== installing ${missing[*]}"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
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

# run_suites DIR: runs every registered test. The tally counts each Check test
# case on its own and every other test (example, demo, corpus replay) as one.
run_suites() {
	local dir=$1 log status=0 ok bad runners checks check_bad
	log=$(mktemp)
	meson test -C "$dir" --print-errorlogs --num-processes 2 2>&1 | tee "$log" || status=$?
	ok=$(awk '/^Ok:/ {print $2}' "$log")
	bad=$(awk '/^(Fail|Unexpected Pass|Timeout):/ {s += $2} END {print s + 0}' "$log")
	read -r runners checks check_bad < <(awk -F'[:,]' '/Checks: [0-9]+, Failures/ {
		n++; c += $3; f += $5 + $7 } END {print n + 0, c + 0, f + 0}' "$dir/meson-logs/testlog.txt")
	passed=$((passed + ok - runners + checks - check_bad))
	failed=$((failed + bad + check_bad))
	rm -f "$log"
	return $status
}

# Each libFuzzer target runs FUZZ_SECONDS from the committed seeds; a finding fails it.
run_fuzzers() {
	local target name work status=0
	echo "== libFuzzer, ${FUZZ_SECONDS} s per target"
	CC=clang configure build/fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dman=disabled
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

cmd_test() {
	local status=0
	install_packages
	echo "== developer build (-Werror)"
	configure build/dev
	meson compile -C build/dev
	run_suites build/dev || status=1
	echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
	configure build/asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all -Dman=disabled
	meson compile -C build/asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_suites build/asan || status=1
	run_fuzzers || status=1
	echo
	echo "tests: $passed passed, $failed failed"
	return $status
}

case "${1:-}" in
demo) shift; cmd_demo "$@" ;;
test) shift; cmd_test "$@" ;;
*)
	echo "usage: ./dev.sh demo | test" >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# Runs the shop's browser tests: installs playwright-core (pinned by
# package-lock.json) into a copy of the package under the build directory,
# so the source tree stays clean, and drives Debian's chromium with it.
#   run-tests.sh SOURCE_DIR WORK_DIR NODE
# NODE_PATH must name the staged kbpipeline package (meson sets it).
set -euo pipefail
src=$1 work=$2 node=$3
chromium=${KBP_CHROMIUM:-/usr/bin/chromium}

# A missing browser is a failure, never a skip: these tests are the proof.
if [ ! -x "$chromium" ]; then
	echo "node-shop tests: no chromium at $chromium; install Debian's chromium package (apt-get install chromium)" >&2
	exit 1
fi

mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$work/"
cd "$work"
# Fetched from npm's registry again only when the lock file changes.
if ! cmp -s package-lock.json node_modules/.kbp-package-lock.json; then
	npm ci --ignore-scripts --no-audit --no-fund
	cp package-lock.json node_modules/.kbp-package-lock.json
fi

export NODE_PATH="$NODE_PATH:$work/node_modules"
export KBP_SHOP_SCREENSHOTS="$work/screenshots"
export KBP_CHROMIUM="$chromium"
# Each shop a test starts keeps its store in a directory of its own under
# this one, made afresh for the run and removed after it.
KBP_SHOP_TEST_DATA=$(mktemp -d "$work/data.XXXXXX")
export KBP_SHOP_TEST_DATA
trap 'rm -rf "$KBP_SHOP_TEST_DATA"' EXIT
rm -rf "$KBP_SHOP_SCREENSHOTS"
echo "node-shop tests: screenshots in $KBP_SHOP_SCREENSHOTS"
status=0
"$node" --test --test-concurrency=2 "$src"/test/*.test.js || status=$?
echo "node-shop tests: screenshots in $KBP_SHOP_SCREENSHOTS"
exit "$status"

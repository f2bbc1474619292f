#!/bin/sh
# with-sqlite.sh TEST [ARGS…]: runs TEST with KBP_TEST_STORAGE naming a SQLite
# file in a fresh directory, removed afterwards. The conformance suite gives
# each test case a file of its own there (its schema name, PATH.SCHEMA).
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 TEST [ARGS...]" >&2
	exit 2
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/kbp-sqlite.XXXXXX")
trap 'rm -rf "$dir"' EXIT
KBP_TEST_STORAGE="sqlite:$dir/kbp.db"
KBP_TEST_SQLITE_DIR=$dir
export KBP_TEST_STORAGE KBP_TEST_SQLITE_DIR
"$@"

#!/bin/sh
# with-pg.sh MIGRATE TEST [ARGS…]: runs a test against the throwaway PostgreSQL
# that ./dev.sh test starts (tests/pg/pg-harness.sh). It migrates the database
# named by KBP_TEST_PG_URI with MIGRATE (tests/pg/migrate.c, kbp_migrate()),
# then execs TEST with KBP_TEST_STORAGE set to that URI. Without a URI it fails:
# a PostgreSQL test never skips.
set -eu

if [ $# -lt 2 ]; then
	echo "usage: $0 MIGRATE TEST [ARGS...]" >&2
	exit 2
fi
if [ -z "${KBP_TEST_PG_URI:-}" ]; then
	cat >&2 <<'MSG'
with-pg.sh: KBP_TEST_PG_URI is not set, so there is no PostgreSQL to test against.
  ./dev.sh test starts one itself. By hand:
    dir=$(mktemp -d /tmp/kbp-pg.XXXXXX)
    tests/pg/pg-harness.sh start "$dir" && eval "$(tests/pg/pg-harness.sh env "$dir")"
    meson test -C build/dev ...; tests/pg/pg-harness.sh stop "$dir"
MSG
	exit 1
fi
migrate=$1
shift
if ! "$migrate" "$KBP_TEST_PG_URI"; then
	echo "with-pg.sh: migrating the test database failed" >&2
	exit 1
fi
KBP_TEST_STORAGE=$KBP_TEST_PG_URI
export KBP_TEST_STORAGE
exec "$@"

/* SPDX-License-Identifier: MIT */
/*
 * kbp-pg-migrate URI [SCHEMA]: brings a PostgreSQL database to the library's
 * schema version with kbp_migrate() (DESIGN.md §5), as the test wrapper
 * tests/pg/with-pg.sh does before every PostgreSQL suite. SCHEMA defaults to
 * the library's ("kbp"). Exit 0 on success, 1 with the library's message.
 */
#include <stdio.h>
#include <kbpipeline.h>

int main(int argc, char **argv)
{
	int version = -1;
	int rc;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s URI [SCHEMA]\n", argv[0]);
		return 2;
	}
	rc = kbp_migrate(&version, argv[1], argc > 2 ? argv[2] : NULL);
	if (rc != KBP_OK) {
		const kbp_error *e = kbp_error_last();
		fprintf(stderr, "kbp_migrate: %d (%s): %s\n", rc, kbp_strerror(rc),
		        e && e->message ? e->message : "(no message)");
		return 1;
	}
	if (version <= 0) {
		fprintf(stderr, "kbp_migrate succeeded but reported schema version %d\n", version);
		return 1;
	}
	return 0;
}

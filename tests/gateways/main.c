/* SPDX-License-Identifier: MIT */
/* The eSewa and Khalti backends: protocol units, and the real backends over libcurl against a fake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"

/*
 * On PostgreSQL the suites get a schema of their own: other tests' pending
 * intents in the shared one would be reconciled by this run's worker, through
 * this run's fake gateway, and upset its counts.
 */
static int own_schema(void)
{
	const char *storage = getenv("KBP_TEST_STORAGE");
	char schema[32];

	if (!storage || strncmp(storage, "memory:", 7) == 0)
		return 0;
	snprintf(schema, sizeof(schema), "kbp_gw_%ld", (long)getpid());
	if (kbp_migrate(NULL, storage, schema) != 0) {
		fprintf(stderr, "migrating schema %s: %s\n", schema, kbp_error_last()->message);
		return -1;
	}
	return setenv(GW_SCHEMA_ENV, schema, 1);
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (own_schema() != 0)
		return EXIT_FAILURE;
	sr = srunner_create(units_suite());

	srunner_add_suite(sr, esewa_suite());
	srunner_add_suite(sr, khalti_suite());
	srunner_add_suite(sr, secrets_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

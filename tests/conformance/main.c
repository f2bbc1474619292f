/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

int main(void)
{
	Suite *s = suite_create("conformance");
	SRunner *sr;
	int failed;

	add_catalog_tests(s);
	add_cart_tests(s);
	add_intent_tests(s);
	add_verify_tests(s);
	add_finalize_tests(s);
	add_orders_tests(s);
	add_order_watch_tests(s);
	add_jobs_tests(s);
	add_leases_tests(s);
	add_maintenance_tests(s);
	add_admin_tests(s);
	add_concurrency_tests(s);

	/* Only the scheme: a connection string may carry credentials. */
	printf("conformance suite on storage \"%.*s\"\n",
	       (int)strcspn(fx_storage_uri(), ":"), fx_storage_uri());
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);    /* CK_VERBOSITY=verbose lists every test */
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include "fixture.h"

Suite *fx_conformance_suite(void)
{
	Suite *s = suite_create("conformance");

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
	return s;
}

/* SPDX-License-Identifier: MIT */
/*
 * The conformance suite on the storage that KBP_TEST_STORAGE names, with the
 * test backends registered first, and the tests of the registry and of those
 * backends: the proof that a backend from outside the library plugs in.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../conformance/fixture.h"
#include "counting.h"
#include "registry_tests.h"

int main(void)
{
	SRunner *sr;
	int failed;

	if (counting_register() != 0 || broken_register() != 0) {
		fprintf(stderr, "test backends not registered: %s\n", kbp_error_last()->message);
		return EXIT_FAILURE;
	}
	sr = srunner_create(fx_conformance_suite());
	srunner_add_suite(sr, registry_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

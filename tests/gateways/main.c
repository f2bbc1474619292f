/* SPDX-License-Identifier: MIT */
/* The eSewa and Khalti backends: protocol units, and the real backends over libcurl against a fake. */
#include <stdlib.h>

#include "gw.h"

int main(void)
{
	SRunner *sr = srunner_create(units_suite());
	int failed;

	srunner_add_suite(sr, esewa_suite());
	srunner_add_suite(sr, khalti_suite());
	srunner_add_suite(sr, secrets_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

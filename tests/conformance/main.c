/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include "fixture.h"

int main(void)
{
	SRunner *sr = srunner_create(fx_conformance_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);    /* CK_VERBOSITY=verbose lists every test */
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

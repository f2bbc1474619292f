/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include "unit.h"

int main(void)
{
	Suite *s = suite_create("unit");
	SRunner *sr;
	int failed;

	add_error_tests(s);
	add_name_tests(s);
	add_options_tests(s);
	add_config_tests(s);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);    /* CK_VERBOSITY=verbose lists every test */
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

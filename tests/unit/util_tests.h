/* SPDX-License-Identifier: MIT */
/* The internal unit tests' cases kept outside test_util.c. */
#ifndef KBP_UTIL_TESTS_H
#define KBP_UTIL_TESTS_H

#include <check.h>

/* A worker's outcome writes against a memory backend that fails on cue. */
TCase *outcomes_tcase(void);

#endif

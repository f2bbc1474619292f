/* SPDX-License-Identifier: MIT */
#ifndef KBP_TEST_REGISTRY_TESTS_H
#define KBP_TEST_REGISTRY_TESTS_H

#include <check.h>

/*
 * Registers "broken": a counting store spoilt as its URI says
 * (broken:version=0, broken:noname, broken:lacks=metrics, …), to show
 * what the library refuses when it opens a storage.
 */
int broken_register(void);
Suite *registry_suite(void);

#endif

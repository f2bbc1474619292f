/* SPDX-License-Identifier: MIT */
#ifndef KBP_UNIT_H
#define KBP_UNIT_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <kbpipeline.h>

void add_error_tests(Suite *s);
void add_name_tests(Suite *s);
void add_options_tests(Suite *s);
void add_config_tests(Suite *s);

#endif

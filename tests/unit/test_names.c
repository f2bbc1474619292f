/* SPDX-License-Identifier: MIT */
/* The *_name functions: the words the tools, logs and bindings print. */
#include <string.h>
#include <strings.h>
#include "unit.h"

START_TEST(intent_status_names)
{
	ck_assert_str_eq(kbp_intent_status_name(KBP_INTENT_PENDING), "pending");
	ck_assert_str_eq(kbp_intent_status_name(KBP_INTENT_SUCCEEDED), "succeeded");
	ck_assert_str_eq(kbp_intent_status_name(KBP_INTENT_FAILED), "failed");
	ck_assert_str_eq(kbp_intent_status_name(KBP_INTENT_EXPIRED), "expired");
	ck_assert_str_eq(kbp_intent_status_name(KBP_INTENT_CANCELED), "canceled");
	ck_assert_ptr_nonnull(kbp_intent_status_name((kbp_intent_status)99));
	ck_assert_ptr_nonnull(kbp_intent_status_name((kbp_intent_status)-1));
}
END_TEST

START_TEST(job_state_names)
{
	ck_assert_str_eq(kbp_job_state_name(KBP_JOB_AVAILABLE), "available");
	ck_assert_str_eq(kbp_job_state_name(KBP_JOB_RUNNING), "running");
	ck_assert_str_eq(kbp_job_state_name(KBP_JOB_COMPLETED), "completed");
	ck_assert_str_eq(kbp_job_state_name(KBP_JOB_FAILED), "failed");
	ck_assert_str_eq(kbp_job_state_name(KBP_JOB_CANCELED), "canceled");
	ck_assert_ptr_nonnull(kbp_job_state_name((kbp_job_state)KBP_JOB_STATE_COUNT));
}
END_TEST

START_TEST(order_stage_names)
{
	ck_assert_str_eq(kbp_order_stage_name(KBP_STAGE_VERIFYING), "verifying");
	ck_assert_str_eq(kbp_order_stage_name(KBP_STAGE_PROCESSING), "processing");
	ck_assert_str_eq(kbp_order_stage_name(KBP_STAGE_CONFIRMED), "confirmed");
	ck_assert_str_eq(kbp_order_stage_name(KBP_STAGE_FAILED), "failed");
	ck_assert_ptr_nonnull(kbp_order_stage_name((kbp_order_stage)42));
}
END_TEST

START_TEST(verification_outcome_names)
{
	ck_assert_str_eq(kbp_verification_outcome_name(KBP_VERIFICATION_ACCEPTED), "accepted");
	ck_assert_str_eq(kbp_verification_outcome_name(KBP_VERIFICATION_REJECTED), "rejected");
	ck_assert_str_eq(kbp_verification_outcome_name(KBP_VERIFICATION_PENDING), "pending");
	ck_assert_str_eq(kbp_verification_outcome_name(KBP_VERIFICATION_DECLINED), "declined");
	ck_assert_ptr_nonnull(kbp_verification_outcome_name((kbp_verification_outcome)9));
}
END_TEST

START_TEST(health_level_names)
{
	/* Case is the tools' business; the words are not. */
	ck_assert_int_eq(strcasecmp(kbp_health_level_name(KBP_HEALTH_OK), "ok"), 0);
	ck_assert_int_eq(strcasecmp(kbp_health_level_name(KBP_HEALTH_INFO), "info"), 0);
	ck_assert_int_eq(strcasecmp(kbp_health_level_name(KBP_HEALTH_WARNING), "warning"), 0);
	ck_assert_int_eq(strcasecmp(kbp_health_level_name(KBP_HEALTH_CRITICAL), "critical"), 0);
	ck_assert_ptr_nonnull(kbp_health_level_name((kbp_health_level)8));
}
END_TEST

void add_name_tests(Suite *s)
{
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, intent_status_names);
	tcase_add_test(tc, job_state_names);
	tcase_add_test(tc, order_stage_names);
	tcase_add_test(tc, verification_outcome_names);
	tcase_add_test(tc, health_level_names);
	suite_add_tcase(s, tc);
}

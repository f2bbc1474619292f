/* SPDX-License-Identifier: MIT */
/* kbp_pipeline_open option validation, the clock, and NULL-safe frees. */
#include "unit.h"

static int64_t fixed_clock(void *ctx)
{
	return *(const int64_t *)ctx;
}

static int open_with(kbp_pipeline **p, const kbp_options *o)
{
	*p = (kbp_pipeline *)p;     /* must be reset to NULL on failure */
	return kbp_pipeline_open(p, o);
}

START_TEST(defaults_open_the_memory_backend)
{
	kbp_pipeline *p = NULL;
	kbp_options o = KBP_OPTIONS_INIT;

	ck_assert_int_eq(kbp_pipeline_open(&p, NULL), KBP_OK);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(kbp_pipeline_storage_name(p), "memory");
	kbp_pipeline_close(p);

	o.storage = "memory:";
	ck_assert_int_eq(kbp_pipeline_open(&p, &o), KBP_OK);
	ck_assert_str_eq(kbp_pipeline_storage_name(p), "memory");
	kbp_pipeline_close(p);
}
END_TEST

START_TEST(injected_clock_is_the_pipeline_clock)
{
	kbp_pipeline *p = NULL;
	kbp_options o = KBP_OPTIONS_INIT;
	int64_t now = INT64_C(1767225600123);

	o.clock = fixed_clock;
	o.clock_ctx = &now;
	ck_assert_int_eq(kbp_pipeline_open(&p, &o), KBP_OK);
	ck_assert_int_eq(kbp_pipeline_now(p), INT64_C(1767225600123));
	now += 5000;
	ck_assert_int_eq(kbp_pipeline_now(p), INT64_C(1767225605123));
	kbp_pipeline_close(p);
}
END_TEST

START_TEST(bad_options_are_refused)
{
	kbp_pipeline *p;
	kbp_options o;
	const kbp_options init = KBP_OPTIONS_INIT;

	ck_assert_int_eq(kbp_pipeline_open(NULL, &init), KBP_EINVAL);

	o = init;
	o.version = KBP_OPTIONS_VERSION + 1;
	ck_assert_int_eq(open_with(&p, &o), KBP_EVERSION);
	ck_assert_ptr_null(p);
	o.version = 0;
	ck_assert_int_eq(open_with(&p, &o), KBP_EVERSION);
	ck_assert_ptr_null(p);

	o = init;
	o.storage = "bogus:";
	ck_assert_int_eq(open_with(&p, &o), KBP_EINVAL);
	ck_assert_ptr_null(p);
	o.storage = "redis://localhost/0";
	ck_assert_int_eq(open_with(&p, &o), KBP_EINVAL);
	ck_assert_ptr_null(p);

	o = init;
	o.intent_ttl_ms = -1;
	ck_assert_int_eq(open_with(&p, &o), KBP_EINVAL);
	ck_assert_ptr_null(p);
	o.intent_ttl_ms = INT64_MIN;
	ck_assert_int_eq(open_with(&p, &o), KBP_EINVAL);
}
END_TEST

/*
 * A database that cannot be reached is a clear KBP_ESTORAGE (or KBP_EINVAL in a
 * build without PostgreSQL), and no message ever repeats the password.
 */
START_TEST(unreachable_database_never_shows_the_password)
{
	static const char *const uris[] = {
		"postgresql://shop:pw-Zq81x-secret@127.0.0.1:1/shop",
		"host=127.0.0.1 port=1 dbname=shop user=shop password=pw-Zq81x-secret",
	};
	kbp_pipeline *p;
	kbp_options o = KBP_OPTIONS_INIT;

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		int rc;
		o.storage = uris[i];
		rc = open_with(&p, &o);
		ck_assert_ptr_null(p);
		ck_assert_msg(rc == KBP_ESTORAGE || rc == KBP_EINVAL, "open returned %d", rc);
		ck_assert_ptr_null(strstr(kbp_error_last()->message, "pw-Zq81x"));
		ck_assert_ptr_nonnull(strstr(kbp_error_last()->message, rc == KBP_ESTORAGE ? "connect" : "PostgreSQL"));
		rc = kbp_migrate(NULL, uris[i], NULL);
		ck_assert_msg(rc == KBP_ESTORAGE || rc == KBP_EINVAL, "migrate returned %d", rc);
		ck_assert_ptr_null(strstr(kbp_error_last()->message, "pw-Zq81x"));
	}
	ck_assert_int_eq(kbp_migrate(NULL, "postgresql://127.0.0.1:1/shop", "Bad-Schema"), KBP_EINVAL);
	ck_assert_int_eq(kbp_migrate(NULL, "bogus:", NULL), KBP_EINVAL);
}
END_TEST

/* Zero selects a default; a negative duration or count means nothing sensible. */
START_TEST(negative_durations_are_refused)
{
	kbp_pipeline *p;
	kbp_options o;
	const kbp_options init = KBP_OPTIONS_INIT;

	o = init;
	o.job_lease_ms = -1;
	ck_assert_int_eq(open_with(&p, &o), KBP_EINVAL);
	o = init;
	o.max_attempts = -1;
	ck_assert_int_eq(open_with(&p, &o), KBP_EINVAL);
	o = init;
	o.backoff_unit_ms = -1;
	ck_assert_int_eq(open_with(&p, &o), KBP_EINVAL);
	o = init;
	o.backoff_max_ms = -1;
	ck_assert_int_eq(open_with(&p, &o), KBP_EINVAL);
	o = init;
	o.job_retention_ms = -1;
	ck_assert_int_eq(open_with(&p, &o), KBP_EINVAL);
}
END_TEST

START_TEST(negative_jitter_disables_it)
{
	kbp_pipeline *p = NULL;
	kbp_options o = KBP_OPTIONS_INIT;

	o.backoff_jitter_pct = -1;
	ck_assert_int_eq(kbp_pipeline_open(&p, &o), KBP_OK);
	ck_assert_ptr_nonnull(p);
	kbp_pipeline_close(p);
}
END_TEST

START_TEST(frees_accept_null)
{
	kbp_pipeline_close(NULL);
	kbp_free(NULL);
	kbp_vendor_free(NULL);
	kbp_product_free(NULL);
	kbp_cart_free(NULL);
	kbp_intent_free(NULL);
	kbp_verification_free(NULL);
	kbp_verification_list_free(NULL);
	kbp_job_free(NULL);
	kbp_job_list_free(NULL);
	kbp_order_free(NULL);
	kbp_order_status_free(NULL);
	kbp_health_free(NULL);
	kbp_worker_stop(NULL);
	/* Reaching this line is the assertion: none of them crashed. */
	ck_assert_int_eq(kbp_error_last() != NULL, 1);
}
END_TEST

void add_options_tests(Suite *s)
{
	TCase *tc = tcase_create("options");
	tcase_add_test(tc, defaults_open_the_memory_backend);
	tcase_add_test(tc, injected_clock_is_the_pipeline_clock);
	tcase_add_test(tc, bad_options_are_refused);
	tcase_add_test(tc, negative_durations_are_refused);
	tcase_add_test(tc, negative_jitter_disables_it);
	tcase_add_test(tc, frees_accept_null);
	tcase_add_test(tc, unreachable_database_never_shows_the_password);
	suite_add_tcase(s, tc);
}

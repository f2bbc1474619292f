/* SPDX-License-Identifier: MIT */
/* Error codes, messages and the thread-local last error. */
#include <pthread.h>
#include <string.h>
#include "unit.h"

START_TEST(strerror_covers_every_code)
{
	const char *seen[23];

	for (int code = KBP_OK; code >= KBP_ENOHANDLER; code--) {
		const char *s = kbp_strerror(code);
		ck_assert_msg(s != NULL && s[0] != '\0', "kbp_strerror(%d) is empty", code);
		seen[-code] = s;
		for (int other = 0; other < -code; other++)
			ck_assert_msg(strcmp(seen[other], s) != 0, "codes %d and %d share \"%s\"", -other, code, s);
	}
	/* Unknown codes still get a description, never NULL. */
	ck_assert_ptr_nonnull(kbp_strerror(KBP_ENOHANDLER - 1));
	ck_assert_ptr_nonnull(kbp_strerror(-9999));
	ck_assert_ptr_nonnull(kbp_strerror(1));
	ck_assert_ptr_nonnull(kbp_strerror(INT32_MIN));
}
END_TEST

START_TEST(error_set_returns_code_and_formats)
{
	const kbp_error *e;

	kbp_error_clear();
	e = kbp_error_last();
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->code, 0);

	ck_assert_int_eq(kbp_error_set(KBP_ENOTFOUND, "no product %s (%d)", "sku-1", 42), KBP_ENOTFOUND);
	e = kbp_error_last();
	ck_assert_int_eq(e->code, KBP_ENOTFOUND);
	ck_assert_str_eq(e->message, "no product sku-1 (42)");

	kbp_error_clear();
	ck_assert_int_eq(kbp_error_last()->code, 0);
}
END_TEST

/* A message longer than the buffer is cut between characters, never inside one. */
START_TEST(long_message_is_cut_between_characters)
{
	char euros[601] = "";
	size_t len;

	for (int i = 0; i < 200; i++)
		strcat(euros, "\xe2\x82\xac");
	kbp_error_set(KBP_EGATEWAY, "%s", euros);
	len = strlen(kbp_error_last()->message);
	ck_assert_uint_gt(len, 500);
	ck_assert_uint_eq(len % 3, 0);
	ck_assert(memcmp(kbp_error_last()->message, euros, len) == 0);
}
END_TEST

struct probe {
	int initial_code;
	int code_after;
	char message_after[64];
};

static void *other_thread(void *arg)
{
	struct probe *pr = arg;
	pr->initial_code = kbp_error_last()->code;
	kbp_error_set(KBP_ECONFLICT, "from the thread");
	pr->code_after = kbp_error_last()->code;
	snprintf(pr->message_after, sizeof pr->message_after, "%s", kbp_error_last()->message);
	return NULL;
}

START_TEST(last_error_is_thread_local)
{
	pthread_t th;
	struct probe pr;

	memset(&pr, 0, sizeof pr);
	kbp_error_set(KBP_EINVAL, "from main %d", 1);
	ck_assert_int_eq(pthread_create(&th, NULL, other_thread, &pr), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(pr.initial_code, 0);        /* a new thread starts clean */
	ck_assert_int_eq(pr.code_after, KBP_ECONFLICT);
	ck_assert_str_eq(pr.message_after, "from the thread");
	ck_assert_int_eq(kbp_error_last()->code, KBP_EINVAL);
	ck_assert_str_eq(kbp_error_last()->message, "from main 1");
}
END_TEST

START_TEST(failed_call_sets_last_error)
{
	kbp_pipeline *p = NULL;
	kbp_options o = KBP_OPTIONS_INIT;

	kbp_error_clear();
	o.version = 77;
	ck_assert_int_eq(kbp_pipeline_open(&p, &o), KBP_EVERSION);
	ck_assert_int_eq(kbp_error_last()->code, KBP_EVERSION);
	ck_assert_ptr_nonnull(kbp_error_last()->message);
	ck_assert_int_gt((int)strlen(kbp_error_last()->message), 0);
}
END_TEST

void add_error_tests(Suite *s)
{
	TCase *tc = tcase_create("errors");
	tcase_add_test(tc, strerror_covers_every_code);
	tcase_add_test(tc, error_set_returns_code_and_formats);
	tcase_add_test(tc, long_message_is_cut_between_characters);
	tcase_add_test(tc, last_error_is_thread_local);
	tcase_add_test(tc, failed_call_sets_last_error);
	suite_add_tcase(s, tc);
}

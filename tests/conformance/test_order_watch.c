/* SPDX-License-Identifier: MIT */
/* kbp_order_watch: which intents' orders may have changed, from the watch's own thread. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fixture.h"

/* What the watch reported: calls for one intent, and calls for any other. */
typedef struct heard {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *intent_id;
	int mine;
	int others;
} heard;

static void heard_init(heard *h, const char *intent_id)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&attr);
	/* Timeouts must not jump with the wall clock. */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &attr);
	pthread_condattr_destroy(&attr);
	h->intent_id = intent_id;
	h->mine = h->others = 0;
}

static void heard_destroy(heard *h)
{
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
}

static void on_change(void *ctx, const char *intent_id)
{
	heard *h = ctx;

	pthread_mutex_lock(&h->lock);
	if (strcmp(intent_id, h->intent_id) == 0)
		h->mine++;
	else
		h->others++;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* Waits up to 10 s for more than `after` reports of the watched intent; returns the count. */
static int heard_more_than(heard *h, int after)
{
	struct timespec deadline;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&h->lock);
	while (h->mine <= after && pthread_cond_timedwait(&h->cond, &h->lock, &deadline) == 0)
		;
	n = h->mine;
	pthread_mutex_unlock(&h->lock);
	return n;
}

START_TEST(watch_reports_the_changes_of_watched_intents)
{
	fx f;
	const char *sku;
	kbp_intent *in, *other;
	kbp_order_watch *w = NULL;
	kbp_order_status *st;
	heard h;
	int n;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	other = fx_paid_intent(&f, sku, 1);
	heard_init(&h, in->id);
	CK_OK(kbp_order_watch_open(&w, f.p, on_change, &h));
	CK_OK(kbp_order_watch_add(w, in->id));

	/* Paid: verifying -> processing wakes the watch for this intent. */
	fx_pay_ok(&f, in->id);
	n = heard_more_than(&h, 0);
	ck_assert_int_ge(n, 1);
	/* Finalized, together with the other intent, which is not watched. */
	ck_assert_int_eq(fx_drain(&f), 2);
	ck_assert_int_gt(heard_more_than(&h, n), n);
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
	kbp_order_status_free(st);

	CK_OK(kbp_order_watch_remove(w, in->id));
	kbp_order_watch_close(w);
	ck_assert_int_eq(h.others, 0);
	heard_destroy(&h);
	kbp_intent_free(other);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(watch_is_a_set_and_refuses_bad_input)
{
	fx f;
	kbp_order_watch *w = (kbp_order_watch *)&w;
	char *long_id = fx_repeat('x', KBP_ID_MAX + 1);
	heard h;

	fx_open(&f);
	heard_init(&h, "pi_none");
	CK_RC(kbp_order_watch_open(NULL, f.p, on_change, &h), KBP_EINVAL);
	CK_RC(kbp_order_watch_open(&w, NULL, on_change, &h), KBP_EINVAL);
	ck_assert_ptr_null(w);
	CK_RC(kbp_order_watch_open(&w, f.p, NULL, &h), KBP_EINVAL);
	CK_OK(kbp_order_watch_open(&w, f.p, on_change, &h));
	CK_RC(kbp_order_watch_add(NULL, "pi_x"), KBP_EINVAL);
	CK_RC(kbp_order_watch_add(w, NULL), KBP_EINVAL);
	CK_RC(kbp_order_watch_add(w, ""), KBP_EINVAL);
	ck_assert_int_lt(kbp_order_watch_add(w, long_id), 0);
	CK_RC(kbp_order_watch_remove(NULL, "pi_x"), KBP_EINVAL);
	CK_RC(kbp_order_watch_remove(w, fx_id(&f, "pi_never")), KBP_ENOTFOUND);

	/* An intent need not exist yet; watching it twice is watching it once. */
	CK_OK(kbp_order_watch_add(w, fx_id(&f, "pi_twice")));
	CK_OK(kbp_order_watch_add(w, fx_id(&f, "pi_twice")));
	CK_OK(kbp_order_watch_remove(w, fx_id(&f, "pi_twice")));
	CK_RC(kbp_order_watch_remove(w, fx_id(&f, "pi_twice")), KBP_ENOTFOUND);
	kbp_order_watch_close(w);
	kbp_order_watch_close(NULL);
	heard_destroy(&h);
	free(long_id);
	fx_close(&f);
}
END_TEST

START_TEST(watch_closes_promptly_with_intents_watched)
{
	fx f;
	kbp_order_watch *w = NULL;
	struct timespec t0, t1;
	heard h;

	fx_open(&f);
	heard_init(&h, "pi_none");
	CK_OK(kbp_order_watch_open(&w, f.p, on_change, &h));
	for (int i = 0; i < 1000; i++)
		CK_OK(kbp_order_watch_add(w, fx_id(&f, "pi_%d", i)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kbp_order_watch_close(w);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
	ck_assert_int_eq(h.mine, 0);
	heard_destroy(&h);
	fx_close(&f);
}
END_TEST

void add_order_watch_tests(Suite *s)
{
	TCase *tc = fx_tcase("order_watch");

	tcase_add_test(tc, watch_reports_the_changes_of_watched_intents);
	tcase_add_test(tc, watch_is_a_set_and_refuses_bad_input);
	tcase_add_test(tc, watch_closes_promptly_with_intents_watched);
	suite_add_tcase(s, tc);
}

/* SPDX-License-Identifier: MIT */
/* Maintenance passes: expiry and stock release, pruning. (Lease rescue: test_jobs.c.) */
#include <stdlib.h>
#include <string.h>
#include "jobs_util.h"

static kbp_maintenance_result maintain(fx *f)
{
	kbp_maintenance_result r;
	memset(&r, 0xff, sizeof r);
	CK_OK(kbp_maintenance_run(&r, f->p));
	ck_assert_int_eq(r.ran, 1);
	ck_assert_int_ge(r.intents_expired, 0);
	ck_assert_int_ge(r.jobs_rescued, 0);
	ck_assert_int_ge(r.jobs_pruned, 0);
	return r;
}

START_TEST(expiry_releases_stock)
{
	fx f;
	const char *a, *b, *cart;
	kbp_intent *old, *young, *got;
	kbp_maintenance_result r;

	fx_open(&f);
	a = fx_product(&f, "a", 100, 10);
	b = fx_product(&f, "b", 100, 10);
	cart = fx_cart(&f, a, 3);
	fx_cart_set(&f, cart, b, 1);
	old = fx_intent(&f, cart);
	fx_advance(&f, 60000);
	young = fx_intent(&f, fx_cart(&f, a, 2));
	ck_assert_int_eq(fx_reserved(&f, a), 5);

	fx_set_now(&f, old->expires_at - 1);
	maintain(&f);
	ck_assert_int_eq(fx_intent_status(&f, old->id), KBP_INTENT_PENDING);
	ck_assert_int_eq(fx_reserved(&f, a), 5);

	fx_set_now(&f, old->expires_at);      /* expires_at <= now */
	r = maintain(&f);
	ck_assert_int_ge(r.intents_expired, 1);
	got = fx_intent_get(&f, old->id);
	ck_assert_int_eq(got->status, KBP_INTENT_EXPIRED);
	ck_assert_str_eq(got->status_reason, "expired");
	ck_assert_int_eq(got->needs_refund, 0);
	kbp_intent_free(got);
	ck_assert_int_eq(fx_intent_status(&f, young->id), KBP_INTENT_PENDING);
	ck_assert_int_eq(fx_reserved(&f, a), 2);
	ck_assert_int_eq(fx_reserved(&f, b), 0);
	ck_assert_int_eq(fx_on_hand(&f, a), 10);

	/* A second pass releases nothing twice. */
	maintain(&f);
	ck_assert_int_eq(fx_reserved(&f, a), 2);
	CK_RC(kbp_intent_cancel(f.p, old->id), KBP_ESTATE);

	fx_set_now(&f, young->expires_at + 5000);
	maintain(&f);
	ck_assert_int_eq(fx_intent_status(&f, young->id), KBP_INTENT_EXPIRED);
	ck_assert_int_eq(fx_reserved(&f, a), 0);
	ck_assert_int_eq(fx_intent_status(&f, old->id), KBP_INTENT_EXPIRED);
	kbp_intent_free(old);
	kbp_intent_free(young);
	fx_close(&f);
}
END_TEST

START_TEST(expired_stock_can_be_bought_again)
{
	fx f;
	const char *sku;
	kbp_intent *first, *second;
	kbp_intent *none = (kbp_intent *)&none;
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;

	fx_open(&f);
	sku = fx_product(&f, "slot", 100, 1);
	first = fx_intent(&f, fx_cart(&f, sku, 1));
	req.cart_id = fx_cart(&f, sku, 1);
	req.gateway = FX_GATEWAY;
	CK_RC(kbp_intent_create(&none, f.p, &req), KBP_EOUTOFSTOCK);
	fx_set_now(&f, first->expires_at);
	maintain(&f);
	second = fx_intent(&f, req.cart_id);
	ck_assert_int_eq(fx_reserved(&f, sku), 1);
	kbp_intent_free(first);
	kbp_intent_free(second);
	fx_close(&f);
}
END_TEST

START_TEST(paid_intents_do_not_expire)
{
	fx f;
	const char *sku;
	kbp_intent *in;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_paid_intent(&f, sku, 2);
	fx_set_now(&f, in->expires_at + 1);
	maintain(&f);
	ck_assert_int_eq(fx_intent_status(&f, in->id), KBP_INTENT_SUCCEEDED);
	ck_assert_int_eq(fx_reserved(&f, sku), 2);
	fx_drain(&f);
	ck_assert_int_eq(fx_on_hand(&f, sku), 3);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(prunes_old_finished_jobs_only)
{
	fx f;
	kbp_options o;
	const char *kind;
	counter c = { 0 };
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	kbp_maintenance_result r;
	char *old_done, *old_canceled, *dead, *young_done, *waiting, *late_done;
	kbp_job *j = (kbp_job *)&j;

	fx_default_options(&f, &o);
	o.job_retention_ms = 10000;
	fx_open_with(&f, &o);
	kind = fx_kind(&f, "prune");
	c.fail_first = 1;
	CK_OK(kbp_job_register(f.p, kind, h_count, &c));
	eo.max_attempts = 1;
	dead = enqueue(&f, kind, "{\"n\":\"dead\"}", &eo);
	fx_drain(&f);
	old_done = enqueue(&f, kind, NULL, NULL);
	fx_drain(&f);
	old_canceled = enqueue(&f, kind, NULL, NULL);
	CK_OK(kbp_job_cancel(f.p, old_canceled));
	eo.max_attempts = 0;
	eo.run_at = fx_now(&f) + INT64_C(86400000);
	waiting = enqueue(&f, kind, NULL, &eo);
	/* Created with the old ones, finished with the young one: its finish decides. */
	eo.max_attempts = 1;
	eo.run_at = fx_now(&f) + 5000;
	late_done = enqueue(&f, kind, NULL, &eo);

	fx_advance(&f, 5000);
	young_done = enqueue(&f, kind, NULL, NULL);
	fx_drain(&f);
	fx_advance(&f, 5001);          /* the first ones finished 10,001 ms ago */
	r = maintain(&f);
	ck_assert_int_ge(r.jobs_pruned, 2);

	CK_RC(kbp_job_get(&j, f.p, old_done), KBP_ENOTFOUND);
	ck_assert_ptr_null(j);
	CK_RC(kbp_job_get(&j, f.p, old_canceled), KBP_ENOTFOUND);
	j = fx_job_get(&f, young_done);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	kbp_job_free(j);
	j = fx_job_get(&f, late_done);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	kbp_job_free(j);
	j = fx_job_get(&f, dead);      /* dead jobs are kept for inspection */
	ck_assert_int_eq(j->state, KBP_JOB_FAILED);
	kbp_job_free(j);
	j = fx_job_get(&f, waiting);
	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	kbp_job_free(j);
	free(old_done);
	free(old_canceled);
	free(dead);
	free(young_done);
	free(late_done);
	free(waiting);
	fx_close(&f);
}
END_TEST

/* The default threshold after which maintenance asks the gateway about a pending intent. */
#define RECONCILE_AFTER_MS INT64_C(300000)

/* The reconcile_payment jobs of this test, by state. */
static size_t reconcile_jobs(fx *f, int state)
{
	kbp_job_filter filter = KBP_JOB_FILTER_INIT;
	kbp_job_list *list;
	size_t n;

	filter.kind = KBP_JOB_RECONCILE_PAYMENT;
	filter.state = state;
	filter.since = f->start;
	CK_OK(kbp_jobs_list(&list, f->p, &filter));
	n = list->n;
	kbp_job_list_free(list);
	return n;
}

/* The shopper paid and closed the tab: no callback ever arrives. */
START_TEST(reconcile_finalizes_a_payment_without_callback)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_maintenance_result r;
	kbp_order_status *st;
	char *cb;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 3);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	cb = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, -1);   /* recorded, never delivered */

	r = maintain(&f);
	ck_assert_int_eq(r.reconcile_scheduled, 0);           /* too young to ask about */
	fx_advance(&f, RECONCILE_AFTER_MS + 1);
	r = maintain(&f);
	ck_assert_int_eq(r.reconcile_scheduled, 1);
	ck_assert_uint_eq(reconcile_jobs(&f, KBP_JOB_AVAILABLE), 1);
	r = maintain(&f);
	ck_assert_int_eq(r.reconcile_scheduled, 0);           /* once per intent */

	fx_drain(&f);
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
	kbp_order_status_free(st);
	ck_assert_int_eq(fx_on_hand(&f, sku), 1);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	ck_assert_uint_eq(reconcile_jobs(&f, KBP_JOB_COMPLETED), 1);
	ck_assert_uint_eq(fx_verification_count(&f, in->id), 1);

	/* The callback arriving after all is a duplicate: still one order. */
	{
		kbp_verification *v;
		CK_OK(fx_verify(&v, &f, cb));
		ck_assert_int_eq(v->duplicate, 1);
		kbp_verification_free(v);
	}
	kbp_free(cb);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(reconcile_releases_a_declined_payment_and_retries_an_open_one)
{
	fx f;
	const char *sku;
	kbp_intent *declined, *open;
	kbp_maintenance_result r;
	kbp_job_filter filter = KBP_JOB_FILTER_INIT;
	kbp_job_list *list;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	declined = fx_intent(&f, fx_cart(&f, sku, 2));
	open = fx_intent(&f, fx_cart(&f, sku, 1));
	kbp_free(fx_pay(&f, declined->id, KBP_SANDBOX_FAILED, -1));
	ck_assert_int_eq(fx_reserved(&f, sku), 3);

	fx_advance(&f, RECONCILE_AFTER_MS + 1);
	r = maintain(&f);
	ck_assert_int_eq(r.reconcile_scheduled, 2);
	fx_drain(&f);

	ck_assert_int_eq(fx_intent_status(&f, declined->id), KBP_INTENT_FAILED);
	ck_assert_int_eq(fx_intent_status(&f, open->id), KBP_INTENT_PENDING);
	ck_assert_int_eq(fx_reserved(&f, sku), 1);
	ck_assert_ptr_null(fx_order_of(&f, declined->id));

	/* The open one is asked again later, with backoff, not in a tight loop. */
	filter.kind = KBP_JOB_RECONCILE_PAYMENT;
	filter.state = KBP_JOB_AVAILABLE;
	filter.since = f.start;
	CK_OK(kbp_jobs_list(&list, f.p, &filter));
	ck_assert_uint_eq(list->n, 1);
	ck_assert_int_eq(list->jobs[0].attempts, 1);
	ck_assert_int_gt(list->jobs[0].run_at, fx_now(&f));
	ck_assert_ptr_nonnull(list->jobs[0].last_error);
	kbp_job_list_free(list);
	ck_assert_int_eq(fx_drain(&f), 0);

	kbp_intent_free(declined);
	kbp_intent_free(open);
	fx_close(&f);
}
END_TEST

/* Paid at the last moment, expired before anyone asked: the late-payment rules apply. */
START_TEST(reconcile_applies_payment_after_expiry)
{
	fx f;
	const char *sku;
	kbp_intent *paid, *unpaid;
	kbp_maintenance_result r;
	kbp_order_status *st;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	paid = fx_intent(&f, fx_cart(&f, sku, 1));
	unpaid = fx_intent(&f, fx_cart(&f, sku, 1));
	kbp_free(fx_pay(&f, paid->id, KBP_SANDBOX_COMPLETED, -1));

	fx_advance(&f, FX_TTL_MS + 1);
	r = maintain(&f);
	ck_assert_int_eq(r.intents_expired, 2);
	ck_assert_int_eq(r.reconcile_scheduled, 2);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	fx_drain(&f);

	st = fx_status(&f, paid->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
	kbp_order_status_free(st);
	ck_assert_int_eq(fx_intent_status(&f, unpaid->id), KBP_INTENT_EXPIRED);
	ck_assert_int_eq(fx_on_hand(&f, sku), 4);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	/* The gateway still calls the unpaid one open: it is asked again, with backoff. */
	ck_assert_uint_eq(reconcile_jobs(&f, KBP_JOB_COMPLETED), 1);
	ck_assert_uint_eq(reconcile_jobs(&f, KBP_JOB_AVAILABLE), 1);
	r = maintain(&f);
	ck_assert_int_eq(r.reconcile_scheduled, 0);

	kbp_intent_free(paid);
	kbp_intent_free(unpaid);
	fx_close(&f);
}
END_TEST

START_TEST(maintenance_bad_input)
{
	fx f;
	kbp_maintenance_result r;

	fx_open(&f);
	CK_RC(kbp_maintenance_run(&r, NULL), KBP_EINVAL);
	CK_RC(kbp_maintenance_run(NULL, f.p), KBP_EINVAL);
	fx_close(&f);
}
END_TEST

void add_maintenance_tests(Suite *s)
{
	TCase *tc = fx_tcase("maintenance");
	tcase_add_test(tc, expiry_releases_stock);
	tcase_add_test(tc, expired_stock_can_be_bought_again);
	tcase_add_test(tc, paid_intents_do_not_expire);
	tcase_add_test(tc, prunes_old_finished_jobs_only);
	tcase_add_test(tc, reconcile_finalizes_a_payment_without_callback);
	tcase_add_test(tc, reconcile_releases_a_declined_payment_and_retries_an_open_one);
	tcase_add_test(tc, reconcile_applies_payment_after_expiry);
	tcase_add_test(tc, maintenance_bad_input);
	suite_add_tcase(s, tc);
}

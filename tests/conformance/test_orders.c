/* SPDX-License-Identifier: MIT */
/* Order stages as the callback page sees them, and kbp_order_wait. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fixture.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

START_TEST(stages_verifying_processing_confirmed)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_order_status *st;
	kbp_order *o;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));

	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_VERIFYING);
	ck_assert_int_eq(st->intent_status, KBP_INTENT_PENDING);
	ck_assert_ptr_null(st->order_id);
	ck_assert_ptr_null(st->order_number);
	ck_assert_ptr_null(st->reason);
	ck_assert_int_eq(st->needs_refund, 0);
	kbp_order_status_free(st);

	fx_pay_ok(&f, in->id);
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_PROCESSING);
	ck_assert_ptr_null(st->order_number);
	kbp_order_status_free(st);

	fx_drain(&f);
	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
	ck_assert_int_eq(st->intent_status, KBP_INTENT_SUCCEEDED);
	ck_assert_str_eq(st->order_id, o->id);
	ck_assert_str_eq(st->order_number, o->order_number);
	ck_assert_ptr_null(st->reason);
	kbp_order_status_free(st);
	kbp_order_free(o);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(expired_intent_is_failed_stage)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_order_status *st;
	kbp_maintenance_result r;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	fx_set_now(&f, in->expires_at + 1);
	CK_OK(kbp_maintenance_run(&r, f.p));
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_FAILED);
	ck_assert_int_eq(st->intent_status, KBP_INTENT_EXPIRED);
	ck_assert_str_eq(st->reason, "expired");
	ck_assert_int_eq(st->needs_refund, 0);
	kbp_order_status_free(st);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(canceled_finalize_job_is_failed_stage_until_retried)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_order_status *st;
	char *job;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	fx_pay_ok(&f, in->id);
	job = fx_finalize_job(&f, in->id, NULL);
	ck_assert_ptr_nonnull(job);
	CK_OK(kbp_job_cancel(f.p, job));
	fx_drain(&f);
	ck_assert_ptr_null(fx_order_of(&f, in->id));

	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_FAILED);
	ck_assert_int_eq(st->intent_status, KBP_INTENT_SUCCEEDED);
	ck_assert_ptr_nonnull(st->reason);
	ck_assert_msg(strcmp(st->reason, "finalize_order canceled: no error recorded") == 0, "reason \"%s\"", st->reason);
	kbp_order_status_free(st);

	CK_OK(kbp_job_retry(f.p, job));
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_PROCESSING);
	kbp_order_status_free(st);
	fx_drain(&f);
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
	ck_assert_ptr_nonnull(st->order_number);
	kbp_order_status_free(st);
	free(job);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(wait_returns_at_once_when_settled)
{
	fx f;
	const char *sku;
	kbp_intent *paid, *declined;
	kbp_order_status *st = NULL;
	char *cb;
	kbp_verification *v = NULL;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	paid = fx_paid_intent(&f, sku, 1);
	fx_drain(&f);
	CK_OK(kbp_order_wait(&st, f.p, paid->id, 0));
	ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
	kbp_order_status_free(st);
	st = NULL;

	declined = fx_intent(&f, fx_cart(&f, sku, 1));
	cb = fx_pay(&f, declined->id, KBP_SANDBOX_FAILED, -1);
	CK_RC(fx_verify(&v, &f, cb), KBP_EDECLINED);
	CK_OK(kbp_order_wait(&st, f.p, declined->id, 10000));
	ck_assert_int_eq(st->stage, KBP_STAGE_FAILED);
	ck_assert_str_eq(st->reason, "declined");
	kbp_order_status_free(st);
	kbp_free(cb);
	kbp_intent_free(paid);
	kbp_intent_free(declined);
	fx_close(&f);
}
END_TEST

struct ticker {
	fx *f;
	atomic_int stop;
};

/* Moves the test clock along, in case the wait measures its timeout on it. */
static void *tick(void *arg)
{
	struct ticker *t = arg;
	while (!atomic_load(&t->stop)) {
		fx_advance(t->f, 50);
		sleep_ms(5);
	}
	return NULL;
}

START_TEST(wait_times_out_with_latest_status)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_order_status *st = NULL;
	struct ticker t;
	pthread_t th;
	struct timespec t0, t1;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	CK_RC(kbp_order_wait(&st, f.p, in->id, 0), KBP_ETIMEOUT);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(st->stage, KBP_STAGE_VERIFYING);
	kbp_order_status_free(st);
	st = NULL;
	t.f = &f;
	atomic_init(&t.stop, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, tick, &t), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CK_RC(kbp_order_wait(&st, f.p, in->id, 200), KBP_ETIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	atomic_store(&t.stop, 1);
	pthread_join(th, NULL);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(st->stage, KBP_STAGE_VERIFYING);
	ck_assert_str_eq(st->intent_id, in->id);
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 30000);
	kbp_order_status_free(st);

	/* Paid but no worker running: still a timeout, now processing. */
	fx_pay_ok(&f, in->id);
	st = NULL;
	atomic_store(&t.stop, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, tick, &t), 0);
	CK_RC(kbp_order_wait(&st, f.p, in->id, 100), KBP_ETIMEOUT);
	atomic_store(&t.stop, 1);
	pthread_join(th, NULL);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(st->stage, KBP_STAGE_PROCESSING);
	kbp_order_status_free(st);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

static void *drain_later(void *arg)
{
	fx *f = arg;
	int ran = 0;
	sleep_ms(100);
	kbp_worker_run_once(&ran, f->p, "fx-later", 100);
	return NULL;
}

START_TEST(wait_wakes_when_order_is_made)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_order_status *st = NULL;
	pthread_t th;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_paid_intent(&f, sku, 1);
	ck_assert_int_eq(pthread_create(&th, NULL, drain_later, &f), 0);
	CK_OK(kbp_order_wait(&st, f.p, in->id, 20000));
	pthread_join(th, NULL);
	ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
	ck_assert_ptr_nonnull(st->order_number);
	kbp_order_status_free(st);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(order_lookups_bad_input)
{
	fx f;
	kbp_order_status *st = (kbp_order_status *)&st;
	kbp_order *o = (kbp_order *)&o;
	char *long_id = fx_repeat('x', KBP_ID_MAX + 1);

	fx_open(&f);
	CK_RC(kbp_order_status_get(&st, f.p, fx_id(&f, "pi_nope")), KBP_ENOTFOUND);
	ck_assert_ptr_null(st);
	CK_RC(kbp_order_status_get(&st, NULL, "x"), KBP_EINVAL);
	CK_RC(kbp_order_status_get(NULL, f.p, "x"), KBP_EINVAL);
	CK_RC(kbp_order_status_get(&st, f.p, NULL), KBP_EINVAL);
	CK_RC(kbp_order_status_get(&st, f.p, "pi nope"), KBP_EINVAL);
	CK_RC(kbp_order_status_get(&st, f.p, long_id), KBP_ETOOBIG);
	CK_RC(kbp_order_wait(&st, f.p, fx_id(&f, "pi_nope"), 10), KBP_ENOTFOUND);
	CK_RC(kbp_order_wait(&st, NULL, "x", 10), KBP_EINVAL);
	CK_RC(kbp_order_wait(NULL, f.p, "x", 10), KBP_EINVAL);

	CK_RC(kbp_order_get(&o, f.p, fx_id(&f, "ORD-none")), KBP_ENOTFOUND);
	ck_assert_ptr_null(o);
	CK_RC(kbp_order_get(&o, f.p, "ORD 1"), KBP_EINVAL);
	CK_RC(kbp_order_get(&o, f.p, NULL), KBP_EINVAL);
	CK_RC(kbp_order_get(NULL, f.p, "ORD-1"), KBP_EINVAL);
	CK_RC(kbp_order_get(&o, NULL, "ORD-1"), KBP_EINVAL);
	CK_RC(kbp_order_get_by_intent(&o, f.p, fx_id(&f, "pi_nope")), KBP_ENOTFOUND);
	CK_RC(kbp_order_get_by_intent(&o, f.p, "pi/nope"), KBP_EINVAL);
	CK_RC(kbp_order_get_by_intent(&o, f.p, long_id), KBP_ETOOBIG);
	free(long_id);
	fx_close(&f);
}
END_TEST

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The worker sleeps up to a minute between polls; a verified payment must wake it at once. */
START_TEST(verified_payment_wakes_an_idle_worker)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_worker *w = NULL;
	kbp_worker_options wo = KBP_WORKER_OPTIONS_INIT;
	kbp_order_status *st = NULL;
	int64_t t0, waited, stopping;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	wo.poll_ms = 60000;
	CK_OK(kbp_worker_start(&w, f.p, &wo));
	sleep_ms(200);                      /* let it find nothing and go to sleep */
	t0 = mono_ms();
	fx_pay_ok(&f, in->id);
	CK_OK(kbp_order_wait(&st, f.p, in->id, 30000));
	waited = mono_ms() - t0;
	ck_assert_int_eq(st->stage, KBP_STAGE_CONFIRMED);
	ck_assert_msg(waited < 10000, "the order took %lld ms: the worker was not woken", (long long)waited);
	t0 = mono_ms();
	kbp_worker_stop(w);
	stopping = mono_ms() - t0;
	ck_assert_msg(stopping < 10000, "stopping an idle worker took %lld ms", (long long)stopping);
	kbp_order_status_free(st);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

void add_orders_tests(Suite *s)
{
	TCase *tc = fx_tcase("orders");
	tcase_add_test(tc, stages_verifying_processing_confirmed);
	tcase_add_test(tc, expired_intent_is_failed_stage);
	tcase_add_test(tc, canceled_finalize_job_is_failed_stage_until_retried);
	tcase_add_test(tc, wait_returns_at_once_when_settled);
	tcase_add_test(tc, wait_times_out_with_latest_status);
	tcase_add_test(tc, wait_wakes_when_order_is_made);
	tcase_add_test(tc, order_lookups_bad_input);
	tcase_add_test(tc, verified_payment_wakes_an_idle_worker);
	suite_add_tcase(s, tc);
}

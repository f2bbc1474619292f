/* SPDX-License-Identifier: MIT */
/* finalize_order: the order, its items, the stock, the cart, idempotency. */
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

/* The payload of the intent's finalize_order job, as the library wrote it. */
static char *finalize_payload(fx *f, const char *intent_id)
{
	char *id = fx_finalize_job(f, intent_id, NULL);
	kbp_job *j;
	char *payload;

	ck_assert_ptr_nonnull(id);
	j = fx_job_get(f, id);
	ck_assert_ptr_nonnull(strstr(j->payload, intent_id));
	payload = strdup(j->payload);
	kbp_job_free(j);
	free(id);
	return payload;
}

static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t n = 0, lf = strlen(from), lt = strlen(to);
	char *out, *w;
	for (const char *p = strstr(s, from); p; p = strstr(p + lf, from))
		n++;
	out = malloc(strlen(s) + n * lt + 1);
	w = out;
	for (const char *p = s;;) {
		const char *hit = strstr(p, from);
		if (!hit) {
			strcpy(w, p);
			break;
		}
		memcpy(w, p, (size_t)(hit - p));
		w += hit - p;
		memcpy(w, to, lt);
		w += lt;
		p = hit + lf;
	}
	return out;
}

START_TEST(order_made_from_snapshot)
{
	fx f;
	const char *a, *b, *cart;
	kbp_intent *in;
	kbp_order *o, *by_number = NULL;
	kbp_cart *c = NULL;
	kbp_metrics before, after;

	fx_open(&f);
	a = fx_product(&f, "a", 1250, 10);
	b = fx_product(&f, "b", 99, 4);
	cart = fx_cart(&f, a, 3);
	fx_cart_set(&f, cart, b, 4);
	in = fx_intent(&f, cart);
	fx_metrics(&f, &before);
	fx_pay_ok(&f, in->id);
	fx_advance(&f, 250);
	ck_assert_int_ge(fx_drain(&f), 1);
	fx_metrics(&f, &after);

	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(strncmp(o->id, "ord_", 4), 0);
	ck_assert_int_eq(strncmp(o->order_number, "ORD-", 4), 0);
	ck_assert_str_eq(o->intent_id, in->id);
	ck_assert_str_eq(o->customer_id, fx_customer_of(&f, cart));
	ck_assert_int_eq(o->total_minor, in->amount_minor);
	ck_assert_str_eq(o->currency, "NPR");
	ck_assert_str_eq(o->status, "confirmed");
	ck_assert_str_eq(o->fulfillment_status, "pending");
	ck_assert_int_eq(o->created_at, f.start + 250);
	ck_assert_uint_eq(o->n_items, 2);
	ck_assert_str_eq(o->items[0].sku, a);
	ck_assert_str_eq(o->items[0].vendor_id, f.vendor);
	ck_assert_int_eq(o->items[0].qty, 3);
	ck_assert_int_eq(o->items[0].unit_price_minor, 1250);
	ck_assert_str_eq(o->items[1].sku, b);
	ck_assert_int_eq(o->items[1].qty, 4);
	ck_assert_int_eq(o->items[1].unit_price_minor, 99);

	CK_OK(kbp_order_get(&by_number, f.p, o->order_number));
	ck_assert_str_eq(by_number->id, o->id);
	ck_assert_uint_eq(by_number->n_items, 2);

	ck_assert_int_eq(fx_on_hand(&f, a), 7);
	ck_assert_int_eq(fx_reserved(&f, a), 0);
	ck_assert_int_eq(fx_on_hand(&f, b), 0);
	ck_assert_int_eq(fx_reserved(&f, b), 0);

	CK_OK(kbp_cart_get(&c, f.p, cart));
	ck_assert_uint_eq(c->n_items, 0);
	kbp_cart_free(c);

	ck_assert_int_eq(after.orders - before.orders, 1);
	ck_assert_int_eq(after.orders_without_items, before.orders_without_items);
	ck_assert_int_eq(after.paid_intents_without_order, before.paid_intents_without_order);
	ck_assert_int_eq(after.intents[KBP_INTENT_SUCCEEDED] - before.intents[KBP_INTENT_SUCCEEDED], 1);

	kbp_order_free(by_number);
	kbp_order_free(o);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(second_finalize_job_makes_no_second_order)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_order *first, *again;
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	kbp_metrics before, after;
	char *payload, *second = NULL;
	kbp_job *j;

	fx_open(&f);
	sku = fx_product(&f, "a", 800, 10);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	fx_metrics(&f, &before);
	fx_pay_ok(&f, in->id);
	payload = finalize_payload(&f, in->id);
	fx_drain(&f);
	first = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(first);

	/* A caller's own finalize_order job for the same intent, after the library's completed. */
	eo.unique_key = in->id;
	CK_OK(kbp_job_enqueue(&second, f.p, KBP_JOB_FINALIZE_ORDER, payload, &eo));
	ck_assert_ptr_nonnull(second);
	fx_drain(&f);
	j = fx_job_get(&f, second);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	kbp_job_free(j);

	again = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(again);
	ck_assert_str_eq(again->id, first->id);
	ck_assert_str_eq(again->order_number, first->order_number);
	fx_metrics(&f, &after);
	ck_assert_int_eq(after.orders - before.orders, 1);
	ck_assert_int_eq(fx_on_hand(&f, sku), 8);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);

	free(payload);
	free(second);
	kbp_order_free(first);
	kbp_order_free(again);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(running_workers_twice_makes_one_order)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_metrics before, after;
	kbp_order *o;
	int ran = -1;

	fx_open(&f);
	sku = fx_product(&f, "a", 800, 10);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	fx_metrics(&f, &before);
	fx_pay_ok(&f, in->id);
	CK_OK(kbp_worker_run_once(&ran, f.p, FX_WORKER, 1000));
	ck_assert_int_ge(ran, 1);
	CK_OK(kbp_worker_run_once(&ran, f.p, "fx-worker-2", 1000));
	fx_metrics(&f, &after);
	ck_assert_int_eq(after.orders - before.orders, 1);
	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(fx_on_hand(&f, sku), 9);
	kbp_order_free(o);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

/*
 * A caller's job that holds the intent's id as its unique key (a receipt
 * sent once per intent, say) is no stand-in for the intent's finalize job:
 * the library's keys are its own (KBP_JOB_KEY_PREFIX), so the order is made.
 */
START_TEST(callers_job_keyed_by_the_intent_does_not_stop_its_order)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_enqueue_options eo = KBP_ENQUEUE_OPTIONS_INIT;
	char *theirs = NULL, *finalize;
	kbp_order *o;
	kbp_job *j;
	size_t n = 0;

	fx_open(&f);
	sku = fx_product(&f, "a", 800, 10);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	eo.unique_key = in->id;
	eo.run_at = fx_now(&f) + 86400000;
	CK_OK(kbp_job_enqueue(&theirs, f.p, "receipt", "{}", &eo));
	fx_pay_ok(&f, in->id);

	finalize = fx_finalize_job(&f, in->id, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_ne(finalize, theirs);
	fx_drain(&f);
	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	j = fx_job_get(&f, finalize);
	ck_assert_int_eq(j->state, KBP_JOB_COMPLETED);
	kbp_job_free(j);
	j = fx_job_get(&f, theirs);
	ck_assert_int_eq(j->state, KBP_JOB_AVAILABLE);
	ck_assert_str_eq(j->unique_key, in->id);

	kbp_job_free(j);
	kbp_order_free(o);
	free(finalize);
	free(theirs);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

/* finalize_order aimed at an intent that was never paid, or does not exist. */
START_TEST(finalize_without_payment_makes_no_order)
{
	fx f;
	const char *sku;
	kbp_intent *paid, *unpaid;
	kbp_metrics before, after;
	char *payload, *for_unpaid, *for_ghost, *id1 = NULL, *id2 = NULL;
	const char *ghost;
	kbp_job *j;

	fx_open(&f);
	sku = fx_product(&f, "a", 800, 10);
	paid = fx_intent(&f, fx_cart(&f, sku, 1));
	unpaid = fx_intent(&f, fx_cart(&f, sku, 2));
	fx_pay_ok(&f, paid->id);
	payload = finalize_payload(&f, paid->id);
	fx_drain(&f);
	ghost = fx_id(&f, "pi_ghost");
	for_unpaid = replace_all(payload, paid->id, unpaid->id);
	for_ghost = replace_all(payload, paid->id, ghost);

	fx_metrics(&f, &before);
	CK_OK(kbp_job_enqueue(&id1, f.p, KBP_JOB_FINALIZE_ORDER, for_unpaid, NULL));
	CK_OK(kbp_job_enqueue(&id2, f.p, KBP_JOB_FINALIZE_ORDER, for_ghost, NULL));
	fx_drain(&f);
	fx_metrics(&f, &after);

	ck_assert_int_eq(after.orders, before.orders);
	ck_assert_ptr_null(fx_order_of(&f, unpaid->id));
	ck_assert_int_eq(fx_intent_status(&f, unpaid->id), KBP_INTENT_PENDING);
	ck_assert_int_eq(fx_reserved(&f, sku), 2);
	ck_assert_int_eq(fx_on_hand(&f, sku), 9);
	j = fx_job_get(&f, id2);
	ck_assert_int_ne(j->state, KBP_JOB_COMPLETED);
	ck_assert_ptr_nonnull(j->last_error);
	kbp_job_free(j);
	ck_assert_int_eq(after.orders_without_items, before.orders_without_items);

	free(payload);
	free(for_unpaid);
	free(for_ghost);
	free(id1);
	free(id2);
	kbp_intent_free(paid);
	kbp_intent_free(unpaid);
	fx_close(&f);
}
END_TEST

START_TEST(changed_cart_loses_only_purchased_quantities)
{
	fx f;
	const char *a, *b, *c3, *cart;
	kbp_intent *in;
	kbp_cart *c = NULL;
	kbp_order *o;

	fx_open(&f);
	a = fx_product(&f, "a", 100, 20);
	b = fx_product(&f, "b", 100, 20);
	c3 = fx_product(&f, "c", 100, 20);
	cart = fx_cart(&f, a, 2);
	fx_cart_set(&f, cart, b, 1);
	in = fx_intent(&f, cart);
	/* The shopper keeps shopping in another tab after checkout. */
	fx_cart_set(&f, cart, a, 5);
	fx_cart_set(&f, cart, c3, 1);
	fx_pay_ok(&f, in->id);
	fx_drain(&f);

	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(o->n_items, 2);
	ck_assert_int_eq(o->items[0].qty, 2);    /* the snapshot, not the cart */
	ck_assert_int_eq(o->total_minor, 300);
	kbp_order_free(o);

	CK_OK(kbp_cart_get(&c, f.p, cart));
	ck_assert_uint_eq(c->n_items, 2);
	ck_assert_str_eq(c->items[0].sku, a);
	ck_assert_int_eq(c->items[0].qty, 3);
	ck_assert_str_eq(c->items[1].sku, c3);
	ck_assert_int_eq(c->items[1].qty, 1);
	kbp_cart_free(c);
	ck_assert_int_eq(fx_on_hand(&f, a), 18);
	ck_assert_int_eq(fx_on_hand(&f, c3), 20);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(cart_line_lowered_below_purchase_is_removed)
{
	fx f;
	const char *a, *b, *cart;
	kbp_intent *in;
	kbp_cart *c = NULL;

	fx_open(&f);
	a = fx_product(&f, "a", 100, 20);
	b = fx_product(&f, "b", 100, 20);
	cart = fx_cart(&f, a, 4);
	fx_cart_set(&f, cart, b, 1);
	in = fx_intent(&f, cart);
	fx_cart_set(&f, cart, a, 1);             /* fewer than were bought */
	fx_pay_ok(&f, in->id);
	fx_drain(&f);
	CK_OK(kbp_cart_get(&c, f.p, cart));
	ck_assert_uint_eq(c->n_items, 0);
	kbp_cart_free(c);
	ck_assert_int_eq(fx_on_hand(&f, a), 16);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(product_deactivated_after_intent_still_ordered)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_order *o;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	CK_OK(kbp_product_set_active(f.p, sku, 0));
	fx_pay_ok(&f, in->id);
	fx_drain(&f);
	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(o->n_items, 1);
	ck_assert_int_eq(fx_on_hand(&f, sku), 3);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	kbp_order_free(o);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(product_deactivated_between_pay_and_finalize_still_ordered)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_order *o;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	fx_pay_ok(&f, in->id);
	CK_OK(kbp_product_set_active(f.p, sku, 0));
	fx_drain(&f);
	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	kbp_order_free(o);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

void add_finalize_tests(Suite *s)
{
	TCase *tc = fx_tcase("finalize");
	tcase_add_test(tc, order_made_from_snapshot);
	tcase_add_test(tc, second_finalize_job_makes_no_second_order);
	tcase_add_test(tc, running_workers_twice_makes_one_order);
	tcase_add_test(tc, callers_job_keyed_by_the_intent_does_not_stop_its_order);
	tcase_add_test(tc, finalize_without_payment_makes_no_order);
	tcase_add_test(tc, changed_cart_loses_only_purchased_quantities);
	tcase_add_test(tc, cart_line_lowered_below_purchase_is_removed);
	tcase_add_test(tc, product_deactivated_after_intent_still_ordered);
	tcase_add_test(tc, product_deactivated_between_pay_and_finalize_still_ordered);
	suite_add_tcase(s, tc);
}

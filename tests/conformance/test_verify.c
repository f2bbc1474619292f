/* SPDX-License-Identifier: MIT */
/* Payment verification: acceptance, duplicates, rejections and their audit, late money. */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "fixture.h"

static size_t audit_rows(fx *f, const char *intent_id)
{
	return fx_verification_count(f, intent_id) + fx_verification_count(f, NULL);
}

/* A callback that must be refused with code: one audit row, nothing else moves. */
static void expect_refused(fx *f, const kbp_intent *in, const char *sku, const char *cb,
                           size_t len, int code)
{
	kbp_metrics before, after;
	size_t rows = audit_rows(f, in->id);
	int64_t reserved = fx_reserved(f, sku);
	kbp_verification *v = (kbp_verification *)&v;
	kbp_intent *now;
	char *job;

	fx_metrics(f, &before);
	CK_RC(kbp_payment_verify(&v, f->p, FX_GATEWAY, cb, len), code);
	ck_assert_ptr_null(v);
	fx_metrics(f, &after);
	ck_assert_int_eq(after.verifications_rejected - before.verifications_rejected, 1);
	ck_assert_uint_eq(audit_rows(f, in->id), rows + 1);
	now = fx_intent_get(f, in->id);
	ck_assert_int_eq(now->status, KBP_INTENT_PENDING);
	ck_assert_int_eq(now->needs_refund, 0);
	kbp_intent_free(now);
	ck_assert_int_eq(fx_reserved(f, sku), reserved);
	job = fx_finalize_job(f, in->id, NULL);
	ck_assert_ptr_null(job);
	ck_assert_int_eq(after.jobs[KBP_JOB_AVAILABLE], before.jobs[KBP_JOB_AVAILABLE]);
	ck_assert_int_eq(after.intents[KBP_INTENT_SUCCEEDED], before.intents[KBP_INTENT_SUCCEEDED]);
}

static void expect_refused_str(fx *f, const kbp_intent *in, const char *sku, const char *cb, int code)
{
	expect_refused(f, in, sku, cb, strlen(cb), code);
}

START_TEST(accepted_payment_moves_intent_and_enqueues_finalize)
{
	fx f;
	const char *sku;
	kbp_intent *in, *after;
	kbp_verification *v = NULL;
	kbp_verification_list *l = NULL;
	kbp_order_status *st;
	kbp_job *job;
	char *cb, *job_id;
	size_t n_jobs = 0;
	cJSON *json;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_VERIFYING);
	kbp_order_status_free(st);

	fx_advance(&f, 2000);
	cb = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, -1);
	json = fx_callback_decode(cb);
	CK_OK(fx_verify(&v, &f, cb));
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_nonnull(v->id);
	ck_assert_str_eq(v->gateway, FX_GATEWAY);
	ck_assert_str_eq(v->gateway_ref, in->gateway_ref);
	ck_assert_str_eq(v->external_txn_id, fx_json_str(json, "transaction_id"));
	ck_assert_str_eq(v->intent_id, in->id);
	ck_assert_int_eq(v->amount_minor, 3000);
	ck_assert_int_eq(v->outcome, KBP_VERIFICATION_ACCEPTED);
	ck_assert_ptr_null(v->reason);
	ck_assert_int_eq(v->duplicate, 0);
	ck_assert_int_eq(v->intent_status, KBP_INTENT_SUCCEEDED);
	ck_assert_int_eq(v->needs_refund, 0);
	ck_assert_int_eq(v->at, f.start + 2000);

	after = fx_intent_get(&f, in->id);
	ck_assert_int_eq(after->status, KBP_INTENT_SUCCEEDED);
	kbp_intent_free(after);
	/* Still reserved until the order turns it into a sale. */
	ck_assert_int_eq(fx_reserved(&f, sku), 2);
	ck_assert_int_eq(fx_on_hand(&f, sku), 5);

	CK_OK(kbp_verification_list_get(&l, f.p, in->id));
	ck_assert_uint_eq(l->n, 1);
	ck_assert_str_eq(l->items[0].id, v->id);
	ck_assert_int_eq(l->items[0].outcome, KBP_VERIFICATION_ACCEPTED);
	ck_assert_int_eq(l->items[0].amount_minor, 3000);
	kbp_verification_list_free(l);

	job_id = fx_finalize_job(&f, in->id, &n_jobs);
	ck_assert_ptr_nonnull(job_id);
	ck_assert_uint_eq(n_jobs, 1);
	job = fx_job_get(&f, job_id);
	ck_assert_str_eq(job->kind, KBP_JOB_FINALIZE_ORDER);
	ck_assert_int_eq(job->state, KBP_JOB_AVAILABLE);
	ck_assert_str_eq(job->unique_key, in->id);
	ck_assert_int_le(job->run_at, fx_now(&f));
	kbp_job_free(job);

	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_PROCESSING);
	ck_assert_int_eq(st->intent_status, KBP_INTENT_SUCCEEDED);
	ck_assert_ptr_null(st->order_number);
	kbp_order_status_free(st);
	CK_RC(kbp_intent_cancel(f.p, in->id), KBP_ESTATE);
	ck_assert_int_eq(fx_intent_status(&f, in->id), KBP_INTENT_SUCCEEDED);

	free(job_id);
	cJSON_Delete(json);
	kbp_verification_free(v);
	kbp_free(cb);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(sandbox_callback_format_is_documented_hmac)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	char *cb, *again;
	cJSON *json, *resigned;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	cb = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, -1);
	json = fx_callback_decode(cb);
	ck_assert_str_eq(fx_json_str(json, "status"), "COMPLETED");
	ck_assert_str_eq(fx_json_str(json, "total_amount"), "1500");
	ck_assert_str_eq(fx_json_str(json, "currency"), "NPR");
	ck_assert_str_eq(fx_json_str(json, "gateway_ref"), in->gateway_ref);
	ck_assert_str_eq(fx_json_str(json, "signed_field_names"),
	                 "transaction_id,status,total_amount,currency,gateway_ref,signed_field_names");
	resigned = cJSON_Duplicate(json, 1);
	fx_callback_sign(resigned, FX_SECRET, strlen(FX_SECRET));
	ck_assert_str_eq(fx_json_str(resigned, "signature"), fx_json_str(json, "signature"));

	/* Paying again is the same transaction with the new answer. */
	again = fx_pay(&f, in->id, KBP_SANDBOX_PENDING, -1);
	cJSON_Delete(resigned);
	resigned = fx_callback_decode(again);
	ck_assert_str_eq(fx_json_str(resigned, "transaction_id"), fx_json_str(json, "transaction_id"));
	ck_assert_str_eq(fx_json_str(resigned, "status"), "PENDING");

	cJSON_Delete(json);
	cJSON_Delete(resigned);
	kbp_free(cb);
	kbp_free(again);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(duplicate_callback_accepted_once)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_verification *v1 = NULL, *v2 = NULL;
	kbp_metrics before, after;
	char *cb;
	size_t n_jobs = 0;
	char *job;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	cb = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, -1);
	CK_OK(fx_verify(&v1, &f, cb));
	ck_assert_int_eq(v1->duplicate, 0);
	fx_metrics(&f, &before);
	fx_advance(&f, 5000);
	CK_OK(fx_verify(&v2, &f, cb));
	ck_assert_int_eq(v2->duplicate, 1);
	ck_assert_str_eq(v2->id, v1->id);
	ck_assert_int_eq(v2->outcome, KBP_VERIFICATION_ACCEPTED);
	ck_assert_int_eq(v2->intent_status, KBP_INTENT_SUCCEEDED);
	fx_metrics(&f, &after);
	ck_assert_int_eq(after.jobs[KBP_JOB_AVAILABLE], before.jobs[KBP_JOB_AVAILABLE]);
	ck_assert_uint_eq(fx_verification_count(&f, in->id), 1);
	job = fx_finalize_job(&f, in->id, &n_jobs);
	ck_assert_uint_eq(n_jobs, 1);

	fx_drain(&f);
	kbp_verification_free(v2);
	v2 = NULL;
	CK_OK(fx_verify(&v2, &f, cb));     /* also after the order exists */
	ck_assert_int_eq(v2->duplicate, 1);
	fx_drain(&f);
	free(fx_finalize_job(&f, in->id, &n_jobs));
	ck_assert_uint_eq(n_jobs, 1);
	fx_metrics(&f, &after);
	ck_assert_int_eq(after.orders - before.orders, 1);
	ck_assert_int_eq(fx_on_hand(&f, sku), 4);

	free(job);
	kbp_verification_free(v1);
	kbp_verification_free(v2);
	kbp_free(cb);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(amount_mismatch_rejected_and_audited)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_verification_list *l = NULL;
	kbp_order_status *st;
	char *over, *under;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	over = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, in->amount_minor + 100);
	expect_refused_str(&f, in, sku, over, KBP_EAMOUNT);
	under = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, in->amount_minor - 1);
	expect_refused_str(&f, in, sku, under, KBP_EAMOUNT);

	CK_OK(kbp_verification_list_get(&l, f.p, in->id));
	ck_assert_uint_eq(l->n, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(l->items[i].outcome, KBP_VERIFICATION_REJECTED);
		ck_assert_ptr_nonnull(l->items[i].reason);
		ck_assert_str_eq(l->items[i].intent_id, in->id);
	}
	ck_assert_int_eq(l->items[0].amount_minor, in->amount_minor + 100);
	ck_assert_int_eq(l->items[1].amount_minor, in->amount_minor - 1);
	kbp_verification_list_free(l);

	fx_drain(&f);
	ck_assert_ptr_null(fx_order_of(&f, in->id));
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_VERIFYING);
	kbp_order_status_free(st);

	/* A rejected attempt does not block the genuine payment. */
	fx_pay_ok(&f, in->id);
	ck_assert_uint_eq(fx_verification_count(&f, in->id), 3);
	kbp_free(over);
	kbp_free(under);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(pending_then_completed)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_verification *v = (kbp_verification *)&v;
	kbp_verification_list *l = NULL;
	char *cb;

	fx_open(&f);
	sku = fx_product(&f, "a", 700, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	cb = fx_pay(&f, in->id, KBP_SANDBOX_PENDING, -1);
	CK_RC(fx_verify(&v, &f, cb), KBP_EPENDING);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(fx_intent_status(&f, in->id), KBP_INTENT_PENDING);
	ck_assert_int_eq(fx_reserved(&f, sku), 1);
	CK_OK(kbp_verification_list_get(&l, f.p, in->id));
	ck_assert_uint_eq(l->n, 1);
	ck_assert_int_eq(l->items[0].outcome, KBP_VERIFICATION_PENDING);
	kbp_verification_list_free(l);
	ck_assert_ptr_null(fx_finalize_job(&f, in->id, NULL));

	fx_pay_ok(&f, in->id);
	fx_drain(&f);
	{
		kbp_order *o = fx_order_of(&f, in->id);
		ck_assert_ptr_nonnull(o);
		kbp_order_free(o);
	}
	kbp_free(cb);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(declined_fails_intent_and_releases_stock)
{
	fx f;
	const char *sku;
	kbp_intent *in, *after;
	kbp_verification *v = (kbp_verification *)&v;
	kbp_verification_list *l = NULL;
	kbp_order_status *st;
	char *cb;

	fx_open(&f);
	sku = fx_product(&f, "a", 700, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 3));
	cb = fx_pay(&f, in->id, KBP_SANDBOX_FAILED, -1);
	CK_RC(fx_verify(&v, &f, cb), KBP_EDECLINED);
	ck_assert_ptr_null(v);
	after = fx_intent_get(&f, in->id);
	ck_assert_int_eq(after->status, KBP_INTENT_FAILED);
	ck_assert_str_eq(after->status_reason, "declined");
	kbp_intent_free(after);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	CK_OK(kbp_verification_list_get(&l, f.p, in->id));
	ck_assert_uint_eq(l->n, 1);
	ck_assert_int_eq(l->items[0].outcome, KBP_VERIFICATION_DECLINED);
	kbp_verification_list_free(l);

	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_FAILED);
	ck_assert_str_eq(st->reason, "declined");
	ck_assert_int_eq(st->needs_refund, 0);
	kbp_order_status_free(st);
	CK_RC(kbp_intent_cancel(f.p, in->id), KBP_ESTATE);
	kbp_free(cb);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

static void expire(fx *f, const kbp_intent *in)
{
	kbp_maintenance_result r;
	fx_set_now(f, in->expires_at);
	memset(&r, 0, sizeof r);
	CK_OK(kbp_maintenance_run(&r, f->p));
	ck_assert_int_eq(r.ran, 1);
	ck_assert_int_ge(r.intents_expired, 1);
	ck_assert_int_eq(fx_intent_status(f, in->id), KBP_INTENT_EXPIRED);
}

START_TEST(late_payment_rereserves_when_stock_allows)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_order *o;

	fx_open(&f);
	sku = fx_product(&f, "a", 700, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	expire(&f, in);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);

	fx_advance(&f, 60000);
	fx_pay_ok(&f, in->id);
	ck_assert_int_eq(fx_reserved(&f, sku), 2);
	fx_drain(&f);
	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(o->total_minor, 1400);
	ck_assert_int_eq(fx_on_hand(&f, sku), 3);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	kbp_order_free(o);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

/* Pays an intent that can no longer be served; expects needs_refund and no order. */
static void expect_needs_refund(fx *f, const kbp_intent *in, kbp_intent_status status,
                                const char *reason)
{
	kbp_metrics before, after;
	kbp_verification *v = NULL, *dup = NULL;
	kbp_intent *now;
	kbp_order_status *st;
	char *cb;

	fx_metrics(f, &before);
	cb = fx_pay(f, in->id, KBP_SANDBOX_COMPLETED, -1);
	CK_OK(fx_verify(&v, f, cb));
	ck_assert_int_eq(v->outcome, KBP_VERIFICATION_ACCEPTED);
	ck_assert_int_eq(v->needs_refund, 1);
	ck_assert_int_eq(v->duplicate, 0);
	ck_assert_int_eq(v->intent_status, status);
	CK_OK(fx_verify(&dup, f, cb));
	ck_assert_int_eq(dup->duplicate, 1);
	ck_assert_int_eq(dup->needs_refund, 1);

	now = fx_intent_get(f, in->id);
	ck_assert_int_eq(now->status, status);
	ck_assert_int_eq(now->needs_refund, 1);
	ck_assert_str_eq(now->status_reason, reason);
	kbp_intent_free(now);

	fx_drain(f);
	ck_assert_ptr_null(fx_order_of(f, in->id));
	fx_metrics(f, &after);
	ck_assert_int_eq(after.needs_refund - before.needs_refund, 1);
	ck_assert_int_eq(after.orders, before.orders);
	st = fx_status(f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_FAILED);
	ck_assert_int_eq(st->needs_refund, 1);
	ck_assert_str_eq(st->reason, reason);
	kbp_order_status_free(st);
	kbp_verification_free(v);
	kbp_verification_free(dup);
	kbp_free(cb);
}

START_TEST(late_payment_without_stock_needs_refund)
{
	fx f;
	const char *sku;
	kbp_intent *late, *other;

	fx_open(&f);
	sku = fx_product(&f, "slot", 700, 1);   /* a bookable time slot */
	late = fx_intent(&f, fx_cart(&f, sku, 1));
	expire(&f, late);
	other = fx_intent(&f, fx_cart(&f, sku, 1));
	expect_needs_refund(&f, late, KBP_INTENT_EXPIRED, "paid_after_expiry");
	ck_assert_int_eq(fx_reserved(&f, sku), 1);
	ck_assert_int_eq(fx_on_hand(&f, sku), 1);
	ck_assert_int_eq(fx_intent_status(&f, other->id), KBP_INTENT_PENDING);
	kbp_intent_free(late);
	kbp_intent_free(other);
	fx_close(&f);
}
END_TEST

START_TEST(late_payment_for_deactivated_product_needs_refund)
{
	fx f;
	const char *a, *b, *cart;
	kbp_intent *late;

	fx_open(&f);
	a = fx_product(&f, "a", 700, 5);
	b = fx_product(&f, "b", 300, 5);
	cart = fx_cart(&f, a, 1);
	fx_cart_set(&f, cart, b, 1);
	late = fx_intent(&f, cart);
	expire(&f, late);
	CK_OK(kbp_product_set_active(f.p, b, 0));
	expect_needs_refund(&f, late, KBP_INTENT_EXPIRED, "paid_after_expiry");
	/* All or nothing: the active line was not re-reserved alone. */
	ck_assert_int_eq(fx_reserved(&f, a), 0);
	ck_assert_int_eq(fx_reserved(&f, b), 0);
	kbp_intent_free(late);
	fx_close(&f);
}
END_TEST

START_TEST(payment_for_canceled_intent_needs_refund)
{
	fx f;
	const char *sku;
	kbp_intent *in;

	fx_open(&f);
	sku = fx_product(&f, "a", 700, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	CK_OK(kbp_intent_cancel(f.p, in->id));
	expect_needs_refund(&f, in, KBP_INTENT_CANCELED, "canceled");
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	ck_assert_ptr_null(fx_finalize_job(&f, in->id, NULL));
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(payment_for_failed_intent_needs_refund)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	char *cb;

	fx_open(&f);
	sku = fx_product(&f, "a", 700, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	cb = fx_pay(&f, in->id, KBP_SANDBOX_FAILED, -1);
	{
		kbp_verification *v = NULL;
		CK_RC(fx_verify(&v, &f, cb), KBP_EDECLINED);
		ck_assert_ptr_null(v);
	}
	ck_assert_int_eq(fx_intent_status(&f, in->id), KBP_INTENT_FAILED);
	expect_needs_refund(&f, in, KBP_INTENT_FAILED, "declined");
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	kbp_free(cb);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(malformed_and_forged_callbacks_refused)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	char *genuine, *cb, *big;
	cJSON *json, *copy;
	static const char not_json[] = "{\"transaction_id\": oops";

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	genuine = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, -1);
	json = fx_callback_decode(genuine);

	expect_refused_str(&f, in, sku, "data=***not base64***", KBP_EPARSE);
	expect_refused_str(&f, in, sku, "data=", KBP_EPARSE);
	expect_refused_str(&f, in, sku, "garbage", KBP_EPARSE);
	{
		char *b64 = malloc(sodium_base64_ENCODED_LEN(sizeof not_json, sodium_base64_VARIANT_ORIGINAL) + 5);
		memcpy(b64, "data=", 5);
		sodium_bin2base64(b64 + 5, sodium_base64_ENCODED_LEN(sizeof not_json, sodium_base64_VARIANT_ORIGINAL),
		                  (const unsigned char *)not_json, sizeof not_json - 1,
		                  sodium_base64_VARIANT_ORIGINAL);
		expect_refused_str(&f, in, sku, b64, KBP_EPARSE);
		free(b64);
	}
	/* A JSON array, and an object missing the signature. */
	copy = cJSON_CreateArray();
	cb = fx_callback_encode(copy);
	expect_refused_str(&f, in, sku, cb, KBP_EPARSE);
	free(cb);
	cJSON_Delete(copy);
	copy = cJSON_Duplicate(json, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "signature");
	cb = fx_callback_encode(copy);
	expect_refused_str(&f, in, sku, cb, KBP_EPARSE);
	free(cb);
	cJSON_Delete(copy);

	/* Tampered: the amount and the status changed after signing. */
	copy = cJSON_Duplicate(json, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(copy, "total_amount", cJSON_CreateString("1"));
	cb = fx_callback_encode(copy);
	expect_refused_str(&f, in, sku, cb, KBP_ESIGNATURE);
	free(cb);
	cJSON_Delete(copy);
	copy = cJSON_Duplicate(json, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(copy, "signature",
	                                       cJSON_CreateString("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
	cb = fx_callback_encode(copy);
	expect_refused_str(&f, in, sku, cb, KBP_ESIGNATURE);
	free(cb);
	cJSON_Delete(copy);

	/* Forged: well formed, signed with another key. */
	cb = fx_callback_forge(fx_json_str(json, "transaction_id"), "COMPLETED",
	                       fx_json_str(json, "total_amount"), "NPR", in->gateway_ref,
	                       "not the secret", 14);
	expect_refused_str(&f, in, sku, cb, KBP_ESIGNATURE);
	free(cb);

	/* Invalid UTF-8 inside a correctly signed field. */
	cb = fx_callback_forge("txn-\xff\xfe", "COMPLETED", fx_json_str(json, "total_amount"), "NPR",
	                       in->gateway_ref, FX_SECRET, strlen(FX_SECRET));
	expect_refused_str(&f, in, sku, cb, KBP_EPARSE);
	free(cb);

	/* Over the size limit: refused before parsing. */
	big = fx_repeat('A', KBP_CALLBACK_MAX + 1);
	memcpy(big, "data=", 5);
	expect_refused(&f, in, sku, big, KBP_CALLBACK_MAX + 1, KBP_ETOOBIG);
	/* The genuine callback hidden inside an oversized buffer is still refused. */
	memcpy(big, genuine, strlen(genuine));
	expect_refused(&f, in, sku, big, KBP_CALLBACK_MAX + 1, KBP_ETOOBIG);
	free(big);

	/* After all that, the genuine callback is accepted. */
	{
		kbp_verification *v = NULL;
		CK_OK(fx_verify(&v, &f, genuine));
		ck_assert_int_eq(v->outcome, KBP_VERIFICATION_ACCEPTED);
		ck_assert_int_eq(v->duplicate, 0);
		kbp_verification_free(v);
	}
	cJSON_Delete(json);
	kbp_free(genuine);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(unknown_gateway_ref_is_audited_without_intent)
{
	fx f;
	kbp_metrics before, after;
	kbp_verification *v = (kbp_verification *)&v;
	const char *ref;
	char *cb;
	fx_row row;

	fx_open(&f);
	ref = fx_id(&f, "ref-nobody");
	cb = fx_callback_forge(fx_id(&f, "txn"), "COMPLETED", "1500", "NPR", ref, FX_SECRET,
	                       strlen(FX_SECRET));
	fx_metrics(&f, &before);
	CK_RC(fx_verify(&v, &f, cb), KBP_ENOTFOUND);
	ck_assert_ptr_null(v);
	fx_metrics(&f, &after);
	ck_assert_int_eq(after.verifications_rejected - before.verifications_rejected, 1);
	ck_assert_int_eq(after.intents[KBP_INTENT_SUCCEEDED], before.intents[KBP_INTENT_SUCCEEDED]);
	row = fx_orphan_row(&f, ref);
	ck_assert_int_eq(row.found, 1);
	ck_assert_int_eq(row.outcome, KBP_VERIFICATION_REJECTED);
	ck_assert_int_eq(row.has_intent, 0);
	ck_assert_msg(row.reason[0] != '\0', "a rejection must say why");
	free(cb);
	fx_close(&f);
}
END_TEST

START_TEST(verify_argument_errors_write_nothing)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_verification *v = (kbp_verification *)&v;
	kbp_metrics before, after;
	size_t rows;
	char *cb;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	cb = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, -1);
	rows = audit_rows(&f, in->id);
	fx_metrics(&f, &before);

	CK_RC(kbp_payment_verify(&v, NULL, FX_GATEWAY, cb, strlen(cb)), KBP_EINVAL);
	ck_assert_ptr_null(v);
	CK_RC(kbp_payment_verify(NULL, f.p, FX_GATEWAY, cb, strlen(cb)), KBP_EINVAL);
	CK_RC(kbp_payment_verify(&v, f.p, NULL, cb, strlen(cb)), KBP_EINVAL);
	CK_RC(kbp_payment_verify(&v, f.p, FX_GATEWAY, NULL, 10), KBP_EINVAL);
	CK_RC(kbp_payment_verify(&v, f.p, FX_GATEWAY, cb, 0), KBP_EINVAL);
	CK_RC(kbp_payment_verify(&v, f.p, "esewa-not-registered", cb, strlen(cb)), KBP_ENOTFOUND);
	ck_assert_ptr_null(v);

	fx_metrics(&f, &after);
	ck_assert_uint_eq(audit_rows(&f, in->id), rows);
	ck_assert_int_eq(after.verifications_rejected, before.verifications_rejected);
	ck_assert_int_eq(fx_intent_status(&f, in->id), KBP_INTENT_PENDING);

	{
		kbp_verification_list *l = (kbp_verification_list *)&l;
		CK_RC(kbp_verification_list_get(&l, NULL, in->id), KBP_EINVAL);
		ck_assert_ptr_null(l);
		CK_RC(kbp_verification_list_get(NULL, f.p, in->id), KBP_EINVAL);
		CK_RC(kbp_verification_list_get(&l, f.p, "bad id"), KBP_EINVAL);
	}
	kbp_free(cb);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

START_TEST(sandbox_registration_and_pay_errors)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_sandbox_options so = KBP_SANDBOX_OPTIONS_INIT;
	char *cb = (char *)&cb;

	fx_open(&f);
	CK_RC(kbp_gateway_add_sandbox(f.p, NULL), KBP_EEXISTS);   /* "sandbox" is taken */
	so.name = FX_GATEWAY;
	CK_RC(kbp_gateway_add_sandbox(f.p, &so), KBP_EEXISTS);
	so.name = "sandbox-b";
	so.version = 99;
	CK_RC(kbp_gateway_add_sandbox(f.p, &so), KBP_EVERSION);
	so.version = KBP_SANDBOX_OPTIONS_VERSION;
	CK_RC(kbp_gateway_add_sandbox(NULL, &so), KBP_EINVAL);
	CK_OK(kbp_gateway_add_sandbox(f.p, &so));

	sku = fx_product(&f, "a", 1500, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	CK_RC(kbp_sandbox_pay(&cb, f.p, FX_GATEWAY, fx_id(&f, "pi_none"), KBP_SANDBOX_COMPLETED, -1),
	      KBP_ENOTFOUND);
	ck_assert_ptr_null(cb);
	/* An intent of another gateway is not this sandbox's. */
	CK_RC(kbp_sandbox_pay(&cb, f.p, "sandbox-b", in->id, KBP_SANDBOX_COMPLETED, -1), KBP_ENOTFOUND);
	CK_RC(kbp_sandbox_pay(&cb, NULL, FX_GATEWAY, in->id, KBP_SANDBOX_COMPLETED, -1), KBP_EINVAL);
	CK_RC(kbp_sandbox_pay(NULL, f.p, FX_GATEWAY, in->id, KBP_SANDBOX_COMPLETED, -1), KBP_EINVAL);
	CK_RC(kbp_sandbox_pay(&cb, f.p, FX_GATEWAY, NULL, KBP_SANDBOX_COMPLETED, -1), KBP_EINVAL);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

/* Terminal states never change: a later "failed" answer for a paid intent moves nothing. */
START_TEST(stray_signal_cannot_move_a_paid_intent)
{
	fx f;
	const char *sku;
	kbp_intent *in, *after;
	kbp_order *o, *o2;
	kbp_verification *v = NULL;
	char *cb;

	fx_open(&f);
	sku = fx_product(&f, "a", 100, 5);
	in = fx_paid_intent(&f, sku, 2);
	fx_drain(&f);
	o = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o);
	cb = fx_pay(&f, in->id, KBP_SANDBOX_FAILED, -1);
	(void)fx_verify(&v, &f, cb);       /* the code is not the point; the state is */
	kbp_verification_free(v);
	after = fx_intent_get(&f, in->id);
	ck_assert_int_eq(after->status, KBP_INTENT_SUCCEEDED);
	kbp_intent_free(after);
	o2 = fx_order_of(&f, in->id);
	ck_assert_ptr_nonnull(o2);
	ck_assert_str_eq(o2->id, o->id);
	ck_assert_int_eq(fx_on_hand(&f, sku), 3);
	ck_assert_int_eq(fx_reserved(&f, sku), 0);
	kbp_free(cb);
	kbp_order_free(o);
	kbp_order_free(o2);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

void add_verify_tests(Suite *s)
{
	TCase *tc = fx_tcase("verify");
	tcase_add_test(tc, accepted_payment_moves_intent_and_enqueues_finalize);
	tcase_add_test(tc, sandbox_callback_format_is_documented_hmac);
	tcase_add_test(tc, duplicate_callback_accepted_once);
	tcase_add_test(tc, amount_mismatch_rejected_and_audited);
	tcase_add_test(tc, pending_then_completed);
	tcase_add_test(tc, declined_fails_intent_and_releases_stock);
	tcase_add_test(tc, late_payment_rereserves_when_stock_allows);
	tcase_add_test(tc, late_payment_without_stock_needs_refund);
	tcase_add_test(tc, late_payment_for_deactivated_product_needs_refund);
	tcase_add_test(tc, payment_for_canceled_intent_needs_refund);
	tcase_add_test(tc, payment_for_failed_intent_needs_refund);
	tcase_add_test(tc, malformed_and_forged_callbacks_refused);
	tcase_add_test(tc, unknown_gateway_ref_is_audited_without_intent);
	tcase_add_test(tc, verify_argument_errors_write_nothing);
	tcase_add_test(tc, sandbox_registration_and_pay_errors);
	tcase_add_test(tc, stray_signal_cannot_move_a_paid_intent);
	suite_add_tcase(s, tc);
}

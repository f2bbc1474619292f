/* SPDX-License-Identifier: MIT */
/* Payment verification: acceptance, duplicates, rejections and their audit, late money. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <kbpipeline/sys/gateway.h>
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

/*
 * A gateway whose answers the test writes: its callback "ref=<gateway_ref>&txn=<id>"
 * is unsigned, like Khalti's return, and its lookup answers whatever the test
 * last set, as a gateway that was lied to or that misbehaves would.
 */
typedef struct scripted {
	kbp_gateway base;
	kbp_gateway_status status;
	int64_t amount_minor;
	char txn[KBP_ID_MAX];       /* the gateway's transaction id, "" for none */
} scripted;

#define SCRIPTED "scripted"

static int scripted_prepare(kbp_gateway *g, const kbp_payment_request *req, kbp_prepared *out)
{
	(void)g;
	out->redirect = strdup("{\"method\":\"GET\",\"url\":\"http://127.0.0.1/scripted\"}");
	if (asprintf(&out->gateway_ref, "scr-%s", req->intent_id) < 0)
		out->gateway_ref = NULL;
	return out->redirect && out->gateway_ref ? 0 : kbp_error_set(KBP_ENOMEM, "out of memory");
}

static int scripted_parse(kbp_gateway *g, const char *raw, size_t len, kbp_callback_claim *out)
{
	char text[512];
	char *txn;

	(void)g;
	if (len >= sizeof text || strncmp(raw, "ref=", 4) != 0)
		return kbp_error_set(KBP_EPARSE, "not a scripted callback");
	memcpy(text, raw, len);
	text[len] = '\0';
	if ((txn = strstr(text, "&txn=")) != NULL) {
		*txn = '\0';
		out->external_txn_id = strdup(txn + 5);
	}
	out->gateway_ref = strdup(text + 4);
	out->status = KBP_GATEWAY_COMPLETED;
	return 0;
}

static int scripted_lookup(kbp_gateway *g, const kbp_callback_claim *claim, kbp_lookup_result *out)
{
	const scripted *sg = (const scripted *)g;

	(void)claim;
	out->status = sg->status;
	out->amount_minor = sg->amount_minor;
	memcpy(out->currency, "NPR", 4);
	if (sg->txn[0] && !(out->external_txn_id = strdup(sg->txn)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	return 0;
}

static void scripted_free(kbp_gateway *g)
{
	free(g);
}

/* Registers the scripted gateway on the fixture's pipeline, which owns it. */
static scripted *scripted_add(fx *f)
{
	scripted *sg = calloc(1, sizeof *sg);

	ck_assert_ptr_nonnull(sg);
	sg->base.version = KBP_GATEWAY_VERSION;
	sg->base.name = SCRIPTED;
	sg->base.prepare = scripted_prepare;
	sg->base.parse_callback = scripted_parse;
	sg->base.lookup = scripted_lookup;
	sg->base.free = scripted_free;
	CK_OK(kbp_pipeline_add_gateway(f->p, &sg->base));
	return sg;
}

static void scripted_answer(scripted *sg, kbp_gateway_status status, int64_t amount,
                            const char *txn)
{
	sg->status = status;
	sg->amount_minor = amount;
	snprintf(sg->txn, sizeof sg->txn, "%s", txn ? txn : "");
}

static kbp_intent *scripted_intent(fx *f, const char *sku)
{
	kbp_intent_request req = KBP_INTENT_REQUEST_INIT;
	kbp_intent *in = NULL;

	req.cart_id = fx_cart(f, sku, 1);
	req.gateway = SCRIPTED;
	CK_OK(kbp_intent_create(&in, f->p, &req));
	return in;
}

/* Verifies "ref=<the intent's ref>&txn=<claimed_txn>" on the scripted gateway. */
static int scripted_verify(kbp_verification **out, fx *f, const kbp_intent *in,
                           const char *claimed_txn)
{
	char cb[512];

	snprintf(cb, sizeof cb, "ref=%s&txn=%s", in->gateway_ref, claimed_txn);
	return kbp_payment_verify(out, f->p, SCRIPTED, cb, strlen(cb));
}

/* The intent's only audit row, which must be a rejection; free it. */
static kbp_verification_list *only_rejection(fx *f, const char *intent_id)
{
	kbp_verification_list *l = NULL;

	CK_OK(kbp_verification_list_get(&l, f->p, intent_id));
	ck_assert_uint_eq(l->n, 1);
	ck_assert_int_eq(l->items[0].outcome, KBP_VERIFICATION_REJECTED);
	ck_assert_str_eq(l->items[0].intent_id, intent_id);
	ck_assert_ptr_nonnull(l->items[0].reason);
	return l;
}

/* Nothing about the intent moved: still pending, reserved, unpaid, no job. */
static void expect_untouched(fx *f, const kbp_intent *in, const char *sku, int64_t reserved)
{
	kbp_intent *now = fx_intent_get(f, in->id);

	ck_assert_int_eq(now->status, KBP_INTENT_PENDING);
	ck_assert_int_eq(now->needs_refund, 0);
	kbp_intent_free(now);
	ck_assert_int_eq(fx_reserved(f, sku), reserved);
	ck_assert_ptr_null(fx_finalize_job(f, in->id, NULL));
}

/*
 * Khalti's return is unsigned: a return for intent Y can carry the transaction
 * id of X's accepted payment. That is no duplicate of X's payment; it is a
 * conflict, audited under Y, and neither intent moves.
 */
START_TEST(txn_of_another_intent_is_a_conflict)
{
	fx f;
	scripted *sg;
	const char *sku, *txn;
	kbp_intent *x, *y;
	kbp_verification *v = NULL;
	kbp_verification_list *l;
	kbp_metrics before, after;

	fx_open(&f);
	sg = scripted_add(&f);
	sku = fx_product(&f, "a", 1500, 5);
	x = scripted_intent(&f, sku);
	y = scripted_intent(&f, sku);
	txn = fx_id(&f, "txn-x");
	scripted_answer(sg, KBP_GATEWAY_COMPLETED, 1500, txn);
	CK_OK(scripted_verify(&v, &f, x, txn));
	ck_assert_int_eq(v->duplicate, 0);
	ck_assert_str_eq(v->intent_id, x->id);
	kbp_verification_free(v);

	fx_metrics(&f, &before);
	v = (kbp_verification *)&v;
	CK_RC(scripted_verify(&v, &f, y, txn), KBP_ECONFLICT);
	ck_assert_ptr_null(v);
	ck_assert_str_eq(kbp_error_last()->message,
	                 "gateway transaction is already accepted for another intent");
	expect_untouched(&f, y, sku, 2);
	l = only_rejection(&f, y->id);
	ck_assert_str_eq(l->items[0].external_txn_id, txn);
	ck_assert_str_eq(l->items[0].reason,
	                 "gateway transaction is already accepted for another intent");
	kbp_verification_list_free(l);
	fx_metrics(&f, &after);
	ck_assert_int_eq(after.verifications_rejected - before.verifications_rejected, 1);
	ck_assert_int_eq(after.intents[KBP_INTENT_SUCCEEDED], before.intents[KBP_INTENT_SUCCEEDED]);
	ck_assert_int_eq(after.jobs[KBP_JOB_AVAILABLE], before.jobs[KBP_JOB_AVAILABLE]);
	ck_assert_uint_eq(fx_verification_count(&f, x->id), 1);

	/* X's own replay is still the duplicate it always was. */
	v = NULL;
	CK_OK(scripted_verify(&v, &f, x, txn));
	ck_assert_int_eq(v->duplicate, 1);
	ck_assert_str_eq(v->intent_id, x->id);
	ck_assert_int_eq(v->intent_status, KBP_INTENT_SUCCEEDED);
	kbp_verification_free(v);
	kbp_intent_free(x);
	kbp_intent_free(y);
	fx_close(&f);
}
END_TEST

/* The transaction id is the gateway's answer, never the callback's claim. */
START_TEST(txn_id_comes_from_the_gateway_only)
{
	fx f;
	scripted *sg;
	const char *sku, *claimed, *real;
	kbp_intent *in;
	kbp_verification *v = (kbp_verification *)&v;
	kbp_verification_list *l;

	fx_open(&f);
	sg = scripted_add(&f);
	sku = fx_product(&f, "a", 1500, 5);
	in = scripted_intent(&f, sku);
	claimed = fx_id(&f, "txn-claimed");
	real = fx_id(&f, "txn-real");

	/* A completed answer that names no transaction cannot be told from its replays. */
	scripted_answer(sg, KBP_GATEWAY_COMPLETED, 1500, NULL);
	CK_RC(scripted_verify(&v, &f, in, claimed), KBP_EGATEWAY);
	ck_assert_ptr_null(v);
	ck_assert_str_eq(kbp_error_last()->message,
	                 "gateway reports the payment completed without a transaction id");
	expect_untouched(&f, in, sku, 1);
	l = only_rejection(&f, in->id);
	ck_assert_ptr_null(l->items[0].external_txn_id);
	ck_assert_str_eq(l->items[0].reason,
	                 "gateway reports the payment completed without a transaction id");
	kbp_verification_list_free(l);

	scripted_answer(sg, KBP_GATEWAY_COMPLETED, 1500, real);
	v = NULL;
	CK_OK(scripted_verify(&v, &f, in, claimed));
	ck_assert_int_eq(v->outcome, KBP_VERIFICATION_ACCEPTED);
	ck_assert_str_eq(v->external_txn_id, real);
	kbp_verification_free(v);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

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
	ck_assert_str_eq(job->unique_key + strlen(KBP_JOB_KEY_PREFIX KBP_JOB_FINALIZE_ORDER ":"), in->id);
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

static int64_t doctor_count(fx *f, const char *check)
{
	kbp_doctor_report *r = NULL;
	int64_t count = -1;

	CK_OK(kbp_doctor_run(&r, f->p));
	for (size_t i = 0; i < r->n_checks; i++)
		if (strcmp(r->checks[i].name, check) == 0)
			count = r->checks[i].count;
	kbp_doctor_report_free(r);
	ck_assert_int_ge(count, 0);
	return count;
}

static int health_reports(fx *f, const char *check)
{
	kbp_health *h = NULL;
	int found = 0;

	CK_OK(kbp_health_check(&h, f->p, NULL));
	for (size_t i = 0; i < h->n_findings; i++)
		found |= strcmp(h->findings[i].check, check) == 0;
	kbp_health_free(h);
	return found;
}

/*
 * The gateway says it took money for another amount: a refusal for the
 * shopper, and a refund for the operator, counted wherever refunds are.
 */
static void expect_mismatch_refund(fx *f, const kbp_intent *in, const char *sku, int64_t amount,
                                   kbp_intent_status status, const char *reason)
{
	kbp_metrics before, after;
	int64_t doctor_before = doctor_count(f, "intents_needing_refund");
	kbp_verification *v = (kbp_verification *)&v;
	kbp_intent *now;
	char *cb = fx_pay(f, in->id, KBP_SANDBOX_COMPLETED, amount);

	fx_metrics(f, &before);
	CK_RC(kbp_payment_verify(&v, f->p, FX_GATEWAY, cb, strlen(cb)), KBP_EAMOUNT);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(kbp_error_last()->message, "amount mismatch"));
	fx_metrics(f, &after);
	ck_assert_int_eq(after.verifications_rejected - before.verifications_rejected, 1);
	ck_assert_int_eq(after.needs_refund - before.needs_refund, 1);
	ck_assert_int_eq(doctor_count(f, "intents_needing_refund") - doctor_before, 1);
	ck_assert(health_reports(f, "needs_refund"));
	now = fx_intent_get(f, in->id);
	ck_assert_int_eq(now->status, status);
	ck_assert_int_eq(now->needs_refund, 1);
	ck_assert_str_eq(now->status_reason, reason);
	kbp_intent_free(now);
	ck_assert_int_eq(fx_reserved(f, sku), 0);
	ck_assert_ptr_null(fx_finalize_job(f, in->id, NULL));
	kbp_free(cb);
}

START_TEST(amount_mismatch_needs_refund)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_verification_list *l = NULL;
	kbp_verification *v = (kbp_verification *)&v;
	kbp_order_status *st;
	char *under;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 2));
	expect_mismatch_refund(&f, in, sku, in->amount_minor + 100, KBP_INTENT_FAILED,
	                       "amount_mismatch");
	/* A second wrong answer finds the intent failed: it stays so, still to refund. */
	under = fx_pay(&f, in->id, KBP_SANDBOX_COMPLETED, in->amount_minor - 1);
	CK_RC(fx_verify(&v, &f, under), KBP_EAMOUNT);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(fx_intent_status(&f, in->id), KBP_INTENT_FAILED);

	CK_OK(kbp_verification_list_get(&l, f.p, in->id));
	ck_assert_uint_eq(l->n, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(l->items[i].outcome, KBP_VERIFICATION_REJECTED);
		ck_assert_str_eq(l->items[i].intent_id, in->id);
		ck_assert_int_eq(l->items[i].intent_status, KBP_INTENT_FAILED);
		ck_assert_int_eq(l->items[i].needs_refund, 1);
	}
	ck_assert_int_eq(l->items[0].amount_minor, in->amount_minor + 100);
	ck_assert_int_eq(l->items[1].amount_minor, in->amount_minor - 1);
	ck_assert_str_eq(l->items[0].reason, "amount mismatch: gateway reports 3100 NPR, intent is "
	                                     "3000 NPR");
	kbp_verification_list_free(l);

	fx_drain(&f);
	ck_assert_ptr_null(fx_order_of(&f, in->id));
	st = fx_status(&f, in->id);
	ck_assert_int_eq(st->stage, KBP_STAGE_FAILED);
	ck_assert_str_eq(st->reason, "amount_mismatch");
	ck_assert_int_eq(st->needs_refund, 1);
	kbp_order_status_free(st);
	kbp_free(under);
	kbp_intent_free(in);
	fx_close(&f);
}
END_TEST

/* Only a pending intent moves; any other keeps its state and is flagged. */
START_TEST(amount_mismatch_after_expiry_needs_refund)
{
	fx f;
	const char *sku;
	kbp_intent *in;

	fx_open(&f);
	sku = fx_product(&f, "a", 700, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	expire(&f, in);
	expect_mismatch_refund(&f, in, sku, 1, KBP_INTENT_EXPIRED, "expired");
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

/* A callback signed with the wrong key, naming the intent's reference; free(). */
static char *forged_for(fx *f, const kbp_intent *in, size_t i)
{
	return fx_callback_forge(fx_id(f, "forged%zu", i), "COMPLETED", "1500", "NPR",
	                         in->gateway_ref, "not the secret", 14);
}

static void refuse_forged(fx *f, const kbp_intent *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kbp_verification *v = NULL;
		char *cb = forged_for(f, in, i);
		CK_RC(fx_verify(&v, f, cb), KBP_ESIGNATURE);
		free(cb);
	}
}

/*
 * Forged callbacks are audited, but the reference they name is not theirs to
 * choose: their rows belong to no intent, and maintenance drops them once
 * they are older than the job retention. Rows of an intent stay.
 */
START_TEST(forged_callbacks_are_orphans_and_pruned)
{
	fx f;
	const char *sku;
	kbp_intent *in, *other;
	kbp_verification *v = NULL;
	kbp_maintenance_result r;
	kbp_metrics before, after;
	fx_row row;
	char *wrong;

	fx_open(&f);
	sku = fx_product(&f, "a", 1500, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	other = fx_intent(&f, fx_cart(&f, sku, 1));
	wrong = fx_pay(&f, other->id, KBP_SANDBOX_COMPLETED, 1);   /* a rejection of an intent */
	CK_RC(fx_verify(&v, &f, wrong), KBP_EAMOUNT);
	kbp_free(wrong);
	fx_metrics(&f, &before);

	refuse_forged(&f, in, 1000);
	ck_assert_uint_eq(fx_verification_count(&f, in->id), 0);
	row = fx_orphan_row(&f, in->gateway_ref);
	ck_assert_int_eq(row.found, 1000);
	ck_assert_int_eq(row.has_intent, 0);
	ck_assert_int_eq(row.outcome, KBP_VERIFICATION_REJECTED);
	ck_assert_str_eq(row.reason, "callback signature does not verify");
	fx_metrics(&f, &after);
	ck_assert_int_eq(after.verifications_rejected - before.verifications_rejected, 1000);
	expect_untouched(&f, in, sku, 1);

	fx_advance(&f, 86400000 + 1);   /* the default job retention */
	refuse_forged(&f, in, 1);
	memset(&r, 0, sizeof r);
	CK_OK(kbp_maintenance_run(&r, f.p));
	ck_assert_int_eq(r.ran, 1);
	ck_assert_int_eq(fx_orphan_row(&f, in->gateway_ref).found, 1);
	ck_assert_uint_eq(fx_verification_count(&f, other->id), 1);
	fx_metrics(&f, &after);
	ck_assert_int_eq(after.verifications_rejected - before.verifications_rejected, 1);
	kbp_intent_free(in);
	kbp_intent_free(other);
	fx_close(&f);
}
END_TEST

/*
 * Between maintenance passes, memory keeps at most MEM_ORPHAN_ROWS_MAX
 * (10,000) of those rows, plus a quarter while it batches the next drop:
 * the oldest go first. PostgreSQL keeps them on disk, bounded in size, until
 * maintenance.
 */
START_TEST(memory_caps_orphan_rows)
{
	fx f;
	const char *sku;
	kbp_intent *in;
	kbp_verification_list *l = NULL;

	fx_open(&f);
	if (strcmp(kbp_pipeline_storage_name(f.p), "memory") != 0) {
		fx_close(&f);
		return;
	}
	sku = fx_product(&f, "a", 1500, 5);
	in = fx_intent(&f, fx_cart(&f, sku, 1));
	refuse_forged(&f, in, 12501);
	CK_OK(kbp_verification_list_get(&l, f.p, NULL));
	ck_assert_uint_eq(l->n, 10000);
	ck_assert_str_eq(l->items[l->n - 1].gateway_ref, in->gateway_ref);
	ck_assert_int_eq(l->items[l->n - 1].at, fx_now(&f));
	kbp_verification_list_free(l);
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
	tcase_add_test(tc, amount_mismatch_needs_refund);
	tcase_add_test(tc, amount_mismatch_after_expiry_needs_refund);
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
	tcase_add_test(tc, txn_of_another_intent_is_a_conflict);
	tcase_add_test(tc, txn_id_comes_from_the_gateway_only);
	tcase_add_test(tc, forged_callbacks_are_orphans_and_pruned);
	tcase_add_test(tc, memory_caps_orphan_rows);
	suite_add_tcase(s, tc);
}

/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/records.h"
#include "core/rules.h"
#include "util/crypto.h"
#include "util/strings.h"

/* What the audit keeps of a callback that was not accepted: enough to investigate it. */
#define REFUSED_EVIDENCE_BYTES 256

typedef struct payment_step {
	kbp_step step;
	const kbp_payment_draft *d;
	int64_t now;
	kbp_verdict verdict;
	kbp_intent_record *intent;
	kbp_intent_write write;
	kbp_stock_delta *stock;
	kbp_job_draft job;
	kbp_intent_job_text job_text;
	kbp_verification row;       /* the audit row, or the duplicate's first row */
	char sha256[KBP_SHA256_HEX_SIZE];
} payment_step;

static int stock_moves(payment_step *ps, kbp_changes *c)
{
	const kbp_intent *in = &ps->intent->intent;

	if (!ps->verdict.stock || in->n_items == 0)
		return 0;
	if (!(ps->stock = calloc(in->n_items, sizeof(*ps->stock))))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	kbp__rule_stock(ps->stock, in, (kbp_stock_move)ps->verdict.stock);
	c->stock = ps->stock;
	c->n_stock = in->n_items;
	return 0;
}

/* The finalize_order job: its payload and unique key are the library's, not the caller's. */
static int enqueue_finalize(payment_step *ps, kbp_changes *c)
{
	kbp_intent_record *r = ps->intent;

	kbp__rule_intent_job(&ps->job_text, KBP_JOB_FINALIZE_ORDER, r->intent.id);
	ps->job = ps->d->finalize_job;
	ps->job.payload = ps->job_text.payload;
	ps->job.unique_key = ps->job_text.unique_key;
	ps->job.run_at = ps->now;
	free(r->finalize_job_id);
	if (!(r->finalize_job_id = strdup(ps->job.id)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	r->paid_at = ps->now;
	c->jobs = &ps->job;
	c->n_jobs = 1;
	c->now = ps->now;
	return 0;
}

/* The verdict applied to the intent, which is written back when it changed. */
static int apply_to_intent(payment_step *ps, kbp_changes *c)
{
	const kbp_verdict *v = &ps->verdict;
	kbp_intent_record *r = ps->intent;
	int rc;

	if (v->needs_refund)
		r->intent.needs_refund = 1;
	if (v->moves && (rc = kbp__rule_intent_move(r, v->status, v->status_reason, ps->now)))
		return rc;
	if (v->touched)
		r->intent.updated_at = ps->now;
	if (v->finalize && (rc = enqueue_finalize(ps, c)))
		return rc;
	if (!v->touched)
		return 0;
	ps->write = (kbp_intent_write){ r, 0 };
	c->intents = &ps->write;
	c->n_intents = 1;
	return stock_moves(ps, c);
}

static int build_row(payment_step *ps)
{
	const kbp_payment_draft *d = ps->d;
	kbp_verification *row = &ps->row;
	int ok = 1;

	row->id = strdup(d->verification_id);
	row->gateway = strdup(d->gateway);
	row->gateway_ref = kbp_strdup0(d->gateway_ref);
	row->external_txn_id = kbp_strdup0(d->external_txn_id);
	row->reason = ps->verdict.reason[0] ? strdup(ps->verdict.reason) : NULL;
	row->amount_minor = d->amount_minor;
	row->outcome = ps->verdict.outcome;
	row->at = ps->now;
	if (ps->intent) {
		row->intent_id = strdup(ps->intent->intent.id);
		row->intent_status = ps->intent->intent.status;
		row->needs_refund = ps->intent->intent.needs_refund;
		ok = row->intent_id != NULL;
	}
	ok = ok && row->id && row->gateway && (!d->gateway_ref || row->gateway_ref) &&
	     (!d->external_txn_id || row->external_txn_id) && (!ps->verdict.reason[0] || row->reason);
	return ok ? 0 : kbp_error_set(KBP_ENOMEM, "out of memory");
}

static void add_evidence(payment_step *ps, kbp_changes *c)
{
	const kbp_payment_draft *d = ps->d;
	size_t kept = d->raw_len;

	if (ps->verdict.outcome != KBP_VERIFICATION_ACCEPTED && kept > REFUSED_EVIDENCE_BYTES)
		kept = REFUSED_EVIDENCE_BYTES;
	kbp_sha256_hex(ps->sha256, d->raw ? d->raw : "", d->raw ? d->raw_len : 0);
	c->verification = &ps->row;
	c->raw = d->raw;
	c->raw_len = d->raw ? kept : 0;
	c->raw_sha256 = ps->sha256;
}

static int duplicate(payment_step *ps, const kbp_facts *f)
{
	if (kbp__verification_copy(&ps->row, f->accepted) != 0)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	ps->row.duplicate = 1;
	ps->row.intent_status = f->intent->intent.status;
	ps->row.needs_refund = f->intent->intent.needs_refund;
	return 0;
}

static int decide(kbp_step *st, kbp_facts *f, kbp_changes *c)
{
	payment_step *ps = (payment_step *)st;
	int rc;

	if (kbp__rule_judge(&ps->verdict, ps->d, f->intent, f->accepted, f))
		return duplicate(ps, f);
	ps->intent = f->intent;
	f->intent = NULL;
	if (ps->intent && (rc = apply_to_intent(ps, c)))
		return rc;
	if ((rc = build_row(ps)))
		return rc;
	add_evidence(ps, c);
	kbp__step_outcome(st, ps->verdict.code, ps->verdict.reason);
	return 0;
}

static void payment_step_reset(kbp_step *st)
{
	payment_step *ps = (payment_step *)st;

	kbp__intent_record_free(ps->intent);
	free(ps->stock);
	kbp__verification_clear(&ps->row);
	ps->intent = NULL;
	ps->stock = NULL;
	memset(&ps->row, 0, sizeof(ps->row));
}

int kbp__rec_payment_apply(kbp_storage *s, const kbp_payment_draft *d, int64_t now,
                           kbp_verification **out)
{
	int authenticated = !d->reject_reason;
	payment_step ps;
	int rc;

	*out = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.step.decide = decide;
	ps.step.reset = payment_step_reset;
	ps.d = d;
	ps.now = now;
	ps.step.query.gateway = d->gateway;
	/* An unauthenticated reference must not file its audit row under someone's intent. */
	ps.step.query.gateway_ref = authenticated ? d->gateway_ref : NULL;
	ps.step.query.accepted_txn = authenticated ? d->external_txn_id : NULL;
	ps.step.query.want = KBP_FACTS_PRODUCTS;
	rc = kbp__step_run(s, &ps.step);
	/* A refusal that was recorded has its row too; a failed write has none. */
	if ((rc == 0 || rc == ps.step.outcome) && ps.row.id && !(*out = kbp__verification_dup(&ps.row)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	payment_step_reset(&ps.step);
	return rc;
}

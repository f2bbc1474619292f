/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "storage/memory/memory_internal.h"
#include "util/strings.h"

typedef struct verdict {
	int code;                   /* what payment_apply returns */
	kbp_verification_outcome outcome;
	char reason[256];
} verdict;

static int append_row(mem_store *m, kbp_verification *row)
{
	if (m->n_rows == m->cap_rows) {
		size_t cap = m->cap_rows ? m->cap_rows * 2 : 256;
		kbp_verification **rows = realloc(m->rows, cap * sizeof(*rows));
		if (!rows)
			return -1;
		m->rows = rows;
		m->cap_rows = cap;
	}
	m->rows[m->n_rows++] = row;
	return 0;
}

static kbp_verification *row_new(const kbp_payment_draft *d, const mem_intent *in,
                                 const verdict *v, int64_t now)
{
	kbp_verification *row = calloc(1, sizeof(*row));
	int ok;

	if (!row)
		return NULL;
	row->id = strdup(d->verification_id);
	row->gateway = strdup(d->gateway);
	row->gateway_ref = kbp_strdup0(d->gateway_ref);
	row->external_txn_id = kbp_strdup0(d->external_txn_id);
	row->intent_id = in ? strdup(in->pub.id) : NULL;
	row->reason = v->reason[0] ? strdup(v->reason) : NULL;
	row->amount_minor = d->amount_minor;
	row->outcome = v->outcome;
	row->at = now;
	ok = row->id && row->gateway && (!d->gateway_ref || row->gateway_ref) &&
	     (!d->external_txn_id || row->external_txn_id) && (!in || row->intent_id) &&
	     (!v->reason[0] || row->reason);
	if (!ok) {
		kbp_verification_free(row);
		return NULL;
	}
	return row;
}

#define VERDICT(v, c, o, ...)                                              \
	do {                                                               \
		(v)->code = (c);                                           \
		(v)->outcome = (o);                                        \
		snprintf((v)->reason, sizeof((v)->reason), __VA_ARGS__);   \
	} while (0)

static int enqueue_finalize(mem_store *m, const kbp_payment_draft *d, mem_intent *in,
                            int64_t now)
{
	char payload[KBP_ID_MAX + 32];
	kbp_job_draft job = d->finalize_job;
	mem_job *j;

	snprintf(payload, sizeof(payload), "{\"intent_id\":\"%s\"}", in->pub.id);
	job.payload = payload;
	job.unique_key = in->pub.id;
	job.run_at = now;
	if (mem_job_insert(m, &job, now, &j) != 0)
		return -1;
	in->finalize_job_id = strdup(j->pub.id);
	return in->finalize_job_id ? 0 : -1;
}

/* A genuine, completed payment for the right amount: DESIGN §3's intent rules. */
static void accept_paid(mem_store *m, const kbp_payment_draft *d, mem_intent *in, verdict *v,
                        int64_t now)
{
	kbp_intent_status st = in->pub.status;

	VERDICT(v, 0, KBP_VERIFICATION_ACCEPTED, "%s", "");
	if (st == KBP_INTENT_EXPIRED && !mem_intent_try_reserve(m, in)) {
		in->pub.needs_refund = 1;
		mem_intent_finish(m, in, KBP_INTENT_EXPIRED, "paid_after_expiry", now);
		VERDICT(v, 0, KBP_VERIFICATION_ACCEPTED, "paid_after_expiry");
		return;
	}
	if (st == KBP_INTENT_PENDING || st == KBP_INTENT_EXPIRED) {
		if (enqueue_finalize(m, d, in, now) != 0) {
			if (st == KBP_INTENT_EXPIRED)
				mem_intent_release(m, in);
			VERDICT(v, KBP_ENOMEM, KBP_VERIFICATION_REJECTED, "out of memory");
			return;
		}
		in->paid_at = now;
		mem_intent_finish(m, in, KBP_INTENT_SUCCEEDED,
		                  st == KBP_INTENT_EXPIRED ? "paid_after_expiry" : NULL, now);
		return;
	}
	/* failed, canceled, or already paid by another transaction: money without an order. */
	in->pub.needs_refund = 1;
	in->pub.updated_at = now;
	mem_bump_order(m, in->pub.id);
	VERDICT(v, 0, KBP_VERIFICATION_ACCEPTED, "paid_after_%s",
	        st == KBP_INTENT_SUCCEEDED ? "success" : kbp_intent_status_name(st));
}

/*
 * The gateway took another amount than the intent's: that money must go back,
 * and a pending intent will not be fulfilled by it (kbp_payment_verify(3)).
 */
static void refuse_amount(mem_store *m, const kbp_payment_draft *d, mem_intent *in, verdict *v,
                          int64_t now)
{
	VERDICT(v, KBP_EAMOUNT, KBP_VERIFICATION_REJECTED,
	        "amount mismatch: gateway reports %lld %s, intent is %lld %s",
	        (long long)d->amount_minor, d->currency ? d->currency : in->pub.currency,
	        (long long)in->pub.amount_minor, in->pub.currency);
	in->pub.needs_refund = 1;
	if (in->pub.status == KBP_INTENT_PENDING) {
		mem_intent_release(m, in);
		mem_intent_finish(m, in, KBP_INTENT_FAILED, "amount_mismatch", now);
		return;
	}
	in->pub.updated_at = now;
	mem_bump_order(m, in->pub.id);
}

static void judge_completed(mem_store *m, const kbp_payment_draft *d, mem_intent *in,
                            verdict *v, int64_t now)
{
	/* Without the gateway's transaction id a later replay could not be told from a payment. */
	if (!d->external_txn_id)
		VERDICT(v, KBP_EGATEWAY, KBP_VERIFICATION_REJECTED,
		        "gateway reports the payment completed without a transaction id");
	else if (d->amount_minor != in->pub.amount_minor ||
	         (d->currency && strcmp(d->currency, in->pub.currency) != 0))
		refuse_amount(m, d, in, v, now);
	else
		accept_paid(m, d, in, v, now);
}

static void judge(mem_store *m, const kbp_payment_draft *d, mem_intent *in, verdict *v,
                  int64_t now)
{
	switch (d->status) {
	case KBP_GATEWAY_COMPLETED:
		judge_completed(m, d, in, v, now);
		return;
	case KBP_GATEWAY_PENDING:
	case KBP_GATEWAY_AMBIGUOUS:
		VERDICT(v, KBP_EPENDING, KBP_VERIFICATION_PENDING, "gateway reports the payment %s",
		        d->status == KBP_GATEWAY_PENDING ? "pending" : "ambiguous");
		return;
	case KBP_GATEWAY_FAILED:
	case KBP_GATEWAY_CANCELED:
	case KBP_GATEWAY_EXPIRED:
		if (in->pub.status == KBP_INTENT_PENDING) {
			mem_intent_release(m, in);
			mem_intent_finish(m, in, KBP_INTENT_FAILED, "declined", now);
		}
		VERDICT(v, KBP_EDECLINED, KBP_VERIFICATION_DECLINED, "gateway reports the payment %s",
		        d->status == KBP_GATEWAY_FAILED     ? "failed"
		        : d->status == KBP_GATEWAY_CANCELED ? "canceled"
		                                            : "expired");
		return;
	case KBP_GATEWAY_NOT_FOUND:
		VERDICT(v, KBP_ENOTFOUND, KBP_VERIFICATION_REJECTED,
		        "gateway has no record of this payment");
		return;
	case KBP_GATEWAY_REFUNDED:
	case KBP_GATEWAY_PARTIALLY_REFUNDED:
		VERDICT(v, KBP_EDECLINED, KBP_VERIFICATION_REJECTED, "gateway reports the payment refunded");
		return;
	}
	VERDICT(v, KBP_EGATEWAY, KBP_VERIFICATION_REJECTED, "gateway status is unknown");
}

/* Looks up a previously accepted verification of the same gateway transaction. */
static kbp_verification *find_accepted(mem_store *m, const kbp_payment_draft *d)
{
	kbp_verification *row;
	char *key;

	if (!d->external_txn_id || d->reject_reason)
		return NULL;
	key = mem_pair_key(d->gateway, d->external_txn_id);
	row = key ? kbp_hmap_get(&m->accepted, key) : NULL;
	free(key);
	return row;
}

static int duplicate_of(const kbp_verification *first, const mem_intent *in,
                        kbp_verification **out)
{
	if (!(*out = kbp__verification_dup(first)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	(*out)->duplicate = 1;
	(*out)->intent_status = in->pub.status;
	(*out)->needs_refund = in->pub.needs_refund;
	return 0;
}

static int is_orphan_rejection(const kbp_verification *row)
{
	return row->outcome == KBP_VERIFICATION_REJECTED && !row->intent_id;
}

/*
 * Drops at most max of the oldest rejected rows that no intent owns and that
 * were written before `before`: what forged callbacks leave behind.
 */
static int64_t drop_orphans(mem_store *m, int64_t before, int64_t max)
{
	size_t kept = 0;
	int64_t dropped = 0;

	for (size_t i = 0; i < m->n_rows; i++) {
		kbp_verification *row = m->rows[i];
		if (dropped < max && is_orphan_rejection(row) && row->at < before) {
			kbp_verification_free(row);
			dropped++;
			continue;
		}
		m->rows[kept++] = row;
	}
	m->n_rows = kept;
	m->rejected_rows -= dropped;
	m->orphan_rows -= dropped;
	return dropped;
}

int64_t mem_verifications_prune(mem_store *m, int64_t before)
{
	return drop_orphans(m, before, INT64_MAX);
}

/*
 * Between maintenance passes a flood of forged callbacks could still grow the
 * audit without bound: past the cap the oldest orphans go, a batch at a time
 * so that the compaction's cost is shared by many rows.
 */
static void cap_orphans(mem_store *m)
{
	if (m->orphan_rows > MEM_ORPHAN_ROWS_MAX + MEM_ORPHAN_ROWS_MAX / 4)
		drop_orphans(m, INT64_MAX, m->orphan_rows - MEM_ORPHAN_ROWS_MAX);
}

static int record(mem_store *m, const kbp_payment_draft *d, mem_intent *in, const verdict *v,
                  int64_t now, kbp_verification **out)
{
	kbp_verification *row = row_new(d, in, v, now);
	char *key = NULL;

	if (!row || append_row(m, row) != 0) {
		kbp_verification_free(row);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	if (in) {
		row->intent_status = in->pub.status;
		row->needs_refund = in->pub.needs_refund;
	}
	if (v->outcome == KBP_VERIFICATION_REJECTED)
		m->rejected_rows++;
	if (is_orphan_rejection(row))
		m->orphan_rows++;
	/* The accepted index is what makes a duplicate callback a no-op. */
	if (v->code == 0 && d->external_txn_id && (key = mem_pair_key(d->gateway, d->external_txn_id)))
		if (kbp_hmap_put(&m->accepted, key, row) != 0)
			free(key);
	if (!(*out = kbp__verification_dup(row)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	cap_orphans(m);
	if (v->code != 0)
		return kbp_error_set(v->code, "%s", v->reason);
	return 0;
}

int mem_payment_apply(kbp_storage *s, const kbp_payment_draft *d, int64_t now,
                      kbp_verification **out)
{
	mem_store *m = mem_of(s);
	mem_intent *in = NULL;
	kbp_verification *first;
	verdict v = { 0, KBP_VERIFICATION_REJECTED, "" };
	char *ref_key = d->gateway_ref ? mem_pair_key(d->gateway, d->gateway_ref) : NULL;
	int rc;

	pthread_mutex_lock(&m->lock);
	/* An unauthenticated reference must not file its audit row under someone's intent. */
	if (ref_key && !d->reject_reason)
		in = kbp_hmap_get(&m->intents_by_ref, ref_key);
	first = find_accepted(m, d);
	if (first && in && kbp_str_eq(first->intent_id, in->pub.id)) {
		rc = duplicate_of(first, in, out);
	} else {
		if (d->reject_reason)
			VERDICT(&v, d->reject_code, KBP_VERIFICATION_REJECTED, "%s", d->reject_reason);
		else if (first)
			VERDICT(&v, KBP_ECONFLICT, KBP_VERIFICATION_REJECTED,
			        "gateway transaction is already accepted for another intent");
		else if (!in)
			VERDICT(&v, KBP_ENOTFOUND, KBP_VERIFICATION_REJECTED,
			        "no intent matches this gateway reference");
		else
			judge(m, d, in, &v, now);
		rc = record(m, d, in, &v, now, out);
	}
	pthread_mutex_unlock(&m->lock);
	free(ref_key);
	return rc;
}

int mem_verifications_list(kbp_storage *s, const char *intent_id, kbp_verification_list **out)
{
	mem_store *m = mem_of(s);
	kbp_verification_list *list = calloc(1, sizeof(*list));
	int rc = 0;

	if (!list)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_rows && rc == 0; i++) {
		const kbp_verification *row = m->rows[i];
		if (!kbp_str_eq(row->intent_id, intent_id))
			continue;
		if (list->n % 16 == 0) {
			kbp_verification *items = realloc(list->items, (list->n + 16) * sizeof(*items));
			if (!items) {
				rc = kbp_error_set(KBP_ENOMEM, "out of memory");
				break;
			}
			list->items = items;
		}
		if (kbp__verification_copy(&list->items[list->n], row) != 0) {
			kbp__verification_clear(&list->items[list->n]);
			rc = kbp_error_set(KBP_ENOMEM, "out of memory");
			break;
		}
		list->n++;
	}
	pthread_mutex_unlock(&m->lock);
	if (rc != 0) {
		kbp_verification_list_free(list);
		return rc;
	}
	*out = list;
	return 0;
}

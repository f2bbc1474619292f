/* SPDX-License-Identifier: MIT */
#include "core/records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "util/strings.h"

void kbp__intent_record_clear(kbp_intent_record *r)
{
	kbp__intent_clear(&r->intent);
	free(r->success_url);
	free(r->failure_url);
	free(r->finalize_job_id);
	memset(r, 0, sizeof(*r));
}

void kbp__intent_record_free(kbp_intent_record *r)
{
	if (!r)
		return;
	kbp__intent_record_clear(r);
	free(r);
}

int kbp__intent_record_copy(kbp_intent_record *dst, const kbp_intent_record *src)
{
	kbp_intent *in = kbp__intent_dup(&src->intent);

	memset(dst, 0, sizeof(*dst));
	if (!in)
		return -1;
	dst->intent = *in;
	free(in);
	dst->success_url = kbp_strdup0(src->success_url);
	dst->failure_url = kbp_strdup0(src->failure_url);
	dst->finalize_job_id = kbp_strdup0(src->finalize_job_id);
	dst->paid_at = src->paid_at;
	dst->reconcile_marked = src->reconcile_marked;
	if ((src->success_url && !dst->success_url) || (src->failure_url && !dst->failure_url) ||
	    (src->finalize_job_id && !dst->finalize_job_id)) {
		kbp__intent_record_clear(dst);
		return -1;
	}
	return 0;
}

kbp_intent_record *kbp__intent_record_dup(const kbp_intent_record *src)
{
	kbp_intent_record *r = malloc(sizeof(*r));

	if (r && kbp__intent_record_copy(r, src) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

void kbp__facts_clear(kbp_facts *f)
{
	kbp__intent_record_free(f->intent);
	kbp_cart_free(f->cart);
	for (size_t i = 0; i < f->n_products; i++)
		kbp__product_clear(&f->products[i]);
	free(f->products);
	kbp_order_free(f->order);
	kbp_verification_free(f->accepted);
	kbp_job_free(f->job);
	for (size_t i = 0; i < f->n_scanned; i++)
		kbp__intent_record_clear(&f->scanned[i]);
	free(f->scanned);
	kbp_job_free(f->holder);
	kbp_job_list_free(f->jobs);
	memset(f, 0, sizeof(*f));
}

void kbp__step_outcome(kbp_step *st, int code, const char *message)
{
	st->outcome = code;
	snprintf(st->message, sizeof(st->message), "%s", message ? message : "");
}

/*
 * Times a step is run when the backend reports KBP_ECONFLICT: a unique record
 * written between the read and the write, a serialization failure or a
 * deadlock. Run again, the step reads what the other side wrote (the intent
 * of the same idempotency key, the accepted verification of the same
 * transaction) and answers from it.
 */
#define STEP_RUNS 4

/* One run; *backend_conflict tells a conflict the backend reported from one the rules decided. */
static int run_once(kbp_storage *s, kbp_step *st, int *backend_conflict)
{
	kbp_facts facts;
	kbp_changes changes;
	kbp_txn *t = NULL;
	int rc, decided = 0;

	memset(&facts, 0, sizeof(facts));
	memset(&changes, 0, sizeof(changes));
	st->outcome = 0;
	if ((rc = s->txn_begin(s, st->flags, &t)))
		return rc;
	rc = s->facts_read(s, t, &st->query, &facts);
	if (rc == 0) {
		rc = st->decide(st, &facts, &changes);
		decided = rc != 0;
	}
	if (rc == 0 && !(st->flags & KBP_TXN_READ))
		rc = s->changes_apply(s, t, &changes);
	if (rc == 0)
		rc = s->txn_commit(s, t);
	else
		s->txn_rollback(s, t);
	kbp__facts_clear(&facts);
	*backend_conflict = rc == KBP_ECONFLICT && !decided;
	return rc;
}

int kbp__step_run(kbp_storage *s, kbp_step *st)
{
	int rc = 0, backend_conflict = 1;

	for (int i = 0; i < STEP_RUNS && backend_conflict; i++) {
		if (i > 0 && st->reset)
			st->reset(st);
		rc = run_once(s, st, &backend_conflict);
	}
	if (backend_conflict && st->conflict)
		return kbp_error_set(KBP_ECONFLICT, "%s", st->conflict);
	if (rc == 0 && st->outcome != 0)
		rc = kbp_error_set(st->outcome, "%s", st->message);
	return rc;
}

void kbp__records_fill(kbp_storage *s)
{
#define FILL(slot)                              \
	if (!s->slot)                           \
		s->slot = kbp__rec_##slot;
	KBP_STORAGE_STANDING_IN_SLOTS(FILL)
#undef FILL
}

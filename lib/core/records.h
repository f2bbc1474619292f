/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_RECORDS_H
#define KBP_CORE_RECORDS_H

/*
 * The library's side of storage version 3 (DESIGN §0): each step of the
 * pipeline reads its facts, lets the rules (core/rules.h) decide, and writes
 * the changes, in one transaction of the backend. kbp__records_fill() gives
 * a backend with records the library's implementation of every slot it
 * leaves to the library.
 */

#include "kbpipeline/sys/storage.h"

void kbp__intent_record_clear(kbp_intent_record *r);
void kbp__intent_record_free(kbp_intent_record *r);
int kbp__intent_record_copy(kbp_intent_record *dst, const kbp_intent_record *src);
kbp_intent_record *kbp__intent_record_dup(const kbp_intent_record *src);
void kbp__facts_clear(kbp_facts *f);

/*
 * One step. decide() reads the facts (and may take what it keeps from them,
 * leaving NULL behind) and fills the changes; its result:
 * negative, the step ends with that error and nothing is written; 0, the
 * changes are written and committed and the step returns `outcome` (with
 * `message` when outcome is not 0: a refusal that is still recorded).
 * When the backend reports KBP_ECONFLICT the step runs again from the start
 * (reset() first forgets what decide() kept), a few times; a conflict that
 * remains is reported with `conflict` when set.
 */
typedef struct kbp_step kbp_step;
struct kbp_step {
	kbp_facts_query query;
	unsigned int flags;         /* KBP_TXN_… */
	int (*decide)(kbp_step *st, kbp_facts *f, kbp_changes *c);
	void (*reset)(kbp_step *st);
	int outcome;
	char message[512];
	const char *conflict;
};

int kbp__step_run(kbp_storage *s, kbp_step *st);
/* Sets the outcome a step returns after its commit. */
void kbp__step_outcome(kbp_step *st, int code, const char *message);

void kbp__records_fill(kbp_storage *s);

/* The standing-in slots, one file per concern. */
int kbp__rec_cart_set_item(kbp_storage *s, const char *cart_id, const char *customer_id,
                           const char *sku, int64_t qty, int64_t now, int64_t *out_version);
int kbp__rec_intent_create(kbp_storage *s, const kbp_intent_draft *d, int64_t now,
                           kbp_intent **out);
/*
 * A new intent's payment prepared inside the step that creates it, by a
 * gateway whose prepare is local: fn sets the intent's gateway_ref and
 * redirect, or fails and nothing is written.
 */
typedef struct kbp__intent_prepare {
	int (*fn)(void *ctx, kbp_intent *in);
	void *ctx;
} kbp__intent_prepare;
int kbp__rec_intent_create_prepared(kbp_storage *s, const kbp_intent_draft *d, int64_t now,
                                    const kbp__intent_prepare *prepare, kbp_intent **out);
int kbp__rec_intent_attach(kbp_storage *s, const char *intent_id, const char *gateway_ref,
                           const char *redirect, int64_t now);
int kbp__rec_intent_get(kbp_storage *s, const char *intent_id, kbp_intent **out);
int kbp__rec_intent_cancel(kbp_storage *s, const char *intent_id, const char *reason,
                           int64_t now);
int kbp__rec_payment_apply(kbp_storage *s, const kbp_payment_draft *d, int64_t now,
                           kbp_verification **out);
int kbp__rec_order_finalize(kbp_storage *s, const char *intent_id, const char *order_id,
                            const char *order_number, int64_t now, kbp_order **out);
int kbp__rec_order_facts(kbp_storage *s, const char *intent_id, kbp_order_facts *out);
int kbp__rec_reconcile_schedule(kbp_storage *s, const kbp_reconcile_params *params,
                                int64_t *out_count);
/* Expires the pending intents past their expiry, releasing their stock. */
int kbp__rec_intents_expire(kbp_storage *s, int64_t now, int64_t *out_count);
int kbp__rec_job_fail(kbp_storage *s, const char *job_id, const char *worker, const char *error,
                      int64_t retry_at, int64_t now);
int kbp__rec_job_retry(kbp_storage *s, const char *job_id, int64_t now);
int kbp__rec_job_cancel(kbp_storage *s, const char *job_id, int64_t now);
int kbp__rec_jobs_rescue(kbp_storage *s, int64_t now, int64_t *out_count);

#endif

/* SPDX-License-Identifier: MIT */
#include "counting.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct counting {
	kbp_storage base;           /* first, as the interface asks */
	kbp_storage *inner;         /* the memory store every call goes on to */
} counting;

static atomic_ulong calls[COUNTING_N];
static _Atomic(kbp_storage *) last;

#define INNER(s) (((counting *)(s))->inner)
/* Counts the call of slot, then makes it on the memory store. */
#define FORWARD(slot, s, ...) \
	(atomic_fetch_add(&calls[COUNTING_##slot], 1), INNER(s)->slot(INNER(s), __VA_ARGS__))

static int c_vendor_put(kbp_storage *s, const char *id, const char *name, int64_t now)
{
	return FORWARD(vendor_put, s, id, name, now);
}

static int c_vendor_get(kbp_storage *s, const char *id, kbp_vendor **out)
{
	return FORWARD(vendor_get, s, id, out);
}

static int c_product_put(kbp_storage *s, const kbp_product_spec *spec, int64_t now)
{
	return FORWARD(product_put, s, spec, now);
}

static int c_product_get(kbp_storage *s, const char *id, kbp_product **out)
{
	return FORWARD(product_get, s, id, out);
}

static int c_product_set_active(kbp_storage *s, const char *id, int active, int64_t now)
{
	return FORWARD(product_set_active, s, id, active, now);
}

static int c_cart_set_item(kbp_storage *s, const char *cart_id, const char *customer_id,
                           const char *sku, int64_t qty, int64_t now, int64_t *out_version)
{
	return FORWARD(cart_set_item, s, cart_id, customer_id, sku, qty, now, out_version);
}

static int c_cart_get(kbp_storage *s, const char *cart_id, kbp_cart **out)
{
	return FORWARD(cart_get, s, cart_id, out);
}

static int c_intent_create(kbp_storage *s, const kbp_intent_draft *draft, int64_t now,
                           kbp_intent **out)
{
	return FORWARD(intent_create, s, draft, now, out);
}

static int c_intent_attach(kbp_storage *s, const char *intent_id, const char *gateway_ref,
                           const char *redirect, int64_t now)
{
	return FORWARD(intent_attach, s, intent_id, gateway_ref, redirect, now);
}

static int c_intent_get(kbp_storage *s, const char *intent_id, kbp_intent **out)
{
	return FORWARD(intent_get, s, intent_id, out);
}

static int c_intent_cancel(kbp_storage *s, const char *intent_id, const char *reason,
                           int64_t now)
{
	return FORWARD(intent_cancel, s, intent_id, reason, now);
}

static int c_payment_apply(kbp_storage *s, const kbp_payment_draft *draft, int64_t now,
                           kbp_verification **out)
{
	return FORWARD(payment_apply, s, draft, now, out);
}

static int c_verifications_list(kbp_storage *s, const char *intent_id,
                                kbp_verification_list **out)
{
	return FORWARD(verifications_list, s, intent_id, out);
}

static int c_order_finalize(kbp_storage *s, const char *intent_id, const char *order_id,
                            const char *order_number, int64_t now, kbp_order **out)
{
	return FORWARD(order_finalize, s, intent_id, order_id, order_number, now, out);
}

static int c_order_get(kbp_storage *s, const char *order_number, const char *intent_id,
                       kbp_order **out)
{
	return FORWARD(order_get, s, order_number, intent_id, out);
}

static int c_order_facts(kbp_storage *s, const char *intent_id, kbp_order_facts *out)
{
	return FORWARD(order_facts, s, intent_id, out);
}

static int c_job_enqueue(kbp_storage *s, const kbp_job_draft *draft, int64_t now, char **out_id)
{
	return FORWARD(job_enqueue, s, draft, now, out_id);
}

static int c_jobs_acquire(kbp_storage *s, const char *worker, int max, int64_t lease_ms,
                          int64_t now, kbp_job_list **out)
{
	return FORWARD(jobs_acquire, s, worker, max, lease_ms, now, out);
}

static int c_job_complete(kbp_storage *s, const char *job_id, const char *worker, int64_t now)
{
	return FORWARD(job_complete, s, job_id, worker, now);
}

static int c_job_fail(kbp_storage *s, const char *job_id, const char *worker, const char *error,
                      int64_t retry_at, int64_t now)
{
	return FORWARD(job_fail, s, job_id, worker, error, retry_at, now);
}

static int c_job_get(kbp_storage *s, const char *job_id, kbp_job **out)
{
	return FORWARD(job_get, s, job_id, out);
}

static int c_jobs_list(kbp_storage *s, const kbp_job_filter *filter, kbp_job_list **out)
{
	return FORWARD(jobs_list, s, filter, out);
}

static int c_job_retry(kbp_storage *s, const char *job_id, int64_t now)
{
	return FORWARD(job_retry, s, job_id, now);
}

static int c_job_cancel(kbp_storage *s, const char *job_id, int64_t now)
{
	return FORWARD(job_cancel, s, job_id, now);
}

static int c_jobs_rescue(kbp_storage *s, int64_t now, int64_t *out_count)
{
	return FORWARD(jobs_rescue, s, now, out_count);
}

static int c_maintenance(kbp_storage *s, const kbp_maintenance_params *params,
                         kbp_maintenance_result *out)
{
	return FORWARD(maintenance, s, params, out);
}

static int c_metrics(kbp_storage *s, int64_t now, kbp_metrics *out)
{
	return FORWARD(metrics, s, now, out);
}

static int c_wait(kbp_storage *s, kbp_topic topic, uint64_t *seen, int64_t timeout_ms)
{
	return FORWARD(wait, s, topic, seen, timeout_ms);
}

static void c_notify(kbp_storage *s, kbp_topic topic)
{
	FORWARD(notify, s, topic);
}

static void c_free(kbp_storage *s)
{
	atomic_fetch_add(&calls[COUNTING_free], 1);
	/* A later open may have replaced it already; only this store is forgotten. */
	atomic_compare_exchange_strong(&last, &s, NULL);
	INNER(s)->free(INNER(s));
	free(s);
}

static int c_reconcile_schedule(kbp_storage *s, const kbp_reconcile_params *params,
                                int64_t *out_count)
{
	return FORWARD(reconcile_schedule, s, params, out_count);
}

static int c_jobs_complete(kbp_storage *s, const char *const *job_ids, size_t n,
                           const char *worker, int64_t now, int64_t *out_done)
{
	return FORWARD(jobs_complete, s, job_ids, n, worker, now, out_done);
}

static int c_doctor(kbp_storage *s, int64_t now, kbp_doctor_report **out)
{
	return FORWARD(doctor, s, now, out);
}

static int c_jobs_extend(kbp_storage *s, const char *const *job_ids, size_t n,
                         const char *worker, int64_t lease_until, int64_t now,
                         int64_t *out_count)
{
	return FORWARD(jobs_extend, s, job_ids, n, worker, lease_until, now, out_count);
}

static int c_wait_order(kbp_storage *s, const char *intent_id, uint64_t *seen,
                        int64_t timeout_ms)
{
	return FORWARD(wait_order, s, intent_id, seen, timeout_ms);
}

static int c_jobs_insert(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
                         char **out_ids, size_t *out_created)
{
	return FORWARD(jobs_insert, s, drafts, n, now, out_ids, out_created);
}

static int c_txn_begin(kbp_storage *s, unsigned int flags, kbp_txn **out)
{
	return FORWARD(txn_begin, s, flags, out);
}

static int c_txn_commit(kbp_storage *s, kbp_txn *t)
{
	return FORWARD(txn_commit, s, t);
}

static void c_txn_rollback(kbp_storage *s, kbp_txn *t)
{
	FORWARD(txn_rollback, s, t);
}

static int c_facts_read(kbp_storage *s, kbp_txn *t, const kbp_facts_query *q, kbp_facts *out)
{
	return FORWARD(facts_read, s, t, q, out);
}

static int c_changes_apply(kbp_storage *s, kbp_txn *t, const kbp_changes *c)
{
	return FORWARD(changes_apply, s, t, c);
}

static const kbp_storage counting_vtable = {
	.version = KBP_STORAGE_VERSION,
	.name = "counting",
#define COUNTING_SLOT(slot) .slot = c_##slot,
	COUNTING_SLOTS(COUNTING_SLOT)
#undef COUNTING_SLOT
};

/* A store with records leaves the pipeline's steps to the library. */
static void records_only(kbp_storage *s)
{
#define LEAVE(slot) s->slot = NULL;
	KBP_STORAGE_STANDING_IN_SLOTS(LEAVE)
#undef LEAVE
}

/* Leaves out the slots that the URI's variant asks to be left out. */
static int apply_variant(kbp_storage *s, const char *variant)
{
	if (strcmp(variant, "v1") != 0)
		records_only(s);
	if (strcmp(variant, "minimal") == 0) {
		s->jobs_complete = NULL;
		s->wait = NULL;
		s->notify = NULL;
		s->wait_order = NULL;
		s->jobs_insert = NULL;
	} else if (strcmp(variant, "batch") == 0) {
		s->job_complete = NULL;
	} else if (strcmp(variant, "v1") == 0) {
		s->version = 1;
	} else if (*variant) {
		return kbp_error_set(KBP_EINVAL,
		                     "counting: takes no variant but minimal, batch and v1");
	}
	return 0;
}

int counting_open(kbp_storage **out, const char *uri, const kbp_storage_open_options *opts)
{
	counting *c;
	int rc;

	(void)opts;
	*out = NULL;
	if (strncmp(uri, "counting:", 9) != 0)
		return kbp_error_set(KBP_EINVAL, "not a counting: URI");
	if (!(c = calloc(1, sizeof(*c))))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	c->base = counting_vtable;
	if ((rc = apply_variant(&c->base, uri + 9)) ||
	    (rc = kbp_storage_memory_open(&c->inner, "memory:"))) {
		free(c);
		return rc;
	}
	atomic_store(&last, &c->base);
	*out = &c->base;
	return 0;
}

int counting_register(void)
{
	return kbp_storage_register("counting", counting_open);
}

unsigned long counting_calls(counting_slot slot)
{
	return atomic_load(&calls[slot]);
}

kbp_storage *counting_last(void)
{
	return atomic_load(&last);
}

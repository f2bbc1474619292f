/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_SYS_STORAGE_H
#define KBPIPELINE_SYS_STORAGE_H

/*
 * The storage backend interface. Each operation is one atomic step of the
 * pipeline (DESIGN §4), so a backend makes it atomic in its own way: a mutex
 * in memory, one transaction in PostgreSQL. Time always arrives as `now`;
 * a backend never reads a clock. Objects returned through `out` are the
 * public structs, built with kbp_storage_calloc() and kbp_storage_strdup() (or
 * malloc() and strdup() of the same C library) so that the kbp_…_free()
 * functions release them. Errors are reported with kbp_error_set().
 *
 * A backend registers an open function for its URI scheme with
 * kbp_storage_register(), as the built-in memory: and postgresql: do.
 * Slots are only ever appended; `version` says which header a backend was
 * built with, and the library takes every version from 1 to its own. Slots
 * marked "Optional" may be NULL: the pipeline fills them with its fallback
 * when it opens the storage, so the struct must be writable and belong to
 * that one handle (as it does when it is the first member of the backend's
 * own allocation). Every other slot is required.
 */

#include <stddef.h>
#include <stdint.h>
#include "../../kbpipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KBP_STORAGE_VERSION 3

/* How often waiters look again on a backend without wait() and notify(). */
#define KBP_STORAGE_POLL_MS 50

typedef struct kbp_storage kbp_storage;

typedef struct kbp_intent_draft {
	const char *id;
	const char *cart_id;
	const char *gateway;
	const char *idempotency_key;
	const char *success_url;    /* may be NULL */
	const char *failure_url;    /* may be NULL */
	int64_t expires_at;
} kbp_intent_draft;

typedef struct kbp_job_draft {
	const char *id;
	const char *kind;
	const char *payload;
	const char *unique_key;     /* may be NULL */
	int priority;
	int64_t run_at;
	int max_attempts;
} kbp_job_draft;

typedef enum kbp_gateway_status {
	KBP_GATEWAY_PENDING = 0,
	KBP_GATEWAY_COMPLETED = 1,
	KBP_GATEWAY_FAILED = 2,
	KBP_GATEWAY_CANCELED = 3,
	KBP_GATEWAY_EXPIRED = 4,
	KBP_GATEWAY_NOT_FOUND = 5,
	KBP_GATEWAY_REFUNDED = 6,
	KBP_GATEWAY_PARTIALLY_REFUNDED = 7,
	KBP_GATEWAY_AMBIGUOUS = 8
} kbp_gateway_status;

/*
 * What a verification learned. With reject_reason set the callback was
 * refused before reaching storage logic and only the audit row is written.
 */
typedef struct kbp_payment_draft {
	const char *verification_id;
	const char *gateway;
	const char *gateway_ref;    /* NULL if the callback could not be parsed */
	const char *external_txn_id;
	int64_t amount_minor;       /* as the gateway reports it, -1 if unknown */
	const char *currency;
	kbp_gateway_status status;  /* the gateway's answer to lookup */
	const char *reject_reason;    /* non-NULL: record a rejection with this reason */
	int reject_code;            /* the KBP_E… code of that rejection */
	const char *raw;            /* the callback as received, for the audit */
	size_t raw_len;
	/*
	 * Enqueued when the intent succeeds. Its payload and unique_key are left
	 * NULL: the backend sets {"intent_id": …} and a key no caller's job can
	 * hold, KBP_JOB_KEY_PREFIX "finalize_order:<intent id>" (as the
	 * library's own steps do).
	 */
	kbp_job_draft finalize_job;
} kbp_payment_draft;

/* What order_facts reports; the core derives the stage from it. */
typedef struct kbp_order_facts {
	kbp_intent_status intent_status;
	char *intent_reason;
	int needs_refund;
	char *order_id;             /* NULL until the order exists */
	char *order_number;
	int job_state;              /* the finalize_order job's kbp_job_state, -1 if none */
	char *job_error;
} kbp_order_facts;

typedef enum kbp_topic {
	KBP_TOPIC_JOBS = 0,         /* a job became available */
	KBP_TOPIC_ORDERS = 1        /* an intent or order changed state */
} kbp_topic;

/*
 * Marks intents for reconciliation and enqueues a reconcile_payment job for
 * each (payload {"intent_id": …}, unique_key "kbp:reconcile_payment:<intent id>"): pending
 * intents created before created_before, and expired ones, that have a
 * gateway reference and were never marked. At most n_ids, using the ids given.
 */
typedef struct kbp_reconcile_params {
	int64_t now;
	int64_t created_before;
	int max_attempts;
	size_t n_ids;
	const char *const *job_ids;
} kbp_reconcile_params;

typedef struct kbp_maintenance_params {
	int64_t now;
	int64_t prune_before;       /* completed/canceled jobs finished before this go */
} kbp_maintenance_params;

/*
 * Records (version 3). An intent as stored: the public struct and what only
 * the pipeline needs. Strings are owned by the record.
 */
typedef struct kbp_intent_record {
	kbp_intent intent;
	char *success_url;          /* NULL: the gateway's default */
	char *failure_url;
	int64_t paid_at;            /* when a payment was accepted for it; 0 before */
	char *finalize_job_id;      /* the finalize_order job enqueued on payment, or NULL */
	int reconcile_marked;       /* a reconcile_payment job was scheduled for it */
} kbp_intent_record;

typedef struct kbp_txn kbp_txn; /* a backend's transaction */

#define KBP_TXN_WRITE 0u
#define KBP_TXN_READ 1u

/* What facts_read brings besides the intent and the cart. */
#define KBP_FACTS_PRODUCTS 1    /* the products of the cart's lines and the intent's lines */
#define KBP_FACTS_ORDER 2       /* the intent's order, with its items */
#define KBP_FACTS_JOB 4         /* the job job_id, else the intent's finalize_order job */
#define KBP_FACTS_INTENT_CART 8 /* the intent's cart when cart_id is NULL */
#define KBP_FACTS_JOB_HOLDER 16 /* the live job other than f->job that holds f->job's unique key */
#define KBP_FACTS_NO_ITEMS 32   /* the intent's and the order's lines are not needed: may be left out */

/* Lists of intents for maintenance: at most scan_max of those that match. */
typedef enum kbp_facts_scan {
	KBP_SCAN_NONE = 0,
	/* pending intents with expires_at <= scan_before */
	KBP_SCAN_EXPIRING = 1,
	/*
	 * intents with a gateway reference, no needs_refund and not
	 * reconcile_marked that are pending and created before scan_before, or
	 * expired
	 */
	KBP_SCAN_UNSETTLED = 2,
	/* running jobs with lease_until < scan_before, into jobs; locked ones are skipped */
	KBP_SCAN_LAPSED_LEASES = 3
} kbp_facts_scan;

/*
 * One read of a step's facts. The intent is found by intent_id, else by
 * idempotency_key, else by (gateway, gateway_ref); none of them: no intent.
 */
typedef struct kbp_facts_query {
	const char *intent_id;
	const char *idempotency_key;
	const char *gateway;
	const char *gateway_ref;
	const char *cart_id;        /* the cart to read, or NULL (see KBP_FACTS_INTENT_CART) */
	const char *sku;            /* a product to read (besides KBP_FACTS_PRODUCTS), or NULL */
	const char *accepted_txn;   /* the accepted verification of (gateway, accepted_txn), or NULL */
	unsigned int want;          /* KBP_FACTS_… */
	kbp_facts_scan scan;
	int64_t scan_before;
	size_t scan_max;
	const char *job_id;         /* the job KBP_FACTS_JOB reads, or NULL */
} kbp_facts_query;

typedef struct kbp_facts {
	kbp_intent_record *intent;
	kbp_cart *cart;
	kbp_product *products;      /* each asked-for product that exists, in no set order */
	size_t n_products;
	kbp_order *order;
	kbp_verification *accepted;
	kbp_job *job;
	kbp_intent_record *scanned; /* the scan's intents */
	size_t n_scanned;
	kbp_job *holder;            /* KBP_FACTS_JOB_HOLDER */
	kbp_job_list *jobs;         /* KBP_SCAN_LAPSED_LEASES: its jobs (next_after unused) */
} kbp_facts;

/* Added to a product's on_hand and reserved. */
typedef struct kbp_stock_delta {
	const char *sku;
	int64_t on_hand;
	int64_t reserved;
} kbp_stock_delta;

typedef struct kbp_intent_write {
	const kbp_intent_record *record; /* written whole */
	int is_new;                      /* 1: inserted, 0: replaces the stored one */
} kbp_intent_write;

/*
 * A job's new state, written at changes.now: run_at and max_attempts with
 * it, the lease given up (lease_until 0), finished_at now for failed and
 * canceled and 0 otherwise. error, when not NULL, becomes last_error and is
 * appended to the history with the job's attempt count. rescued counts one
 * lapsed lease rescued (kbp_metrics.jobs_rescued_last_hour).
 */
typedef struct kbp_job_write {
	const char *id;
	kbp_job_state state;
	int64_t run_at;
	int max_attempts;
	const char *error;
	int rescued;
} kbp_job_write;

/* What one step writes; every part may be empty. */
typedef struct kbp_changes {
	const kbp_intent_write *intents;
	size_t n_intents;
	const kbp_stock_delta *stock;
	size_t n_stock;
	const kbp_cart *cart;       /* written whole (lines and version), created if new */
	const kbp_order *order;     /* inserted with its items */
	/*
	 * Appended to the audit with its evidence: raw (raw_len bytes, already
	 * cut to what is kept, may be NULL) and the SHA-256 of the whole body
	 * in hex (may be NULL). A backend may keep less than that, never more.
	 */
	const kbp_verification *verification;
	const char *raw;
	size_t raw_len;
	const char *raw_sha256;
	/*
	 * Inserted as jobs_insert does at time now: a live job holding a unique
	 * key stands in.
	 */
	const kbp_job_draft *jobs;
	size_t n_jobs;
	int64_t now;
	/*
	 * Jobs that change state. One that becomes live (available) while
	 * another live job holds its unique key is KBP_ECONFLICT.
	 */
	const kbp_job_write *job_writes;
	size_t n_job_writes;
} kbp_changes;

struct kbp_storage {
	unsigned int version;
	const char *name;

	int (*vendor_put)(kbp_storage *s, const char *id, const char *name, int64_t now);
	int (*vendor_get)(kbp_storage *s, const char *id, kbp_vendor **out);
	int (*product_put)(kbp_storage *s, const kbp_product_spec *spec, int64_t now);
	int (*product_get)(kbp_storage *s, const char *id, kbp_product **out);
	int (*product_set_active)(kbp_storage *s, const char *id, int active, int64_t now);

	/*
	 * qty 0 removes the line (the cart must exist). Only customer_id's cart
	 * changes. Records.
	 */
	int (*cart_set_item)(kbp_storage *s, const char *cart_id, const char *customer_id,
	                     const char *sku, int64_t qty, int64_t now, int64_t *out_version);
	int (*cart_get)(kbp_storage *s, const char *cart_id, kbp_cart **out);

	/*
	 * Validates the cart, reserves every line and inserts the intent, or
	 * does nothing. An existing intent with the same idempotency key and
	 * parameters is returned with KBP_EEXISTS; different ones: KBP_ECONFLICT.
	 * Records (as are intent_attach, intent_get and intent_cancel).
	 */
	int (*intent_create)(kbp_storage *s, const kbp_intent_draft *draft, int64_t now,
	                     kbp_intent **out);
	/* Stores the gateway's reference and redirect of a pending intent. */
	int (*intent_attach)(kbp_storage *s, const char *intent_id, const char *gateway_ref,
	                     const char *redirect, int64_t now);
	int (*intent_get)(kbp_storage *s, const char *intent_id, kbp_intent **out);
	/* pending -> canceled, releasing the reservation. */
	int (*intent_cancel)(kbp_storage *s, const char *intent_id, const char *reason, int64_t now);

	/*
	 * Records the verification and applies it to the intent found by
	 * (gateway, gateway_ref): accept (pending -> succeeded, or the late
	 * payment rules), decline (pending -> failed, releasing stock), or
	 * reject; enqueues finalize_job on success and wakes workers. *out is
	 * the audit row (or, for a duplicate, the first accepted one) and is
	 * set whenever a row exists, also when a rejection code is returned.
	 * Records.
	 */
	int (*payment_apply)(kbp_storage *s, const kbp_payment_draft *draft, int64_t now,
	                     kbp_verification **out);
	int (*verifications_list)(kbp_storage *s, const char *intent_id,
	                          kbp_verification_list **out);

	/*
	 * Creates the order of a succeeded intent from its snapshot, commits the
	 * reservation and clears the purchased quantities from the cart. An
	 * existing order is returned with KBP_EEXISTS. Records (as is order_facts).
	 */
	int (*order_finalize)(kbp_storage *s, const char *intent_id, const char *order_id,
	                      const char *order_number, int64_t now, kbp_order **out);
	/* By order number, or by intent when order_number is NULL. */
	int (*order_get)(kbp_storage *s, const char *order_number, const char *intent_id,
	                 kbp_order **out);
	int (*order_facts)(kbp_storage *s, const char *intent_id, kbp_order_facts *out);

	/* A live job with the same unique key: KBP_EEXISTS and its id. */
	int (*job_enqueue)(kbp_storage *s, const kbp_job_draft *draft, int64_t now, char **out_id);
	/* Due available jobs -> running under worker's lease, priority then run_at order. */
	int (*jobs_acquire)(kbp_storage *s, const char *worker, int max, int64_t lease_ms,
	                    int64_t now, kbp_job_list **out);
	/*
	 * KBP_ESTATE when the job is no longer running under this worker's lease.
	 * Optional when jobs_complete is set (a batch of one stands in for it).
	 */
	int (*job_complete)(kbp_storage *s, const char *job_id, const char *worker, int64_t now);
	/* Records. retry_at < 0: the job is dead (failed). */
	int (*job_fail)(kbp_storage *s, const char *job_id, const char *worker, const char *error,
	                int64_t retry_at, int64_t now);
	int (*job_get)(kbp_storage *s, const char *job_id, kbp_job **out);
	int (*jobs_list)(kbp_storage *s, const kbp_job_filter *filter, kbp_job_list **out);
	/* Records, the three of them. */
	int (*job_retry)(kbp_storage *s, const char *job_id, int64_t now);
	int (*job_cancel)(kbp_storage *s, const char *job_id, int64_t now);
	int (*jobs_rescue)(kbp_storage *s, int64_t now, int64_t *out_count);

	/*
	 * One elected pass; out->ran is 0 when another caller holds the
	 * election. A backend with records leaves intents and leases alone:
	 * the library expires intents and rescues jobs after an elected pass.
	 */
	int (*maintenance)(kbp_storage *s, const kbp_maintenance_params *params,
	                   kbp_maintenance_result *out);
	int (*metrics)(kbp_storage *s, int64_t now, kbp_metrics *out);

	/*
	 * Blocks until the topic's sequence differs from *seen or timeout_ms
	 * passes (KBP_ETIMEOUT); stores the sequence in *seen. Returning early
	 * is allowed: callers look again. Optional, together with notify: a
	 * backend has both or neither. Without them, waiters look again every
	 * KBP_STORAGE_POLL_MS and notify does nothing.
	 */
	int (*wait)(kbp_storage *s, kbp_topic topic, uint64_t *seen, int64_t timeout_ms);
	void (*notify)(kbp_storage *s, kbp_topic topic);

	void (*free)(kbp_storage *s);

	/* Appended slots. reconcile_schedule: Records. */
	int (*reconcile_schedule)(kbp_storage *s, const kbp_reconcile_params *params,
	                          int64_t *out_count);
	/*
	 * job_complete for a batch in one step: the jobs still running under
	 * worker's lease complete; *out_done says how many that was. Optional
	 * when job_complete is set (called for each job in turn instead).
	 */
	int (*jobs_complete)(kbp_storage *s, const char *const *job_ids, size_t n,
	                     const char *worker, int64_t now, int64_t *out_done);
	/* The integrity checks of kbp_doctor_run(), with at most KBP_DOCTOR_IDS_MAX ids each. */
	int (*doctor)(kbp_storage *s, int64_t now, kbp_doctor_report **out);
	/*
	 * Renews leases: the jobs still running under worker's lease get
	 * lease_until; *out_count says how many that was (a job rescued from
	 * this worker is not taken back).
	 */
	int (*jobs_extend)(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
	                   int64_t lease_until, int64_t now, int64_t *out_count);
	/*
	 * wait() on KBP_TOPIC_ORDERS for the changes of one intent's order: a
	 * backend that knows which intent changed need not wake the waiters of
	 * the others. Returning early is allowed (the caller looks again).
	 * Optional: wait() on KBP_TOPIC_ORDERS stands in for it.
	 */
	int (*wait_order)(kbp_storage *s, const char *intent_id, uint64_t *seen, int64_t timeout_ms);

	/* Version 2. */
	/*
	 * job_enqueue for a batch in one step, waking workers once: out_ids[i]
	 * gets drafts[i]'s id or, when a live job holds its unique key (one
	 * inserted earlier in this batch included), that job's id; *out_created
	 * says how many jobs are new. On failure nothing is inserted and every
	 * out_ids[i] is NULL. Optional: version-1 backends, and version-2 ones
	 * that leave it NULL, get job_enqueue for each job in turn, which is
	 * not atomic (a storage failure part way leaves the jobs before it).
	 */
	int (*jobs_insert)(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
	                   char **out_ids, size_t *out_created);

	/*
	 * Version 3: records. A backend that has these five slots only stores:
	 * the pipeline's rules run in the library, which reads the facts of a
	 * step, decides, and hands the backend the changes to write, all in one
	 * transaction. With them, the slots marked "Records" below may be NULL
	 * (the library's own implementation stands in); a backend has all five
	 * or none.
	 *
	 * txn_begin starts a transaction that sees and locks everything it reads
	 * until txn_commit or txn_rollback ends it (one mutex, BEGIN IMMEDIATE,
	 * or SELECT … FOR UPDATE). Products may instead be left unlocked by the
	 * read if changes_apply then moves stock only where the units still are
	 * (on_hand + delta stays >= reserved + delta) and answers KBP_ECONFLICT
	 * where they are not. KBP_TXN_READ says nothing will be written.
	 * txn_commit makes the changes durable and then sends their
	 * notifications; when it fails, the transaction is rolled back and
	 * ended. A backend may defer work (a read may be sent with the BEGIN,
	 * the changes with the COMMIT) as long as the results are the same.
	 */
	int (*txn_begin)(kbp_storage *s, unsigned int flags, kbp_txn **out);
	int (*txn_commit)(kbp_storage *s, kbp_txn *t);
	void (*txn_rollback)(kbp_storage *s, kbp_txn *t);
	/* Fills *out (zeroed by the caller) with what the query asks for; what does not exist stays NULL. */
	int (*facts_read)(kbp_storage *s, kbp_txn *t, const kbp_facts_query *q, kbp_facts *out);
	/*
	 * Writes the changes; on commit, the waiters of every intent written
	 * and of the order's intent wake (KBP_TOPIC_ORDERS), and workers wake
	 * when jobs were inserted. A unique record that already exists (idempotency
	 * key, gateway reference, order number, an intent's order, an accepted
	 * gateway transaction) is KBP_ECONFLICT, and the caller rolls back;
	 * so is a transaction the store gave up on for another's sake (a
	 * serialization failure, a deadlock), from any of the five slots: the
	 * library then runs the step again from the start.
	 */
	int (*changes_apply)(kbp_storage *s, kbp_txn *t, const kbp_changes *c);
};

/*
 * The slots by kind, for code that walks the interface (the library's
 * checks, a backend that wraps another). Required: every backend has them.
 * Records: the five of version 3. Standing in: required of a backend without
 * records, supplied by the library to one with them.
 */
#define KBP_STORAGE_REQUIRED_SLOTS(X)                                                         \
	X(vendor_put) X(vendor_get) X(product_put) X(product_get) X(product_set_active)       \
	X(cart_get) X(verifications_list) X(order_get) X(job_enqueue) X(jobs_acquire)         \
	X(job_get) X(jobs_list) X(maintenance) X(metrics) X(free) X(doctor) X(jobs_extend)
#define KBP_STORAGE_RECORDS_SLOTS(X)                                                          \
	X(txn_begin) X(txn_commit) X(txn_rollback) X(facts_read) X(changes_apply)
#define KBP_STORAGE_STANDING_IN_SLOTS(X)                                                      \
	X(cart_set_item) X(intent_create) X(intent_attach) X(intent_get) X(intent_cancel)     \
	X(payment_apply) X(order_finalize) X(order_facts) X(reconcile_schedule) X(job_fail)    \
	X(job_retry) X(job_cancel) X(jobs_rescue)
/* Optional: NULL means the library's fallback (see each slot). */
#define KBP_STORAGE_OPTIONAL_SLOTS(X)                                                         \
	X(job_complete) X(jobs_complete) X(wait) X(notify) X(wait_order) X(jobs_insert)

/*
 * What the pipeline's options say about its storage besides the URI. The
 * library fills it; fields are only ever appended, and a backend reads one
 * only when `version` says it is there.
 */
typedef struct kbp_storage_open_options {
	unsigned int version;       /* KBP_STORAGE_OPEN_OPTIONS_VERSION */
	const char *schema;         /* kbp_options.storage_schema; NULL: the backend's default */
	int pool_size;              /* kbp_options.storage_pool_size; 0: the backend's default */
} kbp_storage_open_options;

#define KBP_STORAGE_OPEN_OPTIONS_VERSION 1
#define KBP_STORAGE_OPEN_OPTIONS_INIT { KBP_STORAGE_OPEN_OPTIONS_VERSION, NULL, 0 }

/*
 * Opens a new storage for a URI of the scheme it was registered for (the
 * whole URI, scheme included). On failure *out stays NULL.
 */
typedef int (*kbp_storage_open_fn)(kbp_storage **out, const char *uri,
                                   const kbp_storage_open_options *opts);

/*
 * Makes kbp_pipeline_open() open URIs "scheme:…" with open_fn. scheme is a
 * lower-case letter followed by up to 31 lower-case letters, digits, '+',
 * '-' or '.', without the colon. A scheme is registered once: registering
 * it again with the same function does nothing, with another is refused
 * (KBP_EEXISTS), so memory, postgresql and postgres keep their backends.
 */
KBP_EXTERN int kbp_storage_register(const char *scheme, kbp_storage_open_fn open_fn);

/*
 * Zeroed arrays and string copies from the allocator that the kbp_…_free()
 * functions release with, for the objects a backend returns. NULL when
 * memory runs out or n * size overflows (with KBP_ENOMEM set);
 * kbp_storage_strdup(NULL) is NULL.
 */
KBP_EXTERN void *kbp_storage_calloc(size_t n, size_t size);
KBP_EXTERN char *kbp_storage_strdup(const char *s);

KBP_EXTERN int kbp_storage_memory_open(kbp_storage **out, const char *uri);
/*
 * The PostgreSQL backend: conninfo is a libpq URI or key=value string,
 * schema NULL means "kbp", pool_size 0 means 8. The schema must have been
 * migrated to this library's version (kbp_migrate()).
 */
KBP_EXTERN int kbp_storage_postgres_open(kbp_storage **out, const char *conninfo,
                                         const char *schema, int pool_size);
KBP_EXTERN int kbp_storage_postgres_migrate(int *out_version, const char *conninfo,
                                            const char *schema);

#ifdef __cplusplus
}
#endif
#endif

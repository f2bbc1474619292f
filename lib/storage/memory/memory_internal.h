/* SPDX-License-Identifier: MIT */
#ifndef KBP_STORAGE_MEMORY_INTERNAL_H
#define KBP_STORAGE_MEMORY_INTERNAL_H

/*
 * The memory backend keeps every record in hash maps behind one mutex: each
 * vtable operation takes the lock once, so each is atomic, and the lock is
 * held only for map work (hashing, signatures and JSON happen in the core,
 * outside it). Records are the public structs, copied out on every read.
 */

#include <pthread.h>
#include <stdint.h>

#include "kbpipeline/sys/storage.h"
#include "util/hmap.h"
#include "util/topics.h"

#define MEM_RING 1024
/* Rejected audit rows without an intent kept between maintenance passes (payments.c). */
#define MEM_ORPHAN_ROWS_MAX 10000

typedef struct mem_cart {
	kbp_cart pub;
	size_t cap;
} mem_cart;

typedef struct mem_job {
	kbp_job pub;
	uint32_t gen;               /* bumped whenever the job re-enters the queue */
	uint64_t seq;               /* enqueue order, the last tie-breaker */
	size_t errors_cap;
	int pruned;
} mem_job;

typedef struct mem_intent {
	kbp_intent_record rec;
	char *ref_key;              /* "gateway\nref", the key of intents_by_ref */
	kbp_order *order;
} mem_intent;

typedef struct mem_qentry {
	int priority;
	int64_t run_at;
	uint64_t seq;
	uint32_t gen;
	mem_job *job;
} mem_qentry;

typedef struct mem_heap {
	mem_qentry *v;
	size_t n, cap;
	int by_time;                /* 1: run_at order (scheduled); 0: priority order (ready) */
} mem_heap;

typedef struct mem_ring {
	int64_t v[MEM_RING];
	size_t n, pos;
} mem_ring;

typedef struct mem_store {
	kbp_storage base;
	pthread_mutex_t lock;
	pthread_mutex_t maintenance_lock;
	kbp_topics topics;

	kbp_hmap vendors;           /* id -> kbp_vendor */
	kbp_hmap products;          /* id -> kbp_product */
	kbp_hmap carts;             /* id -> mem_cart */
	kbp_hmap intents;           /* id -> mem_intent */
	kbp_hmap intents_by_key;    /* idempotency key -> mem_intent */
	kbp_hmap intents_by_ref;    /* "gateway\nref" -> mem_intent */
	kbp_hmap orders;            /* order number -> kbp_order (owned by its intent) */
	kbp_hmap jobs;              /* id -> mem_job */
	kbp_hmap live_unique;       /* unique key -> live mem_job */
	kbp_hmap accepted;          /* "gateway\ntxn" -> kbp_verification (in rows) */

	kbp_verification **rows;    /* the audit, oldest first */
	size_t n_rows, cap_rows;
	int64_t rejected_rows;
	int64_t orphan_rows;        /* rejected rows that no intent owns */

	mem_heap ready;
	mem_heap scheduled;
	uint64_t job_seq;

	mem_ring finalize_latency;
	mem_ring rescues;
} mem_store;

static inline mem_store *mem_of(kbp_storage *s)
{
	return (mem_store *)s;
}

/*
 * Bumps the topic (also with the store's lock held): a job wakes one worker,
 * an order change wakes every waiter.
 */
static inline void mem_bump(mem_store *m, kbp_topic topic)
{
	if (topic == KBP_TOPIC_JOBS)
		kbp_topics_bump_one(&m->topics, (int)topic);
	else
		kbp_topics_bump(&m->topics, (int)topic);
}
/* A change of one intent's order: its waiters look, the others sleep on. */
static inline void mem_bump_order(mem_store *m, const char *intent_id)
{
	kbp_topics_bump_key(&m->topics, KBP_TOPIC_ORDERS, intent_id);
}
void mem_ring_push(mem_ring *r, int64_t v);

/* "a\nb" in a fresh allocation, for two-part map keys. */
char *mem_pair_key(const char *a, const char *b);

int mem_vendor_put(kbp_storage *s, const char *id, const char *name, int64_t now);
int mem_vendor_get(kbp_storage *s, const char *id, kbp_vendor **out);
int mem_product_put(kbp_storage *s, const kbp_product_spec *spec, int64_t now);
int mem_product_get(kbp_storage *s, const char *id, kbp_product **out);
int mem_product_set_active(kbp_storage *s, const char *id, int active, int64_t now);
int mem_cart_get(kbp_storage *s, const char *cart_id, kbp_cart **out);
void mem_cart_free(mem_cart *c);

/* Records (records.c, changes.c). */
int mem_txn_begin(kbp_storage *s, unsigned int flags, kbp_txn **out);
int mem_txn_commit(kbp_storage *s, kbp_txn *t);
void mem_txn_rollback(kbp_storage *s, kbp_txn *t);
int mem_facts_read(kbp_storage *s, kbp_txn *t, const kbp_facts_query *q, kbp_facts *out);
int mem_changes_apply(kbp_storage *s, kbp_txn *t, const kbp_changes *c);

void mem_intent_free(mem_intent *in);

/* With the lock held: appends a copy of the row to the audit. */
int mem_verification_append(mem_store *m, const kbp_verification *row);
int mem_verifications_list(kbp_storage *s, const char *intent_id, kbp_verification_list **out);
/* With the lock held: drops rejected rows no intent owns, written before `before`. */
int64_t mem_verifications_prune(mem_store *m, int64_t before);

int mem_order_get(kbp_storage *s, const char *order_number, const char *intent_id,
                  kbp_order **out);

int mem_job_enqueue(kbp_storage *s, const kbp_job_draft *d, int64_t now, char **out_id);
int mem_jobs_insert(kbp_storage *s, const kbp_job_draft *drafts, size_t n, int64_t now,
                    char **out_ids, size_t *out_created);
/* With the lock held: inserts a new job; *out_job borrows it. */
int mem_job_insert(mem_store *m, const kbp_job_draft *d, int64_t now, mem_job **out_job);
int mem_jobs_acquire(kbp_storage *s, const char *worker, int max, int64_t lease_ms, int64_t now,
                     kbp_job_list **out);
int mem_job_complete(kbp_storage *s, const char *job_id, const char *worker, int64_t now);
int mem_jobs_complete(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                      int64_t now, int64_t *out_done);
int mem_jobs_extend(kbp_storage *s, const char *const *job_ids, size_t n, const char *worker,
                    int64_t lease_until, int64_t now, int64_t *out_count);
int mem_job_get(kbp_storage *s, const char *job_id, kbp_job **out);
int mem_jobs_list(kbp_storage *s, const kbp_job_filter *f, kbp_job_list **out);
/* With the lock held. A job write (sys/storage.h), checked first, then written. */
int mem_job_write_check(mem_store *m, const kbp_job_write *w);
int mem_job_write(mem_store *m, const kbp_job_write *w, int64_t now);
int64_t mem_jobs_prune(mem_store *m, int64_t before);
void mem_job_free(mem_job *j);

int mem_metrics(kbp_storage *s, int64_t now, kbp_metrics *out);
int mem_doctor(kbp_storage *s, int64_t now, kbp_doctor_report **out);

/* The job queue's heaps. */
int mem_heap_push(mem_heap *h, mem_qentry e);
int mem_heap_pop(mem_heap *h, mem_qentry *out);
const mem_qentry *mem_heap_peek(const mem_heap *h);
/* Drops the entries of pruned jobs. */
void mem_heap_drop_pruned(mem_heap *h);

#endif

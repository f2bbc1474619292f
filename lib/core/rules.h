/* SPDX-License-Identifier: MIT */
#ifndef KBP_CORE_RULES_H
#define KBP_CORE_RULES_H

/*
 * The pipeline's rules (DESIGN §0, §3, §4), written once: pure functions
 * from what a step read to what it writes. They read no clock, take no lock
 * and touch no storage; every backend with records runs them, and each
 * message of the pipeline is written here and nowhere else.
 */

#include "kbpipeline/sys/storage.h"

/* The product among the facts, or NULL. */
const kbp_product *kbp__facts_product(const kbp_facts *f, const char *sku);

/*
 * The cart after setting sku's quantity (0 removes the line), its version
 * moved on: *out is a new cart owned by the caller. cart is NULL when none
 * exists; product is sku's, or NULL when it does not exist.
 */
int kbp__rule_cart_change(kbp_cart **out, const kbp_cart *cart, const kbp_product *product,
                          const char *cart_id, const char *customer_id, const char *sku,
                          int64_t qty);

/* A retry with the same idempotency key: KBP_EEXISTS for the same request, else KBP_ECONFLICT. */
int kbp__rule_same_request(const kbp_intent_record *in, const kbp_intent_draft *d);

/*
 * Prices a cart against its products and checks that every line can be
 * reserved (DESIGN §4.1b), then builds the pending intent with its snapshot
 * (*out, owned by the caller).
 */
int kbp__rule_intent_new(kbp_intent_record **out, const kbp_intent_draft *d, const kbp_cart *cart,
                         const kbp_facts *f, int64_t now);

/* A reservation taken (sign 1), released (-1) or sold (0: on_hand and reserved go down). */
typedef enum kbp_stock_move {
	KBP_STOCK_SELL = 0,
	KBP_STOCK_RESERVE = 1,
	KBP_STOCK_RELEASE = -1
} kbp_stock_move;

/* deltas[i] for each of the intent's lines; deltas has in->n_items entries. */
void kbp__rule_stock(kbp_stock_delta *deltas, const kbp_intent *in, kbp_stock_move move);

/* Whether the intent's lines can be reserved again (a late payment after expiry). */
int kbp__rule_can_reserve(const kbp_intent *in, const kbp_facts *f);

/* The intent leaves its state: status, reason, updated_at. */
int kbp__rule_intent_move(kbp_intent_record *in, kbp_intent_status status, const char *reason,
                          int64_t now);

/* attach: only a pending intent not yet prepared takes a gateway reference. */
int kbp__rule_attach(const kbp_intent_record *in, const char *intent_id);
/* cancel: only a pending intent. */
int kbp__rule_cancel(const kbp_intent_record *in, const char *intent_id);

/* What a payment does to an intent and what the audit says of it. */
typedef struct kbp_verdict {
	int code;                           /* what payment_apply returns */
	kbp_verification_outcome outcome;
	char reason[256];
	int moves;                          /* 1: the intent changes (see below) */
	kbp_intent_status status;           /* its new status */
	const char *status_reason;          /* its new reason, NULL for none */
	int keep_reason;                    /* 1: the reason stays as it is */
	int needs_refund;                   /* 1: money came that no order will use */
	int stock;                          /* KBP_STOCK_RESERVE, _RELEASE, or 0 for none */
	int finalize;                       /* 1: enqueue finalize_order */
	int touched;                        /* 1: updated_at moves and waiters wake */
} kbp_verdict;

/*
 * Judges a payment (DESIGN §3): in is the intent found by the reference
 * (NULL: none), first the accepted verification of the same gateway
 * transaction (NULL: none). Returns 1 when the payment is a duplicate of
 * first for the same intent (nothing is written), 0 otherwise.
 */
int kbp__rule_judge(kbp_verdict *v, const kbp_payment_draft *d, const kbp_intent_record *in,
                    const kbp_verification *first, const kbp_facts *f);

/* finalize: may this intent get its order? KBP_EEXISTS when it has one already. */
int kbp__rule_finalize(const kbp_intent_record *in, const kbp_order *existing,
                       const char *intent_id);
/* The order of a succeeded intent, from its snapshot (*out owned by the caller). */
int kbp__rule_order_new(kbp_order **out, const kbp_intent *in, const char *order_id,
                        const char *order_number, int64_t now);
/*
 * The cart after the purchase (*out owned by the caller): emptied when it is
 * still the version the snapshot came from, else the purchased quantities
 * leave it and what the shopper added since stays.
 */
int kbp__rule_cart_after_purchase(kbp_cart **out, const kbp_cart *cart, const kbp_intent *in);

/*
 * The text of a job the library enqueues about one intent: its payload, and
 * a unique key under KBP_JOB_KEY_PREFIX, which no caller's job may hold.
 */
typedef struct kbp_intent_job_text {
	char payload[KBP_ID_MAX + 32];
	char unique_key[KBP_ID_MAX + KBP_JOB_KIND_MAX + 8];
} kbp_intent_job_text;
void kbp__rule_intent_job(kbp_intent_job_text *t, const char *kind, const char *intent_id);

/* Whether maintenance asks the gateway about this intent (DESIGN §4.4). */
int kbp__rule_needs_reconcile(const kbp_intent_record *in, int64_t created_before);

/*
 * The job queue's rules (rules_jobs.c). Each fills *w with what the job
 * becomes, or refuses with the error the operator or worker sees. job is
 * the job read (NULL: it does not exist), holder the live job holding its
 * unique key (NULL: none).
 */
int kbp__rule_job_retry(kbp_job_write *w, const kbp_job *job, const kbp_job *holder,
                        const char *job_id, int64_t now);
int kbp__rule_job_cancel(kbp_job_write *w, const kbp_job *job, const char *job_id);
/* A worker's failed attempt: retry_at < 0 ends the job for good, as does its last attempt. */
int kbp__rule_job_fail(kbp_job_write *w, const kbp_job *job, const char *job_id,
                       const char *worker, const char *error, int64_t retry_at);
/*
 * A running job whose lease passed before now: 1 and *w, with the reason in
 * message (size bytes, which *w points to); 0 when the job is not lapsed.
 */
int kbp__rule_job_rescue(kbp_job_write *w, const kbp_job *job, int64_t now, char *message,
                         size_t size);

#endif

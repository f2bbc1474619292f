/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_VERIFY_H
#define KBPIPELINE_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include "pipeline.h"
#include "intent.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KBP_CALLBACK_MAX 65536  /* bytes; larger callbacks are refused unparsed */

typedef enum kbp_verification_outcome {
	KBP_VERIFICATION_ACCEPTED = 0,  /* genuine and paid: the intent succeeded (or needs a refund) */
	KBP_VERIFICATION_REJECTED = 1,  /* not genuine, not ours, or not matching the intent */
	KBP_VERIFICATION_PENDING = 2,   /* genuine, but the gateway has not completed it */
	KBP_VERIFICATION_DECLINED = 3   /* genuine, and the gateway says it failed */
} kbp_verification_outcome;

/* One row of the append-only verification audit. */
typedef struct kbp_verification {
	char *id;
	char *gateway;
	char *gateway_ref;
	char *external_txn_id;
	char *intent_id;            /* NULL when no intent matched */
	int64_t amount_minor;       /* the amount the gateway reported, or -1 if unknown */
	kbp_verification_outcome outcome;
	char *reason;               /* NULL for a clean acceptance */
	int duplicate;              /* this callback was already accepted: nothing new was written */
	kbp_intent_status intent_status; /* the intent's status after this verification */
	int needs_refund;
	int64_t at;
} kbp_verification;

typedef struct kbp_verification_list {
	size_t n;
	kbp_verification *items;
} kbp_verification_list;

/*
 * Verifies a gateway callback: authenticates it, asks the gateway for the
 * truth, and on success moves the intent to succeeded and enqueues its
 * finalize_order job, all in one storage transaction.
 */
KBP_EXTERN int kbp_payment_verify(kbp_verification **out, kbp_pipeline *p, const char *gateway,
                                  const char *callback, size_t len);
/* The audit rows of one intent, oldest first; intent_id NULL lists rows that matched no intent. */
KBP_EXTERN int kbp_verification_list_get(kbp_verification_list **out, kbp_pipeline *p,
                                         const char *intent_id);
KBP_EXTERN void kbp_verification_free(kbp_verification *v);
KBP_EXTERN void kbp_verification_list_free(kbp_verification_list *list);
KBP_EXTERN const char *kbp_verification_outcome_name(kbp_verification_outcome outcome);

#ifdef __cplusplus
}
#endif
#endif

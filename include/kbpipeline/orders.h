/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_ORDERS_H
#define KBPIPELINE_ORDERS_H

#include <stddef.h>
#include <stdint.h>
#include "pipeline.h"
#include "intent.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kbp_order_stage {
	KBP_STAGE_VERIFYING = 0,    /* the intent is still pending */
	KBP_STAGE_PROCESSING = 1,   /* paid; the order is being created */
	KBP_STAGE_CONFIRMED = 2,    /* the order exists */
	KBP_STAGE_FAILED = 3        /* no order will be created; reason says why */
} kbp_order_stage;

typedef struct kbp_order_status {
	kbp_order_stage stage;
	char *intent_id;
	kbp_intent_status intent_status;
	char *order_id;             /* set once confirmed */
	char *order_number;         /* "ORD-…", set once confirmed */
	char *reason;               /* set when failed */
	int needs_refund;
} kbp_order_status;

/*
 * An order's lines are its intent's snapshot, copied when the order is
 * created: the same fields with the same meaning, so the same struct.
 */
typedef kbp_intent_item kbp_order_item;

typedef struct kbp_order {
	char *id;                   /* "ord_…" */
	char *order_number;
	char *intent_id;
	char *customer_id;
	int64_t total_minor;
	char currency[4];
	char *status;               /* "confirmed" */
	char *fulfillment_status;   /* "pending" */
	int64_t created_at;
	size_t n_items;
	kbp_order_item *items;
} kbp_order;

KBP_EXTERN int kbp_order_status_get(kbp_order_status **out, kbp_pipeline *p, const char *intent_id);
/*
 * Waits until the stage is confirmed or failed, or timeout_ms passes. On
 * KBP_ETIMEOUT *out still receives the latest status.
 */
KBP_EXTERN int kbp_order_wait(kbp_order_status **out, kbp_pipeline *p, const char *intent_id,
                              int64_t timeout_ms);
KBP_EXTERN int kbp_order_get(kbp_order **out, kbp_pipeline *p, const char *order_number);
KBP_EXTERN int kbp_order_get_by_intent(kbp_order **out, kbp_pipeline *p, const char *intent_id);
KBP_EXTERN void kbp_order_free(kbp_order *order);
KBP_EXTERN void kbp_order_status_free(kbp_order_status *status);
KBP_EXTERN const char *kbp_order_stage_name(kbp_order_stage stage);

/*
 * Order watches, for hosts with an event loop: one library thread per watch
 * calls fn(ctx, intent_id) when the order of a watched intent may have
 * changed (the host then reads its status with kbp_order_status_get). fn
 * runs on the watch's thread with the watch's lock held: it must return
 * quickly and must not call the watch's functions.
 */
typedef struct kbp_order_watch kbp_order_watch;
typedef void (*kbp_order_watch_fn)(void *ctx, const char *intent_id);

KBP_EXTERN int kbp_order_watch_open(kbp_order_watch **out, kbp_pipeline *p, kbp_order_watch_fn fn,
                                    void *ctx);
/* Reports the changes after this call; watching an intent twice changes nothing. */
KBP_EXTERN int kbp_order_watch_add(kbp_order_watch *w, const char *intent_id);
KBP_EXTERN int kbp_order_watch_remove(kbp_order_watch *w, const char *intent_id);
/* Stops and joins the thread; call it before closing the watch's pipeline. */
KBP_EXTERN void kbp_order_watch_close(kbp_order_watch *w);

#ifdef __cplusplus
}
#endif
#endif

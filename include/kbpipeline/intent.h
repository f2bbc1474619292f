/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_INTENT_H
#define KBPIPELINE_INTENT_H

#include <stddef.h>
#include <stdint.h>
#include "pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KBP_URL_MAX 2048
/* The largest intent total in minor units: 2^53 - 1, exact in every JSON number. */
#define KBP_AMOUNT_MAX INT64_C(9007199254740991)

typedef enum kbp_intent_status {
	KBP_INTENT_PENDING = 0,
	KBP_INTENT_SUCCEEDED = 1,
	KBP_INTENT_FAILED = 2,
	KBP_INTENT_EXPIRED = 3,
	KBP_INTENT_CANCELED = 4
} kbp_intent_status;

#define KBP_INTENT_STATUS_COUNT 5

typedef struct kbp_intent_item {
	char *sku;
	char *vendor_id;
	int64_t qty;
	int64_t unit_price_minor;
} kbp_intent_item;

typedef struct kbp_intent {
	char *id;                   /* "pi_…" */
	char *cart_id;
	char *customer_id;
	int64_t cart_version;       /* the cart version the snapshot was taken from */
	size_t n_items;
	kbp_intent_item *items;     /* snapshot: what the shopper pays for */
	int64_t amount_minor;       /* sum of qty * unit_price_minor */
	char currency[4];
	char *gateway;
	char *gateway_ref;          /* the gateway's reference; NULL until prepared */
	char *redirect;             /* JSON: {"method":…,"url":…[,"fields":{…}]}; NULL until prepared */
	char *idempotency_key;
	kbp_intent_status status;
	char *status_reason;        /* why it left pending, or NULL */
	int needs_refund;           /* money was taken that no order will use */
	int64_t created_at;
	int64_t expires_at;
	int64_t updated_at;
} kbp_intent;

#define KBP_INTENT_REQUEST_VERSION 1

typedef struct kbp_intent_request {
	unsigned int version;
	const char *cart_id;
	const char *gateway;        /* a registered gateway, e.g. "sandbox" */
	const char *idempotency_key;/* NULL: a fresh key; the same key returns the same intent */
	const char *success_url;    /* NULL: the gateway's default */
	const char *failure_url;
} kbp_intent_request;

#define KBP_INTENT_REQUEST_INIT { KBP_INTENT_REQUEST_VERSION, NULL, NULL, NULL, NULL, NULL }

KBP_EXTERN int kbp_intent_create(kbp_intent **out, kbp_pipeline *p, const kbp_intent_request *req);
KBP_EXTERN int kbp_intent_get(kbp_intent **out, kbp_pipeline *p, const char *intent_id);
/* pending -> canceled, releasing the reservation. */
KBP_EXTERN int kbp_intent_cancel(kbp_pipeline *p, const char *intent_id);
KBP_EXTERN void kbp_intent_free(kbp_intent *intent);
KBP_EXTERN const char *kbp_intent_status_name(kbp_intent_status status);

#ifdef __cplusplus
}
#endif
#endif

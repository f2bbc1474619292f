/* SPDX-License-Identifier: MIT */
#ifndef KBPIPELINE_SYS_GATEWAY_H
#define KBPIPELINE_SYS_GATEWAY_H

/*
 * The payment gateway interface. A callback is only a hint: parse_callback
 * authenticates what it can and says which payment it is about; lookup asks
 * the gateway for the truth. Strings returned in the out structs are
 * allocated with malloc() and released by the core.
 */

#include <stddef.h>
#include <stdint.h>
#include "storage.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KBP_GATEWAY_VERSION 2

/*
 * flags (version 2). KBP_GATEWAY_PREPARE_LOCAL: prepare does no I/O and
 * returns at once (it signs or computes, it does not call the gateway), so
 * the library may call it inside the storage step that creates the intent:
 * the intent is written payable in one transaction, and a prepare that fails
 * leaves nothing written. A step that runs again calls it again, so a
 * payment it prepared may never be used. Without the flag, prepare runs
 * after the intent is created, outside any transaction.
 */
#define KBP_GATEWAY_PREPARE_LOCAL 1u

typedef struct kbp_gateway kbp_gateway;

typedef struct kbp_payment_request {
	const char *intent_id;
	int64_t amount_minor;
	const char *currency;
	const char *success_url;    /* may be NULL */
	const char *failure_url;    /* may be NULL */
	int64_t expires_at;
} kbp_payment_request;

typedef struct kbp_prepared {
	char *gateway_ref;
	char *redirect;             /* JSON: {"method":"GET"|"POST","url":…[,"fields":{…}]} */
} kbp_prepared;

typedef struct kbp_callback_claim {
	char *gateway_ref;
	char *external_txn_id;      /* may be NULL when the callback carries none */
	int64_t amount_minor;       /* -1 if the callback carries none */
	kbp_gateway_status status;  /* what the callback claims */
} kbp_callback_claim;

typedef struct kbp_lookup_result {
	kbp_gateway_status status;
	int64_t amount_minor;
	char currency[4];           /* ISO 4217 of amount_minor */
	char *external_txn_id;      /* may be NULL */
} kbp_lookup_result;

struct kbp_gateway {
	unsigned int version;
	const char *name;
	int (*prepare)(kbp_gateway *g, const kbp_payment_request *req, kbp_prepared *out);
	/* KBP_EPARSE, KBP_ETOOBIG or KBP_ESIGNATURE for a callback that is not genuine. */
	int (*parse_callback)(kbp_gateway *g, const char *raw, size_t len, kbp_callback_claim *out);
	int (*lookup)(kbp_gateway *g, const kbp_callback_claim *claim, kbp_lookup_result *out);
	void (*free)(kbp_gateway *g);

	/* Version 2. */
	unsigned int flags;         /* KBP_GATEWAY_… */
};

/* Registers a gateway under its name; the pipeline owns it from then on, also on failure. */
KBP_EXTERN int kbp_pipeline_add_gateway(kbp_pipeline *p, kbp_gateway *gateway);

#ifdef __cplusplus
}
#endif
#endif

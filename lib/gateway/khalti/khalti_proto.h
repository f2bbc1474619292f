/* SPDX-License-Identifier: MIT */
#ifndef KBP_GATEWAY_KHALTI_PROTO_H
#define KBP_GATEWAY_KHALTI_PROTO_H

/* Khalti KPG-2, the parts that need no network: reading its answers. Pure functions, fuzzed. */

#include <stddef.h>
#include <stdint.h>

#include "kbpipeline/sys/gateway.h"

#define KBP_KHALTI_MIN_AMOUNT 1000  /* paisa: Khalti refuses less than Rs 10 */
#define KBP_KHALTI_PIDX_MAX 64

typedef struct kbp__khalti_initiated {
	char *pidx;
	char *payment_url;
	char *expires_at;           /* may be NULL */
} kbp__khalti_initiated;

void kbp__khalti_initiated_clear(kbp__khalti_initiated *i);

/* 1 when s looks like a pidx: 1 to 64 letters and digits. */
int kbp__khalti_pidx_valid(const char *s);

/*
 * Reads initiate's answer. KBP_EINVAL when Khalti refuses the request
 * (HTTP 400 validation error, or 401/403: the key), KBP_EGATEWAY for other
 * HTTP errors, KBP_EPARSE for a body that is not the documented JSON.
 */
int kbp__khalti_initiate_parse(int http_status, const char *body, size_t len,
                               kbp__khalti_initiated *out);

/*
 * The return redirect's query string (pidx, status, transaction_id, …). It
 * is unsigned: the claim only names the payment to look up. KBP_ETOOBIG or
 * KBP_EPARSE when it is malformed or names no pidx.
 */
int kbp__khalti_return_parse(const char *raw, size_t len, kbp_callback_claim *out);

/*
 * Reads lookup's answer for pidx. Business answers fill out, including
 * Expired and User canceled that arrive with HTTP 400, and an unknown pidx
 * (HTTP 404) as KBP_GATEWAY_NOT_FOUND. Errors: KBP_EINVAL when Khalti
 * rejects our key (401/403), KBP_EGATEWAY for 5xx and other statuses or an
 * answer that does not name pidx, KBP_EPARSE for a malformed body.
 * out->external_txn_id is the answer's transaction_id, NULL when it has none.
 */
int kbp__khalti_lookup_parse(int http_status, const char *body, size_t len, const char *pidx,
                             kbp_lookup_result *out);

#endif

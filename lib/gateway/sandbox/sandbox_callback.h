/* SPDX-License-Identifier: MIT */
#ifndef KBP_GATEWAY_SANDBOX_CALLBACK_H
#define KBP_GATEWAY_SANDBOX_CALLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "kbpipeline/sys/gateway.h"
#include "util/crypto.h"

/* The callback's fields, as the literal strings that are signed. */
typedef struct kbp__sandbox_fields {
	char transaction_id[KBP_ID_MAX + 1];
	char status[16];
	char total_amount[24];
	char currency[4];
	char gateway_ref[KBP_ID_MAX + 1];
} kbp__sandbox_fields;

void kbp__sandbox_fields_set(kbp__sandbox_fields *f, const char *txn_id, kbp_gateway_status status,
                             int64_t amount_minor, const char *currency, const char *ref);

/* "data=" followed by the base64 of the signed JSON document. */
/* keyed: an HMAC state initialised with the gateway's secret (kbp_hmac_init), copied per use. */
int kbp__sandbox_callback_build(char **out, const kbp__sandbox_fields *f, const kbp_hmac *keyed);

/*
 * Decodes and authenticates a callback. KBP_ETOOBIG, KBP_EPARSE or
 * KBP_ESIGNATURE when it is not genuine; out->gateway_ref is filled as soon
 * as it is known so that a rejection can still be filed under its intent.
 */
int kbp__sandbox_callback_parse(const char *raw, size_t len, const kbp_hmac *keyed,
                                kbp_callback_claim *out);

#endif

/* SPDX-License-Identifier: MIT */
#ifndef KBP_GATEWAY_ESEWA_PROTO_H
#define KBP_GATEWAY_ESEWA_PROTO_H

/*
 * eSewa ePay v2, the parts that need no network: amounts, signatures, the
 * success callback and the status API's answer. Pure functions, fuzzed.
 */

#include <stddef.h>
#include <stdint.h>

#include "kbpipeline/sys/gateway.h"
#include "util/crypto.h"

/* Rupee amounts up to 15 integer digits: far above any payment, far below overflow. */
#define KBP_ESEWA_AMOUNT_TEXT_MAX 32
#define KBP_ESEWA_UUID_MAX 64
#define KBP_ESEWA_PRODUCT_CODE_MAX 64

/*
 * A rupee string as eSewa writes it ("110", "133.0", "1,000.0", "100.5")
 * to paisa, exactly. Thousands may be grouped with ",": a first group of 1
 * to 3 digits, then groups of exactly 3 ("12,345", "1,000,000.50"). -1 for
 * a sign, an exponent, spaces, a separator anywhere else ("1,5", "1,00.0",
 * "1000,0", "1,00,000"), more than two decimals or anything else.
 */
int kbp__esewa_amount_parse(const char *text, size_t len, int64_t *out_paisa);
/* Paisa to the rupee string we send: "110" for 11000, "100.50" for 10050. */
void kbp__esewa_amount_format(char out[KBP_ESEWA_AMOUNT_TEXT_MAX], int64_t paisa);

/* transaction_uuid allows letters, digits and hyphens: every other byte becomes '-'. */
int kbp__esewa_uuid_from_intent(char out[KBP_ESEWA_UUID_MAX + 1], const char *intent_id);
/* 1 when s is a non-empty string of letters, digits and hyphens of at most the maximum. */
int kbp__esewa_uuid_valid(const char *s);

/* base64(HMAC-SHA256(secret, message)); keyed is copied, not consumed. */
void kbp__esewa_sign(char out[KBP_HMAC_B64_SIZE], const kbp_hmac *keyed, const char *message,
                     size_t len);

/*
 * Decodes and authenticates a success callback ("data=<base64 JSON>", as
 * the query string or its data parameter alone). Returns KBP_ETOOBIG,
 * KBP_EPARSE or KBP_ESIGNATURE for a callback that is not genuine or not
 * ours; out->gateway_ref (the transaction_uuid) is filled as soon as it is
 * known, so that a rejection is filed under its intent.
 */
int kbp__esewa_callback_parse(const char *raw, size_t len, const kbp_hmac *keyed,
                              const char *product_code, kbp_callback_claim *out);

/*
 * Reads the status API's answer for transaction_uuid. KBP_EGATEWAY for an
 * HTTP error, an answer without a status (eSewa's outage reply) or one that
 * does not name uuid and product_code; KBP_EPARSE for a body that is not a
 * JSON object. out->external_txn_id is the answer's ref_id, NULL when it
 * has none.
 */
int kbp__esewa_status_parse(int http_status, const char *body, size_t len, const char *uuid,
                            const char *product_code, kbp_lookup_result *out);

#endif

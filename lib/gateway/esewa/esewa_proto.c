/* SPDX-License-Identifier: MIT */
#include "gateway/esewa/esewa_proto.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "http/gwutil.h"
#include "kbpipeline.h"
#include "util/strings.h"

/*
 * The fields a genuine callback must sign, whatever else it signs: the
 * payment's identity, its outcome and eSewa's transaction code, so that no
 * value the pipeline reads can be swapped under a valid signature.
 */
static const char *const required_signed[] = { "transaction_code", "status", "total_amount",
	                                       "transaction_uuid", "product_code" };

#define SIGNED_NAMES_MAX 1024
/* What a refused amount should have looked like, for the error message. */
#define AMOUNT_FORM "digits, \",\" only between groups of three, at most two decimals"
#define NUMBER_TEXT_MAX 64

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Where a "," may stand in the rupees: at every third digit from the point,
 * and either everywhere or nowhere. "1,000" and "1000" are the same amount;
 * "1,00", "1000,0" or "1,5" are not an amount at all, whatever a lenient
 * parser would make of them.
 */
static int grouping_valid(const char *t, size_t n)
{
	size_t first = 0;

	if (!memchr(t, ',', n))
		return 1;
	while (first < n && t[first] != ',')
		first++;
	if (first == 0 || first > 3)
		return 0;
	for (size_t i = first; i < n; i += 4)
		if (t[i] != ',' || n - i < 4 || memchr(t + i + 1, ',', 3))
			return 0;
	return 1;
}

int kbp__esewa_amount_parse(const char *t, size_t len, int64_t *out_paisa)
{
	const char *point;
	int64_t rupees = 0, paisa = 0;
	size_t i, n, digits = 0;

	if (!t || len == 0 || len > KBP_ESEWA_AMOUNT_TEXT_MAX)
		return -1;
	point = memchr(t, '.', len);
	n = point ? (size_t)(point - t) : len;
	if (!grouping_valid(t, n))
		return -1;
	for (i = 0; i < n; i++) {
		if (t[i] == ',')
			continue;
		if (!is_digit(t[i]) || ++digits > 15)
			return -1;
		if (digits == 2 && rupees == 0)
			return -1;   /* a leading zero: "05", "0,500" */
		rupees = rupees * 10 + (t[i] - '0');
	}
	if (digits == 0)
		return -1;
	if (point) {
		size_t decimals = len - n - 1;
		if (decimals == 0 || decimals > 2 || !is_digit(t[n + 1]) ||
		    (decimals == 2 && !is_digit(t[n + 2])))
			return -1;
		paisa = (t[n + 1] - '0') * 10 + (decimals == 2 ? t[n + 2] - '0' : 0);
	}
	*out_paisa = rupees * 100 + paisa;
	return 0;
}

void kbp__esewa_amount_format(char out[KBP_ESEWA_AMOUNT_TEXT_MAX], int64_t paisa)
{
	if (paisa % 100 == 0)
		snprintf(out, KBP_ESEWA_AMOUNT_TEXT_MAX, "%lld", (long long)(paisa / 100));
	else
		snprintf(out, KBP_ESEWA_AMOUNT_TEXT_MAX, "%lld.%02lld", (long long)(paisa / 100),
		         (long long)(paisa % 100));
}

int kbp__esewa_uuid_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= KBP_ESEWA_UUID_MAX ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-'))
			return 0;
	}
	return n > 0;
}

int kbp__esewa_uuid_from_intent(char out[KBP_ESEWA_UUID_MAX + 1], const char *intent_id)
{
	size_t n = strlen(intent_id);

	if (n == 0 || n > KBP_ESEWA_UUID_MAX)
		return kbp_error_set(KBP_EINVAL, "intent id does not fit eSewa's transaction_uuid");
	for (size_t i = 0; i < n; i++) {
		char c = intent_id[i];
		out[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) ? c : '-';
	}
	out[n] = '\0';
	return 0;
}

void kbp__esewa_sign(char out[KBP_HMAC_B64_SIZE], const kbp_hmac *keyed, const char *message,
                     size_t len)
{
	unsigned char mac[KBP_HMAC_BYTES];
	kbp_hmac h = *keyed;

	kbp_hmac_update(&h, message, len);
	kbp_hmac_final(&h, mac);
	kbp_base64_encode(out, KBP_HMAC_B64_SIZE, mac, sizeof(mac));
	sodium_memzero(mac, sizeof(mac));
}

/* ---- reading members ---- */

/*
 * The text a member's value was sent as: a string's contents, or a number's
 * literal (copied into buf). NULL when absent, null, or of another type.
 */
static const char *member_text(const kbp__json_doc *d, const char *name, char buf[NUMBER_TEXT_MAX])
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(d->root, name);
	kbp__json_raw raw;

	if (cJSON_IsString(item))
		return item->valuestring;
	if (!cJSON_IsNumber(item) || !kbp__json_raw_get(d->text, d->len, name, &raw) ||
	    raw.kind != KBP_JSON_NUMBER || raw.len >= NUMBER_TEXT_MAX)
		return NULL;
	memcpy(buf, raw.text, raw.len);
	buf[raw.len] = '\0';
	return buf;
}

static const char *member_string(const kbp__json_doc *d, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(d->root, name);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* A member's literal text, for kbp_hmac_fields. */
static const char *member_value(const void *ctx, const char *name, char *buf, size_t buf_size)
{
	return buf_size >= NUMBER_TEXT_MAX ? member_text(ctx, name, buf) : NULL;
}

/* HMAC over "name=value" for each listed name, joined by ",". */
static int sign_fields(unsigned char mac[KBP_HMAC_BYTES], const kbp__json_doc *d, const char *names,
                       const kbp_hmac *keyed)
{
	switch (kbp_hmac_fields(mac, keyed, names, member_value, d)) {
	case 0:
		return 0;
	case KBP_SIGN_BAD_NAMES:
		return kbp_error_set(KBP_EPARSE, "callback signed_field_names is malformed");
	default:
		return kbp_error_set(KBP_EPARSE, "callback lacks a field it claims to sign");
	}
}

static int authenticate(const kbp__json_doc *d, const kbp_hmac *keyed)
{
	const char *names = member_string(d, "signed_field_names");
	const char *signature = member_string(d, "signature");
	unsigned char expected[KBP_HMAC_BYTES], given[KBP_HMAC_BYTES + 3];
	long n;
	int rc;

	if (!names || !signature)
		return kbp_error_set(KBP_EPARSE, "callback lacks signed_field_names or signature");
	if (strlen(names) > SIGNED_NAMES_MAX)
		return kbp_error_set(KBP_EPARSE, "callback signed_field_names is too long");
	for (size_t i = 0; i < sizeof(required_signed) / sizeof(required_signed[0]); i++)
		if (!kbp_list_has(names, required_signed[i]))
			return kbp_error_set(KBP_ESIGNATURE, "callback does not sign %s",
			                     required_signed[i]);
	if ((rc = sign_fields(expected, d, names, keyed)) != 0)
		return rc;
	n = kbp_base64_decode(given, sizeof(given), signature, strlen(signature));
	rc = n >= 0 && kbp_ct_equal(expected, sizeof(expected), given, (size_t)n);
	sodium_memzero(expected, sizeof(expected));
	if (!rc)
		return kbp_error_set(KBP_ESIGNATURE, "callback signature does not verify");
	return 0;
}

static kbp_gateway_status status_of(const char *s, int *known)
{
	static const struct {
		const char *text;
		kbp_gateway_status status;
	} map[] = {
		{ "COMPLETE", KBP_GATEWAY_COMPLETED },   { "PENDING", KBP_GATEWAY_PENDING },
		{ "FULL_REFUND", KBP_GATEWAY_REFUNDED }, { "PARTIAL_REFUND", KBP_GATEWAY_PARTIALLY_REFUNDED },
		{ "AMBIGUOUS", KBP_GATEWAY_AMBIGUOUS },  { "NOT_FOUND", KBP_GATEWAY_NOT_FOUND },
		{ "CANCELED", KBP_GATEWAY_CANCELED },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(s, map[i].text) == 0) {
			*known = 1;
			return map[i].status;
		}
	*known = 0;
	return KBP_GATEWAY_PENDING;
}

static int claim_fill(const kbp__json_doc *d, const char *product_code, kbp_callback_claim *out)
{
	char number[NUMBER_TEXT_MAX];
	const char *amount = member_text(d, "total_amount", number);
	const char *status = member_string(d, "status");
	const char *product = member_string(d, "product_code");
	const char *txn = member_string(d, "transaction_code");
	int known;

	if (!product || strcmp(product, product_code) != 0)
		return kbp_error_set(KBP_ESIGNATURE,
		                     "callback product_code is not this merchant's");
	if (!status)
		return kbp_error_set(KBP_EPARSE, "callback status is not a string");
	if (!amount || kbp__esewa_amount_parse(amount, strlen(amount), &out->amount_minor) != 0)
		return kbp_error_set(KBP_EPARSE, "callback total_amount is not a rupee amount "
		                                 "(%s)", AMOUNT_FORM);
	out->status = status_of(status, &known);
	if (!txn || kbp__check_id(txn, "transaction_code"))
		return kbp_error_set(KBP_EPARSE, "callback transaction_code is malformed");
	if (!(out->external_txn_id = strdup(txn)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	return 0;
}

/* The JSON text inside the callback's data parameter; *n its length. */
static int decode_data(const char *raw, size_t len, unsigned char **json, size_t *n)
{
	kbp__query q;
	const char *data;
	size_t b64_len;
	long got;
	int rc = kbp__query_parse(&q, raw, len, 0, 16);

	*json = NULL;
	if (rc != 0)
		return kbp_error_set(KBP_EPARSE, "callback query string is malformed");
	if (!(data = kbp__query_get(&q, "data")) || !*data) {
		kbp__query_clear(&q);
		return kbp_error_set(KBP_EPARSE, "callback has no data parameter");
	}
	b64_len = strlen(data);
	if (!(*json = malloc(b64_len + 1))) {
		kbp__query_clear(&q);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	got = kbp_base64_decode(*json, b64_len, data, b64_len);
	kbp__query_clear(&q);
	if (got <= 0) {
		free(*json);
		*json = NULL;
		return kbp_error_set(KBP_EPARSE, "callback data is not base64");
	}
	*n = (size_t)got;
	return 0;
}

int kbp__esewa_callback_parse(const char *raw, size_t len, const kbp_hmac *keyed,
                              const char *product_code, kbp_callback_claim *out)
{
	unsigned char *json;
	const char *uuid;
	size_t n = 0;
	kbp__json_doc d = { NULL, 0, NULL };
	int rc;

	if (len > KBP_CALLBACK_MAX)
		return kbp_error_set(KBP_ETOOBIG, "callback exceeds %d bytes", KBP_CALLBACK_MAX);
	if ((rc = decode_data(raw, len, &json, &n)) != 0)
		return rc;
	rc = kbp__json_doc_parse(&d, (const char *)json, n);
	free(json);
	if (rc != 0) {
		kbp__json_doc_clear(&d);
		return rc == -2 ? kbp_error_set(KBP_ENOMEM, "out of memory")
		                : kbp_error_set(KBP_EPARSE, "callback data is not a UTF-8 JSON object "
		                                            "with unique member names");
	}
	uuid = member_string(&d, "transaction_uuid");
	if (!kbp__esewa_uuid_valid(uuid))
		rc = kbp_error_set(KBP_EPARSE, "callback transaction_uuid is missing or malformed");
	else if (!(out->gateway_ref = strdup(uuid)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	else if ((rc = authenticate(&d, keyed)) == 0)
		rc = claim_fill(&d, product_code, out);
	kbp__json_doc_clear(&d);
	return rc;
}

/* ---- the status API ---- */

static const char *either_string(const kbp__json_doc *d, const char *a, const char *b)
{
	const char *s = member_string(d, a);

	return s ? s : member_string(d, b);
}

/* An answer that does not name our transaction and product is no answer about ours. */
static int names_ours(const kbp__json_doc *d, const char *uuid, const char *product_code)
{
	const char *their_uuid = either_string(d, "transaction_uuid", "transactionUuid");
	const char *product = either_string(d, "product_code", "productCode");

	if (!their_uuid)
		return kbp_error_set(KBP_EGATEWAY, "eSewa status API answered without a "
		                                   "transaction_uuid");
	if (strcmp(their_uuid, uuid) != 0)
		return kbp_error_set(KBP_EGATEWAY, "eSewa status API answered about another transaction");
	if (!product)
		return kbp_error_set(KBP_EGATEWAY, "eSewa status API answered without a product_code");
	if (strcmp(product, product_code) != 0)
		return kbp_error_set(KBP_EGATEWAY, "eSewa status API answered about another product code");
	return 0;
}

/* eSewa's transaction id is its status API's ref_id, never the callback's claim. */
static int ref_fill(const kbp__json_doc *d, kbp_lookup_result *out)
{
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(d->root, "ref_id");

	if (!ref || cJSON_IsNull(ref))
		ref = cJSON_GetObjectItemCaseSensitive(d->root, "refId");
	if (!ref || cJSON_IsNull(ref))
		return 0;
	if (!cJSON_IsString(ref) || kbp__check_id(ref->valuestring, "ref_id"))
		return kbp_error_set(KBP_EPARSE, "eSewa status ref_id is malformed");
	if (!(out->external_txn_id = strdup(ref->valuestring)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	return 0;
}

static int status_fill(const kbp__json_doc *d, const char *uuid, const char *product_code,
                       kbp_lookup_result *out)
{
	const char *status = member_string(d, "status");
	char number[NUMBER_TEXT_MAX];
	const char *amount = member_text(d, "total_amount", number);
	int known, rc;

	if (!status)
		return kbp_error_set(KBP_EGATEWAY, "eSewa status API answered without a status "
		                                   "(an outage)");
	out->status = status_of(status, &known);
	if (!known)
		return kbp_error_set(KBP_EGATEWAY, "eSewa status API answered an unknown status");
	if ((rc = names_ours(d, uuid, product_code)) != 0)
		return rc;
	if (!amount)
		amount = member_text(d, "totalAmount", number);
	out->amount_minor = -1;
	if (amount && kbp__esewa_amount_parse(amount, strlen(amount), &out->amount_minor) != 0)
		return kbp_error_set(KBP_EPARSE, "eSewa status total_amount is not a rupee amount (%s)",
		                     AMOUNT_FORM);
	if (out->status == KBP_GATEWAY_COMPLETED && out->amount_minor < 0)
		return kbp_error_set(KBP_EPARSE, "eSewa status COMPLETE carries no total_amount");
	memcpy(out->currency, "NPR", 4);
	return ref_fill(d, out);
}

int kbp__esewa_status_parse(int http_status, const char *body, size_t len, const char *uuid,
                            const char *product_code, kbp_lookup_result *out)
{
	kbp__json_doc d = { NULL, 0, NULL };
	int rc;

	if (http_status != 200)
		return kbp_error_set(KBP_EGATEWAY, "eSewa status API answered HTTP %d", http_status);
	if ((rc = kbp__json_doc_parse(&d, body, len)) != 0) {
		kbp__json_doc_clear(&d);
		return rc == -2 ? kbp_error_set(KBP_ENOMEM, "out of memory")
		                : kbp_error_set(KBP_EPARSE, "eSewa status API answered malformed JSON");
	}
	rc = status_fill(&d, uuid, product_code, out);
	kbp__json_doc_clear(&d);
	return rc;
}

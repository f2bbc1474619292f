/* SPDX-License-Identifier: MIT */
#include "gateway/sandbox/sandbox_callback.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "util/crypto.h"
#include "util/strings.h"

#define SIGNED_FIELDS "transaction_id,status,total_amount,currency,gateway_ref,signed_field_names"
#define PREFIX "data="

static const char *status_text(kbp_gateway_status s)
{
	return s == KBP_GATEWAY_COMPLETED ? "COMPLETED" : s == KBP_GATEWAY_PENDING ? "PENDING" : "FAILED";
}

void kbp__sandbox_fields_set(kbp__sandbox_fields *f, const char *txn_id, kbp_gateway_status status,
                             int64_t amount_minor, const char *currency, const char *ref)
{
	snprintf(f->transaction_id, sizeof(f->transaction_id), "%s", txn_id);
	snprintf(f->status, sizeof(f->status), "%s", status_text(status));
	snprintf(f->total_amount, sizeof(f->total_amount), "%lld", (long long)amount_minor);
	snprintf(f->currency, sizeof(f->currency), "%s", currency);
	snprintf(f->gateway_ref, sizeof(f->gateway_ref), "%s", ref);
}

/* The fields' values by name: from the struct when signing, from the JSON when checking. */
static const char *struct_field(const void *src, const char *name, char *buf, size_t buf_size)
{
	const kbp__sandbox_fields *f = src;

	if (strcmp(name, "transaction_id") == 0)
		return f->transaction_id;
	if (strcmp(name, "status") == 0)
		return f->status;
	if (strcmp(name, "total_amount") == 0)
		return f->total_amount;
	if (strcmp(name, "currency") == 0)
		return f->currency;
	if (strcmp(name, "gateway_ref") == 0)
		return f->gateway_ref;
	if (strcmp(name, "signed_field_names") == 0)
		return SIGNED_FIELDS;
	return NULL;
}

static const char *json_field(const cJSON *doc, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, name);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static const char *json_value(const void *src, const char *name, char *buf, size_t buf_size)
{
	return json_field(src, name);
}

int kbp__sandbox_callback_build(char **out, const kbp__sandbox_fields *f, const kbp_hmac *keyed)
{
	unsigned char mac[KBP_HMAC_BYTES];
	char signature[KBP_HMAC_B64_SIZE];
	cJSON *doc = cJSON_CreateObject();
	char *json = NULL, *cb = NULL;
	size_t b64_size;

	kbp_hmac_fields(mac, keyed, SIGNED_FIELDS, struct_field, f);
	kbp_base64_encode(signature, sizeof(signature), mac, sizeof(mac));
	if (doc && cJSON_AddStringToObject(doc, "transaction_id", f->transaction_id) &&
	    cJSON_AddStringToObject(doc, "status", f->status) &&
	    cJSON_AddStringToObject(doc, "total_amount", f->total_amount) &&
	    cJSON_AddStringToObject(doc, "currency", f->currency) &&
	    cJSON_AddStringToObject(doc, "gateway_ref", f->gateway_ref) &&
	    cJSON_AddStringToObject(doc, "signed_field_names", SIGNED_FIELDS) &&
	    cJSON_AddStringToObject(doc, "signature", signature))
		json = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (json) {
		b64_size = kbp_base64_encoded_size(strlen(json));
		if ((cb = malloc(sizeof(PREFIX) - 1 + b64_size))) {
			memcpy(cb, PREFIX, sizeof(PREFIX) - 1);
			kbp_base64_encode(cb + sizeof(PREFIX) - 1, b64_size, json, strlen(json));
		}
	}
	free(json);
	if (!cb)
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	*out = cb;
	return 0;
}

static cJSON *decode(const char *raw, size_t len)
{
	size_t b64_len = len - (sizeof(PREFIX) - 1);
	unsigned char *json = malloc(b64_len + 1);
	long n;
	cJSON *doc = NULL;

	if (!json)
		return NULL;
	n = kbp_base64_decode(json, b64_len, raw + sizeof(PREFIX) - 1, b64_len);
	if (n > 0 && kbp_utf8_valid((const char *)json, (size_t)n)) {
		json[n] = '\0';
		doc = cJSON_ParseWithLengthOpts((const char *)json, (size_t)n + 1, NULL, 1);
	}
	free(json);
	return doc;
}

/* The fields a genuine callback must sign, whatever else it signs. */
static int signs_enough(const char *names)
{
	static const char *required[] = { "transaction_id", "status", "total_amount", "currency",
		                          "gateway_ref" };

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!kbp_list_has(names, required[i]))
			return 0;
	return 1;
}

static int parse_amount(const char *text, int64_t *out)
{
	int64_t v = 0;

	if (!*text || strlen(text) > 18)
		return -1;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return 0;
}

static kbp_gateway_status parse_status(const char *s)
{
	if (strcmp(s, "COMPLETED") == 0)
		return KBP_GATEWAY_COMPLETED;
	if (strcmp(s, "FAILED") == 0)
		return KBP_GATEWAY_FAILED;
	return KBP_GATEWAY_PENDING;
}

static int authenticate(const cJSON *doc, const kbp_hmac *keyed)
{
	const char *names = json_field(doc, "signed_field_names");
	const char *signature = json_field(doc, "signature");
	unsigned char expected[KBP_HMAC_BYTES], given[KBP_HMAC_BYTES + 3];
	long n;

	if (!names || !signature)
		return kbp_error_set(KBP_EPARSE, "callback lacks signed_field_names or signature");
	if (!signs_enough(names))
		return kbp_error_set(KBP_ESIGNATURE, "callback does not sign every required field");
	if (kbp_hmac_fields(expected, keyed, names, json_value, doc) != 0)
		return kbp_error_set(KBP_EPARSE, "callback lacks a field it claims to sign");
	n = kbp_base64_decode(given, sizeof(given), signature, strlen(signature));
	if (n < 0 || !kbp_ct_equal(expected, sizeof(expected), given, (size_t)n))
		return kbp_error_set(KBP_ESIGNATURE, "callback signature does not verify");
	return 0;
}

static int claim_fill(const cJSON *doc, kbp_callback_claim *out)
{
	const char *txn = json_field(doc, "transaction_id");
	const char *status = json_field(doc, "status");
	const char *amount = json_field(doc, "total_amount");

	if (!txn || !status || !amount || !json_field(doc, "currency"))
		return kbp_error_set(KBP_EPARSE, "callback lacks a required field");
	if (kbp__check_id(txn, "transaction_id"))
		return kbp_error_set(KBP_EPARSE, "callback transaction_id is malformed");
	if (parse_amount(amount, &out->amount_minor) != 0)
		return kbp_error_set(KBP_EPARSE, "callback total_amount is not a whole number of paisa");
	if (!(out->external_txn_id = strdup(txn)))
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	out->status = parse_status(status);
	return 0;
}

int kbp__sandbox_callback_parse(const char *raw, size_t len, const kbp_hmac *keyed,
                                kbp_callback_claim *out)
{
	const char *ref;
	cJSON *doc;
	int rc;

	if (len > KBP_CALLBACK_MAX)
		return kbp_error_set(KBP_ETOOBIG, "callback exceeds %d bytes", KBP_CALLBACK_MAX);
	if (len <= sizeof(PREFIX) - 1 || memcmp(raw, PREFIX, sizeof(PREFIX) - 1) != 0)
		return kbp_error_set(KBP_EPARSE, "callback is not of the form data=<base64>");
	if (!(doc = decode(raw, len)))
		return kbp_error_set(KBP_EPARSE, "callback data is not base64-encoded UTF-8 JSON");
	ref = json_field(doc, "gateway_ref");
	if (!ref || kbp__check_id(ref, "gateway_ref"))
		rc = kbp_error_set(KBP_EPARSE, "callback gateway_ref is missing or malformed");
	else if (!(out->gateway_ref = strdup(ref)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	else if ((rc = authenticate(doc, keyed)) == 0)
		rc = claim_fill(doc, out);
	cJSON_Delete(doc);
	return rc;
}

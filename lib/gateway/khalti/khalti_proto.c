/* SPDX-License-Identifier: MIT */
#include "gateway/khalti/khalti_proto.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/validate.h"
#include "http/gwutil.h"
#include "kbpipeline.h"

void kbp__khalti_initiated_clear(kbp__khalti_initiated *i)
{
	free(i->pidx);
	free(i->payment_url);
	free(i->expires_at);
	i->pidx = i->payment_url = i->expires_at = NULL;
}

int kbp__khalti_pidx_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= KBP_KHALTI_PIDX_MAX ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return n > 0;
}

static const char *member_string(const kbp__json_doc *d, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(d->root, name);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static int parse_doc(kbp__json_doc *d, const char *body, size_t len, const char *what)
{
	int rc = kbp__json_doc_parse(d, body, len);

	if (rc == 0)
		return 0;
	kbp__json_doc_clear(d);
	return rc == -2 ? kbp_error_set(KBP_ENOMEM, "out of memory")
	                : kbp_error_set(KBP_EPARSE, "Khalti %s answered malformed JSON", what);
}

static int http_error(int http_status, const char *what)
{
	if (http_status == 401 || http_status == 403)
		return kbp_error_set(KBP_EINVAL, "Khalti %s refused the merchant key (HTTP %d)", what,
		                     http_status);
	return kbp_error_set(KBP_EGATEWAY, "Khalti %s answered HTTP %d", what, http_status);
}

int kbp__khalti_initiate_parse(int http_status, const char *body, size_t len,
                               kbp__khalti_initiated *out)
{
	kbp__json_doc d;
	const char *pidx, *url, *expires;
	int rc;

	memset(out, 0, sizeof(*out));
	if (http_status == 400)
		return kbp_error_set(KBP_EINVAL, "Khalti initiate refused the payment request "
		                                 "(validation error)");
	if (http_status != 200)
		return http_error(http_status, "initiate");
	if ((rc = parse_doc(&d, body, len, "initiate")))
		return rc;
	pidx = member_string(&d, "pidx");
	url = member_string(&d, "payment_url");
	expires = member_string(&d, "expires_at");
	if (!kbp__khalti_pidx_valid(pidx))
		rc = kbp_error_set(KBP_EPARSE, "Khalti initiate answered no valid pidx");
	else if (!url || kbp__check_url(url, "Khalti payment_url"))
		rc = kbp_error_set(KBP_EPARSE, "Khalti initiate answered no valid payment_url");
	else if (expires && (strlen(expires) > 64 || kbp__check_name(expires, "expires_at")))
		rc = kbp_error_set(KBP_EPARSE, "Khalti initiate answered a malformed expires_at");
	else if (!(out->pidx = strdup(pidx)) || !(out->payment_url = strdup(url)) ||
	         (expires && !(out->expires_at = strdup(expires))))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	kbp__json_doc_clear(&d);
	if (rc)
		kbp__khalti_initiated_clear(out);
	return rc;
}

/* Khalti's statuses; "Partially Refunded" has been seen in both capitalisations. */
static int status_of(const char *s, kbp_gateway_status *out)
{
	static const struct {
		const char *text;
		kbp_gateway_status status;
	} map[] = {
		{ "Completed", KBP_GATEWAY_COMPLETED },
		{ "Pending", KBP_GATEWAY_PENDING },
		{ "Initiated", KBP_GATEWAY_PENDING },
		{ "Refunded", KBP_GATEWAY_REFUNDED },
		{ "Partially Refunded", KBP_GATEWAY_PARTIALLY_REFUNDED },
		{ "Expired", KBP_GATEWAY_EXPIRED },
		{ "User canceled", KBP_GATEWAY_CANCELED },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(s, map[i].text) == 0) {
			*out = map[i].status;
			return 0;
		}
	return -1;
}

int kbp__khalti_return_parse(const char *raw, size_t len, kbp_callback_claim *out)
{
	static const char *txn_names[] = { "transaction_id", "tidx", "txnId" };
	kbp__query q;
	const char *pidx, *status, *amount;
	int rc = 0;

	if (len > KBP_CALLBACK_MAX)
		return kbp_error_set(KBP_ETOOBIG, "callback exceeds %d bytes", KBP_CALLBACK_MAX);
	if (kbp__query_parse(&q, raw, len, 1, 32) != 0)
		return kbp_error_set(KBP_EPARSE, "Khalti return is not a well-formed query string");
	pidx = kbp__query_get(&q, "pidx");
	status = kbp__query_get(&q, "status");
	amount = kbp__query_get(&q, "total_amount");
	if (!amount)
		amount = kbp__query_get(&q, "amount");
	if (!pidx)
		rc = kbp_error_set(KBP_EPARSE, "Khalti return names no pidx");
	else if (!kbp__khalti_pidx_valid(pidx))
		rc = kbp_error_set(KBP_EPARSE, "Khalti return pidx is malformed");
	else if (!(out->gateway_ref = strdup(pidx)))
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	if (rc == 0 && amount) {
		kbp__json_raw v = { amount, strlen(amount), KBP_JSON_NUMBER, 0 };
		if (kbp__json_raw_int(&v, &out->amount_minor) != 0)
			rc = kbp_error_set(KBP_EPARSE, "Khalti return amount is not a number of paisa");
	}
	if (rc == 0 && (!status || status_of(status, &out->status) != 0))
		out->status = KBP_GATEWAY_PENDING;   /* a hint only: the lookup decides */
	for (size_t i = 0; rc == 0 && i < sizeof(txn_names) / sizeof(txn_names[0]); i++) {
		const char *txn = kbp__query_get(&q, txn_names[i]);
		if (!txn || !*txn)
			continue;
		if (kbp__check_id(txn, "transaction_id"))
			rc = kbp_error_set(KBP_EPARSE, "Khalti return %s is malformed", txn_names[i]);
		else if (!(out->external_txn_id = strdup(txn)))
			rc = kbp_error_set(KBP_ENOMEM, "out of memory");
		break;
	}
	kbp__query_clear(&q);
	return rc;
}

static int lookup_fill(const kbp__json_doc *d, int http_status, const char *pidx,
                       kbp_lookup_result *out)
{
	const char *status = member_string(d, "status");
	const char *their_pidx = member_string(d, "pidx");
	const cJSON *txn = cJSON_GetObjectItemCaseSensitive(d->root, "transaction_id");
	kbp__json_raw amount;

	if (!status || status_of(status, &out->status) != 0)
		return http_status == 200
		               ? kbp_error_set(KBP_EGATEWAY, "Khalti lookup answered no known status")
		               : kbp_error_set(KBP_EGATEWAY, "Khalti lookup answered HTTP 400 without a "
		                                             "known status");
	/* With HTTP 400, only these are answers; anything else is a refused request. */
	if (http_status == 400 && out->status != KBP_GATEWAY_EXPIRED &&
	    out->status != KBP_GATEWAY_CANCELED)
		return kbp_error_set(KBP_EGATEWAY, "Khalti lookup answered HTTP 400");
	/* The answer must name the payment we asked about: without a pidx it proves nothing. */
	if (!their_pidx)
		return kbp_error_set(KBP_EGATEWAY, "Khalti lookup answered without a pidx");
	if (strcmp(their_pidx, pidx) != 0)
		return kbp_error_set(KBP_EGATEWAY, "Khalti lookup answered about another pidx");
	out->amount_minor = -1;
	if (kbp__json_raw_get(d->text, d->len, "total_amount", &amount) &&
	    kbp__json_raw_int(&amount, &out->amount_minor) != 0)
		return kbp_error_set(KBP_EPARSE, "Khalti lookup total_amount is not a number of paisa");
	if (out->status == KBP_GATEWAY_COMPLETED && out->amount_minor < 0)
		return kbp_error_set(KBP_EPARSE, "Khalti lookup Completed carries no total_amount");
	memcpy(out->currency, "NPR", 4);
	/* Khalti's transaction id is the lookup's, never the unsigned return's claim. */
	if (txn && !cJSON_IsNull(txn)) {
		if (!cJSON_IsString(txn) || kbp__check_id(txn->valuestring, "transaction_id"))
			return kbp_error_set(KBP_EPARSE, "Khalti lookup transaction_id is malformed");
		if (!(out->external_txn_id = strdup(txn->valuestring)))
			return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	return 0;
}

int kbp__khalti_lookup_parse(int http_status, const char *body, size_t len, const char *pidx,
                             kbp_lookup_result *out)
{
	kbp__json_doc d;
	int rc;

	if (http_status == 404) {
		out->status = KBP_GATEWAY_NOT_FOUND;
		out->amount_minor = -1;
		return 0;
	}
	if (http_status != 200 && http_status != 400)
		return http_error(http_status, "lookup");
	if ((rc = parse_doc(&d, body, len, "lookup")))
		return rc;
	rc = lookup_fill(&d, http_status, pidx, out);
	kbp__json_doc_clear(&d);
	return rc;
}

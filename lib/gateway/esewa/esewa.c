/* SPDX-License-Identifier: MIT */
/*
 * eSewa ePay v2: the signed payment form, the signed success callback, and
 * the status API that has the last word (GATEWAYS.md).
 */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pipeline_internal.h"
#include "core/validate.h"
#include "gateway/esewa/esewa_proto.h"
#include "http/gwutil.h"
#include "http/http.h"
#include "util/strings.h"

#define UAT_FORM "https://rc-epay.esewa.com.np/api/epay/main/v2/form"
#define UAT_STATUS "https://rc.esewa.com.np/api/epay/transaction/status/"
#define LIVE_FORM "https://epay.esewa.com.np/api/epay/main/v2/form"
#define LIVE_STATUS "https://epay.esewa.com.np/api/epay/transaction/status/"
#define STATUS_RESPONSE_MAX 65536
#define CONNECT_TIMEOUT_MS 5000

typedef struct esewa {
	kbp_gateway base;
	char *name;
	char *product_code;
	char *form_url;
	char *status_url;
	char *success_url;          /* may be NULL */
	char *failure_url;          /* may be NULL */
	kbp_hmac *keyed;            /* the secret as a keyed HMAC state: sodium_malloc'd, read-only */
	kbp_http_transport transport;
	int64_t timeout_ms;
} esewa;

static int add_field(cJSON *fields, const char *name, const char *value)
{
	return cJSON_AddStringToObject(fields, name, value) != NULL;
}

/* The failure redirect carries no signed data: the intent id in its URL says whose it is. */
static char *failure_url_for(const char *base, const char *intent_id)
{
	size_t n = strlen(base) + strlen(intent_id) + sizeof("&intent_id=");
	char *url = malloc(n);

	if (url)
		snprintf(url, n, "%s%cintent_id=%s", base, strchr(base, '?') ? '&' : '?', intent_id);
	return url;
}

static char *form_json(const esewa *e, const char *amount, const char *uuid, const char *success,
                       const char *failure, const char *signature)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *f = NULL;
	char *text = NULL;
	int ok = doc && cJSON_AddStringToObject(doc, "method", "POST") &&
	         cJSON_AddStringToObject(doc, "url", e->form_url) &&
	         (f = cJSON_AddObjectToObject(doc, "fields"));

	ok = ok && add_field(f, "amount", amount) && add_field(f, "tax_amount", "0") &&
	     add_field(f, "product_service_charge", "0") &&
	     add_field(f, "product_delivery_charge", "0") && add_field(f, "total_amount", amount) &&
	     add_field(f, "transaction_uuid", uuid) && add_field(f, "product_code", e->product_code) &&
	     add_field(f, "success_url", success) && add_field(f, "failure_url", failure) &&
	     add_field(f, "signed_field_names", "total_amount,transaction_uuid,product_code") &&
	     add_field(f, "signature", signature);
	if (ok)
		text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return text;
}

static int esewa_prepare(kbp_gateway *g, const kbp_payment_request *req, kbp_prepared *out)
{
	esewa *e = (esewa *)g;
	char uuid[KBP_ESEWA_UUID_MAX + 1], amount[KBP_ESEWA_AMOUNT_TEXT_MAX];
	char signature[KBP_HMAC_B64_SIZE], *message = NULL, *failure = NULL;
	const char *success = req->success_url ? req->success_url : e->success_url;
	const char *failure_base = req->failure_url ? req->failure_url : e->failure_url;
	int rc, n;

	if (strcmp(req->currency, "NPR") != 0)
		return kbp_error_set(KBP_EINVAL, "eSewa takes NPR only, not %s", req->currency);
	if (req->amount_minor <= 0)
		return kbp_error_set(KBP_EINVAL, "eSewa needs a positive amount");
	if (!success || !failure_base)
		return kbp_error_set(KBP_EINVAL, "eSewa needs a success_url and a failure_url "
		                                 "(in the intent request or the gateway options)");
	if ((rc = kbp__esewa_uuid_from_intent(uuid, req->intent_id)))
		return rc;
	kbp__esewa_amount_format(amount, req->amount_minor);
	if (!(failure = failure_url_for(failure_base, req->intent_id)))
		return kbp__oom();
	if ((rc = kbp__check_url(failure, "failure_url"))) {
		free(failure);
		return rc;
	}
	n = asprintf(&message, "total_amount=%s,transaction_uuid=%s,product_code=%s", amount, uuid,
	             e->product_code);
	if (n < 0) {
		free(failure);
		return kbp__oom();
	}
	kbp__esewa_sign(signature, e->keyed, message, (size_t)n);
	free(message);
	out->gateway_ref = strdup(uuid);
	out->redirect = form_json(e, amount, uuid, success, failure, signature);
	free(failure);
	if (!out->gateway_ref || !out->redirect)
		return kbp__oom();
	return 0;
}

static int esewa_parse(kbp_gateway *g, const char *raw, size_t len, kbp_callback_claim *out)
{
	esewa *e = (esewa *)g;

	return kbp__esewa_callback_parse(raw, len, e->keyed, e->product_code, out);
}

static int esewa_lookup(kbp_gateway *g, const kbp_callback_claim *claim, kbp_lookup_result *out)
{
	esewa *e = (esewa *)g;
	char amount[KBP_ESEWA_AMOUNT_TEXT_MAX], *url = NULL;
	kbp_http_request req = { KBP_HTTP_VERSION, "GET", NULL, NULL, 0, NULL, 0,
		                 CONNECT_TIMEOUT_MS, e->timeout_ms, STATUS_RESPONSE_MAX };
	kbp_http_response resp;
	int rc;

	if (!kbp__esewa_uuid_valid(claim->gateway_ref))
		return kbp_error_set(KBP_EINVAL, "not an eSewa transaction_uuid");
	if (claim->amount_minor < 0)
		return kbp_error_set(KBP_EINVAL, "an eSewa status check needs the amount");
	kbp__esewa_amount_format(amount, claim->amount_minor);
	if (asprintf(&url, "%s%cproduct_code=%s&total_amount=%s&transaction_uuid=%s", e->status_url,
	             strchr(e->status_url, '?') ? '&' : '?', e->product_code, amount,
	             claim->gateway_ref) < 0)
		return kbp__oom();
	if (req.connect_timeout_ms > req.timeout_ms)
		req.connect_timeout_ms = req.timeout_ms;
	req.url = url;
	rc = kbp__http_send(&e->transport, &req, &resp);
	free(url);
	if (rc != 0)
		return kbp_error_set(rc == KBP_ETOOBIG ? KBP_EGATEWAY : rc, "eSewa status check: %s",
		                     kbp_error_last()->message);
	rc = kbp__esewa_status_parse(resp.status, resp.body, resp.body_len, claim->gateway_ref,
	                             e->product_code, out);
	kbp_http_response_clear(&resp);
	return rc;
}

static void esewa_free(kbp_gateway *g)
{
	esewa *e = (esewa *)g;

	sodium_free(e->keyed);
	free(e->name);
	free(e->product_code);
	free(e->form_url);
	free(e->status_url);
	free(e->success_url);
	free(e->failure_url);
	free(e);
}

static int check_product_code(const char *code)
{
	size_t n = strlen(code);

	if (n == 0 || n > KBP_ESEWA_PRODUCT_CODE_MAX)
		return kbp_error_set(KBP_EINVAL, "eSewa product_code must be 1 to %d bytes",
		                     KBP_ESEWA_PRODUCT_CODE_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = code[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return kbp_error_set(KBP_EINVAL, "eSewa product_code may contain only letters, "
			                                 "digits, '-' and '_'");
	}
	return 0;
}

static int check_options(const kbp_esewa_options *o)
{
	int rc;

	if ((rc = kbp__check_version(o->version, KBP_ESEWA_OPTIONS_VERSION, "kbp_esewa_options")) ||
	    (rc = kbp__check_optional_id(o->name, "gateway name")) ||
	    (rc = check_product_code(o->product_code ? o->product_code : "EPAYTEST")) ||
	    (rc = kbp__check_range(o->production, 0, 1, "production")) ||
	    (o->form_url && (rc = kbp__check_gateway_url(o->form_url, "eSewa form_url"))) ||
	    (o->status_url && (rc = kbp__check_gateway_url(o->status_url, "eSewa status_url"))) ||
	    (rc = kbp__check_url(o->success_url, "success_url")) ||
	    (rc = kbp__check_url(o->failure_url, "failure_url")) ||
	    (rc = kbp__check_range(o->timeout_ms, 0, 600000, "timeout_ms")))
		return rc;
	if (o->transport && (o->transport->version != KBP_HTTP_VERSION || !o->transport->send))
		return kbp_error_set(KBP_EVERSION, "HTTP transport is of an unknown version");
	if (!o->transport && !kbp_http_default())
		return kbp_error_set(KBP_EINVAL, "built without libcurl: the eSewa options need a "
		                                 "transport");
	return 0;
}

static esewa *esewa_new(const kbp_esewa_options *o)
{
	esewa *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->base = (kbp_gateway){ KBP_GATEWAY_VERSION, NULL, esewa_prepare, esewa_parse,
		                 esewa_lookup, esewa_free, KBP_GATEWAY_PREPARE_LOCAL };
	e->name = strdup(o->name ? o->name : "esewa");
	e->product_code = strdup(o->product_code ? o->product_code : "EPAYTEST");
	e->form_url = strdup(o->form_url ? o->form_url : o->production ? LIVE_FORM : UAT_FORM);
	e->status_url = strdup(o->status_url ? o->status_url : o->production ? LIVE_STATUS : UAT_STATUS);
	e->success_url = kbp_strdup0(o->success_url);
	e->failure_url = kbp_strdup0(o->failure_url);
	e->keyed = sodium_malloc(sizeof(*e->keyed));
	e->transport = *(o->transport ? o->transport : kbp_http_default());
	e->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	e->base.name = e->name;
	if (!e->name || !e->product_code || !e->form_url || !e->status_url || !e->keyed ||
	    (o->success_url && !e->success_url) || (o->failure_url && !e->failure_url)) {
		esewa_free(&e->base);
		return NULL;
	}
	return e;
}

int kbp_gateway_add_esewa(kbp_pipeline *p, const kbp_esewa_options *opts)
{
	kbp__secret secret;
	esewa *e;
	int rc;

	KBP_CHECK_PIPELINE(p);
	if (!opts)
		return kbp_error_set(KBP_EINVAL, "eSewa options are NULL (the secret's source is needed)");
	if ((rc = check_options(opts)))
		return rc;
	if ((rc = kbp__secret_load(&secret, opts->secret_env, opts->secret_file, "eSewa")))
		return rc;
	if (!(e = esewa_new(opts))) {
		kbp__secret_free(&secret);
		return kbp__oom();
	}
	kbp_hmac_init(e->keyed, secret.bytes, secret.len);
	kbp__secret_free(&secret);
	/* The keyed state is the secret in another form: read-only from here on. */
	sodium_mprotect_readonly(e->keyed);
	return kbp_pipeline_add_gateway(p, &e->base);
}

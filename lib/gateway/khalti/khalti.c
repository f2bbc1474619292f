/* SPDX-License-Identifier: MIT */
/*
 * Khalti ePayment (KPG-2): initiate gives a pidx and a payment page; the
 * return redirect is unsigned, so lookup alone decides (GATEWAYS.md).
 */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pipeline_internal.h"
#include "core/validate.h"
#include "gateway/khalti/khalti_proto.h"
#include "http/gwutil.h"
#include "http/http.h"
#include "util/strings.h"

#define SANDBOX_BASE "https://dev.khalti.com/api/v2/"
#define LIVE_BASE "https://khalti.com/api/v2/"
#define RESPONSE_MAX 65536
#define CONNECT_TIMEOUT_MS 5000

typedef struct khalti {
	kbp_gateway base;
	char *name;
	char *initiate_url;
	char *lookup_url;
	char *return_url;           /* may be NULL */
	char *website_url;          /* may be NULL: derived from the return URL */
	char *order_name;
	char *authorization;        /* "Key <secret>": sodium_malloc'd, read-only */
	kbp_http_transport transport;
	int64_t timeout_ms;
} khalti;

static int post_json(khalti *k, const char *url, const char *body, kbp_http_response *resp)
{
	const kbp_http_header headers[] = {
		{ "Authorization", k->authorization },
		{ "Content-Type", "application/json" },
		{ "Accept", "application/json" },
	};
	kbp_http_request req = { KBP_HTTP_VERSION, "POST", url, headers, 3, body, strlen(body),
		                 CONNECT_TIMEOUT_MS, k->timeout_ms, RESPONSE_MAX };

	if (req.connect_timeout_ms > req.timeout_ms)
		req.connect_timeout_ms = req.timeout_ms;
	return kbp__http_send(&k->transport, &req, resp);
}

/* "https://shop.example/pay/back?x" -> "https://shop.example" */
static char *origin_of(const char *url)
{
	const char *host = strstr(url, "://");
	size_t n;

	if (!host)
		return NULL;
	host += 3;
	n = (size_t)(host - url) + strcspn(host, "/?#");
	return strndup(url, n);
}

static char *initiate_body(const khalti *k, const kbp_payment_request *req, const char *ret,
                           const char *website)
{
	char amount[32];
	cJSON *doc = cJSON_CreateObject();
	char *text = NULL;

	/* Raw, so the paisa integer is written exactly whatever its size. */
	snprintf(amount, sizeof(amount), "%lld", (long long)req->amount_minor);
	if (doc && cJSON_AddStringToObject(doc, "return_url", ret) &&
	    cJSON_AddStringToObject(doc, "website_url", website) &&
	    cJSON_AddRawToObject(doc, "amount", amount) &&
	    cJSON_AddStringToObject(doc, "purchase_order_id", req->intent_id) &&
	    cJSON_AddStringToObject(doc, "purchase_order_name", k->order_name))
		text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return text;
}

static char *redirect_json(const kbp__khalti_initiated *ini)
{
	cJSON *doc = cJSON_CreateObject();
	char *text = NULL;

	if (doc && cJSON_AddStringToObject(doc, "method", "GET") &&
	    cJSON_AddStringToObject(doc, "url", ini->payment_url) &&
	    (!ini->expires_at || cJSON_AddStringToObject(doc, "expires_at", ini->expires_at)))
		text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return text;
}

static int khalti_prepare(kbp_gateway *g, const kbp_payment_request *req, kbp_prepared *out)
{
	khalti *k = (khalti *)g;
	const char *ret = req->success_url ? req->success_url : k->return_url;
	kbp__khalti_initiated ini;
	kbp_http_response resp;
	char *website, *body;
	int rc;

	if (strcmp(req->currency, "NPR") != 0)
		return kbp_error_set(KBP_EINVAL, "Khalti takes NPR only, not %s", req->currency);
	if (req->amount_minor < KBP_KHALTI_MIN_AMOUNT)
		return kbp_error_set(KBP_EINVAL, "Khalti needs at least %d paisa, the intent is %lld",
		                     KBP_KHALTI_MIN_AMOUNT, (long long)req->amount_minor);
	if (!ret)
		return kbp_error_set(KBP_EINVAL, "Khalti needs a return URL (the intent's success_url "
		                                 "or the gateway's return_url)");
	if (!(website = k->website_url ? strdup(k->website_url) : origin_of(ret)))
		return kbp__oom();
	body = initiate_body(k, req, ret, website);
	free(website);
	if (!body)
		return kbp__oom();
	rc = post_json(k, k->initiate_url, body, &resp);
	free(body);
	if (rc != 0)
		return kbp_error_set(rc == KBP_ETOOBIG ? KBP_EGATEWAY : rc, "Khalti initiate: %s",
		                     kbp_error_last()->message);
	rc = kbp__khalti_initiate_parse(resp.status, resp.body, resp.body_len, &ini);
	kbp_http_response_clear(&resp);
	if (rc != 0)
		return rc;
	out->gateway_ref = ini.pidx;
	ini.pidx = NULL;
	out->redirect = redirect_json(&ini);
	kbp__khalti_initiated_clear(&ini);
	return out->redirect ? 0 : kbp__oom();
}

static int khalti_parse(kbp_gateway *g, const char *raw, size_t len, kbp_callback_claim *out)
{
	(void)g;
	return kbp__khalti_return_parse(raw, len, out);
}

static int khalti_lookup(kbp_gateway *g, const kbp_callback_claim *claim, kbp_lookup_result *out)
{
	khalti *k = (khalti *)g;
	char body[KBP_KHALTI_PIDX_MAX + 16];
	kbp_http_response resp;
	int rc;

	if (!kbp__khalti_pidx_valid(claim->gateway_ref))
		return kbp_error_set(KBP_EINVAL, "not a Khalti pidx");
	snprintf(body, sizeof(body), "{\"pidx\":\"%s\"}", claim->gateway_ref);
	if ((rc = post_json(k, k->lookup_url, body, &resp)) != 0)
		return kbp_error_set(rc == KBP_ETOOBIG ? KBP_EGATEWAY : rc, "Khalti lookup: %s",
		                     kbp_error_last()->message);
	rc = kbp__khalti_lookup_parse(resp.status, resp.body, resp.body_len, claim->gateway_ref, out);
	kbp_http_response_clear(&resp);
	return rc;
}

static void khalti_free(kbp_gateway *g)
{
	khalti *k = (khalti *)g;

	sodium_free(k->authorization);
	free(k->name);
	free(k->initiate_url);
	free(k->lookup_url);
	free(k->return_url);
	free(k->website_url);
	free(k->order_name);
	free(k);
}

static int check_options(const kbp_khalti_options *o)
{
	int rc;

	if ((rc = kbp__check_version(o->version, KBP_KHALTI_OPTIONS_VERSION, "kbp_khalti_options")) ||
	    (rc = kbp__check_optional_id(o->name, "gateway name")) ||
	    (rc = kbp__check_range(o->production, 0, 1, "production")) ||
	    (o->base_url && (rc = kbp__check_gateway_url(o->base_url, "Khalti base_url"))) ||
	    (rc = kbp__check_url(o->return_url, "return_url")) ||
	    (rc = kbp__check_url(o->website_url, "website_url")) ||
	    (o->purchase_order_name &&
	     (rc = kbp__check_name(o->purchase_order_name, "purchase_order_name"))) ||
	    (rc = kbp__check_range(o->timeout_ms, 0, 600000, "timeout_ms")))
		return rc;
	if (o->base_url && (strchr(o->base_url, '?') || o->base_url[strlen(o->base_url) - 1] != '/'))
		return kbp_error_set(KBP_EINVAL, "Khalti base_url must end in '/' and have no query");
	if (o->transport && (o->transport->version != KBP_HTTP_VERSION || !o->transport->send))
		return kbp_error_set(KBP_EVERSION, "HTTP transport is of an unknown version");
	if (!o->transport && !kbp_http_default())
		return kbp_error_set(KBP_EINVAL, "built without libcurl: the Khalti options need a "
		                                 "transport");
	return 0;
}

static char *join(const char *base, const char *path)
{
	char *s = NULL;

	return asprintf(&s, "%s%s", base, path) < 0 ? NULL : s;
}

static khalti *khalti_new(const kbp_khalti_options *o, const kbp__secret *secret)
{
	const char *base = o->base_url ? o->base_url : o->production ? LIVE_BASE : SANDBOX_BASE;
	khalti *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->base = (kbp_gateway){ KBP_GATEWAY_VERSION, NULL, khalti_prepare, khalti_parse,
		                 khalti_lookup, khalti_free, 0 };
	k->name = strdup(o->name ? o->name : "khalti");
	k->initiate_url = join(base, "epayment/initiate/");
	k->lookup_url = join(base, "epayment/lookup/");
	k->return_url = kbp_strdup0(o->return_url);
	k->website_url = kbp_strdup0(o->website_url);
	k->order_name = strdup(o->purchase_order_name ? o->purchase_order_name : "Order");
	k->authorization = sodium_malloc(secret->len + sizeof("Key "));
	k->transport = *(o->transport ? o->transport : kbp_http_default());
	k->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	k->base.name = k->name;
	if (!k->name || !k->initiate_url || !k->lookup_url || !k->order_name || !k->authorization ||
	    (o->return_url && !k->return_url) || (o->website_url && !k->website_url)) {
		khalti_free(&k->base);
		return NULL;
	}
	memcpy(k->authorization, "Key ", 4);
	memcpy(k->authorization + 4, secret->bytes, secret->len);
	k->authorization[4 + secret->len] = '\0';
	sodium_mprotect_readonly(k->authorization);
	return k;
}

int kbp_gateway_add_khalti(kbp_pipeline *p, const kbp_khalti_options *opts)
{
	kbp__secret secret;
	khalti *k;
	int rc;

	KBP_CHECK_PIPELINE(p);
	if (!opts)
		return kbp_error_set(KBP_EINVAL, "Khalti options are NULL (the secret's source is needed)");
	if ((rc = check_options(opts)))
		return rc;
	if ((rc = kbp__secret_load(&secret, opts->secret_env, opts->secret_file, "Khalti")))
		return rc;
	k = khalti_new(opts, &secret);
	kbp__secret_free(&secret);
	if (!k)
		return kbp__oom();
	return kbp_pipeline_add_gateway(p, &k->base);
}

/* SPDX-License-Identifier: MIT */
/*
 * The sandbox gateway: a payment gateway that lives in the process. Its pay
 * page is kbp_sandbox_pay(), which records the shopper's answer and returns
 * the callback the browser would bring back, signed like eSewa's (HMAC-SHA256
 * over "name=value" pairs of signed_field_names). Verification therefore runs
 * the same real code paths as a networked gateway: parse, authenticate, look up.
 */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/pipeline_internal.h"
#include "core/validate.h"
#include "gateway/sandbox/sandbox_callback.h"
#include "util/crypto.h"
#include "util/hmap.h"
#include "util/ids.h"
#include "util/mutex.h"

typedef struct sandbox_payment {
	char *ref;
	char *txn_id;
	int64_t amount_minor;       /* what the shopper paid */
	char currency[4];
	kbp_gateway_status status;
} sandbox_payment;

typedef struct sandbox {
	kbp_gateway base;
	char *name;
	char *base_url;
	kbp_hmac *keyed;            /* HMAC keyed with the secret; sodium_malloc'd, zeroed on free */
	int64_t lookup_delay_ms;
	pthread_mutex_t lock;
	kbp_hmap payments;          /* ref -> sandbox_payment */
} sandbox;

static void payment_free(sandbox_payment *pay)
{
	if (!pay)
		return;
	free(pay->ref);
	free(pay->txn_id);
	free(pay);
}

static char *redirect_json(const sandbox *sb, const char *ref)
{
	cJSON *doc = cJSON_CreateObject();
	char url[KBP_URL_MAX + 64];
	char *text = NULL;

	snprintf(url, sizeof(url), "%s/pay?ref=%s", sb->base_url, ref);
	if (doc && cJSON_AddStringToObject(doc, "method", "GET") &&
	    cJSON_AddStringToObject(doc, "url", url))
		text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return text;
}

static int sandbox_prepare(kbp_gateway *g, const kbp_payment_request *req, kbp_prepared *out)
{
	sandbox *sb = (sandbox *)g;
	char ref[KBP_GEN_ID_SIZE];
	sandbox_payment *pay = calloc(1, sizeof(*pay));
	int rc = 0;

	kbp_id_generate(ref, "sbx-");
	if (pay) {
		pay->ref = strdup(ref);
		pay->amount_minor = req->amount_minor;
		snprintf(pay->currency, sizeof(pay->currency), "%s", req->currency);
		pay->status = KBP_GATEWAY_PENDING;
	}
	out->gateway_ref = strdup(ref);
	out->redirect = redirect_json(sb, ref);
	if (!pay || !pay->ref || !out->gateway_ref || !out->redirect) {
		payment_free(pay);
		return kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&sb->lock);
	if (kbp_hmap_put(&sb->payments, pay->ref, pay) != 0)
		rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	pthread_mutex_unlock(&sb->lock);
	if (rc)
		payment_free(pay);
	return rc;
}

static int sandbox_parse(kbp_gateway *g, const char *raw, size_t len, kbp_callback_claim *out)
{
	sandbox *sb = (sandbox *)g;

	return kbp__sandbox_callback_parse(raw, len, sb->keyed, out);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int sandbox_lookup(kbp_gateway *g, const kbp_callback_claim *claim, kbp_lookup_result *out)
{
	sandbox *sb = (sandbox *)g;
	sandbox_payment *pay;
	int rc = 0;

	if (sb->lookup_delay_ms > 0)
		sleep_ms(sb->lookup_delay_ms);
	pthread_mutex_lock(&sb->lock);
	pay = kbp_hmap_get(&sb->payments, claim->gateway_ref);
	if (!pay) {
		/*
		 * A payment prepared by another process sharing this sandbox's secret:
		 * the callback is authentic, and the sandbox is its own authority.
		 */
		out->status = claim->status;
		out->amount_minor = claim->amount_minor;
		if (claim->external_txn_id && !(out->external_txn_id = strdup(claim->external_txn_id)))
			rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	} else {
		out->status = pay->status;
		out->amount_minor = pay->amount_minor;
		memcpy(out->currency, pay->currency, 4);
		if (pay->txn_id && !(out->external_txn_id = strdup(pay->txn_id)))
			rc = kbp_error_set(KBP_ENOMEM, "out of memory");
	}
	pthread_mutex_unlock(&sb->lock);
	return rc;
}

static void sandbox_free(kbp_gateway *g)
{
	sandbox *sb = (sandbox *)g;
	void *value;

	for (size_t pos = 0; kbp_hmap_next(&sb->payments, &pos, NULL, &value);)
		payment_free(value);
	kbp_hmap_clear(&sb->payments);
	sodium_free(sb->keyed);
	pthread_mutex_destroy(&sb->lock);
	free(sb->name);
	free(sb->base_url);
	free(sb);
}

static int check_options(const kbp_sandbox_options *o)
{
	int rc;

	if ((rc = kbp__check_version(o->version, KBP_SANDBOX_OPTIONS_VERSION, "kbp_sandbox_options")) ||
	    (rc = kbp__check_optional_id(o->name, "gateway name")) ||
	    (rc = kbp__check_url(o->base_url, "base_url")) ||
	    (rc = kbp__check_range(o->lookup_delay_ms, 0, 600000, "lookup_delay_ms")))
		return rc;
	if (o->secret && (o->secret_len == 0 || o->secret_len > 1024))
		return kbp_error_set(KBP_EINVAL, "secret must be 1 to 1024 bytes");
	return 0;
}

static sandbox *sandbox_new(const kbp_sandbox_options *o)
{
	sandbox *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return NULL;
	sb->base = (kbp_gateway){ KBP_GATEWAY_VERSION, NULL, sandbox_prepare, sandbox_parse,
		                  sandbox_lookup, sandbox_free, KBP_GATEWAY_PREPARE_LOCAL };
	kbp_mutex_init(&sb->lock);
	kbp_hmap_init(&sb->payments);
	sb->name = strdup(o->name ? o->name : "sandbox");
	sb->base_url = strdup(o->base_url ? o->base_url : "http://127.0.0.1/sandbox");
	sb->keyed = sodium_malloc(sizeof(*sb->keyed));
	sb->lookup_delay_ms = o->lookup_delay_ms;
	if (!sb->name || !sb->base_url || !sb->keyed) {
		sandbox_free(&sb->base);
		return NULL;
	}
	if (o->secret) {
		kbp_hmac_init(sb->keyed, o->secret, o->secret_len);
	} else {
		unsigned char secret[32];
		randombytes_buf(secret, sizeof(secret));
		kbp_hmac_init(sb->keyed, secret, sizeof(secret));
		sodium_memzero(secret, sizeof(secret));
	}
	/* The keyed state is the secret in another form: read-only from here on. */
	sodium_mprotect_readonly(sb->keyed);
	sb->base.name = sb->name;
	return sb;
}

int kbp_gateway_add_sandbox(kbp_pipeline *p, const kbp_sandbox_options *opts)
{
	kbp_sandbox_options defaults = KBP_SANDBOX_OPTIONS_INIT;
	sandbox *sb;
	int rc;

	KBP_CHECK_PIPELINE(p);
	if (!opts)
		opts = &defaults;
	if ((rc = check_options(opts)))
		return rc;
	if (!(sb = sandbox_new(opts)))
		return kbp__oom();
	return kbp_pipeline_add_gateway(p, &sb->base);
}

static kbp_gateway_status answer_status(kbp_sandbox_answer a)
{
	return a == KBP_SANDBOX_COMPLETED ? KBP_GATEWAY_COMPLETED
	       : a == KBP_SANDBOX_PENDING ? KBP_GATEWAY_PENDING
	                                  : KBP_GATEWAY_FAILED;
}

/* Records the shopper's answer and fills the fields of the callback to sign. */
static int record_answer(sandbox *sb, const char *ref, kbp_sandbox_answer answer, int64_t amount,
                         kbp__sandbox_fields *f)
{
	sandbox_payment *pay;
	int rc = 0;

	pthread_mutex_lock(&sb->lock);
	pay = kbp_hmap_get(&sb->payments, ref);
	if (!pay) {
		rc = kbp_error_set(KBP_ENOTFOUND, "the sandbox has no payment '%s'", ref);
	} else {
		if (!pay->txn_id) {
			char txn[KBP_GEN_ID_SIZE];
			kbp_id_generate(txn, "sbxtxn-");
			if (!(pay->txn_id = strdup(txn)))
				rc = kbp_error_set(KBP_ENOMEM, "out of memory");
		}
		pay->status = answer_status(answer);
		pay->amount_minor = amount;
		if (rc == 0)
			kbp__sandbox_fields_set(f, pay->txn_id, pay->status, pay->amount_minor,
			                        pay->currency, pay->ref);
	}
	pthread_mutex_unlock(&sb->lock);
	return rc;
}

int kbp_sandbox_pay(char **out_callback, kbp_pipeline *p, const char *gateway,
                    const char *intent_id, kbp_sandbox_answer answer, int64_t amount_minor)
{
	kbp__sandbox_fields fields;
	kbp_intent *in = NULL;
	kbp_gateway *g;
	int rc;

	KBP_CHECK_OUT(out_callback);
	*out_callback = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(gateway, "gateway")) || (rc = kbp__check_id(intent_id, "intent id")) ||
	    (rc = kbp__check_range(answer, KBP_SANDBOX_COMPLETED, KBP_SANDBOX_FAILED, "answer")))
		return rc;
	g = kbp__gateway_find(p, gateway);
	if (!g || g->prepare != sandbox_prepare)
		return kbp_error_set(KBP_ENOTFOUND, "'%s' is not a sandbox gateway", gateway);
	if ((rc = kbp_intent_get(&in, p, intent_id)))
		return rc;
	if (strcmp(in->gateway, gateway) != 0 || !in->gateway_ref)
		rc = kbp_error_set(KBP_ENOTFOUND, "intent '%s' is not a payment of '%s'", intent_id, gateway);
	else
		rc = record_answer((sandbox *)g, in->gateway_ref, answer,
		                   amount_minor < 0 ? in->amount_minor : amount_minor, &fields);
	kbp_intent_free(in);
	if (rc == 0) {
		sandbox *sb = (sandbox *)g;
		rc = kbp__sandbox_callback_build(out_callback, &fields, sb->keyed);
	}
	return rc;
}

/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/pipeline_internal.h"
#include "core/records.h"
#include "core/validate.h"
#include "util/ids.h"

/* The status_reason of an intent whose payment the gateway could not prepare. */
#define PREPARE_FAILED "gateway_prepare_failed"

static int check_request(const kbp_intent_request *req)
{
	int rc;

	if (!req)
		return kbp_error_set(KBP_EINVAL, "intent request is NULL");
	if ((rc = kbp__check_version(req->version, KBP_INTENT_REQUEST_VERSION, "kbp_intent_request")) ||
	    (rc = kbp__check_id(req->cart_id, "cart id")) ||
	    (rc = kbp__check_id(req->gateway, "gateway")) ||
	    (rc = kbp__check_optional_id(req->idempotency_key, "idempotency key")) ||
	    (rc = kbp__check_url(req->success_url, "success_url")) ||
	    (rc = kbp__check_url(req->failure_url, "failure_url")))
		return rc;
	return 0;
}

static kbp_payment_request payment_request(const kbp_intent *in, const kbp_intent_request *req)
{
	return (kbp_payment_request){ in->id, in->amount_minor, in->currency, req->success_url,
		                      req->failure_url, in->expires_at };
}

/*
 * Asks the gateway to prepare the payment outside any transaction, then
 * stores its reference. A gateway that cannot prepare leaves nothing held:
 * the intent is canceled and its stock released.
 */
static int prepare_payment(kbp_pipeline *p, kbp_gateway *g, kbp_intent *in,
                           const kbp_intent_request *req)
{
	kbp_payment_request preq = payment_request(in, req);
	kbp_prepared prepared = { NULL, NULL };
	int rc = g->prepare(g, &preq, &prepared);

	if (rc == 0)
		rc = p->storage->intent_attach(p->storage, in->id, prepared.gateway_ref,
		                               prepared.redirect, kbp_pipeline_now(p));
	if (rc == KBP_ESTATE) {
		/* A concurrent retry with the same key prepared it first: its payment stands. */
		kbp__prepared_clear(&prepared);
		return rc;
	}
	if (rc != 0) {
		kbp_error saved = *kbp_error_last();
		char message[512];
		strncpy(message, saved.message, sizeof(message) - 1);
		message[sizeof(message) - 1] = '\0';
		kbp__prepared_clear(&prepared);
		p->storage->intent_cancel(p->storage, in->id, PREPARE_FAILED, kbp_pipeline_now(p));
		return kbp_error_set(saved.code, "%s", message);
	}
	in->gateway_ref = prepared.gateway_ref;
	in->redirect = prepared.redirect;
	return 0;
}

typedef struct local_prepare {
	kbp_gateway *g;
	const kbp_intent_request *req;
} local_prepare;

/* Inside the create step: the new intent is written with its payment prepared. */
static int prepare_in_step(void *ctx, kbp_intent *in)
{
	const local_prepare *lp = ctx;
	kbp_payment_request preq = payment_request(in, lp->req);
	kbp_prepared prepared = { NULL, NULL };
	int rc = lp->g->prepare(lp->g, &preq, &prepared);

	if (rc != 0) {
		kbp__prepared_clear(&prepared);
		return rc;
	}
	free(in->gateway_ref);
	free(in->redirect);
	in->gateway_ref = prepared.gateway_ref;
	in->redirect = prepared.redirect;
	return 0;
}

/*
 * A gateway that prepares without I/O does it inside the step that creates
 * the intent, when the library runs that step: one transaction instead of
 * two, and a prepare that fails leaves nothing reserved.
 */
static int create_intent(kbp_pipeline *p, kbp_gateway *g, const kbp_intent_request *req,
                         const kbp_intent_draft *draft, int64_t now, kbp_intent **in)
{
	local_prepare lp = { g, req };
	kbp__intent_prepare prepare = { prepare_in_step, &lp };

	if (g->version >= 2 && (g->flags & KBP_GATEWAY_PREPARE_LOCAL) &&
	    p->storage->intent_create == kbp__rec_intent_create)
		return kbp__rec_intent_create_prepared(p->storage, draft, now, &prepare, in);
	return p->storage->intent_create(p->storage, draft, now, in);
}

/*
 * A new intent, or one a retry found whose first attempt died between
 * reserving and attaching, gets its payment prepared, so a retry leaves a
 * payable intent rather than a stuck one. When a concurrent retry prepared
 * it first, that payment stands and the intent is read back.
 */
static int ensure_prepared(kbp_pipeline *p, kbp_gateway *g, kbp_intent **in,
                           const kbp_intent_request *req)
{
	char id[KBP_ID_MAX + 1];
	int rc;

	if ((*in)->status != KBP_INTENT_PENDING || (*in)->gateway_ref)
		return 0;
	if ((rc = prepare_payment(p, g, *in, req)) != KBP_ESTATE)
		return rc;
	snprintf(id, sizeof(id), "%s", (*in)->id);
	kbp_intent_free(*in);
	*in = NULL;
	return p->storage->intent_get(p->storage, id, in);
}

/*
 * A retry answers as the first call did. That call failed when the gateway
 * could not prepare the payment and left the intent canceled, its stock
 * released: handing that intent back as a success would send the shopper to
 * pay for nothing. Its key is spent; the caller starts over with a new one.
 */
static int check_payable(const kbp_intent *in)
{
	if (in->status == KBP_INTENT_CANCELED && in->status_reason &&
	    strcmp(in->status_reason, PREPARE_FAILED) == 0)
		return kbp_error_set(KBP_ESTATE,
		                     "intent %s of idempotency key '%s' was canceled (%s): its payment "
		                     "could not be prepared; create it with a new idempotency key",
		                     in->id, in->idempotency_key, PREPARE_FAILED);
	return 0;
}

int kbp_intent_create(kbp_intent **out, kbp_pipeline *p, const kbp_intent_request *req)
{
	char id[KBP_GEN_ID_SIZE], key[KBP_GEN_ID_SIZE];
	kbp_intent_draft draft;
	kbp_intent *in = NULL;
	kbp_gateway *g;
	int64_t now;
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = check_request(req)))
		return rc;
	g = kbp__gateway_find(p, req->gateway);
	if (!g)
		return kbp_error_set(KBP_ENOTFOUND, "gateway '%s' is not registered", req->gateway);
	kbp_id_generate(id, "pi_");
	if (!req->idempotency_key)
		kbp_id_generate(key, "idem_");
	now = kbp_pipeline_now(p);
	draft = (kbp_intent_draft){ id, req->cart_id, req->gateway,
		                    req->idempotency_key ? req->idempotency_key : key,
		                    req->success_url, req->failure_url, now + p->intent_ttl_ms };
	rc = create_intent(p, g, req, &draft, now, &in);
	if (rc == KBP_EEXISTS) {
		kbp_error_clear();
		rc = 0;
	}
	if (rc == 0)
		rc = ensure_prepared(p, g, &in, req);
	if (rc == 0)
		rc = check_payable(in);
	if (rc != 0) {
		kbp_intent_free(in);
		return rc;
	}
	kbp__log(p, KBP_LOG_DEBUG, "intent %s created for cart %s", in->id, in->cart_id);
	*out = in;
	return 0;
}

int kbp_intent_get(kbp_intent **out, kbp_pipeline *p, const char *intent_id)
{
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(intent_id, "intent id")))
		return rc;
	return p->storage->intent_get(p->storage, intent_id, out);
}

int kbp_intent_cancel(kbp_pipeline *p, const char *intent_id)
{
	int rc;

	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(intent_id, "intent id")))
		return rc;
	return p->storage->intent_cancel(p->storage, intent_id, "canceled", kbp_pipeline_now(p));
}

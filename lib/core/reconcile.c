/* SPDX-License-Identifier: MIT */
/*
 * reconcile_payment: neither eSewa nor Khalti sends a webhook, and shoppers
 * close the tab after paying, so an intent whose callback never came is
 * settled by asking the gateway. Its answer goes through the same storage
 * step as a callback's: paid finalizes (including the late-payment rules),
 * declined releases the stock, still open retries with backoff.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "core/objects.h"
#include "core/pipeline_internal.h"

/* What the audit keeps as the evidence of a reconciliation: the question, not a callback. */
static const char evidence[] = "reconcile_payment: gateway lookup";

static int still_open(const kbp_intent *in)
{
	return (in->status == KBP_INTENT_PENDING || in->status == KBP_INTENT_EXPIRED) &&
	       !in->needs_refund && in->gateway_ref;
}

/* Asks the gateway and settles; KBP_EPENDING keeps the job retrying. */
static int reconcile(kbp_pipeline *p, const kbp_intent *in)
{
	kbp_callback_claim claim = { in->gateway_ref, NULL, in->amount_minor, KBP_GATEWAY_PENDING };
	kbp_lookup_result truth = { KBP_GATEWAY_PENDING, -1, "", NULL };
	kbp_verification *row = NULL;
	kbp_gateway *g = kbp__gateway_find(p, in->gateway);
	int rc;

	if (!g)
		return kbp_error_set(KBP_ENOTFOUND, "gateway '%s' is not registered", in->gateway);
	if ((rc = g->lookup(g, &claim, &truth)) != 0)
		return rc;
	if (truth.status == KBP_GATEWAY_NOT_FOUND && in->status == KBP_INTENT_EXPIRED)
		rc = 0; /* never paid, and its stock is already released */
	else if (truth.status == KBP_GATEWAY_NOT_FOUND)
		rc = kbp_error_set(KBP_EPENDING, "the gateway has no payment for intent %s yet", in->id);
	else
		rc = kbp__payment_settle(p, g, &claim, &truth, evidence, sizeof(evidence) - 1, &row);
	kbp__lookup_clear(&truth);
	kbp_verification_free(row);
	/* A decline or a mismatch is settled and audited: nothing to retry. */
	if (rc == KBP_EDECLINED || rc == KBP_EAMOUNT)
		rc = 0;
	return rc;
}

int kbp__reconcile_payment_handler(void *ctx, kbp_pipeline *p, const kbp_job *job)
{
	cJSON *payload = cJSON_Parse(job->payload);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(payload, "intent_id");
	kbp_intent *in = NULL;
	int rc;

	(void)ctx;
	if (!cJSON_IsString(id))
		rc = kbp_error_set(KBP_EPARSE, "reconcile_payment payload has no intent_id");
	else if ((rc = kbp_intent_get(&in, p, id->valuestring)) == 0 && still_open(in))
		rc = reconcile(p, in);
	kbp_intent_free(in);
	cJSON_Delete(payload);
	return rc;
}

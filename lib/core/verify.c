/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "core/objects.h"
#include "core/pipeline_internal.h"
#include "core/validate.h"
#include "util/ids.h"

/* The audit keeps enough of an oversized callback to investigate it, not all of it. */
#define OVERSIZED_AUDIT_BYTES 1024

static void init_draft(kbp_payment_draft *d, kbp_pipeline *p, const char *gateway,
                       const char *raw, size_t len, char *verification_id, char *job_id)
{
	kbp_id_generate(verification_id, "vf_");
	kbp_id_generate(job_id, "job_");
	memset(d, 0, sizeof(*d));
	d->verification_id = verification_id;
	d->gateway = gateway;
	d->amount_minor = -1;
	d->raw = raw;
	d->raw_len = len;
	d->finalize_job.id = job_id;
	d->finalize_job.kind = KBP_JOB_FINALIZE_ORDER;
	d->finalize_job.max_attempts = p->max_attempts;
}

/*
 * Authenticates the callback and asks the gateway for the truth. A failure
 * to parse or authenticate becomes a recorded rejection (return 0 with
 * reject_reason set); only a gateway that cannot be reached is an error.
 */
static int learn_truth(kbp_gateway *g, const char *raw, size_t len, kbp_payment_draft *d,
                       kbp_callback_claim *claim, kbp_lookup_result *truth, char *reason,
                       size_t reason_size)
{
	int rc;

	if (len > KBP_CALLBACK_MAX) {
		d->raw_len = OVERSIZED_AUDIT_BYTES;
		d->reject_code = KBP_ETOOBIG;
		snprintf(reason, reason_size, "callback exceeds %d bytes", KBP_CALLBACK_MAX);
		d->reject_reason = reason;
		return 0;
	}
	rc = g->parse_callback(g, raw, len, claim);
	d->gateway_ref = claim->gateway_ref;
	if (rc != 0) {
		d->reject_code = rc;
		snprintf(reason, reason_size, "%s", kbp_error_last()->message);
		d->reject_reason = reason;
		return 0;
	}
	if ((rc = g->lookup(g, claim, truth)) != 0)
		return rc;
	d->status = truth->status;
	d->amount_minor = truth->amount_minor;
	d->currency = truth->currency[0] ? truth->currency : NULL;
	d->external_txn_id = truth->external_txn_id ? truth->external_txn_id : claim->external_txn_id;
	return 0;
}

int kbp_payment_verify(kbp_verification **out, kbp_pipeline *p, const char *gateway,
                       const char *callback, size_t len)
{
	char verification_id[KBP_GEN_ID_SIZE], job_id[KBP_GEN_ID_SIZE], reason[512];
	kbp_callback_claim claim = { NULL, NULL, -1, KBP_GATEWAY_PENDING };
	kbp_lookup_result truth = { KBP_GATEWAY_PENDING, -1, "", NULL };
	kbp_verification *row = NULL;
	kbp_payment_draft draft;
	kbp_gateway *g;
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(gateway, "gateway")))
		return rc;
	if (!callback || len == 0)
		return kbp_error_set(KBP_EINVAL, "callback is empty");
	if (!(g = kbp__gateway_find(p, gateway)))
		return kbp_error_set(KBP_ENOTFOUND, "gateway '%s' is not registered", gateway);
	init_draft(&draft, p, g->name, callback, len, verification_id, job_id);
	rc = learn_truth(g, callback, len, &draft, &claim, &truth, reason, sizeof(reason));
	if (rc == 0)
		rc = p->storage->payment_apply(p->storage, &draft, kbp_pipeline_now(p), &row);
	kbp__claim_clear(&claim);
	kbp__lookup_clear(&truth);
	if (rc != 0) {
		kbp__log(p, KBP_LOG_WARN, "%s callback not accepted: %s", gateway,
		         kbp_error_last()->message);
		kbp_verification_free(row);
		return rc;
	}
	*out = row;
	return 0;
}

int kbp_verification_list_get(kbp_verification_list **out, kbp_pipeline *p, const char *intent_id)
{
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_optional_id(intent_id, "intent id")))
		return rc;
	return p->storage->verifications_list(p->storage, intent_id, out);
}

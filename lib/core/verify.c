/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "core/objects.h"
#include "core/pipeline_internal.h"
#include "core/validate.h"
#include "util/ids.h"

/* The audit keeps enough of an oversized callback to investigate it, not all of it. */
#define OVERSIZED_AUDIT_BYTES 1024

typedef struct draft_ids {
	char verification[KBP_GEN_ID_SIZE];
	char job[KBP_GEN_ID_SIZE];
} draft_ids;

static void init_draft(kbp_payment_draft *d, draft_ids *ids, kbp_pipeline *p, const char *gateway,
                       const char *raw, size_t len)
{
	kbp_id_generate(ids->verification, "vf_");
	kbp_id_generate(ids->job, "job_");
	memset(d, 0, sizeof(*d));
	d->verification_id = ids->verification;
	d->gateway = gateway;
	d->amount_minor = -1;
	d->raw = raw;
	d->raw_len = len;
	d->finalize_job.id = ids->job;
	d->finalize_job.kind = KBP_JOB_FINALIZE_ORDER;
	d->finalize_job.max_attempts = p->max_attempts;
}

/*
 * A callback refused before the gateway was asked: only its audit row is
 * written, and the backend files it under no intent, since the reference it
 * names is unauthenticated.
 */
static int reject(kbp_pipeline *p, kbp_gateway *g, const char *ref, int code, const char *reason,
                  const char *raw, size_t len, kbp_verification **row)
{
	kbp_payment_draft d;
	draft_ids ids;

	init_draft(&d, &ids, p, g->name, raw, len);
	d.gateway_ref = ref;
	d.reject_code = code;
	d.reject_reason = reason;
	return p->storage->payment_apply(p->storage, &d, kbp_pipeline_now(p), row);
}

int kbp__payment_settle(kbp_pipeline *p, kbp_gateway *g, const kbp_callback_claim *claim,
                        const kbp_lookup_result *truth, const char *raw, size_t len,
                        kbp_verification **row)
{
	kbp_payment_draft d;
	draft_ids ids;

	init_draft(&d, &ids, p, g->name, raw, len);
	d.gateway_ref = claim->gateway_ref;
	d.status = truth->status;
	d.amount_minor = truth->amount_minor;
	d.currency = truth->currency[0] ? truth->currency : NULL;
	/*
	 * The callback's own transaction id is a claim anyone can make (Khalti's
	 * return is unsigned): only the gateway's answer names the transaction.
	 */
	d.external_txn_id = truth->external_txn_id;
	return p->storage->payment_apply(p->storage, &d, kbp_pipeline_now(p), row);
}

/*
 * Authenticates the callback, asks the gateway for the truth and applies it.
 * A callback that cannot be parsed or authenticated is a recorded rejection;
 * a gateway that cannot be reached is an error with nothing written.
 */
static int verify(kbp_pipeline *p, kbp_gateway *g, const char *raw, size_t len,
                  kbp_callback_claim *claim, kbp_lookup_result *truth, kbp_verification **row)
{
	char reason[512];
	int rc;

	if (len > KBP_CALLBACK_MAX) {
		snprintf(reason, sizeof(reason), "callback exceeds %d bytes", KBP_CALLBACK_MAX);
		return reject(p, g, NULL, KBP_ETOOBIG, reason, raw, OVERSIZED_AUDIT_BYTES, row);
	}
	if ((rc = g->parse_callback(g, raw, len, claim)) != 0) {
		snprintf(reason, sizeof(reason), "%s", kbp_error_last()->message);
		return reject(p, g, claim->gateway_ref, rc, reason, raw, len, row);
	}
	if ((rc = g->lookup(g, claim, truth)) != 0)
		return rc;
	return kbp__payment_settle(p, g, claim, truth, raw, len, row);
}

int kbp_payment_verify(kbp_verification **out, kbp_pipeline *p, const char *gateway,
                       const char *callback, size_t len)
{
	kbp_callback_claim claim = { NULL, NULL, -1, KBP_GATEWAY_PENDING };
	kbp_lookup_result truth = { KBP_GATEWAY_PENDING, -1, "", NULL };
	kbp_verification *row = NULL;
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
	rc = verify(p, g, callback, len, &claim, &truth, &row);
	kbp__claim_clear(&claim);
	kbp__lookup_clear(&truth);
	if (rc != 0) {
		kbp__log(p, rc == KBP_EDECLINED || rc == KBP_EPENDING ? KBP_LOG_INFO : KBP_LOG_WARN,
		         "%s callback not accepted: %s", gateway, kbp_error_last()->message);
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

/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/objects.h"
#include "core/pipeline_internal.h"
#include "core/validate.h"
#include "util/clock.h"

static char *failure_reason(const kbp_order_facts *f)
{
	char buf[600];

	if (f->intent_status != KBP_INTENT_SUCCEEDED)
		return strdup(f->intent_reason ? f->intent_reason
		                               : kbp_intent_status_name(f->intent_status));
	snprintf(buf, sizeof(buf), "finalize_order %s: %s",
	         kbp_job_state_name((kbp_job_state)f->job_state),
	         f->job_error ? f->job_error : "no error recorded");
	return strdup(buf);
}

static kbp_order_stage stage_of(const kbp_order_facts *f)
{
	if (f->order_id)
		return KBP_STAGE_CONFIRMED;
	switch (f->intent_status) {
	case KBP_INTENT_PENDING:
		return KBP_STAGE_VERIFYING;
	case KBP_INTENT_SUCCEEDED:
		if (f->job_state == KBP_JOB_FAILED || f->job_state == KBP_JOB_CANCELED)
			return KBP_STAGE_FAILED;
		return KBP_STAGE_PROCESSING;
	default:
		return KBP_STAGE_FAILED;
	}
}

static int status_from_facts(kbp_order_status **out, const char *intent_id, kbp_order_facts *f)
{
	kbp_order_status *s = calloc(1, sizeof(*s));

	if (!s)
		return kbp__oom();
	s->stage = stage_of(f);
	s->intent_status = f->intent_status;
	s->needs_refund = f->needs_refund;
	s->intent_id = strdup(intent_id);
	s->order_id = f->order_id;
	s->order_number = f->order_number;
	f->order_id = f->order_number = NULL;
	if (s->stage == KBP_STAGE_FAILED)
		s->reason = failure_reason(f);
	if (!s->intent_id || (s->stage == KBP_STAGE_FAILED && !s->reason)) {
		kbp_order_status_free(s);
		return kbp__oom();
	}
	*out = s;
	return 0;
}

int kbp_order_status_get(kbp_order_status **out, kbp_pipeline *p, const char *intent_id)
{
	kbp_order_facts facts = { 0 };
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(intent_id, "intent id")))
		return rc;
	rc = p->storage->order_facts(p->storage, intent_id, &facts);
	if (rc == 0)
		rc = status_from_facts(out, intent_id, &facts);
	kbp__order_facts_clear(&facts);
	return rc;
}

static int is_final(kbp_order_stage stage)
{
	return stage == KBP_STAGE_CONFIRMED || stage == KBP_STAGE_FAILED;
}

int kbp_order_wait(kbp_order_status **out, kbp_pipeline *p, const char *intent_id,
                   int64_t timeout_ms)
{
	kbp_storage *s;
	int64_t deadline;
	uint64_t seen = 0;
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_range(timeout_ms, 0, INT64_C(86400000), "timeout_ms")))
		return rc;
	s = p->storage;
	deadline = kbp_clock_monotonic_ms() + timeout_ms;
	/* Take the sequence before reading the status, so no change slips between the two. */
	s->wait(s, KBP_TOPIC_ORDERS, &seen, 0);
	for (;;) {
		int64_t left;
		if ((rc = kbp_order_status_get(out, p, intent_id)) != 0)
			return rc;
		if (is_final((*out)->stage))
			return 0;
		left = deadline - kbp_clock_monotonic_ms();
		if (left <= 0)
			return kbp_error_set(KBP_ETIMEOUT, "intent %s is still %s after %lld ms",
			                     intent_id, kbp_order_stage_name((*out)->stage),
			                     (long long)timeout_ms);
		kbp_order_status_free(*out);
		*out = NULL;
		s->wait_order(s, intent_id, &seen, left);
	}
}

int kbp_order_get(kbp_order **out, kbp_pipeline *p, const char *order_number)
{
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(order_number, "order number")))
		return rc;
	return p->storage->order_get(p->storage, order_number, NULL, out);
}

int kbp_order_get_by_intent(kbp_order **out, kbp_pipeline *p, const char *intent_id)
{
	int rc;

	KBP_CHECK_OUT(out);
	*out = NULL;
	KBP_CHECK_PIPELINE(p);
	if ((rc = kbp__check_id(intent_id, "intent id")))
		return rc;
	return p->storage->order_get(p->storage, NULL, intent_id, out);
}

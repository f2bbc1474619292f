/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "core/pipeline_internal.h"
#include "core/records.h"
#include "core/storage_open.h"
#include "util/ids.h"

/* Reconcile jobs scheduled per pass; the rest wait for the next pass. */
#define RECONCILE_BATCH 64

static int schedule_reconcile(kbp_pipeline *p, int64_t now, int64_t *out_count)
{
	char ids[RECONCILE_BATCH][KBP_GEN_ID_SIZE];
	const char *id_ptrs[RECONCILE_BATCH];
	kbp_reconcile_params params = { now, now - p->reconcile_after_ms, p->max_attempts,
		                        RECONCILE_BATCH, id_ptrs };

	for (int i = 0; i < RECONCILE_BATCH; i++) {
		kbp_id_generate(ids[i], "job_");
		id_ptrs[i] = ids[i];
	}
	return p->storage->reconcile_schedule(p->storage, &params, out_count);
}

int kbp_maintenance_run(kbp_maintenance_result *out, kbp_pipeline *p)
{
	kbp_maintenance_params params;
	int rc;

	KBP_CHECK_OUT(out);
	memset(out, 0, sizeof(*out));
	KBP_CHECK_PIPELINE(p);
	params.now = kbp_pipeline_now(p);
	params.prune_before = params.now - p->job_retention_ms;
	rc = p->storage->maintenance(p->storage, &params, out);
	if (rc == 0 && out->ran && kbp__storage_has_records(p->storage))
		rc = kbp__rec_intents_expire(p->storage, params.now, &out->intents_expired);
	if (rc == 0 && out->ran && kbp__storage_has_records(p->storage))
		rc = kbp__rec_jobs_rescue(p->storage, params.now, &out->jobs_rescued);
	/* Expiry comes first, so an intent expired in this pass also gets its last reconcile. */
	if (rc == 0 && out->ran)
		rc = schedule_reconcile(p, params.now, &out->reconcile_scheduled);
	if (rc == 0 && out->ran)
		kbp__log(p, KBP_LOG_INFO,
		         "maintenance: %lld intents expired, %lld jobs rescued, %lld jobs pruned, "
		         "%lld payments to reconcile",
		         (long long)out->intents_expired, (long long)out->jobs_rescued,
		         (long long)out->jobs_pruned, (long long)out->reconcile_scheduled);
	return rc;
}

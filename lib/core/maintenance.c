/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "core/pipeline_internal.h"

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
	if (rc == 0 && out->ran)
		kbp__log(p, KBP_LOG_INFO,
		         "maintenance: %lld intents expired, %lld jobs rescued, %lld jobs pruned",
		         (long long)out->intents_expired, (long long)out->jobs_rescued,
		         (long long)out->jobs_pruned);
	return rc;
}

/* SPDX-License-Identifier: MIT */
#include "core/pipeline_internal.h"
#include "core/validate.h"
#include "util/ids.h"

static int check_enqueue_options(const kbp_enqueue_options *o)
{
	int rc;

	if ((rc = kbp__check_version(o->version, KBP_ENQUEUE_OPTIONS_VERSION, "kbp_enqueue_options")) ||
	    (rc = kbp__check_optional_id(o->unique_key, "unique_key")) ||
	    (rc = kbp__check_range(o->priority, 0, KBP_JOB_PRIORITY_MAX, "priority")) ||
	    (rc = kbp__check_range(o->run_at, 0, INT64_MAX, "run_at")) ||
	    (rc = kbp__check_range(o->max_attempts, 0, 1000, "max_attempts")))
		return rc;
	return 0;
}

int kbp_job_enqueue(char **out_id, kbp_pipeline *p, const char *kind, const char *payload_json,
                    const kbp_enqueue_options *opts)
{
	kbp_enqueue_options defaults = KBP_ENQUEUE_OPTIONS_INIT;
	char id[KBP_GEN_ID_SIZE];
	char *stored_id = NULL;
	kbp_job_draft draft;
	int64_t now;
	int rc;

	if (out_id)
		*out_id = NULL;
	KBP_CHECK_PIPELINE(p);
	if (!opts)
		opts = &defaults;
	if ((rc = kbp__check_job_kind(kind)) ||
	    (rc = kbp__check_json_object(payload_json, KBP_JOB_PAYLOAD_MAX, "job payload")) ||
	    (rc = check_enqueue_options(opts)))
		return rc;
	now = kbp_pipeline_now(p);
	kbp_id_generate(id, "job_");
	draft = (kbp_job_draft){ id,
		                 kind,
		                 payload_json ? payload_json : "{}",
		                 opts->unique_key,
		                 opts->priority,
		                 opts->run_at ? opts->run_at : now,
		                 opts->max_attempts ? opts->max_attempts : p->max_attempts };
	rc = p->storage->job_enqueue(p->storage, &draft, now, &stored_id);
	if (out_id)
		*out_id = stored_id;
	else
		kbp_free(stored_id);
	return rc;
}
